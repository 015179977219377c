"""Relative-magnitudes restriction Delta^RM(Mbar) and its conditional / C-LF
confidence set (Rambachan & Roth 2023, sec. 2.4.1 and 4; HonestDiD
``computeConditionalCS_DeltaRM``).

Delta^RM(Mbar) = {delta : |delta_{t+1} - delta_t| <= Mbar * max_{s<0} |delta_{s+1} - delta_s|
for all post t}, a finite union over which pre-period difference s attains the
maximum and its sign. The confidence set is the union of the ARP confidence sets
for each polyhedral piece, all inverted on one common theta grid.
"""
from __future__ import annotations

import numpy as np

from evalkit.diagnostics._arp_ci import GridHit, no_nuisance_tester, scan_grid
from evalkit.diagnostics._arp_grid import nuisance_tester


def rm_constraints(num_pre: int, num_post: int, mbar: float, s: int, max_positive: bool) -> np.ndarray:
    """A with Delta^RM_{s,sign}(Mbar) = {delta : A delta <= 0} (reference period dropped)."""
    n = num_pre + num_post
    Atilde = np.zeros((n, n + 1))
    for r in range(n):
        Atilde[r, r:r + 2] = (-1.0, 1.0)
    v = np.zeros(n + 1)
    v[num_pre + s - 1:num_pre + s + 1] = (-1.0, 1.0)
    if not max_positive:
        v = -v
    A_ub = np.vstack([np.tile(v, (num_pre, 1)), np.tile(mbar * v, (num_post, 1))])
    A = np.vstack([Atilde - A_ub, -Atilde - A_ub])
    A = A[(A * A).sum(axis=1) > 1e-10]
    return np.delete(A, num_pre, axis=1)


def rm_conditional_ci(betahat, sigma, num_pre, num_post, l_vec, mbar, *, alpha, hybrid: bool,
                      grid: np.ndarray, step: int, seed: int = 0, pool: dict | None = None) -> GridHit:
    """Min/max accepted grid points of the union over s in {-(num_pre-1),...,0} and both signs.

    ``pool`` (a dict, may be shared by calls with other Mbar) collects the LP bases that
    served one piece, to seed the others (their constraint matrices differ only in sd).
    """
    kappa = alpha / 10 if hybrid else None
    pool = {} if pool is None else pool
    los, his = [], []
    for s in range(-(num_pre - 1), 1):
        for positive in (True, False):
            A = rm_constraints(num_pre, num_post, mbar, s, positive)
            post_rows = np.flatnonzero((A[:, num_pre:] != 0).any(axis=1))
            if num_post > 1:
                test = nuisance_tester(betahat, sigma, A, np.zeros(len(A)), num_pre, l_vec, alpha, post_rows,
                                       kappa, seed, grid, pool)
            else:
                A1 = A[post_rows]
                test = _pointwise(no_nuisance_tester(betahat, sigma, A1, np.zeros(len(A1)), num_pre, alpha,
                                                     kappa, seed), grid)
            hit = scan_grid(test, len(grid), step)
            if hit.lo is not None:
                los.append(hit.lo)
                his.append(hit.hi)
    return GridHit(min(los), max(his)) if los else GridHit(None, None)


def _pointwise(accepts, grid: np.ndarray):
    """Grid indices -> accept flags from a tester of one theta at a time."""
    return lambda idx: np.array([accepts(grid[i]) for i in idx], dtype=bool)
