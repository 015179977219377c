"""The inference advisor: its closed-form kernels equal evalkit's general path, and the advisor itself.

Equivalence (unweighted): for several treated sets, the kernel's estimate and CR1/CR2/CR3 standard
errors equal ``evalkit.twfe(...)`` and ``.with_inference("cr2"/"cr3")`` to 1e-10 (CR2's IK dof too),
and the wild bootstrap p-values (WCR Rademacher and Webb, WCU) equal ``.with_inference("wild")``
exactly when the kernel is handed the same weight matrix (evalkit's draws in its cluster order).
Weighted (WLS, weights constant within an area): estimate and CR1 against statsmodels WLS with
area and year dummies, CR2/CR3/dof against evalkit's array functions with ``weights=``, the wild
bootstrap against evalkit's wild bootstrap on the sqrt(w)-transformed dummy-variable regression.
Randomization inference: the expanded t statistics equal the direct CR1 t of each re-assignment;
evalkit's randomization test draws its own permutations, so its p-value is checked for the same
t statistic and formula, not draw by draw.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import evalkit
from evalkit.errors import EvalkitError, ParameterError, ValidationError
from evalkit.inference import _placebo_kernels as K
from evalkit.inference import _placebo_resampling as RS
from evalkit.inference import advisor as adv
from evalkit.inference import randomization as ri
from evalkit.inference.advisor_methods import REGISTRY, PlaceboMethod, register
from evalkit.inference.small_sample import cr2_dof, cr2_vcov, cr3_vcov
from evalkit.inference.wild import _draw_rank, _weight_chunks, prepare, wild_cluster_bootstrap

G, T, START = 24, 7, 4


def _panel(treated, seed=0, weights=None):
    rng = np.random.default_rng(seed)
    size = np.round(np.exp(rng.normal(7.5, 0.5, G)))
    y = (rng.normal(0.45, 0.05, G)[:, None] + rng.normal(0, 0.01, T)[None, :]
         + rng.normal(0, 1, (G, T)) * 0.3 / np.sqrt(size)[:, None])
    d = np.zeros((G, T))
    d[list(treated), START:] = 1
    y = y + 0.01 * d
    df = pd.DataFrame({"area": np.repeat([f"a{i:02d}" for i in range(G)], T), "year": np.tile(2015 + np.arange(T), G),
                       "y": y.ravel(), "d": d.ravel().astype(int), "residents": np.repeat(size, T)})
    return df, y, d, size


def _design(y, w=None):
    post = (np.arange(T) >= START).astype(float)
    return K.collapse(y, post, w)


ASSIGNMENTS = [(0, 5, 9), (3, 4), (1, 7, 11, 19, 23), (2,)]


# ------------------------------------------------------------- equivalence, unweighted
@pytest.mark.parametrize("treated", ASSIGNMENTS[:3])
def test_cr1_cr2_cr3_equal_the_general_path(treated):
    df, y, d, _ = _panel(treated)
    res = evalkit.twfe(df, outcome="y", unit="area", time="year", treatment="d", cluster="area")
    design = _design(y)
    f = K.fit(design, d.max(axis=1)[None])
    row = res.table.set_index("term").loc["ATT"]
    assert f.estimate[0] == pytest.approx(row["estimate"], abs=1e-10)
    assert K.cr1(design, f).std_error[0] == pytest.approx(row["std_error"], rel=1e-10)
    for method, kernel in (("cr2", K.cr2), ("cr3", K.cr3)):
        other = res.with_inference(method, df).table.set_index("term").loc["ATT"]
        out = kernel(design, f)
        assert out.std_error[0] == pytest.approx(other["std_error"], rel=1e-10)
        assert out.p_value[0] == pytest.approx(other["p_value"], rel=1e-8)
    dof = res.with_inference("cr2", df).diagnostics["inference_details"]["dof"]["ATT"]
    assert K.cr2(design, f).df[0] == pytest.approx(dof, rel=1e-10)


def _evalkit_weights(kind, df, B, seed, y=None, x=None, clusters=None):
    """evalkit's wild-bootstrap weight matrix (G x B) in its cluster order (rows: clusters by code)."""
    if y is None:
        codes = pd.factorize(df["area"], sort=True)[0], pd.factorize(df["year"], sort=True)[0]
        d = prepare(df["y"].to_numpy(float), df[["d"]].to_numpy(float), codes[0], fe_codes=list(codes))
    else:
        d = prepare(y, x, clusters)
    rank = _draw_rank(d, 0)
    return np.concatenate([V[rank] for V in _weight_chunks(kind, d.n_clusters, B, seed)], axis=1)


