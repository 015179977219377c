"""Equivalence and hand-computed checks of did2x2, twfe and event_study."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from evalkit.data.synthetic import staggered_panel
from evalkit.errors import EvalkitWarning, ParameterError
from evalkit.estimators import did2x2, event_study, twfe
from evalkit.inference import available, resolve


# ----------------------------------------------------------------- fixtures
def person_data(seed: int = 0, n: int = 800, n_areas: int = 16) -> pd.DataFrame:
    """Persons in areas; half the areas treated; random pre/post."""
    rng = np.random.default_rng(seed)
    area = rng.integers(0, n_areas, n)
    treated_area = rng.permutation(n_areas) < n_areas // 2
    g = treated_area[area].astype(int)
    post = rng.integers(0, 2, n)
    y = 1 + 0.5 * g + 0.3 * post + 0.8 * g * post + rng.normal(0, 1, n) + rng.normal(0, 0.5, n_areas)[area]
    return pd.DataFrame({"y": y, "g": g, "post": post, "area": area})


def unbalanced_panel(seed: int = 1) -> pd.DataFrame:
    d = staggered_panel(n_units=40, n_periods=8, cohorts={0: 0.4, 4: 0.3, 6: 0.3}, n_clusters=10, seed=seed)
    rng = np.random.default_rng(seed)
    d = d.loc[rng.random(len(d)) > 0.15].reset_index(drop=True)  # unbalanced
    d["x"] = rng.normal(size=len(d))
    d["y"] = d["y"] + 0.3 * d["x"]
    return d


def moving_panel(seed: int = 2, n_persons: int = 120, n_periods: int = 6, n_areas: int = 12) -> pd.DataFrame:
    """Persons move between areas, so persons are not nested in areas; treatment by (area, time)."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n_persons), n_periods)
    time = np.tile(np.arange(n_periods), n_persons)
    area = rng.integers(0, n_areas, person.size)
    start = np.where(rng.random(n_areas) < 0.5, 3, 99)
    treat = (time >= start[area]).astype(int)
    y = rng.normal(size=n_persons)[person] + 0.2 * time + 0.7 * treat + rng.normal(size=person.size)
    return pd.DataFrame({"person": person, "time": time, "area": area, "treat": treat, "y": y})


def dummy_ols(d: pd.DataFrame, rhs: str, unit: str, cluster: str | None, cov: str = "cluster"):
    formula = f"y ~ {rhs} + C({unit}) + C(time)"
    if cluster is None:
        return smf.ols(formula, d).fit(cov_type="HC1")
    groups = pd.factorize(d[cluster])[0]
    return smf.ols(formula, d).fit(cov_type="cluster", cov_kwds={"groups": groups})


# ------------------------------------------------------------------ did2x2
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_did2x2_equals_difference_of_means(seed):
    d = person_data(seed)
    m = d.groupby(["g", "post"])["y"].mean()
    expected = (m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0])
    res = did2x2(d, outcome="y", treatment="g", post="post", cluster="area")
    assert abs(res.estimate() - expected) < 1e-10
    assert res.table["term"].tolist() == ["ATT"]


