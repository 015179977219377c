"""Interventions table -> cohorts and comparison roles."""
import pandas as pd
import pytest

from evalkit.domain import attach_cohort, treatment_cohorts
from evalkit.errors import ParameterError, ValidationError


@pytest.fixture
def interventions():
    return pd.DataFrame({"OMR_ID": [1, 2, 3], "intervention": ["fremskudt_beskaeftigelse"] * 2 + ["poa"],
                         "start_year": [2016, 2018, 2018], "end_year": [2024] * 3, "budget_dkk": [1e6] * 3})


def test_cohorts_and_roles(interventions):
    before = interventions.copy(deep=True)
    out = treatment_cohorts(interventions, [1, 2, 3, 4], intervention="fremskudt_beskaeftigelse")
    assert out.set_index("OMR_ID")["cohort"].to_dict() == {1: 2016, 2: 2018, 3: 0, 4: 0}
    assert out.set_index("OMR_ID")["role"].to_dict() == {1: "treated", 2: "treated", 3: "comparison", 4: "comparison"}
    clean = treatment_cohorts(interventions, [1, 2, 3, 4], intervention="fremskudt_beskaeftigelse",
                              comparison="never_treated_no_other")
    assert clean.set_index("OMR_ID").loc[3, "role"] == "excluded"
    pd.testing.assert_frame_equal(interventions, before)


def test_attach_cohort_sets_treatment_dummy(interventions):
    cohorts = treatment_cohorts(interventions, [1, 2, 3, 4], intervention="fremskudt_beskaeftigelse",
                                comparison="never_treated_no_other")
    panel = pd.DataFrame({"OMR_ID": [1, 1, 3, 4], "AAR": [2015, 2016, 2016, 2016], "y": [1.0, 2, 3, 4]})
    out = attach_cohort(panel, cohorts)
    assert out["OMR_ID"].tolist() == [1, 1, 4]           # area 3 excluded by the explicit rule
    assert out["treat"].tolist() == [0, 1, 0]
    assert "cohort" not in panel


def test_bad_intervention_and_comparison(interventions):
    with pytest.raises(ParameterError, match="fremskudt_beskaeftigelse"):
        treatment_cohorts(interventions, [1], intervention="fremskudt_beskæftigelse")
    with pytest.raises(ParameterError, match="comparison"):
        treatment_cohorts(interventions, [1], intervention="poa", comparison="matched")
    with pytest.raises(ValidationError, match="start_year"):
        treatment_cohorts(interventions.drop(columns="start_year"), [1], intervention="poa")
