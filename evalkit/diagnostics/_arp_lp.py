"""The two linear programs of the ARP conditional test (Andrews, Roth & Pakes 2023; HonestDiD
``.test_delta_lp_fn`` and ``.max_program``), behind one small interface with two solvers:

* :class:`ExactLP` calls HiGHS (``scipy.optimize.linprog``) exactly as HonestDiD's port always
  did, once per program;
* :class:`CachedLP` answers from a certified optimal basis when it can (see ``_arp_basis``) and
  otherwise calls :class:`ExactLP` and learns the basis of its solution.

A cached answer equals the solver's up to rounding (the optimum is unique by a margin). The
test compares LP-derived numbers against thresholds (lambda > 1e-6, |c - V(c)| <= 1e-6,
eta > lf_cv, the final rejection); :func:`guard` makes such a comparison raise
:class:`Ambiguous` when it is too close to call with rounding-level differences, and the caller
then redoes that grid point with :class:`ExactLP`. So the accept / reject decisions are the
exact solver's.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from evalkit.diagnostics._arp_basis import BasisCache


class Ambiguous(Exception):
    """A threshold comparison too close to call with answers re-used from a cached basis."""


def guard(lp, a: float, b: float, band: float) -> None:
    """Raise :class:`Ambiguous` if ``lp`` is approximate and |a - b| <= band."""
    if lp.approximate and abs(a - b) <= band:
        raise Ambiguous


def eta_program(y: np.ndarray, W: np.ndarray):
    """HiGHS result of min eta s.t. y - X delta <= sd * eta, W = [sd, X] (variables (eta, delta))."""
    c = np.r_[1.0, np.zeros(W.shape[1] - 1)]
    return linprog(c, A_ub=-W, b_ub=-y, bounds=(None, None), method="highs")


def max_program(f: np.ndarray, W: np.ndarray):
    """HiGHS result of max f'x s.t. W'x = e1, x >= 0 (HonestDiD ``.max_program``)."""
    beq = np.zeros(W.shape[1])
    beq[0] = 1.0
    return linprog(-f, A_eq=W.T, b_eq=beq, bounds=(0, None), method="highs")


class ExactLP:
    """One HiGHS call per program; ``eta`` and ``max_program`` return what the test uses."""

    approximate = False

    def __init__(self, W: np.ndarray):
        self.W = W

    def eta_result(self, y):
        return eta_program(y, self.W)

    @staticmethod
    def full_rank(X: np.ndarray, binding: np.ndarray) -> bool:
        """Are the binding rows of X non-empty and of full rank?"""
        XB = X[binding]
        return bool(XB.size > 0 and np.linalg.matrix_rank(XB) == min(XB.shape))

    def eta(self, y):
        """(eta, gamma) with gamma the LP's duals (the dual vertex), or None if HiGHS fails."""
        res = self.eta_result(y)
        if res.status != 0:
            return None
        return float(res.fun), -np.asarray(res.ineqlin.marginals)

    def max_result(self, f):
        return max_program(f, self.W)

    def max_program(self, f):
        """(max f'x, x) or (nan, None) if HiGHS fails."""
        res = self.max_result(f)
        if res.status != 0:
            return np.nan, None
        return -res.fun, res.x


class CachedLP(ExactLP):
    """As :class:`ExactLP`, answering from certified cached bases where possible."""

    approximate = True

    def __init__(self, W: np.ndarray, pool: dict | None = None):
        super().__init__(W)
        self.cache = BasisCache(W, pool)
        self.solves = 0
        self._ranks: dict = {}

    def full_rank(self, X: np.ndarray, binding: np.ndarray) -> bool:
        key = binding.tobytes()
        if key not in self._ranks:
            self._ranks[key] = ExactLP.full_rank(X, binding)
        return self._ranks[key]

    def eta(self, y):
        hit = self.cache.find(y)
        if hit is not None:
            return float(hit[1][0]), hit[0].x
        self.solves += 1
        res = self.eta_result(y)
        if res.status != 0:
            return None
        gamma = -np.asarray(res.ineqlin.marginals)
        self.cache.learn(gamma, np.asarray(res.x), y)
        return float(res.fun), gamma

    def max_program(self, f):
        hit = self.cache.find(f)
        if hit is not None:
            return float(hit[1][0]), hit[0].x
        return self.solve_max(f)

    def solve_max(self, f):
        """HiGHS, as :meth:`ExactLP.max_program`, learning the basis of the solution."""
        self.solves += 1
        res = self.max_result(f)
        if res.status != 0:
            return np.nan, None
        self.cache.learn(res.x, -np.asarray(res.eqlin.marginals), f)
        return -res.fun, res.x

    def max_bounds(self, f, hint=None):
        """[lo, hi] around max f'x from the cached bases, and the maximiser x if certified unique.

        ``hint`` names the call site: the basis that last served it is tried first."""
        lo, hi, basis = self.cache.bounds(f, hint)
        return lo, hi, None if basis is None else basis.x

    def eta_many(self, F: np.ndarray, values_only: bool = False) -> list:
        """``eta`` for each row of F: certified rows in one pass per basis, a solve for the rest.

        ``values_only``: only eta is needed (the least-favourable draws), so a basis that is
        optimal with ties is enough; gamma is then one of the optimal vertices."""
        out: list = [None] * len(F)
        todo = np.arange(len(F))
        while todo.size:
            U, found = self.cache.find_many(F[todo], ties=values_only)
            done = np.array([b is not None for b in found], dtype=bool)
            for j in np.flatnonzero(done):
                out[todo[j]] = (float(U[j, 0]), found[j].x)
            todo = todo[~done]
            if todo.size:
                out[todo[0]] = self.eta(F[todo[0]])
                todo = todo[1:]
        return out