def test_did2x2_cr1_matches_hand_computed_sandwich():
    d = person_data(3)
    res = did2x2(d, outcome="y", treatment="g", post="post", cluster="area")
    X = np.column_stack([np.ones(len(d)), d.g, d.post, d.g * d.post])
    beta = np.linalg.lstsq(X, d.y, rcond=None)[0]
    u = d.y.to_numpy() - X @ beta
    bread = np.linalg.inv(X.T @ X)
    meat = sum(np.outer(X[d.area == a].T @ u[d.area == a], X[d.area == a].T @ u[d.area == a]) for a in d.area.unique())
    n, k, G = len(d), 4, d.area.nunique()
    V = G / (G - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    assert res.table["std_error"].iloc[0] == pytest.approx(np.sqrt(V[3, 3]), rel=1e-10)
    assert res.inference.df == G - 1 and res.inference.method == "cr1" and res.inference.n_clusters == G


def test_did2x2_without_cluster_uses_hc1_and_normal():
    d = person_data(4)
    res = did2x2(d, outcome="y", treatment="g", post="post")
    sm = smf.ols("y ~ g * post", d).fit(cov_type="HC1")
    assert res.inference.method == "hc1" and res.inference.df is None and res.inference.cluster is None
    row = res.table.iloc[0]
    assert row["std_error"] == pytest.approx(sm.bse["g:post"], rel=1e-10)
    z = stats.norm.ppf(0.975)
    assert row["conf_high"] == pytest.approx(row["estimate"] + z * row["std_error"], rel=1e-12)


# -------------------------------------------------------------------- twfe
def test_twfe_equals_dummy_variable_regression_unbalanced():
    d = unbalanced_panel()
    res = twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster", covariates=["x"])
    sm = dummy_ols(d, "treat + x", "unit", "cluster")
    assert abs(res.estimate("ATT") - sm.params["treat"]) < 1e-8
    assert abs(res.estimate("x") - sm.params["x"]) < 1e-8
    assert res.n_obs == len(d) and not res.diagnostics["balanced"]


def test_twfe_cr1_equals_statsmodels_when_units_not_nested_in_clusters():
    """Persons move between areas: every effect is counted, K = k + n_units + T - 1 as in the dummy OLS."""
    d = moving_panel()
    res = twfe(d, outcome="y", unit="person", time="time", treatment="treat", cluster="area")
    sm = dummy_ols(d, "treat", "person", "area")
    assert abs(res.estimate() - sm.params["treat"]) < 1e-8
    assert res.table["std_error"].iloc[0] == pytest.approx(sm.bse["treat"], rel=1e-6)


def test_twfe_cr1_nested_units_count_as_one_intercept():
    """Units nested in clusters: K = k + T (xtreg, fe convention) instead of the dummy OLS's k + n_units + T - 1."""
    d = unbalanced_panel(5)
    res = twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")
    sm = dummy_ols(d, "treat", "unit", "cluster")
    n, k, T, n_units = len(d), 1, d.time.nunique(), d.unit.nunique()
    k_sm = 1 + (n_units - 1) + (T - 1) + k
    expected = sm.bse["treat"] * np.sqrt((n - k_sm) / (n - k - T))
    assert res.table["std_error"].iloc[0] == pytest.approx(expected, rel=1e-6)


def test_twfe_hc1_equals_statsmodels_dummy_hc1():
    d = unbalanced_panel(6)
    res = twfe(d, outcome="y", unit="unit", time="time", treatment="treat", inference="hc1")
    sm = dummy_ols(d, "treat", "unit", None)
    assert res.inference.method == "hc1"
    assert res.table["std_error"].iloc[0] == pytest.approx(sm.bse["treat"], rel=1e-6)


def test_panel_fits_without_cluster_cluster_by_the_unit():
    """Issue 12: without cluster=, twfe and event_study fell back to HC1 silently. They cluster by
    the unit now (as fixest and did); did2x2, which has no unit, warns."""
    d = unbalanced_panel(6)
    res = twfe(d, outcome="y", unit="unit", time="time", treatment="treat")
    same = twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="unit")
    assert res.inference.method == "cr1" and res.inference.cluster == "unit"
    pd.testing.assert_frame_equal(res.tidy(), same.tidy())
    es = event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=2)
    assert es.inference.cluster == "unit"
    two = d.assign(g=(d["cohort"] > 0).astype(int), post=(d["time"] >= 5).astype(int))
    with pytest.warns(EvalkitWarning, match="without cluster="):
        did2x2(two, outcome="y", treatment="g", post="post")


