"""Numerical kernels of the synthetic control method (pure functions on arrays).

Abadie, Diamond & Hainmueller (2010, JASA) and Abadie (2021, JEL). Notation:
``x1`` (k,) predictors of the treated unit, ``x0`` (k, J) of the donors, ``z1`` (T0,)
and ``z0`` (T0, J) pre-period outcomes, ``y1`` (T,) and ``y0`` (T, J) all outcomes.

* Inner problem: donor weights ``w >= 0, sum(w) = 1`` minimising
  ``(x1 - x0 w)' V (x1 - x0 w)`` with predictors scaled by their standard deviation
  across all units (as R ``Synth``). It is solved exactly and deterministically:
  with ``C = sqrt(V)(x0 - x1 1')`` the problem is the minimum-norm point of the convex
  hull of C's columns, and the Lawson-Hanson NNLS of ``[C; 1'] u ~ [0; 1]`` gives
  ``w = u / sum(u)`` (the penalised value ``|Cw|^2 / (1 + |Cw|^2)`` is monotone in
  ``|Cw|^2``). No penalty constant, no random start.
* Outer problem (``V`` diagonal, sum 1): minimise the pre-period outcome MSPE
  ``mean((z1 - z0 w(V))^2)`` by Nelder-Mead from two fixed starts (equal weights and
  Synth's regression-based start), each with R ``optim``'s start simplex (a common step
  of 0.1 max|start|); the better optimum is kept.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls

#: Donor weights above this count as "positive" (leave-one-out, reporting).
WEIGHT_TOL = 1e-6


@dataclass(frozen=True, slots=True)
class SynthFit:
    """One fitted synthetic control: donor weights, V, and the gap path over all periods."""

    weights: np.ndarray      # (J,) donor weights, >= 0, sum 1
    v: np.ndarray            # (k,) predictor importances, >= 0, sum 1
    synthetic: np.ndarray    # (T,) synthetic outcome path
    gap: np.ndarray          # (T,) treated minus synthetic
    mspe_pre: float          # outer loss: mean squared pre-period gap


def scale_predictors(x1: np.ndarray, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide every predictor by its standard deviation over treated and donors (ddof 1)."""
    allx = np.column_stack([x1, x0])
    sd = allx.std(axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    return x1 / sd, x0 / sd[:, None]


def simplex_weights(x1: np.ndarray, x0: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact minimiser of ``(x1 - x0 w)' diag(v) (x1 - x0 w)`` over the unit simplex."""
    c = np.sqrt(v)[:, None] * (x0 - x1[:, None])
    norm = np.abs(c).max()
    if norm > 0:
        c = c / norm
    a = np.vstack([c, np.ones((1, c.shape[1]))])
    b = np.zeros(a.shape[0])
    b[-1] = 1.0
    u, _ = nnls(a, b, maxiter=50 * a.shape[1])
    total = u.sum()
    if not total > 0:  # degenerate: every donor identical to the treated unit
        return np.full(x0.shape[1], 1.0 / x0.shape[1])
    w = u / total
    w[w < 1e-12] = 0.0
    return w / w.sum()


def hull_distance(z1: np.ndarray, z0: np.ndarray) -> float:
    """Root-mean-square distance of the treated pre-period outcome path ``z1`` from the convex
    hull of the donors' paths ``z0`` (0 inside). A treated unit outside the hull cannot be
    reproduced by any synthetic control (Abadie, Diamond & Hainmueller 2010, sec. 2.3; Abadie
    2021, JEL 59(2), sec. 3.2)."""
    w = simplex_weights(z1, z0, np.ones(z1.size))
    return float(np.sqrt(np.mean((z1 - z0 @ w) ** 2)))


def _normalise(theta: np.ndarray) -> np.ndarray:
    a = np.abs(theta)
    s = a.sum()
    return a / s if s > 0 else np.full(a.shape, 1.0 / a.size)


def regression_start(x1s: np.ndarray, x0s: np.ndarray, z1: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """Synth's data-driven start: diag(B B') of the regression of pre outcomes on predictors."""
    xall = np.column_stack([x1s, x0s]).T              # (N, k)
    zall = np.column_stack([z1, z0]).T                # (N, T0)
    design = np.column_stack([np.ones(xall.shape[0]), xall])
    beta = np.linalg.lstsq(design, zall, rcond=None)[0][1:]
    return _normalise(np.einsum("kt,kt->k", beta, beta))


def initial_simplex(start: np.ndarray) -> np.ndarray:
    """Nelder-Mead start simplex as R's ``optim``: ``start`` and ``start + 0.1 max|start| e_i``.

    scipy's default moves each coordinate by 5% of itself, so a start with near-zero
    entries (Synth's regression start often puts ~all weight on one predictor) cannot
    leave that corner; R's common step can, which is what Synth's V search relies on.
    """
    step = 0.1 * float(np.abs(start).max()) or 0.1
    return np.vstack([start, start + step * np.eye(start.size)])


def _pow2_scale(z1: np.ndarray, z0: np.ndarray) -> float:
    """The power of two nearest the standard deviation of the pre-period outcomes (1 if constant)."""
    sd = float(np.std(np.concatenate([np.ravel(z1), np.ravel(z0)])))
    return float(2.0 ** np.round(np.log2(sd))) if sd > 0 and np.isfinite(sd) else 1.0


def optimize_v(x1s: np.ndarray, x0s: np.ndarray, z1: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """Diagonal V (sum 1) minimising the pre-period MSPE; Nelder-Mead from fixed starts."""
    k = x1s.size
    if k == 1:
        return np.ones(1)
    # The loss in units of the outcome's spread, scaled by a power of two (exact): Nelder-Mead's
    # fatol is absolute, so an outcome in millions of kroner (times 1e-6) met it at the start and
    # V, the weights and the estimate depended on the outcome's units.
    scale = _pow2_scale(z1, z0)
    z1, z0 = z1 / scale, z0 / scale

    def loss(theta: np.ndarray) -> float:
        w = simplex_weights(x1s, x0s, _normalise(theta))
        return float(np.mean((z1 - z0 @ w) ** 2))

    starts = [np.full(k, 1.0 / k), regression_start(x1s, x0s, z1, z0)]
    best_v, best = starts[0], loss(starts[0])
    for start in starts:
        res = minimize(loss, start, method="Nelder-Mead",
                       options={"maxfev": 300 * k, "xatol": 1e-7, "fatol": 1e-12,
                                "initial_simplex": initial_simplex(start)})
        if res.fun < best:
            best_v, best = _normalise(res.x), float(res.fun)
    return best_v


def fit_synth(x1: np.ndarray, x0: np.ndarray, y1: np.ndarray, y0: np.ndarray,
              pre: np.ndarray, *, v: str = "optimize") -> SynthFit:
    """Fit one synthetic control. ``pre`` is a boolean (T,) mask of the pre periods."""
    x1s, x0s = scale_predictors(np.asarray(x1, float), np.asarray(x0, float))
    z1, z0 = y1[pre], y0[pre]
    vv = optimize_v(x1s, x0s, z1, z0) if v == "optimize" else np.full(x1s.size, 1.0 / x1s.size)
    w = simplex_weights(x1s, x0s, vv)
    synthetic = y0 @ w
    gap = y1 - synthetic
    return SynthFit(weights=w, v=vv, synthetic=synthetic, gap=gap, mspe_pre=float(np.mean(gap[pre] ** 2)))


def rmspe_ratio(gaps: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Post/pre RMSPE ratio of each gap path; ``gaps`` is (T,) or (S, T)."""
    g = np.atleast_2d(gaps)
    pre_r = np.sqrt(np.mean(g[:, pre] ** 2, axis=1))
    post_r = np.sqrt(np.mean(g[:, ~pre] ** 2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pre_r > 0, post_r / np.where(pre_r > 0, pre_r, 1.0), np.inf)
    return ratio if np.ndim(gaps) == 2 else ratio[:1]


def placebo_sets(n_donors: int, k: int, max_sets: int, seed: int | None,
                 order: np.ndarray | None = None) -> np.ndarray:
    """Index sets (S, k) of donors whose placebo gaps are averaged to mimic k treated units.

    All ``C(n_donors, k)`` sets when there are at most ``max_sets``; otherwise
    ``max_sets`` sets drawn uniformly (without replacement within a set) with ``seed``, over the
    positions of ``order`` (the donors in the order of their content,
    :func:`evalkit.core.clusters.content_order`), so the drawn sets do not depend on the labels.
    """
    if math.comb(n_donors, k) <= max_sets:
        return np.array(list(itertools.combinations(range(n_donors), k)), dtype=int).reshape(-1, k)
    rng = np.random.default_rng(seed)
    pos = np.arange(n_donors) if order is None else np.asarray(order)
    return np.array([np.sort(pos[rng.choice(n_donors, size=k, replace=False)]) for _ in range(max_sets)], dtype=int)


def placebo_pvalues(gap: np.ndarray, placebo_gaps: np.ndarray, sets: np.ndarray,
                    pre: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Placebo p-values of the (averaged) treated gap.

    Returns (p of the post/pre RMSPE ratio, p per post period of |gap|, placebo ratios).
    p = (1 + #{placebo sets with statistic >= treated}) / (S + 1); with one treated unit
    and singleton sets this is ADH's rank / (J + 1).
    """
    avg = placebo_gaps[sets].mean(axis=1)              # (S, T)
    ratios = rmspe_ratio(avg, pre)
    treated_ratio = rmspe_ratio(gap, pre)[0]
    n = len(sets) + 1
    p_ratio = (1 + int(np.sum(ratios >= treated_ratio * (1 - 1e-12)))) / n
    post_abs = np.abs(avg[:, ~pre])
    p_t = (1 + np.sum(post_abs >= np.abs(gap[~pre]) * (1 - 1e-12), axis=0)) / n
    return p_ratio, p_t.astype(float), ratios
