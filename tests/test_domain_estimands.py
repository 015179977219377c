"""Area vs cohort estimand on the simulated data: they differ in the direction that was simulated."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.domain.estimands import cohort_design_panel, compare_estimands, estimand_paragraph, stayer_share
from evalkit.errors import ColumnError, ParameterError
from evalkit.report.study import Study

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


@pytest.fixture(scope="module")
def study():
    return Study.load("final", data_dir=str(DEMO), evaluation_year=2024, lags=5, leads=4)


@pytest.fixture(scope="module")
def comparison(study):
    return compare_estimands(study.area, study.cohort, outcome="employment_rate", person_outcome="BESK_FTE")


def test_area_effect_exceeds_cohort_effect_as_simulated(study, comparison):
    """Why the sign: the simulated outreach effect acts on whoever lives in a treated area that
    year (``_sim_world.outcomes``: the effect is keyed by the *current* area). Baseline residents
    who move out (9-15 % a year, more if employed) stop receiving it, so the intention-to-treat
    cohort effect is the area effect diluted by the share of post-period years still lived in
    the baseline area: area > cohort > 0."""
    t = comparison.tidy().set_index("estimand")
    assert t.loc["area", "truth"] > t.loc["cohort", "truth"] > 0
    assert t.loc["area", "estimate"] > t.loc["cohort", "estimate"] > 0
    assert t.loc["area_minus_cohort", "estimate"] == pytest.approx(t.loc["area", "estimate"] - t.loc["cohort", "estimate"])
    share = comparison.stayer_share
    assert 0.2 < share < 0.8
    # dilution explains most of the gap: cohort truth ~ area truth x share of years in the area
    assert t.loc["cohort", "truth"] == pytest.approx(t.loc["area", "truth"] * share, rel=0.25)
    # and the estimates recover the truths (the report's +2.51 / +1.14 against +2.36 / +1.10)
    for name in ("area", "cohort"):
        assert abs(t.loc[name, "estimate"] - t.loc[name, "truth"]) < 2 * t.loc[name, "std_error"]


def test_same_estimator_for_both(study):
    twfe = compare_estimands(study.area, study.cohort, outcome="employment_rate", person_outcome="BESK_FTE",
                             estimator="twfe")
    t = twfe.tidy().set_index("estimand")
    assert twfe.estimator == "twfe" and t.loc["area", "estimate"] > t.loc["cohort", "estimate"]
    assert t.loc["area", "n_clusters"] == t.loc["cohort", "n_clusters"] == 80


def test_paragraph_in_both_languages(comparison):
    en, da = estimand_paragraph(comparison, lang="en"), estimand_paragraph(comparison, lang="da")
    area = comparison.tidy().set_index("estimand").loc["area", "estimate"]
    assert "larger" in en and "diluted" in en and f"{100 * area:+.2f} pp" in en
    assert "større" in da and "fortyndes" in da


def test_cohort_design_panel_assigns_by_baseline_area_without_mutating(study):
    raw = study.md.cohort_panel(2014)
    before = raw.copy(deep=True)
    panel = cohort_design_panel(raw, study.cohorts)
    pd.testing.assert_frame_equal(raw, before)
    assert {"OMR_ID", "OMR_ID_CUR", "cohort", "treat"} <= set(panel.columns)
    assert len(panel) == len(raw)  # never_treated comparison excludes nobody
    assert np.isclose(stayer_share(panel), stayer_share(study.cohort))


def test_bad_input(study):
    with pytest.raises(ParameterError, match="estimator"):
        compare_estimands(study.area, study.cohort, outcome="employment_rate", person_outcome="BESK_FTE",
                          estimator="ols")
    with pytest.raises(ColumnError, match="BESK"):
        compare_estimands(study.area, study.cohort.drop(columns="BESK_FTE"), outcome="employment_rate",
                          person_outcome="BESK_FTE")