@pytest.mark.parametrize("kind,restricted", [("rademacher", True), ("webb", True), ("rademacher", False)])
@pytest.mark.parametrize("treated", ASSIGNMENTS[:2])
def test_wild_pvalues_equal_the_general_path_given_the_draws(kind, restricted, treated):
    df, y, d, _ = _panel(treated, seed=3)
    res = evalkit.twfe(df, outcome="y", unit="area", time="year", treatment="d", cluster="area")
    B, seed = 499, 7
    p_ek = res.with_inference("wild", df, draws=B, seed=seed, weights=kind, restricted=restricted).table
    V = _evalkit_weights(kind, df, B, seed)
    design = _design(y)
    f = K.fit(design, d.max(axis=1)[None])
    t = K.cr1(design, f).statistic
    p = RS.wild_pvalues(t, RS.wild_tstats(design, f, V, restricted))
    assert p[0] == p_ek.set_index("term").loc["ATT", "p_value"]


def test_permutation_tstats_equal_direct_fits():
    _, y, _, size = _panel((0, 1, 2), seed=5)
    design = _design(y, size)
    draws = RS.random_assignments(G, 3, 200, np.random.default_rng(1))
    contrasts = K.inject(design, draws[:4], 0.02)
    fast = RS.permutation_tstats(design, draws, contrasts)
    for j in range(4):
        direct = K.cr1(design, K.fit(design, draws, contrasts[j])).statistic
        np.testing.assert_allclose(fast[:, j], direct, rtol=1e-9)


def test_permutation_pvalues_follow_evalkit_formula():
    rng = np.random.default_rng(0)
    null = rng.normal(size=(99, 3))
    obs = np.array([0.1, 2.5, -1.0])
    np.testing.assert_array_equal(RS.permutation_pvalues(obs, null), ri.p_values(obs, null)[0])


# --------------------------------------------------------------- equivalence, weighted
def _dummies(df):
    return pd.get_dummies(df["area"], dtype=float), pd.get_dummies(df["year"], dtype=float).iloc[:, 1:]


@pytest.mark.parametrize("treated", ASSIGNMENTS[:3])
def test_weighted_kernels_equal_wls(treated):
    df, y, d, size = _panel(treated, seed=11)
    units, years = _dummies(df)
    X = pd.concat([df[["d"]].astype(float), units, years], axis=1).to_numpy()
    w = df["residents"].to_numpy(float)
    wls = sm.WLS(df["y"].to_numpy(), X, weights=w).fit(cov_type="cluster",
                                                       cov_kwds={"groups": pd.factorize(df["area"])[0]})
    design = _design(y, size)
    f = K.fit(design, d.max(axis=1)[None])
    assert f.estimate[0] == pytest.approx(wls.params[0], abs=1e-10)
    n, k_sm = len(df), X.shape[1]
    se_sm = np.sqrt(wls.cov_params()[0, 0] * (n - k_sm) / (n - 1 - T))  # evalkit counts the area effects as one
    assert K.cr1(design, f).std_error[0] == pytest.approx(se_sm, rel=1e-9)
    # CR2 / CR3 / dof: evalkit's array functions on the area-demeaned [D, year dummies], weights=
    Z = np.column_stack([df["y"], df["d"], years]).astype(float)
    Zt = Z - pd.DataFrame(Z).groupby(df["area"].to_numpy()).transform("mean").to_numpy()
    yt, xt = Zt[:, 0], Zt[:, 1:]
    beta = np.linalg.solve(xt.T @ (w[:, None] * xt), xt.T @ (w * yt))
    resid, cl = yt - xt @ beta, df["area"].to_numpy()
    assert K.cr2(design, f).std_error[0] == pytest.approx(np.sqrt(cr2_vcov(xt, resid, cl, weights=w)[0, 0]), rel=1e-10)
    assert K.cr3(design, f).std_error[0] == pytest.approx(np.sqrt(cr3_vcov(xt, resid, cl, weights=w)[0, 0]), rel=1e-10)
    e0 = np.eye(xt.shape[1])[0]
    assert K.cr2(design, f).df[0] == pytest.approx(cr2_dof(xt, cl, e0, weights=w), rel=1e-10)


