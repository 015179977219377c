"""Tests of the synthetic control (evalkit.estimators.synth).

External witness: causaldata (installed) does not ship the Prop 99 (California tobacco)
or Basque data, so the published ADH (2010) weights and the 1/39 placebo p-value are NOT
checked here. The oracles are brute force (SLSQP on the simplex), hand-computable cases
and simulation from a factor model in which the treated unit is a known convex
combination of donors.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.optimize import minimize

from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators._synth_kernels import placebo_pvalues, placebo_sets, simplex_weights
from evalkit.estimators.synth import synth, synth_plot
from evalkit.results import Result

TRUE_W = {"d0": 0.5, "d3": 0.3, "d7": 0.2}


def simulate(effect=5.0, n_donors=15, t0=20, t1=8, seed=1, treated_noise=0.05, n_treated=1):
    """Factor model; each treated unit is a convex combination of donors plus small noise."""
    rng = np.random.default_rng(seed)
    t = t0 + t1
    f = np.cumsum(rng.normal(size=(t, 2)), axis=0)
    y0 = rng.normal(10, 2, n_donors) + f @ rng.normal(size=(n_donors, 2)).T + rng.normal(size=(t, n_donors))
    x = rng.normal(size=n_donors)
    rows = [dict(area=f"d{j}", year=2000 + s, y=y0[s, j], x=x[j]) for j in range(n_donors) for s in range(t)]
    for k in range(n_treated):
        w = np.zeros(n_donors)
        if k == 0:
            w[[0, 3, 7]] = [0.5, 0.3, 0.2]
        else:
            w[rng.choice(n_donors, 3, replace=False)] = rng.dirichlet(np.ones(3))
        y1 = y0 @ w + rng.normal(0, treated_noise, t) + np.r_[np.zeros(t0), np.full(t1, effect)]
        rows += [dict(area=f"T{k}", year=2000 + s, y=y1[s], x=x @ w) for s in range(t)]
    return pd.DataFrame(rows)


# most tests use the deprecated treated=/treatment_start= (they keep working, with a FutureWarning);
# test_cohort_and_treatment_like_sdid_and_deprecated_names shows cohort=/treatment= give the same result
pytestmark = pytest.mark.filterwarnings("ignore:synth. treated= and treatment_start= are deprecated:FutureWarning")

ARGS = dict(outcome="y", unit="area", time="year", treatment_start=2020,
            predictors=["x"], pre_periods=[2000, 2005, 2010, 2015, 2019])


@pytest.fixture(scope="module")
def df():
    return simulate()


@pytest.fixture(scope="module")
def res(df):
    return synth(df, treated="T0", **ARGS)


# ------------------------------------------------------------------ kernels
def test_simplex_weights_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(25):
        k, j = rng.integers(2, 8), rng.integers(2, 25)
        x0, x1 = rng.normal(size=(k, j)), 1.5 * rng.normal(size=k)
        v = rng.random(k)
        v /= v.sum()
        w = simplex_weights(x1, x0, v)

        def loss(w):
            return float(((x1 - x0 @ w) ** 2 * v).sum())
        ref = minimize(loss, np.full(j, 1 / j), method="SLSQP", bounds=[(0, 1)] * j,
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                       options={"ftol": 1e-14, "maxiter": 1000})
        assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12
        assert loss(w) <= ref.fun + 1e-10


def test_simplex_weights_exact_donor():
    x0 = np.array([[0.0, 1.0, 3.0], [2.0, -1.0, 0.5]])
    w = simplex_weights(x0[:, 1], x0, np.array([0.5, 0.5]))
    np.testing.assert_allclose(w, [0, 1, 0], atol=1e-12)


def test_pvalue_rule_is_rank_over_j_plus_1():
    pre = np.array([True, True, False])
    treated = np.array([1.0, -1.0, 5.0])                       # ratio 5
    placebos = np.array([[1.0, -1.0, r] for r in (0.5, 6.0, 2.0, 5.0)])  # ratios .5, 6, 2, 5
    p, p_t, ratios = placebo_pvalues(treated, placebos, placebo_sets(4, 1, 100, None), pre)
    np.testing.assert_allclose(ratios, [0.5, 6, 2, 5])
    assert p == pytest.approx(3 / 5)                          # rank 3 (6, 5-tie, treated) of J+1 = 5
    np.testing.assert_allclose(p_t, [3 / 5])


def test_placebo_sets_enumerate_or_sample():
    assert placebo_sets(6, 2, 100, None).shape == (15, 2)
    a, b = placebo_sets(30, 3, 50, seed=3), placebo_sets(30, 3, 50, seed=3)
    assert a.shape == (50, 3) and np.array_equal(a, b)
    assert all(len(set(r)) == 3 for r in a)


# --------------------------------------------------------------- simulation
def test_recovers_weights_and_effect(res):
    w = res.diagnostics["weights"]
    for donor, truth in TRUE_W.items():
        assert w[donor] == pytest.approx(truth, abs=0.035)
    assert sum(v for k, v in w.items() if k not in TRUE_W) < 0.08   # 6 predictors, 15 donors: near-collinear
    assert sum(w.values()) == pytest.approx(1.0)
    assert res.estimate("ATT") == pytest.approx(5.0, abs=0.15)
    assert res.diagnostics["pre_rmspe"] < 0.15


def test_placebo_p_value_is_minimal_under_large_effect(res):
    assert res.diagnostics["placebo_p_value"] == pytest.approx(1 / 16)
    assert res.estimate("ATT") == res.tidy().query("term == 'ATT'")["estimate"].iloc[0]
    assert res.tidy().query("term == 'ATT'")["p_value"].iloc[0] == pytest.approx(1 / 16)


def test_loo_drops_each_positive_donor(res):
    loo = res.diagnostics["loo_att"]
    assert set(TRUE_W) <= set(loo)
    assert all(np.isfinite(v) for v in loo.values())
    assert all(res.diagnostics["weights"][d] > 1e-6 for d in loo)


def test_table_layout(res):
    tab = res.tidy()
    assert tab["term"].tolist() == [f"gap t={t}" for t in range(2020, 2028)] + ["ATT"]
    post = tab.iloc[:-1]
    assert post["time"].tolist() == list(range(2020, 2028))
    assert post["event_time"].tolist() == list(range(8))
    assert res.estimate("ATT") == pytest.approx(post["estimate"].mean())
    assert (tab["n_treated"] == 1).all() and (tab["n_control"] == 15).all()
    gaps = res.diagnostics["paths"]["gap"]
    np.testing.assert_allclose(post["estimate"], gaps[-8:])


def test_p_values_roughly_uniform_under_null():
    """Exchangeable units, no effect, a random unit treated: P(p <= 0.2) near 0.2."""
    ps = []
    for seed in range(30):
        d = simulate(effect=0.0, n_donors=9, n_treated=0, seed=100 + seed, t0=12, t1=6)
        treated = f"d{np.random.default_rng(seed).integers(9)}"
        r = synth(d, outcome="y", unit="area", time="year", treated=treated, treatment_start=2012,
                  pre_periods=[2000, 2004, 2008, 2011], v="equal", loo=False)
        ps.append(r.diagnostics["placebo_p_value"])
    ps = np.array(ps)
    assert set(np.round(ps * 9)).issubset(set(range(1, 10)))   # grid k / 9 (8 placebos + treated)
    assert np.mean(ps <= 2 / 9) <= 0.5                         # Binomial(30, 0.22): P(>= 15) < 0.001
    assert 0.3 < ps.mean() < 0.75


def test_several_treated_units():
    d = simulate(n_treated=3, seed=5)
    r = synth(d, treated=["T0", "T1", "T2"], loo=False, v="equal", **ARGS)
    assert r.estimate("ATT") == pytest.approx(5.0, abs=0.2)
    assert r.diagnostics["n_placebo_sets"] == 455               # C(15, 3)
    assert r.diagnostics["placebo_p_value"] == pytest.approx(1 / 456)
    assert set(r.diagnostics["weights_by_treated"]) == {"T0", "T1", "T2"}
    assert sum(r.diagnostics["weights"].values()) == pytest.approx(1.0)
    assert r.diagnostics["V"] is None
    sampled = synth(d, treated=["T0", "T1", "T2"], loo=False, v="equal", placebo=True,
                    max_placebo_sets=100, seed=7, **ARGS)
    assert sampled.inference.draws == 100 and sampled.inference.seed == 7


# ----------------------------------------------------------------- contract
def test_contract_no_mutation_deterministic_json(df):
    before = df.copy(deep=True)
    a = synth(df, treated="T0", loo=False, **ARGS)
    b = synth(df, treated="T0", loo=False, **ARGS)
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    assert a.diagnostics["V"] == b.diagnostics["V"]
    back = Result.from_json(a.to_json())
    pd.testing.assert_frame_equal(back.tidy(), a.tidy())
    assert back.diagnostics["weights"] == pytest.approx(dict(a.diagnostics["weights"]))
    json.loads(a.to_json())


def test_default_predictors_are_all_pre_outcomes(df):
    r = synth(df, outcome="y", unit="area", time="year", treated="T0", treatment_start=2020,
              v="equal", placebo=False, loo=False)
    assert r.meta["predictors"] == [f"y[{t}]" for t in range(2000, 2020)]
    assert np.isnan(r.diagnostics["placebo_p_value"])
    assert r.inference.method == "none"


def test_predictor_windows(df):
    r = synth(df, treated="T0", predictors={"x": range(2010, 2015)}, pre_periods=[2019],
              **{k: v for k, v in ARGS.items() if k not in ("predictors", "pre_periods")},
              placebo=False, loo=False)
    assert r.meta["predictors"] == ["x[2010-2014]", "y[2019]"]


@pytest.mark.parametrize("change, error", [
    (dict(outcome="nope"), ColumnError),
    (dict(v="best"), ParameterError),
    (dict(treated="Z"), ParameterError),
    (dict(treatment_start=1990), ParameterError),
    (dict(pre_periods=[2021]), ParameterError),
    (dict(alpha=2), ParameterError),
    (dict(treated=[]), ParameterError),
    (dict(predictors={"x": [2019, 2020]}), ParameterError),
])
def test_bad_input(df, change, error):
    kwargs = {**ARGS, "treated": "T0", "placebo": False, "loo": False, **change}
    with pytest.raises(error) as info:
        synth(df, **kwargs)
    assert isinstance(info.value, EvalkitError)


def test_unbalanced_and_too_few_donors(df):
    with pytest.raises(ValidationError, match="unbalanced"):
        synth(df.iloc[1:], treated="T0", **ARGS)
    small = df[df["area"].isin(["T0", "d0"])]
    with pytest.raises(ValidationError, match="at least 2"):
        synth(small, treated="T0", **ARGS)


def test_donor_missing_pre_periods_is_named(df):
    gappy = df[~((df["area"] == "d4") & df["year"].isin([2003, 2004]))]
    with pytest.raises(ValidationError, match=r"'d4': \[2003, 2004\]") as info:
        synth(gappy, treated="T0", **ARGS)
    assert "miss pre-treatment periods" in str(info.value) and "drop those donors" in str(info.value)


def test_treated_outside_the_convex_hull_warns_with_its_pre_fit_rmspe(df):
    high = df.assign(y=np.where(df["area"] == "T0", df["y"] + 50.0, df["y"]))  # above every donor
    with pytest.warns(EvalkitWarning, match="outside the donors' convex hull") as rec:
        out = synth(high, treated="T0", **{**ARGS, "placebo": False, "loo": False})
    rmspe = out.diagnostics["pre_rmspe"]
    hull = [str(w.message) for w in rec if "convex hull" in str(w.message)]
    assert f"{rmspe:.4g}" in hull[0] and rmspe > 10
    assert out.diagnostics["hull_distance"]["T0"] > 10 and out.diagnostics["outside_hull"] == {"T0": True}


def test_treated_as_noisy_as_the_donors_does_not_warn():
    """Noise puts most paths slightly outside any hull; a treated unit no farther out than the
    donors are from each other is not flagged."""
    noisy = simulate(treated_noise=1.0, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvalkitWarning)
        out = synth(noisy, treated="T0", **{**ARGS, "placebo": False, "loo": False})
    assert out.diagnostics["hull_distance"]["T0"] > 0 and out.diagnostics["outside_hull"] == {"T0": False}


def test_treated_inside_the_hull_does_not_warn(df):
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvalkitWarning)
        out = synth(df, treated="T0", **{**ARGS, "placebo": False, "loo": False})
    assert out.diagnostics["hull_distance"]["T0"] < 0.05 and out.diagnostics["outside_hull"] == {"T0": False}


# -------------------------------------------------------------------- plots
@pytest.mark.parametrize("kind", ["paths", "gap", "placebo"])
@pytest.mark.parametrize("lang", ["en", "da"])
def test_plots(res, kind, lang):
    fig = synth_plot(res, kind=kind, lang=lang)
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_legend() is not None


def test_plot_errors(df, res):
    no_placebo = synth(df, treated="T0", placebo=False, loo=False, v="equal", **ARGS)
    with pytest.raises(ParameterError):
        synth_plot(no_placebo, kind="placebo")
    with pytest.raises(ParameterError):
        synth_plot(res, kind="spaghetti")


_THREADS_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_synth import simulate
from evalkit.estimators.synth import synth
res = synth(simulate(n_donors=12), outcome="y", unit="area", time="year", treated="T0",
            treatment_start=2020, predictors=["x"], pre_periods=[2000, 2005, 2010, 2015, 2019], placebo=True, loo=False)
print(json.dumps({{"att": res.estimate("ATT"), "p": res.diagnostics["placebo_p_value"],
                  "w": res.diagnostics["weights"]}}))
"""


