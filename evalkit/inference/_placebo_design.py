"""Placebo assignments among the comparison areas, the binomial size rule and size-corrected critical values.

Placebos (Ferman 2019, "A simple way to assess inference methods", arXiv:1912.08772; MacKinnon &
Webb 2020): the truly treated areas are dropped, and the same number of comparison areas is
treated from the same year. Without an effect anywhere, a method's rejection rate over the placebos
estimates its size in this design; with an effect injected into the placebo-treated areas, its power.

Size matching (``match_size=True``): each treated area j gets a pool of the ``pool`` comparison
areas nearest to it in log size (default max(2k, ceil(G_c / 2)), k treated, G_c comparison areas;
a quarter of G_c made the measured sizes depend on a dozen areas and vary twice as much between
data sets in the simulation);
a placebo picks, for the treated areas in decreasing size, one not yet picked area from each pool,
uniformly. The placebo set then has the treated set's size profile (which drives the sampling
noise of an area rate), and a pool of at least k areas always leaves a pick.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from evalkit.inference._placebo_resampling import random_assignments


def default_pool(n_comparison: int, n_treated: int) -> int:
    """max(2k, ceil(G_c / 2)), at most G_c."""
    return min(n_comparison, max(2 * n_treated, math.ceil(n_comparison / 2)))


def matched_pools(comparison_sizes: np.ndarray, treated_sizes: np.ndarray, pool: int) -> np.ndarray:
    """k x pool indices of the comparison areas nearest in log size to each treated area
    (treated areas in decreasing size; ties broken by position)."""
    lc = np.log(np.asarray(comparison_sizes, float))
    lt = np.sort(np.log(np.asarray(treated_sizes, float)))[::-1]
    dist = np.abs(lt[:, None] - lc[None, :])
    return np.argsort(dist, axis=1, kind="stable")[:, :pool]


def matched_placebos(pools: np.ndarray, n_comparison: int, n_placebos: int, rng: np.random.Generator) -> np.ndarray:
    """n_placebos x G_c 0/1 placebo assignments: one unpicked area from each treated area's pool."""
    out = np.zeros((n_placebos, n_comparison))
    rows = np.arange(n_placebos)
    for pool in pools:
        keys = rng.random((n_placebos, pool.size))
        keys[out[:, pool] > 0] = np.inf  # already picked for an earlier treated area
        out[rows, pool[np.argmin(keys, axis=1)]] = 1.0
    return out


def uniform_placebos(n_comparison: int, n_treated: int, n_placebos: int, rng: np.random.Generator) -> np.ndarray:
    """n_placebos x G_c 0/1 placebo assignments of n_treated areas drawn uniformly."""
    return random_assignments(n_comparison, n_treated, n_placebos, rng)


def clopper_pearson(k: np.ndarray, n: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``level`` Clopper-Pearson interval of a binomial proportion k / n."""
    k = np.asarray(k, float)
    a = (1 - level) / 2
    lo = np.where(k > 0, stats.beta.ppf(a, np.maximum(k, 1e-300), n - k + 1), 0.0)
    hi = np.where(k < n, stats.beta.ppf(1 - a, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    return lo, hi


def holds_size(k: np.ndarray, n: int, alpha: float, level: float) -> np.ndarray:
    """The rule: a method holds size when the lower end of the two-sided ``level`` Clopper-Pearson
    interval of its measured size (k rejections in n placebos) is at most ``alpha``, i.e. its size
    is not significantly above alpha in a one-sided exact binomial test at (1 - level) / 2."""
    return clopper_pearson(k, n, level)[0] <= alpha


def corrected_critical_value(abs_t: np.ndarray, alpha: float) -> float:
    """Size-corrected critical value: the ceil((1 - alpha)(P + 1))-th smallest of the P placebo |t|
    (infinite when P is too small), so that P(|t| > c) <= alpha over exchangeable placebos."""
    x = np.sort(np.where(np.isfinite(abs_t), abs_t, np.inf))
    j = math.ceil((1 - alpha) * (x.size + 1) - 1e-9)
    return float(x[j - 1]) if j <= x.size else float("inf")


def p_threshold(p_null: np.ndarray, alpha: float) -> float:
    """The p-value threshold at which a method is used: ``alpha`` when its measured size (share of
    placebo p-values <= alpha) is at most alpha, else the largest placebo p-value x with
    #{p <= x} <= floor(alpha P) (-inf when there is none: never reject). Rejecting when p <= x
    has placebo size at most alpha, so power compares at (at most) the nominal size: the winner's
    curse of choosing the most powerful of several methods whose size was measured with error is
    not rewarded with power bought by over-rejection."""
    p = np.sort(np.where(np.isfinite(p_null), p_null, np.inf))
    k = math.floor(alpha * p.size + 1e-9)
    if np.searchsorted(p, alpha * (1 + 1e-12), side="right") <= k:
        return float(alpha)
    values = np.unique(p[:k + 1])
    counts = np.searchsorted(p, values, side="right")
    ok = values[counts <= k]
    return float(ok.max()) if ok.size else float("-inf")


__all__ = ["clopper_pearson", "corrected_critical_value", "p_threshold", "default_pool", "holds_size", "matched_placebos",
           "matched_pools", "uniform_placebos"]
