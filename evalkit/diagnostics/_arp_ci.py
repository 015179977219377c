"""Test inversion over a theta grid for Delta = {delta : A delta <= d} (HonestDiD
``.ARP_computeCI`` and ``.APR_computeCI_NoNuis``; Andrews, Roth & Pakes 2023 and
Rambachan & Roth 2023, sec. 4).

theta = l' tau_post is tested on ``np.linspace(lb, ub, grid_points)``. Instead of
testing every grid point (R), points are tested every ``step`` and the edges of
the accepted set are then located exactly on the grid by bisection; this assumes
the accepted set is an interval between the first and last accepted coarse
point (true for the convex cases of ARP) and returns the same min/max accepted
grid points as the full scan under that assumption. Testers take an array of grid
indices and return accept flags, so that the points of a scan are tested together
(the tester with nuisance parameters is in ``_arp_grid``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from evalkit.diagnostics import _arp


@dataclass(frozen=True, slots=True)
class GridHit:
    """Indices of the first and last accepted grid points (``None`` if none)."""

    lo: int | None
    hi: int | None


def _bisect(accepts, a: int, b: int, first: bool) -> int:
    """The bisection of the original scan: first accepted in (a, b] (``first``) or last in [a, b).

    Its test points are evaluated in batches: a short gap whole, a long one a few levels of the
    bisection tree at a time. The result is that of the pointwise bisection."""
    flag: dict = {}
    while b - a > 1:
        todo = [m for m in (range(a + 1, b) if b - a <= _WHOLE_GAP else _tree(a, b, 4)) if m not in flag]
        if todo:
            flag.update(zip(todo, np.asarray(accepts(np.array(todo)), dtype=bool).tolist()))
        while b - a > 1 and (a + b) // 2 in flag:
            m = (a + b) // 2
            if first:
                a, b = (a, m) if flag[m] else (m, b)
            else:
                a, b = (m, b) if flag[m] else (a, m)
    return b if first else a


_WHOLE_GAP = 16  # gaps up to this many points are tested in one batch


def _tree(a: int, b: int, depth: int) -> list[int]:
    """The midpoints the bisection of (a, b) may visit in its next ``depth`` steps."""
    if depth == 0 or b - a <= 1:
        return []
    m = (a + b) // 2
    return [m, *_tree(a, m, depth - 1), *_tree(m, b, depth - 1)]


def scan_grid(accepts: Callable[[np.ndarray], np.ndarray], n: int, step: int) -> GridHit:
    """First and last accepted of n grid points, testing every ``step``-th and bisecting the gaps.

    ``accepts`` maps grid indices to accept flags. Only the first and last accepted coarse
    points matter, so the coarse points are tested from either end inwards, in growing
    batches; the gaps next to them are bisected as the pointwise scan did (:func:`_bisect`).
    The result is that of testing every coarse point and bisecting point by point.
    """
    coarse = np.array(sorted(set(range(0, n, max(1, step))) | {n - 1}))
    lo = _first_accepted(accepts, coarse)
    if lo is None:
        return GridHit(None, None)
    right = coarse[coarse > lo][::-1]
    hi = _first_accepted(accepts, right)
    hi = lo if hi is None else hi
    prev, nxt = coarse[coarse < lo], coarse[coarse > hi]
    if prev.size:
        lo = _bisect(accepts, int(prev[-1]), lo, first=True)
    if nxt.size:
        hi = _bisect(accepts, hi, int(nxt[0]), first=False)
    return GridHit(lo, hi)


def _first_accepted(accepts, order: np.ndarray, batch: int = 4) -> int | None:
    """The first index in ``order`` that ``accepts`` accepts (batches of 4, 8, 16, ...), or None."""
    start = 0
    while start < len(order):
        chunk = order[start:start + batch]
        flags = np.asarray(accepts(chunk), dtype=bool)
        if flags.any():
            return int(chunk[int(np.argmax(flags))])
        start, batch = start + batch, 2 * batch
    return None


def construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with first row l' completed by unit vectors (rref pivots)."""
    rows = [l_vec]
    for j in range(len(l_vec)):
        e = np.eye(len(l_vec))[j]
        if np.linalg.matrix_rank(np.vstack([*rows, e])) > len(rows):
            rows.append(e)
    return np.vstack(rows)


@lru_cache(maxsize=16)
def gamma_inv(l_vec: tuple[float, ...]) -> np.ndarray:
    """Inverse of :func:`construct_gamma` (read-only; the same for every piece of an analysis)."""
    inv = np.linalg.inv(construct_gamma(np.array(l_vec)))
    inv.flags.writeable = False
    return inv


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
