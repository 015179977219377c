"""Test inversion over a theta grid for Delta = {delta : A delta <= d} (HonestDiD
``.ARP_computeCI`` and ``.APR_computeCI_NoNuis``).

theta = l' tau_post is tested on ``np.linspace(lb, ub, grid_points)``. Instead of
testing every grid point (R), points are tested every ``step`` and the edges of
the accepted set are then located exactly on the grid by bisection; this assumes
the accepted set is an interval between the first and last accepted coarse
point (true for the convex cases of ARP) and returns the same min/max accepted
grid points as the full scan under that assumption.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evalkit.diagnostics import _arp


@dataclass(frozen=True, slots=True)
class GridHit:
    """Indices of the first and last accepted grid points (``None`` if none)."""

    lo: int | None
    hi: int | None


def scan_grid(accepts: Callable[[float], bool], grid: np.ndarray, step: int) -> GridHit:
    n = len(grid)
    coarse = sorted(set(range(0, n, max(1, step))) | {n - 1})
    ok = [i for i in coarse if accepts(grid[i])]
    if not ok:
        return GridHit(None, None)
    lo, hi = ok[0], ok[-1]
    prev = max([i for i in coarse if i < lo], default=None)
    nxt = min([i for i in coarse if i > hi], default=None)
    if prev is not None:  # first accepted in (prev, lo]
        a, b = prev, lo
        while b - a > 1:
            m = (a + b) // 2
            a, b = (a, m) if accepts(grid[m]) else (m, b)
        lo = b
    if nxt is not None:  # last accepted in [hi, nxt)
        a, b = hi, nxt
        while b - a > 1:
            m = (a + b) // 2
            a, b = (m, b) if accepts(grid[m]) else (a, m)
        hi = a
    return GridHit(lo, hi)


def construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with first row l' completed by unit vectors (rref pivots)."""
    rows = [l_vec]
    for j in range(len(l_vec)):
        e = np.eye(len(l_vec))[j]
        if np.linalg.matrix_rank(np.vstack([*rows, e])) > len(rows):
            rows.append(e)
    return np.vstack(rows)


def nuisance_tester(betahat, sigma, A, d, num_pre, l_vec, alpha, rows, lf_kappa, seed):
    """theta -> accept? for numPost > 1 (nuisance parameters: the other post effects)."""
    post = slice(num_pre, None)
    AGi = A[:, post] @ np.linalg.inv(construct_gamma(l_vec))
    one, X = AGi[rows, 0], AGi[rows][:, 1:]
    Y = (A @ betahat - d)[rows]
    sig = (A @ sigma @ A.T)[np.ix_(rows, rows)]
    lf_cv = None if lf_kappa is None else _arp.least_favorable_cv(X, sig, lf_kappa, seed=seed)
    kappa = 0.0 if lf_kappa is None else lf_kappa
    return lambda theta: not _arp.conditional_test(Y - one * theta, X, sig, alpha, lf_cv, kappa)


def no_nuisance_tester(betahat, sigma, A, d, num_pre, alpha, lf_kappa, seed):
    """theta -> accept? for a single post period (HonestDiD ``.testInIdentifiedSet*``)."""
    sigA = A @ sigma @ A.T
    lf_cv = None if lf_kappa is None else _arp.least_favorable_cv(None, sigA, lf_kappa, seed=seed)
    size = alpha if lf_kappa is None else (alpha - lf_kappa) / (1 - lf_kappa)
    sd = np.sqrt(np.diag(sigA))
    At, dt = A / sd[:, None], d / sd
    e = np.zeros(len(betahat))
    e[num_pre] = 1.0

    def accepts(theta: float) -> bool:
        y = betahat - e * theta
        moments = At @ y - dt
        j = int(np.argmax(moments))
        if lf_cv is not None and moments[j] > lf_cv:
            return False
        gamma = At[j]
        Abar, dbar = At - At[j], dt - dt[j]
        gsg = float(gamma @ sigma @ gamma)
        c = sigma @ gamma / gsg
        z = y - c * float(gamma @ y)
        Ac = Abar @ c
        obj = (dbar - Abar @ z) / np.where(Ac == 0, np.nan, Ac)
        vlo = obj[Ac < 0].max() if (Ac < 0).any() else -np.inf
        vup = obj[Ac > 0].min() if (Ac > 0).any() else np.inf
        sb = np.sqrt(gsg)
        crit = max(0.0, dt[j] + sb * _arp.trunc_norm_quantile(1 - size, (vlo - dt[j]) / sb, (vup - dt[j]) / sb))
        return not (moments[j] + dt[j] > crit)

    return accepts
