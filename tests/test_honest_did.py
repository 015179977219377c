"""HonestDiD sensitivity analysis (evalkit.diagnostics).

External witness: tests/test_honest_did_r.py compares with the R package HonestDiD 0.2.6 on our own
event study of mpdta (betahat, sigma and R's intervals stored in tests/references/). The README's
example inputs exist only inside the R package's data and knitr cache, which may not be copied into
this repository. The tests below check the implementation against independent computations (GLS
linear extrapolation at M = 0), Monte Carlo coverage, symmetry and monotonicity on synthetic inputs.
The R random stream check uses the widely published values of R's ``set.seed(0); rnorm(5)``.
"""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from evalkit.diagnostics import SensitivityResult, honest_did, honest_did_arrays
from evalkit.diagnostics._flci import flci
from evalkit.diagnostics._rrng import r_rnorm
from evalkit.errors import EvalkitError, ParameterError


def _synthetic(num_pre: int, num_post: int, effect: float, se: float, rho: float, seed: int) -> dict:
    """An event study's betahat and an AR(1)-correlated sigma (no data from elsewhere)."""
    k = num_pre + num_post
    idx = np.arange(k)
    sigma = se**2 * rho ** np.abs(idx[:, None] - idx[None, :])
    rng = np.random.default_rng(seed)
    mean = np.r_[np.zeros(num_pre), np.full(num_post, effect)]
    return {"betahat": rng.multivariate_normal(mean, sigma).tolist(), "sigma": sigma.tolist()}


EHEC = _synthetic(5, 2, effect=0.05, se=0.008, rho=0.4, seed=11)   # shaped like the README example
BC = _synthetic(4, 4, effect=0.15, se=0.03, rho=0.3, seed=12)      # shaped like BCdata_EventStudy


def test_r_random_stream():
    # R: set.seed(0); rnorm(5)
    np.testing.assert_allclose(r_rnorm(5, 0), [1.262954285, -0.326233361, 1.329799263, 1.272429321, 0.414641434],
                               atol=1e-9)


def _gls_linear_trend_ci(b, S, num_pre, l, z=1.959963984540054):
    """Independent oracle: GLS of beta on [event time, post dummies]; CI for l'tau."""
    T = len(b) - num_pre
    t = np.r_[np.arange(-num_pre, 0), np.arange(1, T + 1)]
    X = np.column_stack([t, np.vstack([np.zeros((num_pre, T)), np.eye(T)])])
    Si = np.linalg.inv(S)
    V = np.linalg.inv(X.T @ Si @ X)
    coef = V @ X.T @ Si @ b
    g = np.r_[0.0, l]
    est, se = g @ coef, np.sqrt(g @ V @ g)
    return est - z * se, est + z * se


@pytest.mark.parametrize("data, num_pre, l", [(EHEC, 5, [1.0, 0.0]), (BC, 4, [1.0, 0, 0, 0]),
                                              (BC, 4, [0.25, 0.25, 0.25, 0.25])])
def test_flci_at_M0_equals_linear_extrapolation_gls(data, num_pre, l):
    b, S, l = np.array(data["betahat"]), np.array(data["sigma"]), np.array(l)
    f = flci(b, S, num_pre, l, 0.0, 0.05)
    lo, hi = _gls_linear_trend_ci(b, S, num_pre, l)
    assert f.lb == pytest.approx(lo, abs=1e-9) and f.ub == pytest.approx(hi, abs=1e-9)


def test_flci_monotone_in_M():
    res = honest_did_arrays(BC["betahat"], BC["sigma"], 4, 4, method="smoothness", M=[0, 0.02, 0.05, 0.1, 0.2],
                            breakdown=False)
    rob = res.tidy().iloc[:-1]
    # FLCIs need not be nested (the optimal estimator changes with M), but their length grows with M.
    assert (np.diff(rob["ub"] - rob["lb"]) > 0).all()


@pytest.mark.slow
def test_flci_coverage_under_violations_in_delta_sd():
    """Monte Carlo: beta = (0, tau) + delta + N(0, Sigma) with delta in Delta^SD(M) at its worst-case
    direction; the FLCI weights do not depend on beta, so one optimisation serves all draws."""
    S = np.array(BC["sigma"])
    num_pre, M, tau = 4, 0.03, np.array([0.1, 0.2, 0.2, 0.1])
    t = np.r_[np.arange(-num_pre, 0), np.arange(1, 5)]
    delta = 0.02 * t + 0.5 * M * t * (t + 1) * (t > 0)  # linear pre-trend, curvature M after treatment
    second = np.diff(np.r_[delta[:num_pre], 0.0, delta[num_pre:]], 2)
    assert np.all(np.abs(second) <= M + 1e-12)
    f = flci(np.zeros(8), S, num_pre, np.eye(4)[0], M, 0.05)
    rng = np.random.default_rng(4)
    draws = rng.multivariate_normal(np.r_[np.zeros(num_pre), tau] + delta, S, size=20000)
    est = draws @ f.weights
    cover = np.mean(np.abs(est - tau[0]) <= f.half_length)
    assert cover >= 0.95 - 3 * np.sqrt(0.05 * 0.95 / 20000)


