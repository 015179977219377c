"""The ARP test with nuisance parameters on a theta grid (HonestDiD ``.ARP_computeCI``;
Andrews, Roth & Pakes 2023, sec. 3-4; Rambachan & Roth 2023, sec. 4 and 5.3).

For theta = l' tau_post the moments are Y - one * theta - X delta <= 0 with the other post
effects as nuisance delta. :func:`exact_tester` is the pointwise test with one HiGHS call per
linear program. :func:`nuisance_tester` gives the same flags faster: the LPs at the grid points
share the constraint matrix W = [sd, X], so their answers come from a few certified optimal
bases (``_arp_basis``), the eta LPs and the truncated-normal quantiles of many points are
computed together, and any point whose decision is within rounding of a threshold is
re-tested by the exact pointwise test.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.diagnostics import _arp
from evalkit.diagnostics._arp_ci import gamma_inv
from evalkit.diagnostics._arp_lp import Ambiguous, CachedLP


@dataclass(frozen=True, slots=True)
class Piece:
    """Moments Y - one * theta - X delta <= 0 with covariance sig, for one polyhedral Delta."""

    Y: np.ndarray
    one: np.ndarray
    X: np.ndarray
    sig: np.ndarray


def make_piece(betahat, sigma, A, d, num_pre, l_vec, rows) -> Piece:
    """The moments of Delta = {A delta <= d} restricted to ``rows`` (those involving post periods)."""
    AGi = A[:, num_pre:] @ gamma_inv(tuple(float(v) for v in l_vec))
    return Piece((A @ betahat - d)[rows], AGi[rows, 0], AGi[rows][:, 1:], (A @ sigma @ A.T)[np.ix_(rows, rows)])


def exact_tester(piece: Piece, alpha, lf_kappa, seed, grid, lf_cv=None):
    """Grid indices -> accept flags, one HiGHS call per LP and point (the reference path)."""
    kappa = 0.0 if lf_kappa is None else lf_kappa
    if lf_cv is None and lf_kappa is not None:
        lf_cv = _arp.least_favorable_cv(piece.X, piece.sig, lf_kappa, seed=seed)
    p = piece

    def accepts(idx):
        return np.array([not _arp.conditional_test(p.Y - p.one * grid[i], p.X, p.sig, alpha, lf_cv, kappa)
                         for i in np.atleast_1d(idx)], dtype=bool)
    return accepts


def nuisance_tester(betahat, sigma, A, d, num_pre, l_vec, alpha, rows, lf_kappa, seed, grid, pool=None):
    """Grid indices -> accept flags, for numPost > 1, equal to :func:`exact_tester`'s.

    ``pool`` shares the LP bases between pieces (see ``_arp_basis``).
    """
    piece = make_piece(betahat, sigma, A, d, num_pre, l_vec, rows)
    lp = CachedLP(_arp.stacked_w(piece.X, piece.sig), pool)
    lf_cv = None if lf_kappa is None else _arp.least_favorable_cv_cached(piece.X, piece.sig, lf_kappa, lp, seed=seed)
    exact = _Lazy(lambda: exact_tester(piece, alpha, lf_kappa, seed, grid))
    kappa = 0.0 if lf_kappa is None else lf_kappa

    def accepts(idx):
        idx = np.atleast_1d(idx)
        flags, redo = _fast_flags(piece, grid[idx], alpha, lf_cv, kappa, lp)
        if redo.any():
            flags[redo] = exact()(idx[redo])
        return flags
    return accepts


def _fast_flags(piece: Piece, thetas, alpha, lf_cv, kappa, lp) -> tuple[np.ndarray, np.ndarray]:
    """(accept flags, points to redo exactly) from cached LP answers and one quantile call."""
    ys = [piece.Y - piece.one * t for t in thetas]
    sols = lp.eta_many(np.array(ys)) if ys else []
    flags, redo = np.zeros(len(ys), dtype=bool), np.zeros(len(ys), dtype=bool)
    pending, inputs = [], []
    for j, (y, sol) in enumerate(zip(ys, sols)):
        try:
            out = _arp.decision_inputs(y, piece.X, piece.sig, alpha, lf_cv, kappa, lp, sol)
        except Ambiguous:
            redo[j] = True
            continue
        if isinstance(out, bool):
            flags[j] = not out
        else:
            pending.append(j)
            inputs.append(out)
    if pending:
        reject, ambiguous = _arp.decide_many(np.array(inputs, dtype=float))
        flags[pending], redo[pending] = ~reject, ambiguous
    return flags, redo


class _Lazy:
    """A value made on first use (the exact tester, with its block-LP critical value)."""

    def __init__(self, make):
        self._make, self._done, self._value = make, False, None

    def __call__(self):
        if not self._done:
            self._value, self._done = self._make(), True
        return self._value
