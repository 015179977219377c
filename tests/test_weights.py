"""Weights in the linear estimators (issue 14, item 3): identities, inference and fast paths.

Oracles: the unweighted fits (constant weights), the expanded data (frequency weights equal row
duplication), statsmodels WLS with unit and time dummies (analytic weights), the transformed
model sqrt(w) [y, X, D] for CR2 and the wild bootstrap, and the PanelOLS path for the exact
solver. The external witness (pyfixest on the castle-doctrine panel) is
``tests/test_weights_reference.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import evalkit as ek
from evalkit.data.synthetic import staggered_panel
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators import _common, _event_fit
from evalkit.inference import cr2_dof

pytestmark = pytest.mark.filterwarnings("ignore::evalkit.errors.EvalkitWarning")

N_UNITS, N_PERIODS = 60, 8


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """60 units x 8 periods in 15 clusters (cohorts 0, 4, 6); ``w`` residents varying over time,
    ``wu`` residents per unit, ``fw`` whole frequency weights 1-3; noise larger in small units."""
    d = staggered_panel(n_units=N_UNITS, n_periods=N_PERIODS, cohorts={0: 0.5, 4: 0.25, 6: 0.25}, effect=0.5,
                        n_clusters=15, seed=11)
    rng = np.random.default_rng(5)
    size = np.repeat(rng.lognormal(7.5, 0.6, N_UNITS), N_PERIODS)
    d["wu"] = size
    d["w"] = size * rng.uniform(0.8, 1.25, len(d))
    d["fw"] = rng.integers(1, 4, len(d)).astype(float)
    d["x"] = rng.normal(size=len(d))
    d["y"] = d["y"] + 0.3 * d["x"] + rng.normal(size=len(d)) * np.sqrt(size.mean() / size)
    d["post"] = (d["time"] >= 4).astype(int)
    d["g"] = (d["cohort"] > 0).astype(int)
    return d


@pytest.fixture(scope="module")
def unbalanced(panel) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return panel.loc[rng.random(len(panel)) < 0.85].reset_index(drop=True)


def _cl(kw: dict) -> dict:
    """cluster="cluster" unless HC1 is asked for (HC1 ignores clusters, so it takes none)."""
    return {"cluster": None if kw.get("inference") == "hc1" else "cluster", **kw}


CALLS = {
    "did2x2": lambda d, **kw: ek.did2x2(d, outcome="y", treatment="g", post="post", **_cl(kw)),
    "twfe": lambda d, **kw: ek.twfe(d, outcome="y", unit="unit", time="time", treatment="treat", covariates=["x"],
                                    **_cl(kw)),
    "event_study": lambda d, **kw: ek.event_study(d, outcome="y", unit="unit", time="time", cohort="cohort",
                                                  leads=3, lags=3, **_cl(kw)),
    "sun_abraham": lambda d, **kw: ek.sun_abraham(d, outcome="y", unit="unit", time="time", cohort="cohort",
                                                  **_cl(kw)),
    "bacon": lambda d, **kw: ek.bacon(d, outcome="y", unit="unit", time="time", treatment="treat", **kw),
}
LINEAR = ("did2x2", "twfe", "event_study")


def _same(a, b, rtol=1e-9, atol=1e-12, cols=("estimate", "std_error")):
    ta, tb = a.table.set_index("term"), b.table.set_index("term")
    assert list(ta.index) == list(tb.index)
    for col in cols:
        np.testing.assert_allclose(ta[col].to_numpy(float), tb[col].to_numpy(float), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=col)


def _expanded(d: pd.DataFrame, col: str = "fw") -> pd.DataFrame:
    return d.loc[d.index.repeat(d[col].astype(int))].reset_index(drop=True)


# ----------------------------------------------------------------- constant weights, rescaling
@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("c", [0.37, 1.0, 250.0])
def test_constant_analytic_weights_equal_unweighted(panel, name, c):
    _same(CALLS[name](panel.assign(c=c), weights="c"), CALLS[name](panel))


@pytest.mark.parametrize("name", LINEAR)
@pytest.mark.parametrize("kind", ["analytic", "frequency"])
def test_unit_weights_equal_unweighted_hc1(panel, name, kind):
    """Weight 1 in either kind (frequency: N = sum of weights = rows) is the unweighted HC1 fit."""
    _same(CALLS[name](panel.assign(c=1.0), weights="c", weights_type=kind, inference="hc1"),
          CALLS[name](panel, inference="hc1"))


@pytest.mark.parametrize("name", list(CALLS))
def test_analytic_weights_invariant_to_rescaling(panel, name):
    col = "wu" if name == "bacon" else "w"
    scaled = panel.assign(**{col: panel[col] * 1e-3})
    _same(CALLS[name](scaled, weights=col), CALLS[name](panel, weights=col), rtol=1e-8)


@pytest.mark.parametrize("name", list(CALLS))
def test_weights_change_the_estimates(panel, name):
    """The weights are used (not silently ignored) by every estimator."""
    col = "wu" if name == "bacon" else "w"
    a, b = CALLS[name](panel, weights=col), CALLS[name](panel)
    assert not np.allclose(a.table["estimate"].to_numpy(float), b.table["estimate"].to_numpy(float), equal_nan=True)


# ----------------------------------------------------------------- frequency = duplication
@pytest.mark.parametrize("inference", [None, "hc1", "cr2", "cr3"])
def test_did2x2_frequency_weights_equal_row_duplication(panel, inference):
    ours = CALLS["did2x2"](panel, weights="fw", weights_type="frequency", inference=inference)
    dup = CALLS["did2x2"](_expanded(panel), inference=inference)
    _same(ours, dup, rtol=1e-9)
    if inference in ("cr2", "cr3"):  # no N in CR2/CR3: analytic weights give the same numbers
        _same(CALLS["did2x2"](panel, weights="fw", inference=inference), dup, rtol=1e-9)


@pytest.mark.parametrize("inference", [None, "hc1"])
def test_twfe_frequency_weights_equal_row_duplication(panel, inference):
    """The expanded rows repeat (unit, time) keys, which twfe refuses; statsmodels OLS with unit and time
    dummies on them is the oracle. HC1 counts every effect (as evalkit's HC1); CR1 counts the unit effects,
    nested in the clusters, as one in evalkit and as n_units in statsmodels: the factor ratio is applied."""
    ours = CALLS["twfe"](panel, weights="fw", weights_type="frequency", inference=inference)
    big = _expanded(panel)
    X = _dummy_design(big)
    fit = sm.OLS(big["y"].to_numpy(float), X).fit(**_sm_cov(big, inference))
    scale = 1.0 if inference == "hc1" else _cr1_ratio(len(big), X.shape[1], 2 + N_PERIODS - 1 + 1)
    np.testing.assert_allclose(ours.estimate("ATT"), fit.params["treat"], rtol=1e-10)
    np.testing.assert_allclose(ours.table.set_index("term").loc["ATT", "std_error"],
                               fit.bse["treat"] * np.sqrt(scale), rtol=1e-9)


def _dummy_design(d: pd.DataFrame) -> pd.DataFrame:
    dummies = pd.get_dummies(d[["unit", "time"]].astype(str), drop_first=True).astype(float)
    return pd.concat([d[["treat", "x"]].astype(float), dummies], axis=1).assign(const=1.0)


def _sm_cov(d: pd.DataFrame, inference):
    if inference == "hc1":
        return {"cov_type": "HC1"}
    return {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(d["cluster"])[0]}}


def _cr1_ratio(n: float, k_statsmodels: int, k_evalkit: int) -> float:
    """evalkit's CR1 factor over statsmodels' ((N-1)/(N-K) with their K; G/(G-1) is common)."""
    return ((n - 1) / (n - k_evalkit)) / ((n - 1) / (n - k_statsmodels))


# ----------------------------------------------------------------- analytic = statsmodels WLS
@pytest.mark.parametrize("inference", [None, "hc1"])
def test_twfe_analytic_weights_equal_statsmodels_wls(unbalanced, inference):
    ours = CALLS["twfe"](unbalanced, weights="w", inference=inference)
    X = _dummy_design(unbalanced)
    fit = sm.WLS(unbalanced["y"].to_numpy(float), X, weights=unbalanced["w"].to_numpy(float)).fit(
        **_sm_cov(unbalanced, inference))
    scale = 1.0 if inference == "hc1" else _cr1_ratio(len(unbalanced), X.shape[1], 2 + N_PERIODS - 1 + 1)
    tab = ours.table.set_index("term")
    for term, col in (("ATT", "treat"), ("x", "x")):
        np.testing.assert_allclose(tab.loc[term, "estimate"], fit.params[col], rtol=1e-8)
        np.testing.assert_allclose(tab.loc[term, "std_error"], fit.bse[col] * np.sqrt(scale), rtol=1e-7)


@pytest.mark.parametrize("inference", [None, "hc1"])
def test_did2x2_analytic_weights_equal_statsmodels_wls(panel, inference):
    ours = CALLS["did2x2"](panel, weights="w", inference=inference)
    g, p = panel["g"].to_numpy(float), panel["post"].to_numpy(float)
    X = np.column_stack([np.ones(len(g)), g, p, g * p])
    fit = sm.WLS(panel["y"].to_numpy(float), X, weights=panel["w"].to_numpy(float)).fit(**_sm_cov(panel, inference))
    np.testing.assert_allclose(ours.estimate("ATT"), fit.params[3], rtol=1e-10)
    np.testing.assert_allclose(ours.table["std_error"].iloc[0], fit.bse[3], rtol=1e-10)
    cells = ours.diagnostics["cell_means"]  # weighted cell means: their difference is the ATT
    did = (cells["treated_post"] - cells["treated_pre"]) - (cells["control_post"] - cells["control_pre"])
    np.testing.assert_allclose(did, ours.estimate("ATT"), rtol=1e-10)


# ----------------------------------------------------------------- post-fit inference
POSTFIT = {"cr2": {}, "cr3": {}, "wild": {"seed": 3, "draws": 199},
           "wild_unrestricted": {"seed": 3, "draws": 199, "restricted": False},
           "randomization": {"seed": 3, "draws": 49}}


def _postfit(result, data, key):
    method = "wild" if key.startswith("wild") else key
    return result.with_inference(method, data, **POSTFIT[key])


@pytest.mark.parametrize("name", LINEAR)
@pytest.mark.parametrize("key", list(POSTFIT))
def test_postfit_with_constant_weights_equals_unweighted(panel, name, key):
    data = panel.assign(c=4.0)
    weighted = _postfit(CALLS[name](data, weights="c"), data, key)
    plain = _postfit(CALLS[name](panel), panel, key)
    _same(weighted, plain, rtol=1e-8, cols=("estimate", "std_error", "p_value", "conf_low", "conf_high"))


@pytest.mark.parametrize("key", list(POSTFIT))
def test_postfit_weighted_runs_and_frequency_equals_analytic(panel, key):
    """Every post-fit method runs on a weighted twfe, differs from the unweighted one, and gives the same
    numbers for frequency and analytic weights (none of them has an N-based factor)."""
    freq = _postfit(CALLS["twfe"](panel, weights="fw", weights_type="frequency"), panel, key)
    anal = _postfit(CALLS["twfe"](panel, weights="fw"), panel, key)
    plain = _postfit(CALLS["twfe"](panel), panel, key)
    col = "p_value" if key.startswith(("wild", "randomization")) else "std_error"
    _same(freq, anal, rtol=1e-8, cols=(col,))
    assert freq.inference.method == anal.inference.method
    assert not np.isclose(freq.table.loc[0, "estimate"], plain.table.loc[0, "estimate"])


def test_postfit_inference_on_rescaled_weights_is_invariant(panel):
    data = panel.assign(w2=panel["w"] * 1e3)
    for key in POSTFIT:
        a = _postfit(CALLS["event_study"](panel, weights="w"), panel, key)
        b = _postfit(CALLS["event_study"](data, weights="w2"), data, key)
        _same(a, b, rtol=1e-7, cols=("estimate", "std_error", "p_value", "conf_low", "conf_high"))


def test_weighted_cr2_equals_the_dummy_variable_transformed_model(unbalanced):
    """CR2 and its Bell-McCaffrey dof of the weighted twfe (unit effects absorbed by weighted projection)
    equal those of the weighted dummy-variable regression (Pustejovsky & Tipton 2018, sec. 3: absorbed
    effects nested in the clusters), computed by the kernels with weights= on the full design. (CR3 of
    the full design is undefined: dropping a cluster zeroes its unit dummies.)"""
    res = CALLS["twfe"](unbalanced, weights="w", inference="cr2")
    xa = _dummy_design(unbalanced).to_numpy(float)
    y, w = unbalanced["y"].to_numpy(float), unbalanced["w"].to_numpy(float)
    beta = np.linalg.lstsq(xa * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    cl = unbalanced["cluster"].to_numpy()
    v = ek.cr2_vcov(xa, y - xa @ beta, cl, weights=w)
    tab = res.table.set_index("term")
    np.testing.assert_allclose(tab.loc["ATT", "estimate"], beta[0], rtol=1e-9)
    np.testing.assert_allclose(tab.loc["ATT", "std_error"], np.sqrt(v[0, 0]), rtol=1e-7)
    dof = cr2_dof(xa, cl, np.eye(xa.shape[1])[0], weights=w)
    np.testing.assert_allclose(res.diagnostics["inference_details"]["dof"]["ATT"], dof, rtol=1e-7)


@pytest.mark.parametrize("restricted", [True, False])
def test_weighted_wild_equals_the_transformed_dummy_model(unbalanced, restricted):
    """The weighted wild bootstrap (fixed effects partialled by weighted projection, crossing-year
    correction weighted) equals the bootstrap of sqrt(w) y on sqrt(w) [X, unit and year dummies]
    without fixed effects (all 2^15 Rademacher vectors enumerated: no simulation noise)."""
    res = CALLS["twfe"](unbalanced, weights="w").with_inference("wild", unbalanced, draws=2 ** 15,
                                                                  restricted=restricted)
    X = _dummy_design(unbalanced)
    root = np.sqrt(unbalanced["w"].to_numpy(float))
    brute = ek.wild_cluster_bootstrap(unbalanced["y"].to_numpy(float) * root, X.to_numpy(float) * root[:, None],
                                      unbalanced["cluster"].to_numpy(), coef_index=0, draws=2 ** 15,
                                      restricted=restricted)
    assert brute.enumerated
    row = res.table.set_index("term").loc["ATT"]
    np.testing.assert_allclose(row["p_value"], brute.p_value, atol=1e-12)
    np.testing.assert_allclose([row["conf_low"], row["conf_high"]], [brute.ci_low, brute.ci_high], rtol=1e-6)


def test_wild_kernel_obs_weights_equal_transformed_model(panel):
    """``wild_cluster_bootstrap(obs_weights=)`` with fixed-effect codes = the transformed model with dummies."""
    y, w = panel["y"].to_numpy(float), panel["w"].to_numpy(float)
    X = panel[["treat", "x"]].to_numpy(float)
    cl = panel["cluster"].to_numpy()
    fe = [pd.factorize(panel["unit"])[0], pd.factorize(panel["time"])[0]]
    ours = ek.wild_cluster_bootstrap(y, X, cl, coef_index=0, draws=2 ** 15, fe_codes=fe, obs_weights=w)
    root = np.sqrt(w)
    brute = ek.wild_cluster_bootstrap(y * root, _dummy_design(panel).to_numpy(float) * root[:, None], cl,
                                      coef_index=0, draws=2 ** 15)
    np.testing.assert_allclose([ours.estimate, ours.p_value], [brute.estimate, brute.p_value], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose([ours.ci_low, ours.ci_high], [brute.ci_low, brute.ci_high], rtol=1e-6)


def test_randomization_refits_by_wls(panel):
    """Each re-assignment of randomization inference is the weighted twfe on the re-assigned data: same
    estimate, and a t statistic that is the CR1 t times the (constant) square root of the CR1 factor."""
    from evalkit.estimators import _refit, postfit

    res = CALLS["twfe"](panel, weights="w")
    _, _, cohorts, apply = _refit.assignment(res, panel)
    refit = postfit._linear_refit(res, panel, apply, ["ATT"])
    ratios = []
    for assigned in (cohorts, np.random.default_rng(0).permutation(cohorts)):
        beta, t = refit(assigned)
        again = CALLS["twfe"](apply(assigned), weights="w")
        np.testing.assert_allclose(beta, [again.estimate("ATT")], rtol=1e-9)
        ratios.append(t[0] / again.table.set_index("term").loc["ATT", "statistic"])
    np.testing.assert_allclose(ratios[0], ratios[1], rtol=1e-9)
    ri = res.with_inference("randomization", panel, seed=1, draws=49)
    assert ri.inference.method == "randomization" and 0 < ri.table.loc[0, "p_value"] <= 1


def test_sun_abraham_randomization_keeps_the_weights(panel):
    res = CALLS["sun_abraham"](panel, weights="w")
    ri = res.with_inference("randomization", panel, seed=2, draws=19)
    np.testing.assert_allclose(ri.table["estimate"], res.table["estimate"], rtol=1e-12)


# ----------------------------------------------------------------- fast paths
@pytest.mark.parametrize("kind,col", [("analytic", "w"), ("frequency", "fw")])
@pytest.mark.parametrize("cluster,inference", [("cluster", None), ("unit", None), (None, "hc1")])
def test_twfe_fast_path_equals_general_path_weighted(unbalanced, monkeypatch, kind, col, cluster, inference):
    kw = dict(weights=col, weights_type=kind, inference=inference)
    call = lambda: ek.twfe(unbalanced, outcome="y", unit="unit", time="time", treatment="treat",  # noqa: E731
                           cluster=cluster, covariates=["x"], **kw)
    slow = call()
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 10)
    fast = call()
    _same(fast, slow, rtol=1e-9, atol=1e-12)


def test_event_study_fast_path_equals_general_path_weighted(unbalanced, monkeypatch):
    slow = CALLS["event_study"](unbalanced, weights="w")
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 10)
    seen = []
    real = _event_fit.usable
    monkeypatch.setattr(_event_fit, "usable", lambda *a: seen.append(real(*a)) or seen[-1])
    fast = CALLS["event_study"](unbalanced, weights="w")
    assert seen == [False]  # weighted: the dense dummies on the weighted exact solver, not the sparse path
    _same(fast, slow, rtol=1e-9, atol=1e-12)
    unweighted = CALLS["event_study"](unbalanced)
    assert seen[-1] is True and not np.allclose(unweighted.table["estimate"].dropna(), fast.table["estimate"].dropna())


def test_fast_path_wild_rebuilds_the_weighted_design(unbalanced, monkeypatch):
    """A weighted fit does not hand its partialled data to the wild bootstrap (the handed-over form is
    unweighted); the bootstrap rebuilds the weighted design: same numbers on both paths."""
    slow = CALLS["twfe"](unbalanced, weights="w", inference="wild", inference_options={"seed": 1, "draws": 199})
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 10)
    fast = CALLS["twfe"](unbalanced, weights="w", inference="wild", inference_options={"seed": 1, "draws": 199})
    _same(fast, slow, rtol=1e-7, cols=("estimate", "p_value", "conf_low", "conf_high"))


# ----------------------------------------------------------------- zero weights, bacon, metadata
@pytest.mark.parametrize("name", list(CALLS))
def test_zero_weights_are_dropped_with_a_warning(panel, name):
    col = "wu" if name == "bacon" else "w"
    zero = panel["unit"] == 3
    data = panel.assign(**{col: np.where(zero, 0.0, panel[col])})
    with pytest.warns(EvalkitWarning, match=rf"Dropped {int(zero.sum())} of {len(panel)} rows with weights"):
        res = CALLS[name](data, weights=col)
    _same(res, CALLS[name](panel.loc[~zero].reset_index(drop=True), weights=col))
    assert res.diagnostics["n_dropped_zero_weight"] == int(zero.sum())


def test_zero_weight_rows_are_dropped_by_postfit_too(panel):
    data = panel.assign(w=np.where(panel["unit"] == 3, 0.0, panel["w"]))
    sub = panel.loc[panel["unit"] != 3].reset_index(drop=True)
    for key in ("cr2", "wild", "randomization"):
        _same(_postfit(CALLS["twfe"](data, weights="w"), data, key),
              _postfit(CALLS["twfe"](sub, weights="w"), sub, key), rtol=1e-8, cols=("std_error", "p_value"))


def test_bacon_weighted_sums_to_weighted_twfe(panel):
    res = CALLS["bacon"](panel, weights="wu")
    twfe = ek.twfe(panel, outcome="y", unit="unit", time="time", treatment="treat", weights="wu")
    np.testing.assert_allclose(res.estimate("TWFE"), twfe.estimate("ATT"), rtol=1e-8)
    np.testing.assert_allclose(res.diagnostics["weight_sum"], 1.0, rtol=1e-10)


def test_bacon_integer_unit_weights_equal_duplicated_units(panel):
    k = np.random.default_rng(2).integers(1, 4, N_UNITS)
    data = panel.assign(k=k[panel["unit"].to_numpy() - panel["unit"].min()].astype(float))
    copies = data.loc[data.index.repeat(data["k"].astype(int))].copy()
    copies["unit"] = copies["unit"].astype(str) + "_" + copies.groupby(["unit", "time"]).cumcount().astype(str)
    ours = CALLS["bacon"](data, weights="k", weights_type="frequency")
    dup = CALLS["bacon"](copies)
    np.testing.assert_allclose(ours.table["estimate"], dup.table["estimate"], rtol=1e-10)
    np.testing.assert_allclose(pd.Series(ours.diagnostics["weights"]), pd.Series(dup.diagnostics["weights"]),
                               rtol=1e-10)


def test_bacon_refuses_weights_varying_within_unit(panel):
    with pytest.raises(ValidationError, match="'w'.*constant within"):
        CALLS["bacon"](panel, weights="w")


def test_sun_abraham_single_cohort_equals_weighted_event_study(panel):
    """With one treated cohort the Sun-Abraham model is the fully dynamic event study: weighted too."""
    one = panel.loc[panel["cohort"].isin([0, 4])].reset_index(drop=True)
    sa = CALLS["sun_abraham"](one, weights="w")
    es = ek.event_study(one, outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster", leads=3,
                        lags=4, bin_endpoints=False, weights="w")
    a, b = sa.tidy().set_index("term"), es.tidy().set_index("term")
    terms = [t for t in b.index if not b.loc[t, "reference"]]
    assert len(terms) == 7
    np.testing.assert_allclose(a.loc[terms, "estimate"], b.loc[terms, "estimate"], atol=1e-9)
    np.testing.assert_allclose(a.loc[terms, "std_error"], b.loc[terms, "std_error"], rtol=1e-7)


@pytest.mark.parametrize("name", list(CALLS))
def test_metadata_and_summary_record_the_weighting(panel, name):
    col = "wu" if name == "bacon" else "fw"
    res = CALLS[name](panel.assign(wu=np.round(panel["wu"])), weights=col, weights_type="frequency")
    assert res.meta["weights"] == col and res.meta["weights_type"] == "frequency"
    assert f"Weights    {col} (frequency weights)" in res.summary()
    back = ek.Result.from_json(res.to_json())
    assert back.meta["weights"] == col
    plain = CALLS[name](panel)
    assert plain.meta["weights"] is None and "Weights" not in plain.summary()


@pytest.mark.parametrize("name", LINEAR)
def test_refit_by_with_inference_keeps_the_weights(panel, name):
    res = CALLS[name](panel, weights="w")
    hc1 = res.with_inference("hc1", panel)
    _same(hc1, CALLS[name](panel, weights="w", inference="hc1"))


def test_frequency_weights_change_only_the_small_sample_factor(panel):
    """Same points; CR1 factor (N-1)/(N-K) with N = sum of the weights instead of the rows."""
    a = CALLS["twfe"](panel, weights="fw")
    f = CALLS["twfe"](panel, weights="fw", weights_type="frequency")
    np.testing.assert_allclose(f.table["estimate"], a.table["estimate"], rtol=1e-12)
    n, big_n, k = len(panel), panel["fw"].sum(), 2 + N_PERIODS - 1 + 1
    ratio = ((big_n - 1) / (big_n - k)) / ((n - 1) / (n - k))
    np.testing.assert_allclose(f.table["std_error"], a.table["std_error"] * np.sqrt(ratio), rtol=1e-9)


def test_bad_weights_arguments(panel):
    with pytest.raises(ParameterError, match="weights_type.*'frequency'"):
        CALLS["twfe"](panel, weights="w", weights_type="fweights")
    with pytest.raises(ValidationError, match="'w'.*whole numbers"):
        CALLS["twfe"](panel, weights="w", weights_type="frequency")
    with pytest.raises(ek.EvalkitError, match="'nope'"):
        CALLS["did2x2"](panel, weights="nope")
    with pytest.raises(ParameterError, match="obs_weights"):
        ek.wild_cluster_bootstrap(panel["y"], panel[["treat"]], panel["cluster"], coef_index=0, draws=9,
                                  obs_weights=-panel["w"].to_numpy())


def test_weighted_subcluster_wild_and_wild_combination(panel):
    """The subcluster bootstrap (bootcluster="unit") and wild_combination read the weights too: constant
    weights reproduce the unweighted numbers, residents' weights change them."""
    from evalkit.estimators.postfit import wild_combination

    data = panel.assign(c=2.5)
    opts = {"seed": 4, "draws": 199, "bootcluster": "unit"}
    _same(CALLS["twfe"](data, weights="c").with_inference("wild", data, **opts),
          CALLS["twfe"](panel).with_inference("wild", panel, **opts), rtol=1e-8, cols=("p_value", "conf_low"))
    es_w, es = CALLS["event_study"](data, weights="c"), CALLS["event_study"](panel)
    post = {"e=0": 0.5, "e=1": 0.5}
    a = wild_combination(es_w, data, post, draws=199, seed=4)
    b = wild_combination(es, panel, post, draws=199, seed=4)
    np.testing.assert_allclose([a.estimate, a.p_value, a.ci_low], [b.estimate, b.p_value, b.ci_low], rtol=1e-8)
    c = wild_combination(CALLS["event_study"](panel, weights="w"), panel, post, draws=199, seed=4)
    assert not np.isclose(c.estimate, b.estimate)


def test_weighting_label_for_reports(panel):
    from evalkit.core.weighting import label

    res = CALLS["twfe"](panel.assign(residents=panel["w"]), weights="residents")
    assert label(res.meta) == "Weighted by residents (analytic weights)."
    assert label(res.meta, "da") == "Vægtet med residents (analytiske vægte)."
    assert label(CALLS["twfe"](panel).meta) is None


def test_sun_abraham_weighted_equals_wls_interactions(unbalanced):
    """Multi-cohort weighted Sun-Abraham = WLS of y on unit and time dummies and every cohort x relative-period
    interaction (e != -1), aggregated with weighted cohort shares W_{g,e} / sum_g W_{g,e} (fixest's default with
    weights); SEs by the delta method on statsmodels' clustered WLS covariance, with evalkit's CR1 factor."""
    d = unbalanced
    res = CALLS["sun_abraham"](d, weights="w")
    rel = d["time"] - d["cohort"]
    keys = sorted({(int(g), int(e)) for g, e in zip(d["cohort"], rel) if g > 0 and e != -1})
    inter = pd.DataFrame({f"{g}_{e}": ((d["cohort"] == g) & (rel == e)).astype(float) for g, e in keys})
    dummies = pd.get_dummies(d[["unit", "time"]].astype(str), drop_first=True).astype(float)
    X = pd.concat([inter, dummies], axis=1).assign(const=1.0)
    groups = pd.factorize(d["cluster"])[0]
    fit = sm.WLS(d["y"].to_numpy(float), X, weights=d["w"].to_numpy(float)).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    n, g_count = len(d), len(np.unique(groups))
    sm_factor = g_count / (g_count - 1) * (n - 1) / (n - X.shape[1])
    cov = fit.cov_params().to_numpy() * res.diagnostics["cr1_factor"] / sm_factor
    tab = res.table.set_index("term")
    for e in sorted({e for _, e in keys}):
        cols = [f"{g}_{e}" for g, ee in keys if ee == e]
        mass = np.array([d.loc[inter[c] == 1, "w"].sum() for c in cols])
        a = np.zeros(X.shape[1])
        a[[X.columns.get_loc(c) for c in cols]] = mass / mass.sum()
        np.testing.assert_allclose(tab.loc[f"e={e}", "estimate"], a @ fit.params.to_numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(tab.loc[f"e={e}", "std_error"], np.sqrt(a @ cov @ a), rtol=1e-7)
