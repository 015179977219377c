"""Inference as a choice on any result: Result.with_inference and the estimators' inference=.

Oracles: CR2/CR3 of the absorbed model against the dummy-variable regression (brute force),
the wild bootstrap against its direct call, randomization inference's fast path against
re-running the estimator, and a size simulation (3 treated areas of 60).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import evalkit
from evalkit.data.synthetic import staggered_panel
from evalkit.diagnostics.design import twfe_wild_p
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators import postfit as choice
from evalkit.inference.small_sample import cr2_dof, cr2_vcov
from evalkit.results import Result

KW = dict(outcome="y", unit="unit", time="time")


@pytest.fixture(scope="module")
def panel():
    return staggered_panel(n_units=60, n_periods=7, cohorts={0: 0.6, 4: 0.2, 6: 0.2}, effect=0.7,
                           n_clusters=20, seed=4)


@pytest.fixture(scope="module")
def fits(panel):
    return {
        "twfe": evalkit.twfe(panel, **KW, treatment="treat", cluster="cluster"),
        "event_study": evalkit.event_study(panel, **KW, cohort="cohort", cluster="cluster", leads=2, lags=2),
        "did2x2": evalkit.did2x2(panel.assign(post=(panel["time"] >= 4).astype(int),
                                              tr=(panel["cohort"] > 0).astype(int)),
                                 outcome="y", treatment="tr", post="post", cluster="cluster"),
    }


def _data(name, panel):
    if name == "did2x2":
        return panel.assign(post=(panel["time"] >= 4).astype(int), tr=(panel["cohort"] > 0).astype(int))
    return panel


# ------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", ["twfe", "event_study", "did2x2"])
@pytest.mark.parametrize("method", ["cr2", "cr3", "wild", "randomization", "hc1"])
def test_contract(fits, panel, name, method):
    data = _data(name, panel)
    before = data.copy(deep=True)
    res = fits[name]
    opts = dict(seed=3, draws=999 if method == "wild" else 49)
    new = res.with_inference(method, data, **opts)
    assert isinstance(new, Result) and new.inference.method == method
    pd.testing.assert_frame_equal(data, before)
    np.testing.assert_allclose(new.table["estimate"], res.table["estimate"], rtol=1e-10)
    est = new.table[~new.table["reference"]]
    assert est["p_value"].between(0, 1).all()
    again = res.with_inference(method, data, **opts)
    pd.testing.assert_frame_equal(new.table, again.table)
    back = Result.from_json(new.to_json())
    pd.testing.assert_frame_equal(back.table, new.table)
    assert res.inference.method == "cr1"  # the original is untouched


# ---------------------------------------------------------------------------- CR2 and CR3
def _dummy_design(panel):
    unit = pd.get_dummies(panel["unit"], drop_first=False).to_numpy(float)
    time = pd.get_dummies(panel["time"], drop_first=True).to_numpy(float)
    return np.column_stack([panel["treat"].to_numpy(float), unit, time])


def test_cr2_cr3_equal_the_dummy_variable_regression(fits, panel):
    """Absorbing the (cluster-nested) unit effects gives the dummy-variable CR2, its BM dof and CR3
    (Pustejovsky & Tipton 2018, sec. 3). Tolerance 1e-8 relative."""
    X = _dummy_design(panel)
    y = panel["y"].to_numpy(float)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    u = y - X @ beta
    cl = panel["cluster"].to_numpy()
    cr2 = fits["twfe"].with_inference("cr2", panel)
    assert cr2.table["std_error"].iloc[0] == pytest.approx(np.sqrt(cr2_vcov(X, u, cl)[0, 0]), rel=1e-8)
    dof = cr2_dof(X, cl, np.eye(X.shape[1])[0])
    assert cr2.diagnostics["inference_details"]["dof"]["ATT"] == pytest.approx(dof, rel=1e-8)
    cr3 = fits["twfe"].with_inference("cr3", panel)
    assert cr3.table["std_error"].iloc[0] == pytest.approx(np.sqrt(_brute_cv3(X, y, cl, beta[0])), rel=1e-8)
    assert cr3.inference.df == 19


def _brute_cv3(X, y, cl, b):
    """MacKinnon-Nielsen-Webb CV3 by refitting without each cluster (its unit dummies dropped too)."""
    groups = np.unique(cl)
    deltas = []
    for g in groups:
        keep = cl != g
        cols = np.abs(X[keep]).sum(axis=0) > 0
        deltas.append(np.linalg.lstsq(X[keep][:, cols], y[keep], rcond=None)[0][0] - b)
    G = len(groups)
    return (G - 1) / G * np.sum(np.square(deltas))


def test_wild_equals_the_direct_bootstrap(fits, panel):
    new = fits["twfe"].with_inference("wild", panel, seed=7, draws=999)
    direct = twfe_wild_p(panel, outcome="y", treatment="treat", unit="unit", time="time", cluster="cluster",
                         seed=7, draws=999)
    assert new.table["p_value"].iloc[0] == pytest.approx(direct.p_value, abs=1e-12)
    assert new.table["conf_low"].iloc[0] == pytest.approx(direct.ci_low, abs=1e-10)
    assert new.table["std_error"].iloc[0] == pytest.approx(fits["twfe"].table["std_error"].iloc[0])


def test_wild_with_unit_subclusters_equals_the_direct_bootstrap(fits, panel):
    """bootcluster="unit": weights per unit, t clustered by cluster (MacKinnon & Webb 2018)."""
    from evalkit.inference.wild import wild_cluster_bootstrap

    new = fits["twfe"].with_inference("wild", panel, seed=7, draws=999, bootcluster="unit")
    unit, time = (pd.factorize(panel[c], sort=True)[0] for c in ("unit", "time"))
    direct = wild_cluster_bootstrap(panel["y"].to_numpy(float), panel[["treat"]].to_numpy(float),
                                    panel["cluster"].to_numpy(), coef_index=0, seed=7, draws=999,
                                    fe_codes=[unit, time], bootcluster=unit)
    row, det = new.table.iloc[0], new.diagnostics["inference_details"]["ATT"]
    assert row["p_value"] == pytest.approx(direct.p_value, abs=1e-12)
    assert row["conf_low"] == pytest.approx(direct.ci_low, abs=1e-10)
    assert det["bootcluster"] == "unit" and det["n_boot_clusters"] == panel["unit"].nunique()
    with pytest.raises(ParameterError, match="bootcluster='area'"):
        fits["twfe"].with_inference("wild", panel, bootcluster="area")
    with pytest.raises(ParameterError, match="bootcluster="):
        fits["did2x2"].with_inference("wild", _data("did2x2", panel), bootcluster="unit")


# ------------------------------------------------------------------- randomization inference
@pytest.mark.parametrize("name", ["twfe", "event_study"])
def test_fast_randomization_path_equals_reestimating(fits, panel, name, monkeypatch):
    fast = fits[name].with_inference("randomization", panel, seed=5, draws=59)
    monkeypatch.setattr(choice, "_LINEAR_EST", ())
    slow = fits[name].with_inference("randomization", panel, seed=5, draws=59)
    pd.testing.assert_frame_equal(fast.table, slow.table)


def test_randomization_on_staggered_estimators(panel):
    cs = evalkit.aggregate(evalkit.att_gt(panel, **KW, cohort="cohort", cluster="cluster"), "simple")
    ri = cs.with_inference("randomization", panel, seed=1, draws=39)
    details = ri.diagnostics["inference_details"]
    assert 0 < ri.table["p_value"].iloc[-1] <= 1 and details["draws"] + details["n_failed"] == 39
    assert details["mc_se"]["ATT"] > 0 and ri.inference.n_clusters == 20
    sa = evalkit.sun_abraham(panel, **KW, cohort="cohort", cluster="cluster")
    assert sa.with_inference("randomization", panel, seed=1, draws=19).inference.method == "randomization"


def test_randomization_p_value_is_exactly_valid_formula():
    from evalkit.inference.randomization import p_values

    p, se, r, bad = p_values(np.array([2.0]), np.array([[1.0], [-3.0], [np.nan], [2.0]]))
    assert p[0] == pytest.approx((1 + 3) / (1 + 4)) and r == 4 and bad[0] == 1  # NaN counts as extreme
    assert se[0] == pytest.approx(np.sqrt(0.8 * 0.2 / 4))


def test_randomization_counts_nonfinite_draws_instead_of_dropping_them():
    """Issue 12: inf/NaN draws were dropped, which shrank the p-value; they count as extreme."""
    from evalkit.inference.randomization import p_values

    p, _, r, bad = p_values(np.array([2.0]), np.array([[np.inf], [0.5], [np.nan], [0.1]]))
    assert r == 4 and bad[0] == 2 and p[0] == pytest.approx((1 + 2) / 5)


def test_twfe_treatment_that_switches_off_cannot_be_reassigned(panel):
    bad = panel.assign(treat=np.where((panel["cohort"] == 4) & (panel["time"] == 7), 0, panel["treat"]))
    res = evalkit.twfe(bad, **KW, treatment="treat", cluster="cluster")
    with pytest.raises(ValidationError, match="switch on once"):
        res.with_inference("randomization", bad, draws=9)


# ------------------------------------------------------------------------------ bad input
def test_unsupported_pairs_and_missing_data(fits, panel):
    cs = evalkit.att_gt(panel, **KW, cohort="cohort", cluster="cluster")
    with pytest.raises(ParameterError, match=r"\['analytic', 'multiplier', 'randomization'\]"):
        cs.with_inference("wild", panel)
    with pytest.raises(ParameterError, match="choose one of"):
        fits["twfe"].with_inference("cr9", panel)
    with pytest.raises(ParameterError, match="pass data="):
        fits["twfe"].with_inference("cr2")
    with pytest.raises(ValidationError, match="do not reproduce"):
        fits["twfe"].with_inference("cr2", panel.assign(y=panel["y"] * 2))
    with pytest.raises(ParameterError, match="not estimated terms"):
        fits["event_study"].with_inference("wild", panel, terms=["e=-1"])


def test_estimator_inference_argument(panel):
    res = evalkit.twfe(panel, **KW, treatment="treat", cluster="cluster", inference="wild",
                       inference_options={"seed": 2, "draws": 999})
    assert res.inference.method == "wild" and res.inference.seed == 2
    # without cluster=, the fit clusters by the unit (issue 12), so a few-cluster method applies to it
    assert evalkit.twfe(panel, **KW, treatment="treat", inference="cr2").inference.cluster == "unit"
    with pytest.raises(ParameterError, match="needs cluster"):
        evalkit.did2x2(panel.assign(post=(panel["time"] >= 5).astype(int), g=(panel["cohort"] > 0).astype(int)),
                       outcome="y", treatment="g", post="post", inference="cr2")
    with pytest.raises(ValidationError, match="inference_options"):
        evalkit.twfe(panel, **KW, treatment="treat", cluster="cluster", inference_options={"seed": 1})


def test_few_treated_clusters_with_cr1_warn_and_name_the_alternative(panel):
    one = panel.assign(cohort=np.where(panel["cluster"] == 0, 4, 0))
    one = one.assign(treat=((one["cohort"] > 0) & (one["time"] >= one["cohort"])).astype(int))
    with pytest.warns(EvalkitWarning, match="inference='wild'"):
        evalkit.twfe(one, **KW, treatment="treat", cluster="cluster")


# ------------------------------------------------------------------------------ simulation
@pytest.mark.slow
def test_size_three_treated_areas_of_sixty():
    """H0 true, 3 treated areas of 60 (area-year panel, area and year effects, heteroskedastic areas).

    RI rejects at about 5 % (within 3 binomial SE), CR1 over-rejects (measured 20.7 %). The WCR
    does not over-reject but UNDER-rejects here (measured 0.7 % with B = 199): with this few treated
    clusters the restricted wild bootstrap is known to be conservative (MacKinnon & Webb 2017,
    J. Applied Econometrics 32(2), sec. 4; 2018, Econometrics Journal 21(2)). So the test asserts
    "no over-rejection" for the WCR, not "about 5 %"; with 5 of 40 treated (test_wild.py) it is ~5 %.
    That this is the method's property and not an implementation slip: evalkit's WCR equals R
    fwildclusterboot exactly under full enumeration (tests/test_wild_reference.py). A one-off run of
    this design (400 replications, B = 399, 2026-11-22) gave WCR 0.0 % (Rademacher) and 0.5 % (Webb),
    WCU 11.5 % and 11.8 %: restricted under-rejects, unrestricted over-rejects, as the papers say."""
    rng = np.random.default_rng(2026)
    G, T, R = 60, 10, 300
    area, year = np.repeat(np.arange(G), T), np.tile(np.arange(T), G)
    treat = ((area < 3) & (year >= 6)).astype(int)
    rej = {"cr1": 0, "wild": 0, "randomization": 0}
    for _ in range(R):
        scale = np.where(np.arange(G) < 3, 1.0, rng.uniform(0.5, 2.0, G))  # heteroskedastic areas
        y = rng.normal(size=G)[area] + rng.normal(size=T)[year] + scale[area] * rng.normal(size=G * T)
        df = pd.DataFrame({"area": area, "year": year, "treat": treat, "y": y})
        res = evalkit.twfe(df, outcome="y", unit="area", time="year", treatment="treat", cluster="area")
        rej["cr1"] += res.table["p_value"].iloc[0] < 0.05
        rej["wild"] += res.with_inference("wild", df, draws=199, seed=1).table["p_value"].iloc[0] < 0.05
        rej["randomization"] += res.with_inference("randomization", df, draws=99,
                                                   seed=2).table["p_value"].iloc[0] < 0.05
    half = 3 * np.sqrt(0.05 * 0.95 / R)
    rates = {k: v / R for k, v in rej.items()}
    assert rates["wild"] < 0.05 + half, rates
    assert abs(rates["randomization"] - 0.05) < half, rates
    assert rates["cr1"] > 0.05 + half, rates


def test_wild_combination_of_one_term_equals_the_term_and_average_is_consistent(fits, panel):
    from evalkit.estimators.combine import post_average

    es = fits["event_study"]
    one = choice.wild_combination(es, panel, {"e=1": 1.0}, seed=4, draws=999)
    term = es.with_inference("wild", panel, terms=["e=1"], seed=4, draws=999).table.set_index("term").loc["e=1"]
    assert one.p_value == pytest.approx(term["p_value"], abs=1e-12)
    assert one.ci_low == pytest.approx(term["conf_low"], rel=1e-8)
    avg = choice.wild_combination(es, panel, {"e=0": 1 / 3, "e=1": 1 / 3, "e=2": 1 / 3}, seed=4, draws=999)
    pa = post_average(es).tidy().iloc[0]
    assert avg.estimate == pytest.approx(pa["estimate"], rel=1e-10)
    assert avg.std_error == pytest.approx(pa["std_error"], rel=1e-6)  # the bootstrap's CR1 t uses the same CR1 SE
    with pytest.raises(ParameterError, match="must name estimated terms"):
        choice.wild_combination(es, panel, {"e=9": 1.0})


# ------------------------------------------------------------- review findings (regressions)
def test_wild_combination_with_other_data_is_a_validation_error(fits, panel):
    with pytest.raises(ValidationError, match="do not reproduce"):
        choice.wild_combination(fits["event_study"], panel.assign(y=panel["y"] * 2.0),
                                {"e=0": 1.0}, draws=99, seed=1)


def test_combinations_of_a_wild_result_are_refused(fits, panel):
    """Issue 12: lincom/wald/HonestDiD read vcov, which for a wild or randomization result is the
    CR1 covariance of the fit; the combination was labelled with the bootstrap's name. Refused now."""
    from evalkit.estimators.combine import post_average, pretrend_test

    es = fits["event_study"]
    wild = es.with_inference("wild", panel, draws=199, seed=1)
    for combine in (post_average, pretrend_test, evalkit.honest_did):
        with pytest.raises(ParameterError, match="resampling"):
            combine(wild)
    assert np.isfinite(post_average(es).table["p_value"].iloc[0])  # the CR1 fit still combines