@pytest.mark.parametrize("kind,restricted", [("rademacher", True), ("webb", True), ("rademacher", False)])
def test_weighted_wild_equals_transformed_dummy_regression(kind, restricted):
    df, y, d, size = _panel((2, 8, 13), seed=4)
    units, years = _dummies(df)
    sw = np.sqrt(df["residents"].to_numpy(float))
    X = pd.concat([df[["d"]].astype(float), units, years], axis=1).to_numpy() * sw[:, None]
    yw, cl = df["y"].to_numpy() * sw, pd.factorize(df["area"], sort=True)[0]
    B, seed = 399, 2
    ek = wild_cluster_bootstrap(yw, X, cl, coef_index=0, restricted=restricted, weights=kind, draws=B, seed=seed,
                                ci=False)
    V = _evalkit_weights(kind, None, B, seed, y=yw, x=X, clusters=cl)
    design = _design(y, size)
    f = K.fit(design, d.max(axis=1)[None])
    p = RS.wild_pvalues(K.cr1(design, f).statistic, RS.wild_tstats(design, f, V, restricted))
    assert p[0] == ek.p_value


def test_single_treated_area_cr2_pseudo_inverse_and_cr3_undefined():
    df, y, d, _ = _panel((5,), seed=1)
    res = evalkit.twfe(df, outcome="y", unit="area", time="year", treatment="d", cluster="area")
    design = _design(y)
    f = K.fit(design, d.max(axis=1)[None])
    se = res.with_inference("cr2", df).table.set_index("term").loc["ATT", "std_error"]
    assert K.cr2(design, f).std_error[0] == pytest.approx(se, rel=1e-10)
    with pytest.raises(ValidationError):
        res.with_inference("cr3", df)
    assert np.isnan(K.cr3(design, f).std_error[0])


# ----------------------------------------------------------------------- the advisor
def _advise(df, **kw):
    opts = dict(outcome="y", unit="area", time="year", treatment="d", placebos=200, draws=99, seed=5, effect=0.02)
    return evalkit.inference_advisor(df, **{**opts, **kw})


def test_advisor_table_and_choice():
    df, *_ = _panel((0, 5, 9), seed=2)
    before = df.copy(deep=True)
    advice = _advise(df, size="residents", match_size=True)
    pd.testing.assert_frame_equal(df, before)  # the caller's data unchanged
    t = advice.table
    assert list(t["method"])[:len(REGISTRY)] == list(REGISTRY)
    assert t["chosen"].sum() == 1 and 150 < advice.n_placebos <= 200 and advice.seed == 5  # distinct placebo sets
    assert ((t["size_low"] <= t["size"]) & (t["size"] <= t["size_high"])).all()
    if not advice.size_corrected:
        ok = t[t["holds_size"]]
        tied = ok[ok["power"] >= ok["power"].max() - adv.tie_margin(ok["power"].max(), advice.n_placebos)]
        assert t.loc[t["chosen"], "method"].iloc[0] == tied["method"].iloc[0]
    html = advice._repr_html_()
    assert "Measured size" in html and "Målt testniveau" in advice.display_table("da").columns[1]
    assert advice.display_table("da").iloc[:, 0].tolist()[:len(REGISTRY)] == [m.labels["da"] for m in REGISTRY.values()]
    assert "placebo" in advice.sentence("en") and "placebo" in advice.sentence("da")


def test_advisor_is_deterministic_for_any_number_of_workers(monkeypatch):
    df, *_ = _panel((0, 5, 9), seed=2)
    real = ri.map_draws
    tables = []
    for workers in (1, 2):
        monkeypatch.setattr(adv, "map_draws", lambda fn, n, workers=workers, **kw: real(fn, n, workers=workers, **kw))
        tables.append(_advise(df, placebos=300).table)
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert not _advise(df, placebos=300, seed=6).table.equals(tables[0])


def test_all_distinct_placebos_are_enumerated_when_few():
    df, *_ = _panel((0,), seed=2)
    advice = _advise(df, placebos=1000)
    assert advice.enumerated and advice.n_placebos == G - 1


def test_matched_placebos_come_from_the_pools():
    from evalkit.inference import _placebo_design as PD
    rng = np.random.default_rng(0)
    sizes = np.exp(rng.normal(7.5, 0.5, 40))
    pools = PD.matched_pools(sizes, np.array([sizes.max() * 1.1, 900.0]), 6)
    S = PD.matched_placebos(pools, 40, 500, rng)
    assert (S.sum(axis=1) == 2).all()
    assert set(np.flatnonzero(S.any(axis=0))) <= set(pools.ravel())