def test_twfe_pvalue_and_interval_use_t_with_g_minus_1_df():
    d = unbalanced_panel(7)
    res = twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster", alpha=0.1)
    row, G = res.table.iloc[0], d.cluster.nunique()
    assert res.inference.df == G - 1
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["statistic"]), G - 1), rel=1e-12)
    crit = stats.t.ppf(0.95, G - 1)
    assert row["conf_low"] == pytest.approx(row["estimate"] - crit * row["std_error"], rel=1e-12)
    assert row["n_treated"] + row["n_control"] == d.unit.nunique()


# ------------------------------------------------------------- event study
def dynamic_truth(e):
    return 1.0 + 0.5 * np.asarray(e)


def single_cohort_panel(seed=11, n_units=400):
    return staggered_panel(n_units=n_units, n_periods=10, cohorts={0: 0.5, 6: 0.5}, effect=dynamic_truth,
                           n_clusters=n_units // 5, unit_sd=1.0, noise_sd=0.5, seed=seed)


def test_event_study_recovers_known_dynamic_effect():
    d = single_cohort_panel()
    res = event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=4, lags=4, cluster="cluster")
    tab = res.tidy().set_index("event_time")
    for e in range(-4, 5):
        truth = dynamic_truth(e) if e >= 0 else 0.0
        se = tab.loc[e, "std_error"] if e != -1 else 0.0
        assert abs(tab.loc[e, "estimate"] - truth) < max(4 * se, 1e-12), e
    assert tab.loc[4, "n_treated"] == 200  # every treated unit reaches e >= 4 (binned)


def test_event_study_reference_row_and_binning_keep_all_rows():
    d = single_cohort_panel(seed=12, n_units=60)
    res = event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=1, cluster="cluster")
    tab = res.tidy()
    ref = tab[tab["reference"]]
    assert ref["term"].tolist() == ["e=-1"] and ref["estimate"].iloc[0] == 0 and np.isnan(ref["std_error"].iloc[0])
    assert tab["event_time"].tolist() == [-2, -1, 0, 1]
    assert res.n_obs == len(d)
    assert list(res.vcov.index) == ["e=-2", "e=0", "e=1"]


def test_event_study_equals_dummy_regression_with_binning():
    d = single_cohort_panel(seed=13, n_units=60)
    res = event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=2, cluster="cluster")
    e = np.where(d.cohort > 0, np.clip(d.time - d.cohort, -2, 2), np.nan)
    for k, name in [(-2, "m2"), (0, "p0"), (1, "p1"), (2, "p2")]:
        d[name] = (e == k).astype(float)
    sm = dummy_ols(d, "m2 + p0 + p1 + p2", "unit", "cluster")
    assert abs(res.estimate("e=2") - sm.params["p2"]) < 1e-8
    assert abs(res.estimate("e=-2") - sm.params["m2"]) < 1e-8


def test_event_study_without_binning_keeps_rows_as_reference():
    d = single_cohort_panel(seed=14, n_units=60)
    res = event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=1,
                      cluster="cluster", bin_endpoints=False)
    assert res.n_obs == len(d)
    assert res.tidy().set_index("event_time").loc[1, "n_treated"] == 30


# --------------------------------------------------------------- inference
def test_inference_registry_errors_list_allowed_methods():
    with pytest.raises(ParameterError, match="cr1"):
        resolve("wild", "area")
    with pytest.raises(ParameterError, match="needs cluster"):
        resolve("cr1", None)
    with pytest.raises(ParameterError, match="hc1"):
        resolve("hc1", "area")
    assert resolve(None, "area").name == "cr1" and resolve(None, None).name == "hc1"
    assert available() == ["cr1", "hc1"]  # covariances of the fit; POSTFIT methods come after it


def test_estimator_rejects_unknown_inference():
    d = person_data()
    with pytest.raises(ParameterError, match="not a known method"):
        did2x2(d, outcome="y", treatment="g", post="post", cluster="area", inference="cr9")
