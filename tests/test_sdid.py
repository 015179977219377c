"""Tests of synthetic DiD (evalkit.sdid; Arkhangelsky et al. 2021).

Oracles here are internal: hand-computable cases, brute-force optimisation of the weight
problems, the algebraic identity DiD special case = plain 2x2 DiD = TWFE on a block
design, and input checks. The external witness (published Prop 99 numbers) and the peer
oracle (R synthdid's Python port) are in tests/test_sdid_reference.py; the Monte Carlo
checks in tests/test_sdid_simulation.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.optimize import minimize

import evalkit
from evalkit.errors import ColumnError, EvalkitError, ParameterError, ValidationError
from evalkit.estimators import _sdid_kernels as k
from evalkit.estimators.sdid import sdid, sdid_plot
from evalkit.results import Result


def simulate(n_control=20, cohorts=((2015, 3),), t_first=2005, t_last=2020, effect=2.0, seed=0):
    """Factor model: y = unit FE + time FE + loadings x factors + noise + effect when treated."""
    rng = np.random.default_rng(seed)
    times = np.arange(t_first, t_last + 1)
    n = n_control + sum(m for _, m in cohorts)
    g = np.concatenate([np.zeros(n_control, int)] + [np.full(m, c) for c, m in cohorts])
    f = np.cumsum(rng.normal(size=(times.size, 2)), axis=0)
    load = rng.normal(size=(n, 2)) + (g > 0)[:, None] * 0.5
    y = rng.normal(5, 1, n)[:, None] + rng.normal(size=times.size) + load @ f.T + rng.normal(0, 0.5, (n, times.size))
    d = (g[:, None] > 0) & (times[None, :] >= g[:, None])
    y = y + effect * d
    return pd.DataFrame({"area": np.repeat([f"a{i:02d}" for i in range(n)], times.size),
                         "year": np.tile(times, n), "y": y.ravel(), "d": d.ravel().astype(int),
                         "g": np.repeat(g, times.size)})


ARGS = dict(outcome="y", unit="area", time="year")


@pytest.fixture(scope="module")
def df():
    return simulate()


@pytest.fixture(scope="module")
def res(df):
    return sdid(df, **ARGS, treatment="d", se="placebo", draws=30, seed=3)


# ------------------------------------------------------------------ kernels
def _objective(a, b, zeta, x):
    return zeta ** 2 * x @ x + np.sum((a @ x - b) ** 2) / a.shape[0]


def test_frank_wolfe_reaches_the_constrained_optimum():
    rng = np.random.default_rng(1)
    for _ in range(10):
        rows, cols = rng.integers(5, 20), rng.integers(3, 15)
        a, b, zeta = rng.normal(size=(rows, cols)), rng.normal(size=rows), rng.uniform(0.05, 1.0)
        x, _ = k.frank_wolfe(a, b, np.full(cols, 1 / cols), zeta, 0.0, 20_000)
        ref = minimize(lambda w: _objective(a, b, zeta, w), np.full(cols, 1 / cols), method="SLSQP",
                       bounds=[(0, 1)] * cols, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                       options={"ftol": 1e-14, "maxiter": 2000})
        assert x.min() >= 0 and abs(x.sum() - 1) < 1e-12
        assert _objective(a, b, zeta, x) <= ref.fun + 1e-4  # Frank-Wolfe converges at rate O(1/t)


def test_noise_level_and_zetas_follow_the_paper():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(7, 9))
    o = k.default_options(y, 5, 6, "sdid")
    assert o.noise_level == pytest.approx(np.std(np.diff(y[:5, :6], axis=1), ddof=1))
    assert o.zeta_omega == pytest.approx((2 * 3) ** 0.25 * o.noise_level)
    assert o.zeta_lambda == pytest.approx(1e-6 * o.noise_level)
    assert o.min_decrease == pytest.approx(1e-5 * o.noise_level)


def test_sparsify_and_sum_normalize():
    assert np.allclose(k.sparsify(np.array([0.5, 0.1, 0.4])), [5 / 9, 0, 4 / 9])
    assert np.allclose(k.sum_normalize(np.zeros(4)), 0.25)


def test_block_estimate_is_the_weighted_did():
    y = np.arange(12.0).reshape(3, 4) ** 1.5
    om, lam = np.array([0.3, 0.7]), np.array([0.2, 0.8])
    hand = (y[2, 2:].mean() - lam @ y[2, :2]) - (om @ y[:2, 2:].mean(axis=1) - om @ y[:2, :2] @ lam)
    assert k.block_estimate(y, 2, 2, om, lam) == pytest.approx(hand, abs=1e-12)


# -------------------------------------------------------------- equivalence
def test_did_special_case_equals_plain_did_and_twfe(df):
    r = sdid(df, **ARGS, treatment="d", method="did", se=None)
    tr = df["g"] > 0
    post = df["year"] >= 2015
    m = df.groupby([tr, post])["y"].mean()
    plain = (m[True, True] - m[True, False]) - (m[False, True] - m[False, False])
    assert r.estimate() == pytest.approx(plain, abs=1e-10)
    assert r.estimate() == pytest.approx(evalkit.twfe(df, **ARGS, treatment="d").estimate(), abs=1e-8)


def test_huge_zeta_and_uniform_weights_reduce_to_did(df):
    """With zeta_omega -> infinity omega -> uniform; with lambda fixed uniform SDID = DiD."""
    from evalkit.estimators._sdid_data import build_panel
    p = build_panel(df, **ARGS, treatment="d", cohort=None)
    y = np.vstack([p.y[p.cohort == 0], p.y[p.cohort > 0]])
    n0, t0 = int((p.cohort == 0).sum()), 10
    o = k.default_options(y, n0, t0, "sdid")
    o = k.Options(**{**{s: getattr(o, s) for s in k.Options.__slots__}, "zeta_omega": 1e8, "update_lambda": False})
    f = k.fit_block(y, n0, t0, o)
    assert np.allclose(f.omega, 1 / n0, atol=1e-9)
    did = sdid(df, **ARGS, treatment="d", method="did", se=None).estimate()
    assert f.estimate == pytest.approx(did, abs=1e-6)


def test_treatment_and_cohort_columns_agree(df):
    a = sdid(df, **ARGS, treatment="d", se=None)
    b = sdid(df, **ARGS, cohort="g", se=None)
    assert a.estimate() == b.estimate()
    assert a.diagnostics["omega"] == b.diagnostics["omega"]


def test_row_order_does_not_matter(df):
    shuffled = df.sample(frac=1.0, random_state=4)
    assert sdid(shuffled, **ARGS, treatment="d", se=None).estimate() == pytest.approx(
        sdid(df, **ARGS, treatment="d", se=None).estimate(), abs=1e-12)


# ------------------------------------------------------------------ staggered
def test_staggered_cohorts_are_block_fits_and_weighted_by_unit_periods():
    df = simulate(cohorts=((2012, 2), (2016, 3)), seed=5)
    r = sdid(df, **ARGS, cohort="g", se="placebo", draws=20, seed=1)
    t = r.tidy().set_index("term")
    assert list(t.index) == ["ATT(g=2012)", "ATT(g=2016)", "ATT"]
    for g in (2012, 2016):
        one = df[df["g"].isin([0, g])]
        assert t.loc[f"ATT(g={g})", "estimate"] == pytest.approx(sdid(one, **ARGS, cohort="g", se=None).estimate(),
                                                               abs=1e-12)
    w = np.array([2 * 9, 3 * 5], float)
    expect = (t.loc["ATT(g=2012)", "estimate"] * w[0] + t.loc["ATT(g=2016)", "estimate"] * w[1]) / w.sum()
    assert t.loc["ATT", "estimate"] == pytest.approx(expect, abs=1e-12)
    assert r.diagnostics["cohort_weights"] == pytest.approx({"2012": 18 / 33, "2016": 15 / 33})
    assert t["std_error"].notna().all() and (t["std_error"] > 0).all()
    assert t.loc["ATT(g=2016)", "group"] == 2016 and t.loc["ATT(g=2016)", "n_treated"] == 3
    assert sdid_plot(r, cohort=2016, lang="en").axes[0].get_title() == "Cohort first treated in 2016"
    assert "omega" not in r.diagnostics and set(r.diagnostics["cohorts"]) == {"2012", "2016"}


@pytest.mark.parametrize("se", ["jackknife", "bootstrap"])
def test_staggered_jackknife_and_bootstrap(se):
    df = simulate(cohorts=((2012, 2), (2016, 3)), seed=6)
    r = sdid(df, **ARGS, cohort="g", se=se, draws=20, seed=2)
    assert r.tidy()["std_error"].gt(0).all()


# ------------------------------------------------------------------ inference
def test_jackknife_by_hand_with_fixed_weights(df):
    """Algorithm 3: leave each unit out, keep omega (renormalised) and lambda fixed."""
    r = sdid(df, **ARGS, treatment="d", se="jackknife")
    from evalkit.estimators._sdid_data import build_panel
    p = build_panel(df, **ARGS, treatment="d", cohort=None)
    ctrl, tr = np.flatnonzero(p.cohort == 0), np.flatnonzero(p.cohort > 0)
    om = np.array([r.diagnostics["omega"][str(p.units[i])] for i in ctrl])
    lam = np.array(list(r.diagnostics["lambda"].values()))
    u = []
    for i in range(p.y.shape[0]):
        c, t = ctrl[ctrl != i], tr[tr != i]
        w = om[ctrl != i]
        w = w / w.sum() if w.sum() > 0 else np.full(c.size, 1 / c.size)
        u.append(k.block_estimate(np.vstack([p.y[c], p.y[t]]), c.size, lam.size, w, lam))
    u = np.array(u)
    n = u.size
    assert r.table["std_error"].iloc[0] == pytest.approx(np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2)),
                                                         rel=1e-10)


def test_same_seed_same_result_and_seed_recorded(df, res):
    again = sdid(df, **ARGS, treatment="d", se="placebo", draws=30, seed=3)
    pd.testing.assert_frame_equal(res.tidy(), again.tidy())
    assert res.inference.seed == 3 and res.inference.draws == 30
    other = sdid(df, **ARGS, treatment="d", se="placebo", draws=30, seed=4)
    assert other.table["std_error"].iloc[0] != res.table["std_error"].iloc[0]


def test_interval_is_normal(res):
    row = res.tidy().iloc[0]
    assert row["conf_high"] - row["estimate"] == pytest.approx(1.959963984540054 * row["std_error"])
    assert row["statistic"] == pytest.approx(row["estimate"] / row["std_error"])


def test_one_treated_unit_placebo_works_jackknife_and_bootstrap_refuse():
    df = simulate(cohorts=((2015, 1),), seed=7)
    assert sdid(df, **ARGS, treatment="d", se="placebo", draws=10, seed=1).table["std_error"].iloc[0] > 0
    for se in ("jackknife", "bootstrap"):
        with pytest.raises(ValidationError, match="one treated unit"):
            sdid(df, **ARGS, treatment="d", se=se)


def test_placebo_needs_more_controls_than_treated():
    df = simulate(n_control=3, cohorts=((2015, 3),), seed=8)
    with pytest.raises(ValidationError, match="more never-treated"):
        sdid(df, **ARGS, treatment="d", se="placebo")


# ------------------------------------------------------------------ result
def test_result_schema_diagnostics_and_json_round_trip(res):
    assert isinstance(res, Result) and res.estimator == "sdid"
    d = res.diagnostics
    assert abs(sum(d["omega"].values()) - 1) < 1e-12 and abs(sum(d["lambda"].values()) - 1) < 1e-12
    assert set(d["lambda"]) == {str(y) for y in range(2005, 2015)}
    assert len(d["omega"]) == 20 and d["zeta_omega"] > 0 and d["noise_level"] > 0 and d["pre_fit_rmse"] >= 0
    back = Result.from_json(res.to_json())
    pd.testing.assert_frame_equal(back.tidy(), res.tidy())
    assert back.diagnostics["omega"] == pytest.approx(dict(d["omega"]))
    json.dumps(dict(res.diagnostics))


def test_methods_sc_and_did_names(df):
    sc = sdid(df, **ARGS, treatment="d", method="sc", se=None)
    assert sc.estimator == "sdid_sc" and all(v == 0 for v in sc.diagnostics["lambda"].values())
    assert sc.table["std_error"].isna().all()


def test_data_not_mutated(df):
    before = df.copy(deep=True)
    sdid(df, **ARGS, treatment="d", se="jackknife")
    pd.testing.assert_frame_equal(df, before)


def test_plots_en_and_da(res):
    for kind in ("paths", "weights"):
        for lang in ("en", "da"):
            fig = sdid_plot(res, kind=kind, lang=lang)
            assert isinstance(fig, Figure)
    assert "Tidsvægte λ" in [t.get_text() for t in sdid_plot(res, lang="da").axes[0].get_legend().get_texts()]
    with pytest.raises(ParameterError, match="cohort"):
        sdid_plot(res, cohort=1999)
    with pytest.raises(ParameterError):
        sdid_plot(res, kind="gap")


def test_deterministic_across_blas_threads(tmp_path):
    code = ("import sys; sys.path.insert(0, %r); from tests.test_sdid import simulate, ARGS; "
            "from evalkit.estimators.sdid import sdid; "
            "r = sdid(simulate(seed=11), **ARGS, treatment='d', se='placebo', draws=5, seed=1); "
            "print(repr(r.estimate()), repr(float(r.table['std_error'].iloc[0])))") % str(Path(__file__).resolve().parents[1])
    outs = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert outs[0] == outs[1]


# ------------------------------------------------------------------ validation
def test_errors_derive_from_evalkit_error(df):
    bad = [
        (dict(treatment="d", cohort="g"), ParameterError, "exactly one"),
        (dict(), ParameterError, "exactly one"),
        (dict(treatment="dd"), ColumnError, "dd"),
        (dict(treatment="d", method="synth"), ParameterError, "method"),
        (dict(treatment="d", se="robust"), ParameterError, "se"),
        (dict(treatment="d", draws=1), ParameterError, "draws"),
        (dict(treatment="d", alpha=2), ParameterError, "alpha"),
    ]
    for kwargs, err, msg in bad:
        with pytest.raises(err, match=msg) as info:
            sdid(df, **ARGS, **kwargs)
        assert isinstance(info.value, EvalkitError)


def test_unbalanced_panel_names_the_columns(df):
    with pytest.raises(ValidationError, match=r"unbalanced.*area=.*year="):
        sdid(df.iloc[1:], **ARGS, treatment="d")


def test_missing_outcome_names_the_column(df):
    d = df.copy()
    d.loc[5, "y"] = np.nan
    with pytest.raises(ValidationError, match=r"outcome='y' has 1 missing"):
        sdid(d, **ARGS, treatment="d")


def test_treated_from_first_period(df):
    d = df.copy()
    d.loc[d["area"] == "a21", "d"] = 1
    with pytest.raises(ValidationError, match="first period 2005"):
        sdid(d, **ARGS, treatment="d")


def test_no_never_treated(df):
    d = df.copy()
    d["g"] = np.where(d["g"] == 0, 2018, d["g"])
    with pytest.raises(ValidationError, match="never-treated"):
        sdid(d, **ARGS, cohort="g")


def test_treatment_switching_off(df):
    d = df.copy()
    d.loc[(d["area"] == "a21") & (d["year"] == 2019), "d"] = 0
    with pytest.raises(ValidationError, match=r"switches off.*a21.*2019"):
        sdid(d, **ARGS, treatment="d")


def test_one_pre_period_and_duplicates(df):
    d = df[df["year"] >= 2014]
    with pytest.raises(ValidationError, match="at least 2"):
        sdid(d, **ARGS, treatment="d")
    with pytest.raises(ValidationError, match="duplicate"):
        sdid(pd.concat([df, df.iloc[:1]]), **ARGS, treatment="d")


def test_covariates_recover_beta_and_validate(df):
    rng = np.random.default_rng(12)
    d = df.copy()
    d["x"] = rng.normal(size=len(d))
    d["y"] = d["y"] + 3.0 * d["x"]
    r = sdid(d, **ARGS, treatment="d", covariates=["x"], se=None)
    # R's beta update takes gradient steps of size 1/t, so beta is near, not at, the least-squares value
    assert r.diagnostics["beta"]["x"] == pytest.approx(3.0, abs=0.5)
    assert r.estimate() == pytest.approx(2.0, abs=0.75)   # true effect 2; residual (3 - beta) x is noise
    assert r.meta["covariates"] == ["x"]
    d.loc[3, "x"] = np.nan
    with pytest.raises(ValidationError, match="covariates='x'"):
        sdid(d, **ARGS, treatment="d", covariates=["x"])
    with pytest.raises(ColumnError, match="nope"):
        sdid(df, **ARGS, treatment="d", covariates=["nope"])