def test_large_scale_covariate_is_not_called_singular(panel, monkeypatch):
    from evalkit.estimators import _common

    big = panel.assign(income=np.random.default_rng(3).normal(3e7, 5e6, len(panel)))
    kw = dict(outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster", covariates=["income"])
    slow = evalkit.twfe(big, **kw)
    assert np.isfinite(slow.with_inference("cr2", big).table["std_error"]).all()
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    fast = evalkit.twfe(big, **kw)
    np.testing.assert_allclose(fast.table["estimate"], slow.table["estimate"], rtol=1e-8)


def test_randomization_uses_the_estimation_sample_and_checks_other_estimators_data(panel):
    gone = panel.assign(y=np.where(panel["cluster"] == 19, np.nan, panel["y"]))
    res = evalkit.twfe(gone, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")
    ri = res.with_inference("randomization", gone, draws=19, seed=1)
    assert ri.diagnostics["inference_details"]["n_assignment_units"] == res.inference.n_clusters == 19
    sa = evalkit.sun_abraham(panel, outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster")
    with pytest.raises(ValidationError, match="do not reproduce"):
        sa.with_inference("randomization", panel.assign(y=panel["y"] * 3), draws=9)


def test_deprecated_B_still_works_with_a_warning(fits, panel):
    """Issue 12: one name for replications (draws); B= keeps working for now, with a FutureWarning."""
    new = fits["twfe"].with_inference("wild", panel, seed=7, draws=999)
    with pytest.warns(FutureWarning, match="draws="):
        old = fits["twfe"].with_inference("wild", panel, seed=7, B=999)
    pd.testing.assert_frame_equal(new.tidy(), old.tidy())
    with pytest.raises(ParameterError, match="draws= only"):
        fits["twfe"].with_inference("wild", panel, draws=99, B=999)
