"""External witness for Conley & Taber (2011) and Ferman & Pinto (2019): two public R implementations.

Source: ``tests/references/few_treated_external.json``, written by ``tests/references/r/few_treated.R``
(R 4.2.2 Debian, data.table 1.14.8; see ``tests/references/README.md`` to regenerate), which runs,
unchanged and without committing them:

* L. Alvarez's teaching notes (Alvarez is Ferman's coauthor),
  github.com/luisfantozzialvarez/ta_microeconometrics, ``5_causal_panel_data/inference_did.Rmd`` at
  commit c44879509caab0d4aecc5a8bc657d1d52f88861b: ``conley_taber_test`` (10,000 random pairings) and
  ``ferman_pinto_test`` (10,000 draws, staggered timing);
* ``FP_estimation`` (a public R file, "Ferman and Pinto (2019) ... appendix A.4, for a model with
  sampling weights"; its repository could not be identified, the JSON holds its SHA-256): single
  adoption, fed person-level rows (``n`` persons per cell, weight ``1/n``, so every cell weighs 1 and
  its variance term is ``1/n``: exactly evalkit's cell-level model with ``sizes = n``).

fixest is replaced in the driver by a base-R ``lm`` stand-in (same regressions). ``sample`` is
replaced by a recording copy of base R's, so the first K = 100 draws of each external run come with
the indices (and, for FP_estimation, the Rademacher signs) that produced them.

Data: ``tests/references/few_treated_panels.csv``, our own simulation
(``tests/references/r/make_few_treated_panels.py``): merit-aid-shaped state x year panels of cell
shares, ``one_unequal`` (46 x 11, one small treated state among states of 10-400 persons),
``common_equal`` (50 x 12, 3 treated, equal sizes), ``staggered_equal`` (51 x 12, 2 + 4 treated
in two timings, equal sizes), ``staggered_unequal`` (the same timing, unequal sizes).

What is compared, tolerances, and what was measured (run of 2026-12-04):

* Draw for draw (the computation itself), ``1e-12`` x the scale of the draws (measured <= 1e-13;
  FP_estimation see below):
  Conley-Taber's pairings (Alvarez's W draws = evalkit's pairing matrix summed over the recorded
  controls, all four panels); Ferman-Pinto contrasts and fitted variances (all panels, both external
  codes; their OLS variance fits have positive coefficients on these panels, where evalkit's
  non-negative fit is the same fit) and Ferman-Pinto draws (Alvarez on the equal-size panels =
  ``fp_null_draws`` with his indices; FP_estimation on ``one_unequal`` = evalkit's normalised
  contrasts at their own scale times its Rademacher signs); the TWFE estimate (1e-10; FP_estimation
  fits it on 45,166 person rows).
* Conley-Taber p-values, exact against Monte Carlo: evalkit enumerates every pairing (45 atoms;
  47^3 = 103,823), and on the staggered panels (45^6 = 8.3e9 pairings) the test enumerates them by
  meet in the middle (checked against evalkit's enumeration on ``common_equal``, between atoms).
  Alvarez's p-values rest on B = 10,000 random pairings: tolerance 4 binomial standard errors
  (equal-tailed: ``2 sqrt(q(1-q)/B)`` with ``q`` the exact tail share; |.|: ``sqrt(p(1-p)/B)``).
  Measured, exact (equal-tailed / |.|) vs Alvarez: one_unequal 0.266667 / 0.288889 vs 0.2668 / 0.2856;
  common_equal 0.045481 / 0.056076 vs 0.0422 / 0.0541; staggered_equal 0.077676 / 0.084650 vs
  0.0758 / 0.0841; staggered_unequal 0.034330 / 0.034441 vs 0.0320 / 0.0331 (all within 1.1 s.e.).
  evalkit's reported p-value is the exact one where it enumerates (to 1e-12) and, with its 9,999
  random pairings on the staggered panels (0.0742, 0.0306), within 4 s.e. + 2/(B+1) of the exact one.
* Ferman-Pinto p-values (null 0): both are Monte Carlo over the same bootstrap law, tolerance
  ``4 sqrt(p(1-p)(1/B_ext + 1/(B+1))) + 1/(B+1)`` (B = 9,999 evalkit draws). Equal sizes, evalkit vs
  Alvarez's |.| p-value: common_equal 0.0795 vs 0.0814, staggered_equal 0.0994 vs 0.0941. one_unequal,
  evalkit vs FP_estimation's equal-tailed p-value with Rademacher signs: 0.481 vs 0.479; the sign flips
  change the law only slightly here (2,000,000 draws of each: evalkit's 0.4853, FP_estimation's
  0.4857), so 0.002 is added to the tolerance for that difference of method. FP_estimation's interval
  is the percentile interval ``alpha_hat - q(1 - a/2), alpha_hat - q(a/2)`` of its null-0 draws,
  [-0.2149, 0.1003]; evalkit inverts the test with the null imposed at every null, [-0.2246, 0.1248]
  (different constructions; the test checks that FP_estimation's ends are the percentile ends of
  evalkit's own null-0 draws, within the quantiles' Monte Carlo band).
* FP_estimation runs on 45,166 (one_unequal) and 72,000 (common_equal) person rows through ``lm``:
  its residual contrasts and draws are compared at 1e-10 x their scale (measured <= 2e-12).

Discrepancies of the external codes, pinned here and in docs/conley_taber_ferman_pinto.md:

* Alvarez's ``ferman_pinto_test`` rescales the drawn contrast by ``sd(drawn) / sd(own)``
  (``sd_mat[draw,] / sd_mat``) where Ferman & Pinto's procedure (and FP_estimation's step 4:
  ``W_norm[draw] * sqrt(var_W[own])``) uses ``sd(own) / sd(drawn)``. With equal sizes the ratio is 1
  and his draws equal evalkit's; with unequal sizes his draws equal evalkit's kernel with the
  inverted ratio to 1e-14, and his p-values move: one_unequal 0.273 (|.|) against evalkit 0.481 and
  FP_estimation 0.479; staggered_unequal 0.0899 against evalkit 0.075.
* FP_estimation divides the weights of its contrasts by the total over all treated cells
  (``P / P_post`` with ``P_post`` summed over every treated state), so with G1 treated states its
  contrasts, and its bootstrap draws, are 1/G1 of the correct ones (its variances 1/G1^2) while its
  estimate is not: with G1 = 3 (common_equal) it reports p = 0 where evalkit and Alvarez give
  about 0.08. It is used here only with one treated state, where the factor is 1.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.inference import few_treated as ft

REFS = Path(__file__).resolve().parent / "references"
REF = json.loads((REFS / "few_treated_external.json").read_text())
CSV = REFS / "few_treated_panels.csv"
_spec = importlib.util.spec_from_file_location("make_few_treated_panels", REFS / "r" / "make_few_treated_panels.py")
GEN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(GEN)
PANELS = GEN.load(CSV)
NAMES = list(PANELS)
K = REF["K"]


def _vec(x):
    return np.atleast_1d(np.asarray(x, float))


def _pairing_matrix(y, d):
    """a[k, l]: treated state k paired with control l (Conley-Taber's W is a sum of one entry per row)."""
    _, resid = ft.twfe(y, d)
    j1, j0 = np.flatnonzero(d.any(axis=1)), np.flatnonzero(~d.any(axis=1))
    dt = d[j1] - d[j1].mean(axis=1, keepdims=True)
    return dt @ resid[j0].T / float(np.sum(dt * dt)), j1, j0


def _half_sums(rows):
    s = np.zeros(1)
    for row in rows:
        s = (s[:, None] + row[None, :]).ravel()
    return s


def _exact_tails(a, x):
    """Shares of all pairings with W <= x and W >= x, every pairing counted (meet in the middle)."""
    half = a.shape[0] // 2
    left, right = _half_sums(a[:half]), np.sort(_half_sums(a[half:]))
    n = left.size * right.size
    le = np.searchsorted(right, x - left, side="right").sum()
    lt = np.searchsorted(right, x - left, side="left").sum()
    return le / n, (n - lt) / n


def _exact_p(a, x):
    """(equal-tailed, symmetric) p-values of x over the exact distribution of W."""
    le, ge = _exact_tails(a, x)
    sym = _exact_tails(a, -abs(x))[0] + _exact_tails(a, abs(x))[1]
    return min(1.0, 2 * min(le, ge)), sym


def _fp_pieces(y, d, sizes, s):
    e = ft.within(y)
    w = ft.contrasts(e, s)
    return w, np.sqrt(ft.variance_fit(w, sizes))


def test_the_panels_are_our_generator_output_and_the_json_was_computed_on_them():
    assert hashlib.sha256(CSV.read_bytes()).hexdigest() == REF["panels_sha256"]
    cells = pd.read_csv(CSV)
    again = GEN.make()
    pd.testing.assert_frame_equal(again.reset_index(drop=True), cells, check_dtype=False, rtol=0, atol=0)
    assert set(REF["panels"]) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_conley_taber_draws_equal_alvarez_draw_for_draw(name):
    y, d, _ = PANELS[name]
    ext = REF["panels"][name]["ct_alvarez"]
    a, j1, j0 = _pairing_matrix(y, d)
    assert list(_vec(ext["G1"]).astype(int)) == list(j1 + 1) and list(_vec(ext["G0"]).astype(int)) == list(j0 + 1)
    index = np.asarray(ext["index_head"], int).reshape(K, -1) - 1  # positions in G0, one per treated state
    ours = a[np.arange(j1.size), index].sum(axis=1)
    np.testing.assert_allclose(ours, ext["draws_head"], rtol=0, atol=1e-12 * np.abs(a).max())


@pytest.mark.parametrize("name", NAMES)
def test_conley_taber_p_values_match_alvarez_within_monte_carlo_error(name):
    y, d, _ = PANELS[name]
    ext = REF["panels"][name]["ct_alvarez"]
    a, _, _ = _pairing_matrix(y, d)
    est, _ = ft.twfe(y, d)
    p_eq, p_sym = _exact_p(a, est)
    B = ext["breps"]
    se_eq = 2 * np.sqrt(p_eq / 2 * (1 - p_eq / 2) / B)
    assert abs(ext["p_equitailed"] - p_eq) <= 4 * se_eq
    assert abs(ext["p_absvalue"] - p_sym) <= 4 * np.sqrt(p_sym * (1 - p_sym) / B)
    res = ft.conley_taber(y, d, rng=np.random.default_rng(7))
    if res.exact:  # evalkit enumerates: its reported (equal-tailed) p-value is the exact one
        _, w, _ = ft.ct_distribution(y, d)
        assert res.p_value == pytest.approx(p_eq, abs=1e-12)
        assert ft.ct_p_value(w, est, True, tails="symmetric") == pytest.approx(p_sym, abs=1e-12)
        # the meet-in-the-middle enumeration used on the staggered panels agrees with evalkit's
        ordered = np.sort(w)
        gaps = np.flatnonzero(np.diff(ordered) > 1e-9 * np.abs(ordered).max())  # not between rounded ties
        for k in gaps[np.searchsorted(gaps, [w.size // 100, w.size // 3, 3 * w.size // 4])]:
            x = (ordered[k] + ordered[k + 1]) / 2
            le, ge = _exact_tails(a, x)
            assert le == pytest.approx(np.mean(w <= x), abs=1e-12) and ge == pytest.approx(np.mean(w >= x), abs=1e-12)
    else:
        n = res.draws
        assert abs(res.p_value - p_eq) <= 4 * 2 * np.sqrt(p_eq / 2 * (1 - p_eq / 2) / n) + 2 / (n + 1)


@pytest.mark.parametrize("name", NAMES)
def test_ferman_pinto_contrasts_and_fitted_variances_equal_alvarez(name):
    y, d, sizes = PANELS[name]
    ext = REF["panels"][name]["fp_alvarez"]
    groups = ft.timings(d)
    tpost = _vec(ext["tpost"]).astype(int)
    assert sorted(tpost) == sorted(groups)
    weights = ft.fp_weights(groups, d.shape[1])
    np.testing.assert_allclose(_vec(ext["weights"]), [weights[s] for s in tpost], rtol=1e-14)
    contrasts, sd = np.asarray(ext["contrasts"], float), np.asarray(ext["sd"], float)
    for k, s in enumerate(tpost):
        w, our_sd = _fp_pieces(y, d, sizes, s)
        np.testing.assert_allclose(w, contrasts[:, k], rtol=0, atol=1e-12 * np.abs(w).max())
        np.testing.assert_allclose(our_sd, sd[:, k], rtol=1e-10)


@pytest.mark.parametrize("name", ["common_equal", "staggered_equal"])
def test_ferman_pinto_equals_alvarez_with_equal_sizes(name):
    y, d, sizes = PANELS[name]
    assert np.ptp(sizes) == 0  # equal sizes: Alvarez's ratio sd(drawn)/sd(own) is 1
    ext = REF["panels"][name]["fp_alvarez"]
    index = np.asarray(ext["index_head"], int) - 1
    for s in (sizes, None):
        ours = ft.fp_null_draws(y, d, s, 0.0, index)
        np.testing.assert_allclose(ours, ext["draws_head"], rtol=0, atol=1e-12 * np.abs(ours).max())
    res = ft.ferman_pinto(y, d, sizes, rng=np.random.default_rng(11))
    p, B, n = ext["p_absvalue"], ext["breps"], res.draws
    assert abs(res.p_value - p) <= 4 * np.sqrt(p * (1 - p) * (1 / B + 1 / (n + 1))) + 1 / (n + 1)


@pytest.mark.parametrize("name", ["one_unequal", "staggered_unequal"])
def test_alvarez_ferman_pinto_uses_the_inverted_ratio_with_unequal_sizes(name):
    """His draws are evalkit's kernel with sd(drawn)/sd(own) in place of sd(own)/sd(drawn)."""
    y, d, sizes = PANELS[name]
    ext = REF["panels"][name]["fp_alvarez"]
    index = np.asarray(ext["index_head"], int) - 1
    groups, (_, j0) = ft.timings(d), ft._groups(d)
    weights = ft.fp_weights(groups, d.shape[1])
    inverted = np.zeros(K)
    for s, wt in weights.items():
        w, sd = _fp_pieces(y, d, sizes, s)
        boot = w[index] * sd[index] / sd
        inverted += wt * (boot[:, groups[s]].mean(axis=1) - boot[:, j0].mean(axis=1))
    scale = np.abs(inverted).max()
    np.testing.assert_allclose(inverted, ext["draws_head"], rtol=0, atol=1e-12 * scale)
    correct = ft.fp_null_draws(y, d, sizes, 0.0, index)
    assert np.abs(correct - np.asarray(ext["draws_head"])).max() > 0.1 * scale  # the ratio matters here


def test_ferman_pinto_equals_fp_estimation_with_one_small_treated_state():
    y, d, sizes = PANELS["one_unequal"]
    ext = REF["panels"]["one_unequal"]["fp_estimation"]
    est, _ = ft.twfe(y, d)
    assert ext["coefficient"] == pytest.approx(est, abs=1e-10)
    groups = ft.timings(d)
    (s, j1), = groups.items()
    _, j0 = ft._groups(d)
    w, sd = _fp_pieces(y, d, sizes, s)
    assert list(_vec(ext["state"]).astype(int)) == list(range(1, y.shape[0] + 1))
    np.testing.assert_allclose(ext["W"], w, rtol=0, atol=1e-10 * np.abs(w).max())
    np.testing.assert_allclose(ext["q"], (1 / s + 1 / (y.shape[1] - s)) / sizes, rtol=1e-12)  # q_j: 1/M_j
    np.testing.assert_allclose(ext["var_W"], sd ** 2, rtol=1e-10)
    assert _vec(ext["se_treated"])[0] == pytest.approx(sd[j1[0]], rel=1e-10)
    index, signs = np.asarray(ext["index_head"], int) - 1, np.asarray(ext["sign_head"], float)
    boot = signs * (w / sd)[index] * sd  # drawn normalised contrast at this state's scale, Rademacher sign
    ours = boot[:, j1].mean(axis=1) - boot[:, j0].mean(axis=1)
    np.testing.assert_allclose(ours, ext["draws_head"], rtol=0, atol=1e-10 * np.abs(ours).max())
    res = ft.ferman_pinto(y, d, sizes, rng=np.random.default_rng(7))
    p, B, n = ext["pvalue"], ext["breps"], res.draws
    assert abs(res.p_value - p) <= 4 * np.sqrt(p * (1 - p) * (1 / B + 1 / (n + 1))) + 1 / (n + 1) + 0.002
    # FP_estimation's interval: percentile ends of its null-0 draws; evalkit's null-0 draws give the same
    # ends within the Monte Carlo band of the 2.5 % and 97.5 % quantiles
    draws = ft.fp_null_draws(y, d, sizes, 0.0, np.random.default_rng(3).integers(y.shape[0], size=(20_000, y.shape[0])))
    band = 4 * np.sqrt(0.025 * 0.975 * (1 / B + 1 / draws.size))
    lo_q, hi_q = np.quantile(draws, [0.975 - band, 0.975 + band]), np.quantile(draws, [0.025 - band, 0.025 + band])
    assert est - lo_q[1] <= ext["ci_low"] <= est - lo_q[0]
    assert est - hi_q[1] <= ext["ci_high"] <= est - hi_q[0]


def test_fp_estimation_shrinks_its_draws_by_the_number_of_treated_states():
    """Pinned discrepancy of the external code (not used as a witness of the p-value)."""
    y, d, sizes = PANELS["common_equal"]
    ext = REF["panels"]["common_equal"]["fp_estimation"]
    (s, j1), = ft.timings(d).items()
    _, j0 = ft._groups(d)
    w, sd = _fp_pieces(y, d, sizes, s)
    np.testing.assert_allclose(ext["W"], w / j1.size, rtol=0, atol=1e-10 * np.abs(w).max())
    np.testing.assert_allclose(ext["var_W"], sd ** 2 / j1.size ** 2, rtol=1e-10)
    index, signs = np.asarray(ext["index_head"], int) - 1, np.asarray(ext["sign_head"], float)
    boot = signs * (w / sd)[index] * sd
    ours = (boot[:, j1].mean(axis=1) - boot[:, j0].mean(axis=1)) / j1.size
    np.testing.assert_allclose(ours, ext["draws_head"], rtol=0, atol=1e-10 * np.abs(ours).max())
    assert ext["pvalue"] == 0 and ft.ferman_pinto(y, d, sizes, rng=np.random.default_rng(7)).p_value > 0.05
