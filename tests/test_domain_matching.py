"""Matched comparison areas: balance improves, deterministic given the seed, caliper drops reported."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.data.io import read_table
from evalkit.data.panels import open_microdata
from evalkit.domain.matching import greedy_match, match_areas, smd_table
from evalkit.domain.timing import treatment_cohorts
from evalkit.errors import ColumnError, EvalkitWarning, ParameterError, ValidationError

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
COV = ["employment_rate", "k1_share", "conviction_share", "nonwestern_share", "income_rel_region"]


@pytest.fixture(scope="module")
def design():
    panel = open_microdata(DEMO).area_panel()
    cohorts = treatment_cohorts(read_table(DEMO / "interventions.csv"), panel["OMR_ID"],
                                intervention="fremskudt_beskaeftigelse")
    return panel, cohorts


@pytest.mark.parametrize("method,replace", [("propensity", False), ("propensity", True),
                                            ("mahalanobis", False), ("mahalanobis", True)])
def test_balance_improves(design, method, replace):
    panel, cohorts = design
    res = match_areas(panel, cohorts, covariates=COV, method=method, replace=replace, seed=3)
    b = res.balance.set_index("covariate")
    assert b["smd_after"].abs().mean() < b["smd_before"].abs().mean()
    assert abs(b.loc["employment_rate", "smd_after"]) < abs(b.loc["employment_rate", "smd_before"])
    if not replace:
        assert not res.pairs["comparison_OMR_ID"].duplicated().any()


def test_deterministic_given_seed_and_inputs_untouched(design):
    panel, cohorts = design
    p0, c0 = panel.copy(deep=True), cohorts.copy(deep=True)
    a = match_areas(panel, cohorts, covariates=COV, method="mahalanobis", seed=11)
    b = match_areas(panel, cohorts, covariates=COV, method="mahalanobis", seed=11)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    pd.testing.assert_frame_equal(a.balance, b.balance)
    pd.testing.assert_frame_equal(panel, p0)
    pd.testing.assert_frame_equal(cohorts, c0)


def test_caliper_drops_are_reported_never_silent(design):
    panel, cohorts = design
    with pytest.warns(EvalkitWarning, match="dropped"):
        res = match_areas(panel, cohorts, covariates=COV, method="propensity", caliper=0.05, seed=1)
    assert len(res.unmatched) > 0
    roles = res.cohorts.set_index("OMR_ID")["role"]
    assert (roles.loc[list(res.unmatched)] == "excluded").all()
    assert len(res.cohorts) == len(cohorts)  # every area is still listed, with its role
    assert set(res.pairs["treated_OMR_ID"]).isdisjoint(res.unmatched)


def test_greedy_match_hand_example():
    dist = np.array([[1.0, 2.0, 9.0], [1.5, 3.0, 9.0]])
    assert greedy_match(dist, ratio=1, replace=False, caliper=None, order=np.array([0, 1])) == [(0, 0, 1.0), (1, 1, 3.0)]
    assert greedy_match(dist, ratio=1, replace=True, caliper=None, order=np.array([0, 1])) == [(0, 0, 1.0), (1, 0, 1.5)]
    assert greedy_match(dist, ratio=1, replace=False, caliper=1.2, order=np.array([1, 0])) == [(0, 0, 1.0)]


def test_smd_hand_example():
    X = pd.DataFrame({"x": [1.0, 3.0, 0.0, 2.0, 10.0]})
    treated = np.array([True, True, False, False, False])
    w = np.array([1, 1, 1, 1, 0], dtype=float)
    row = smd_table(X, treated, w).iloc[0]
    sd = np.sqrt((np.var([1, 3], ddof=1) + np.var([0, 2, 10], ddof=1)) / 2)
    assert row["smd_before"] == pytest.approx((2 - 4) / sd)
    assert row["smd_after"] == pytest.approx((2 - 1) / sd)


def test_bad_input(design):
    panel, cohorts = design
    with pytest.raises(ParameterError, match="method"):
        match_areas(panel, cohorts, covariates=COV, method="nearest")
    with pytest.raises(ColumnError, match="employment_rat"):
        match_areas(panel, cohorts, covariates=["employment_rat"])
    with pytest.raises(ParameterError, match="caliper"):
        match_areas(panel, cohorts, covariates=COV, caliper=-1)
    with pytest.raises(ParameterError, match="pre_years"):
        match_areas(panel, cohorts, covariates=COV, pre_years=[1990])
    with pytest.raises(ValidationError, match="treated and comparison"):
        match_areas(panel, cohorts.assign(cohort=0), covariates=COV, pre_years=[2012])