def test_size_corrected_when_no_method_holds_size():
    df, *_ = _panel((0, 5), seed=2)
    always = PlaceboMethod("always_reject", {"da": "afvis altid", "en": "always reject"},
                           lambda b, _: (K.cr1(b.design, b.fits).statistic, np.zeros(len(b.treated))))
    register(always, replace=True)
    try:
        advice = _advise(df, methods=["always_reject"], corrected_by="always_reject")
    finally:
        REGISTRY.pop("always_reject")
    assert advice.size_corrected and advice.chosen == "always_reject_corrected"
    row = advice.table.set_index("method").loc["always_reject"]
    assert row["size"] == 1.0 and not row["holds_size"]
    assert np.isfinite(advice.critical_value) and "size-corrected" in advice.sentence()


def test_attach_returns_a_new_result():
    df, *_ = _panel((0, 5, 9), seed=2)
    res = evalkit.twfe(df, outcome="y", unit="area", time="year", treatment="d", cluster="area")
    advice = _advise(df)
    out = advice.attach(res)
    assert "inference_advice" in out.diagnostics and "inference_advice" not in res.diagnostics
    assert out.diagnostics["inference_advice"]["chosen"] == advice.chosen
    evalkit.Result.from_json(out.to_json())  # serialisable


def test_advice_is_immutable():
    df, *_ = _panel((0, 5, 9), seed=2)
    advice = _advise(df)
    advice.table.loc[0, "size"] = 99.0
    assert advice.table.loc[0, "size"] != 99.0
    with pytest.raises(Exception):
        advice.chosen = "cr1"


@pytest.mark.parametrize("change,error,words", [
    ({"methods": ["cr9"]}, ParameterError, "methods"),
    ({"effect": "big"}, ParameterError, "effect"),
    ({"match_size": True}, ParameterError, "size"),
    ({"placebos": 5}, ParameterError, "placebos"),
    ({"lang": "de"}, ParameterError, "lang"),
    ({"level": 1.5}, ParameterError, "level"),
    ({"seed": -1}, ParameterError, "seed"),
    ({"corrected_by": "wild"}, ParameterError, "corrected_by"),
])
def test_bad_parameters(change, error, words):
    df, *_ = _panel((0, 5, 9), seed=2)
    with pytest.raises(error, match=words):
        _advise(df, **change)


def test_bad_designs():
    df, *_ = _panel((0, 5, 9), seed=2)
    staggered = df.copy()
    staggered.loc[(staggered["area"] == "a00") & (staggered["year"] == 2015 + START), "d"] = 0
    with pytest.raises(ParameterError, match="single adoption date"):
        _advise(staggered)
    with pytest.raises(ValidationError, match="balanced"):
        _advise(df.iloc[1:])
    many, *_ = _panel(tuple(range(13)), seed=2)
    with pytest.raises(ValidationError, match="comparison"):
        _advise(many)
    df2 = df.assign(region=df["area"].str[:2])
    with pytest.raises(ParameterError, match="cluster"):
        _advise(df2, cluster="region")
    varying = df.assign(w=df["residents"] + df["year"])
    with pytest.raises(ValidationError, match="weights"):
        _advise(varying, weights="w")
    assert issubclass(ParameterError, EvalkitError)


def test_p_threshold_gives_placebo_size_at_most_alpha():
    from evalkit.inference import _placebo_design as PD
    rng = np.random.default_rng(3)
    p = rng.uniform(size=1000) ** 1.5  # over-rejects at 0.05
    cut = PD.p_threshold(p, 0.05)
    assert cut < 0.05 and np.sum(p <= cut) <= 50 and np.sum(p <= np.sort(p)[50]) > 50
    assert PD.p_threshold(rng.uniform(size=1000) ** 0.5, 0.05) == 0.05  # holds size: nominal
    ties = np.r_[np.zeros(80), rng.uniform(size=920)]  # 8% of the p-values are 0: never reject
    assert PD.p_threshold(ties, 0.05) == -np.inf