RM_KW = dict(grid_points=200, breakdown=False)


@pytest.fixture(scope="module")
def rm_ehec():
    return honest_did_arrays(EHEC["betahat"], EHEC["sigma"], 5, 2, Mbar=[0, 1, 2], **RM_KW)


def test_rm_nested_and_centered(rm_ehec):
    tab = rm_ehec.tidy()
    rob, orig = tab[tab["method"] == "c-lf"], tab[tab["method"] == "original"].iloc[0]
    assert (np.diff(rob["lb"]) <= 0).all() and (np.diff(rob["ub"]) >= 0).all()
    assert (rob["lb"] < rm_ehec.estimate).all() and (rob["ub"] > rm_ehec.estimate).all()
    # Mbar = 0 forces post-period violations to zero: close to the original CI (within a grid step and
    # the hybrid's size adjustment).
    step = 40 * rm_ehec.std_error / 199
    assert abs(rob["lb"].iloc[0] - orig["lb"]) < 0.15 * rm_ehec.std_error + step
    assert abs(rob["ub"].iloc[0] - orig["ub"]) < 0.15 * rm_ehec.std_error + step


def test_rm_symmetry_under_sign_flip():
    b, S = -np.array(EHEC["betahat"]), np.array(EHEC["sigma"])
    a = honest_did_arrays(EHEC["betahat"], S, 5, 2, Mbar=[1.0], **RM_KW).tidy().iloc[0]
    m = honest_did_arrays(b, S, 5, 2, Mbar=[1.0], **RM_KW).tidy().iloc[0]
    step = 40 * np.sqrt(S[5, 5]) / 199
    assert m["lb"] == pytest.approx(-a["ub"], abs=step + 1e-12)
    assert m["ub"] == pytest.approx(-a["lb"], abs=step + 1e-12)


def test_rm_single_post_period_and_conditional():
    b, S = np.array(BC["betahat"])[:5], np.array(BC["sigma"])[:5, :5]
    res = honest_did_arrays(b, S, 4, 1, Mbar=[0.5, 1.0], ci="conditional", **RM_KW)
    rob = res.tidy().iloc[:-1]
    assert rob["lb"].notna().all() and (rob["lb"] < b[4]).all() and (rob["ub"] > b[4]).all()


def test_breakdown_bisection():
    res = honest_did_arrays(EHEC["betahat"], EHEC["sigma"], 5, 2, method="smoothness", M=[0, 0.01, 0.02, 0.05, 0.1],
                            breakdown_steps=20)
    f = flci(np.array(EHEC["betahat"]), np.array(EHEC["sigma"]), 5, np.array([1.0, 0.0]), res.breakdown, 0.05)
    assert f.lb == pytest.approx(0.0, abs=1e-6)
    assert not res.breakdown_exceeds_grid


@pytest.fixture(scope="module")
def es_result():
    from evalkit.data.synthetic import staggered_panel
    from evalkit.estimators import event_study
    d = staggered_panel(n_units=60, n_periods=10, cohorts={0: 0.5, 6: 0.5}, n_clusters=12, seed=3)
    return event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=4, lags=3, cluster="cluster")


def test_from_event_study_result(es_result):
    res = honest_did(es_result, method="smoothness", M=[0, 0.1])
    tab = es_result.tidy()
    est = tab.loc[tab["event_time"] == 0, "estimate"].iloc[0]
    assert res.num_pre == 3 and res.num_post == 4  # e=-4..-2 (e=-1 is the reference), e=0..3
    assert res.estimate == pytest.approx(est)
    assert res.std_error == pytest.approx(np.sqrt(es_result.vcov.loc["e=0", "e=0"]))
    assert isinstance(res, SensitivityResult)
    assert list(res.table.columns) == ["method", "M", "lb", "ub"]
    assert res.table["method"].iloc[-1] == "original"