def test_placebo_answer_does_not_depend_on_the_thread_count():
    """The same placebo p-value, ATT and weights with 1 and 2 BLAS/OpenMP threads (issue: pysyncon's
    answer changes with the thread count). Run in fresh processes, since BLAS reads the variables at start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = _THREADS_SCRIPT.format(tests=str(Path(__file__).parent))
    out = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert out[0]["p"] == out[1]["p"]
    assert out[0]["att"] == pytest.approx(out[1]["att"], abs=1e-12)
    for k in out[0]["w"]:
        assert out[0]["w"][k] == pytest.approx(out[1]["w"][k], abs=1e-10)


def test_initial_simplex_is_r_optim_convention():
    # R optim's Nelder-Mead: vertices start and start + 0.1 * max|start| * e_i, so a start with
    # near-zero entries can still move them (scipy's default moves each by 5% of itself)
    from evalkit.estimators._synth_kernels import initial_simplex
    s = np.array([1e-4, 0.9, 0.0999])
    sim = initial_simplex(s)
    assert sim.shape == (4, 3)
    np.testing.assert_array_equal(sim[0], s)
    np.testing.assert_allclose(sim[1:] - s, 0.09 * np.eye(3))
    np.testing.assert_allclose(initial_simplex(np.zeros(2))[1:], 0.1 * np.eye(2))


def test_cohort_and_treatment_like_sdid_and_deprecated_names(df, res):
    """Issue 12: synth takes cohort=/treatment= like sdid; treated=/treatment_start= still work, with a warning."""
    args = {k: v for k, v in ARGS.items() if k != "treatment_start"}
    d = df.assign(cohort=np.where(df["area"] == "T0", 2020, 0),
                  d=((df["area"] == "T0") & (df["year"] >= 2020)).astype(int))
    by_cohort = synth(d, cohort="cohort", **args)
    by_treatment = synth(d, treatment="d", **args)
    for other in (by_cohort, by_treatment):
        pd.testing.assert_frame_equal(other.tidy(), res.tidy())
    with pytest.warns(FutureWarning, match="deprecated"):
        synth(df, treated="T0", **ARGS)
    with pytest.raises(ParameterError, match="one of cohort= or treatment="):
        synth(d, cohort="cohort", treatment="d", **args)
    stag = d.assign(cohort=np.where(d["area"] == "T0", 2020, np.where(d["area"] == "d1", 2018, 0)))
    with pytest.raises(ValidationError, match="one adoption period"):
        synth(stag, cohort="cohort", **args)
    flip = d.assign(d=np.where((d["area"] == "T0") & (d["year"] == 2021), 0, d["d"]))
    with pytest.raises(ValidationError, match="absorbing"):
        synth(flip, treatment="d", **args)