# ------------------------------------------------------------- break-it review (issue 14)
def test_repeated_matched_placebos_count_once():
    """With size matching in a small design few distinct placebo sets exist: each counts once (a set
    drawn twice is one experiment), and too few distinct sets are refused, not reported as 1000."""
    df, *_ = _panel((0, 5), seed=3)
    df = df[df["area"] < "a10"]  # 10 areas, 2 treated: 8 comparison areas
    with pytest.raises(ValidationError, match="distinct placebo assignments"):
        evalkit.inference_advisor(df, outcome="y", unit="area", time="year", treatment="d", size="residents",
                                  match_size=True, pool=3, placebos=500, draws=99, seed=1)
    df, *_ = _panel((0, 5, 9), seed=3)
    advice = evalkit.inference_advisor(df, outcome="y", unit="area", time="year", treatment="d", size="residents",
                                       match_size=True, pool=4, placebos=400, draws=99, seed=1)
    assert advice.n_placebos < 400 and f"{advice.n_placebos} placebo" in advice.sentence()


def test_choice_does_not_depend_on_the_order_methods_are_listed():
    df, *_ = _panel((0, 5, 9), seed=2)
    kw = dict(outcome="y", unit="area", time="year", treatment="d", placebos=60, draws=99, seed=2, effect=0.02)
    first = evalkit.inference_advisor(df, **kw, methods=["cr1", "randomization", "cr2"])
    second = evalkit.inference_advisor(df, **kw, methods=["randomization", "cr2", "cr1"])
    assert first.chosen == second.chosen
    assert list(first.table["method"]) == ["randomization", "cr2", "cr1"] == list(second.table["method"])


def test_too_few_draws_for_alpha_is_refused():
    df, *_ = _panel((0, 5, 9), seed=2)
    with pytest.raises(ParameterError, match=r"draws=99 is too few for alpha=0.001.*draws >= 999"):
        evalkit.inference_advisor(df, outcome="y", unit="area", time="year", treatment="d", alpha=0.001,
                                  placebos=40, draws=99, seed=1)


def test_a_method_that_never_rejects_is_not_chosen():
    """A method whose p-values never fall to its threshold (e.g. the WCR with one treated area)
    cannot be the choice, whatever its measured size; the table says why."""
    df, *_ = _panel((2,), seed=4)
    advice = evalkit.inference_advisor(df, outcome="y", unit="area", time="year", treatment="d", placebos=23,
                                       draws=99, seed=1, effect=0.001)
    t = advice.table.set_index("method")
    assert not t.loc[t["note"] != "", "holds_size"].any()
    chosen = t.loc[advice.chosen.removesuffix("_corrected")]
    assert advice.size_corrected or chosen["power"] > 0 or chosen["size"] > 0
    assert "undefined" in set(t["note"])  # CR3 with one treated area: the leave-one-out fit has none
    assert np.isnan(t.loc["cr3", "size"]) and "undefined" in advice.display_table().to_string()


def test_constant_outcome_and_text_years_are_refused():
    df, *_ = _panel((0, 5, 9), seed=2)
    kw = dict(outcome="y", unit="area", time="year", treatment="d", placebos=40, draws=99, seed=1)
    with pytest.raises(ValidationError, match="outcome='y' is constant"):
        evalkit.inference_advisor(df.assign(y=0.5), **kw)
    with pytest.raises(ParameterError, match="time='year' must hold numbers"):
        evalkit.inference_advisor(df.assign(year=(df["year"] - 2007).astype(str)), **kw)


def test_misspelled_keyword_names_the_right_one():
    df, *_ = _panel((0, 5, 9), seed=2)
    with pytest.raises(ParameterError, match="has no parameter placebo=.*Did you mean 'placebos'"):
        evalkit.inference_advisor(df, outcome="y", unit="area", time="year", treatment="d", placebo=40)
    with pytest.raises(ParameterError, match="treatment="):
        evalkit.inference_advisor(df, outcome="y", unit="area", time="year")


def test_attach_refuses_a_result_about_something_else():
    df, *_ = _panel((0, 5, 9), seed=2)
    advice = _advise(df)
    other, *_ = _panel((1, 2), seed=2)
    with pytest.raises(ParameterError, match="3 treated areas; the result has 2"):
        advice.attach(evalkit.twfe(other, outcome="y", unit="area", time="year", treatment="d", cluster="area"))
    with pytest.raises(ParameterError, match="outcome 'y'"):
        advice.attach(evalkit.twfe(df.assign(z=df["y"]), outcome="z", unit="area", time="year", treatment="d",
                                   cluster="area"))


def test_danish_sentence_uses_decimal_commas():
    df, *_ = _panel((0, 5, 9), seed=2)
    advice = _advise(df)
    da = advice.sentence("da")
    assert "," in da.split("målt ")[1][:6] and "0,05" in da
    assert "labels" not in repr(advice) and "table" not in repr(advice)