def test_rendering(es_result):
    res = honest_did(es_result, method="smoothness", M=[0, 0.1, 0.2])
    assert "Breakdown" in res.summary() and "<table" in res._repr_html_()
    for lang in ("en", "da"):
        assert isinstance(res.plot(lang=lang), Figure)
    with pytest.raises(ParameterError):
        res.plot(lang="de")
    with pytest.raises(dataclasses_frozen_error()):
        res.alpha = 0.1


def test_plot_in_percentage_points(es_result):
    """Issue 16 review: report figures of a share's effect in percentage points, as the text."""
    res = honest_did(es_result, method="smoothness", M=[0, 0.1, 0.2])
    plain, pp = res.plot(), res.plot(pp=True, lang="da")
    assert pp.axes[0].get_ylabel().endswith(", procentpoint") and "percentage" not in plain.axes[0].get_ylabel()
    assert np.allclose(pp.axes[0].get_ylim(), 100 * np.array(plain.axes[0].get_ylim()))
    assert res.table["lb"].abs().max() < 100  # the result's numbers are not changed
    with pytest.raises(ParameterError, match="pp"):
        res.plot(pp=1)


def dataclasses_frozen_error():
    import dataclasses
    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize("kwargs", [dict(method="smooth"), dict(method="smoothness"),
                                    dict(method="smoothness", M=[0.1], ci="c-lf"), dict(Mbar=[-1]),
                                    dict(Mbar=[1, 0.5]), dict(M=[0.1]), dict(alpha=0.7), dict(l_vec=[0, 0]),
                                    dict(grid_points=3)])
def test_bad_parameters(kwargs):
    with pytest.raises(ParameterError):
        honest_did_arrays(EHEC["betahat"], EHEC["sigma"], 5, 2, **kwargs)


def test_bad_arrays():
    with pytest.raises(EvalkitError):
        honest_did_arrays(EHEC["betahat"], EHEC["sigma"], 4, 2)
    with pytest.raises(EvalkitError):
        honest_did_arrays([0.1, 0.2], np.eye(2), 1, 1)
    with pytest.raises(ParameterError):
        honest_did("not a result")


@pytest.mark.parametrize("M", [0.0, 0.005, 0.02, 0.2])
def test_flci_half_length_is_the_minimum_over_affine_estimators(M):
    """The exact lasso-path FLCI (no iterative solver left to fail) against a brute-force search: over
    the affine estimators l'b_post + (D w)'b_pre that are unbiased under linear trends, with their
    worst-case bias M (c0 + ||u||_1) and sd from sigma directly, a multi-start Powell search finds no
    shorter half-length, and gets within 1e-6 of it; the returned weights reproduce the interval."""
    from scipy import optimize, stats

    from evalkit.diagnostics._flci import _parts

    rng = np.random.default_rng(7)
    num_pre, l_vec = 4, np.array([0.5, 0.3, 0.2])
    root = rng.normal(size=(7, 7))
    sigma = (root @ root.T + 7 * np.eye(7)) * 1e-3
    f = flci(np.zeros(7), sigma, num_pre, l_vec, M, 0.05)
    Q, a, c, c0, k, Dd = _parts(sigma, num_pre, l_vec)

    def half(free):
        u = np.r_[free, k]
        w = np.r_[Dd @ u, l_vec]
        sd = np.sqrt(w @ sigma @ w)
        return stats.foldnorm(M * (c0 + np.abs(u).sum()) / sd).ppf(0.95) * sd

    best = min(optimize.minimize(half, x0, method="Powell", options={"xtol": 1e-10, "ftol": 1e-13}).fun
               for x0 in [np.zeros(3), -k * np.ones(3) / 3, rng.normal(size=3) * k])
    assert f.half_length <= best * (1 + 1e-9)
    assert best <= f.half_length * (1 + 1e-6)
    u = np.linalg.solve(Dd, f.weights[:num_pre])
    assert u[-1] == pytest.approx(k, rel=1e-9)
    assert half(u[:-1]) == pytest.approx(f.half_length, rel=1e-9)


def test_original_interval_is_named_on_the_axis_not_placed_at_a_negative_m(es_result):
    res = honest_did(es_result, method="smoothness", M=[0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])
    for lang, name in (("en", "Original"), ("da", "Oprindelig")):
        labels = [t.get_text() for t in res.plot(lang=lang).axes[0].get_xticklabels()]
        assert labels[0] == name and 2 <= len(labels) <= 9
        assert not any(lab.startswith(("-", "−")) for lab in labels)
    assert "0,1" in [t.get_text() for t in res.plot(lang="da").axes[0].get_xticklabels()]
