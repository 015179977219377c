"""Certified re-use of optimal simplex bases for the linear programs of the ARP test.

All linear programs of the conditional test of Andrews, Roth & Pakes (2023, REStud 90(6))
for one polyhedral restriction (Rambachan & Roth 2023, sec. 4; HonestDiD
``.test_delta_lp_fn`` and ``.max_program``) are the primal-dual pair

    max_x f'x   s.t. x >= 0, W'x = e1      (its solution is the test's vertex gamma)
    min_u e1'u  s.t. W u >= f              (u = (eta, -delta))

with W = [sd, X] fixed and only f moving: f = y(theta) along the theta grid,
f = s_T + b c in the search for vlo / vup, f = a simulated draw for the least-favourable
critical value. A basis B (k + 1 rows of W with W_B invertible and x_B = W_B^{-T} e1 >= 0)
solves both for f when u = W_B^{-1} f_B satisfies W u >= f. If every row outside B has
slack above a relative margin, the vertex x is the *unique* maximiser, the one any simplex
solver returns: such an answer is certified without calling the solver. A few bases serve
a whole grid (the optimal value is piecewise linear in f with few pieces), and as only sd
changes from one restriction piece to the next, the row sets are shared between pieces.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MARGIN = 1e-6      # slack needed outside B, relative to the scale of f, u and W
_NEG = 1e-12        # x_B >= -_NEG * max|x_B| counts as feasible (basic at zero)
_TIGHT = 1e-9       # |W_i u - f_i| <= _TIGHT * scale: row i is tight at a solver's answer
_TIE = 1e-12        # slack >= -_TIE * scale: B optimal up to rounding (ties allowed)
_SEEDS = 64         # a new piece starts with at most this many of the pool's row sets


@dataclass(frozen=True, slots=True)
class Basis:
    """One basis of W: rows ``rows``, W_B^{-1}, the other rows and the vertex x (length m)."""

    rows: np.ndarray
    inv: np.ndarray
    out: np.ndarray
    w_out: np.ndarray
    x: np.ndarray
    key: tuple[int, ...]


def make_basis(W: np.ndarray, rows) -> Basis | None:
    """The basis with row set ``rows`` if W_B is invertible and its vertex feasible, else None."""
    rows = np.asarray(sorted(rows), dtype=int)
    WB = W[rows]
    try:
        inv = np.linalg.inv(WB)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(inv)) or np.abs(inv @ WB - np.eye(len(rows))).max() > 1e-8:
        return None  # (numerically) singular
    xb = inv[0].copy()  # W_B' x_B = e1  <=>  x_B = W_B^{-T} e1 = first row of W_B^{-1}
    top = np.abs(xb).max()
    if xb.min() < -_NEG * top:
        return None
    xb[np.abs(xb) <= _NEG * top] = 0.0
    x = np.zeros(W.shape[0])
    x[rows] = xb
    x.flags.writeable = False
    out = np.setdiff1d(np.arange(W.shape[0]), rows)
    return Basis(rows, inv, out, W[out], x, tuple(int(r) for r in rows))


def _scale(fmax: float, u: np.ndarray, wmax: float) -> float:
    return max(fmax, float(np.abs(u).max()) * wmax, 1e-300)


def certify(basis: Basis, f: np.ndarray, wmax: float, fmax: float) -> np.ndarray | None:
    """u = W_B^{-1} f_B if every row outside B has slack > margin (x then uniquely optimal);
    ``fmax`` = max |f|."""
    u = basis.inv @ f[basis.rows]
    if basis.out.size and (basis.w_out @ u - f[basis.out]).min() <= _MARGIN * _scale(fmax, u, wmax):
        return None
    return u


def certify_many(basis: Basis, F: np.ndarray, wmax: float, margin: float = _MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise :func:`certify` for the rows of F: (mask of certified rows, U with one u per row).

    ``margin`` = -_TIE instead certifies that B is optimal, maybe with ties: the value u_0 is
    then the optimal value (up to rounding), but x need not be the solver's maximiser."""
    U = F[:, basis.rows] @ basis.inv.T
    scale = np.maximum(np.abs(F).max(axis=1), np.abs(U).max(axis=1) * wmax)
    if not basis.out.size:
        return np.ones(len(F), dtype=bool), U
    slack = U @ basis.w_out.T - F[:, basis.out]
    return slack.min(axis=1) > margin * np.maximum(scale, 1e-300), U


def basis_from_solution(W: np.ndarray, x: np.ndarray, u: np.ndarray, f: np.ndarray) -> Basis | None:
    """A basis at a solver's optimal pair (x, u): the support of x completed by tight rows."""
    support = np.flatnonzero(x > _NEG * max(float(np.abs(x).max()), 1e-300))
    tight = np.abs(W @ u - f) <= _TIGHT * _scale(float(np.abs(f).max()), u, float(np.abs(W).max()))
    rows = list(support)
    for i in np.flatnonzero(tight):
        if len(rows) == W.shape[1]:
            break
        if i not in rows and np.linalg.matrix_rank(W[[*rows, i]]) == len(rows) + 1:
            rows.append(int(i))
    if len(rows) != W.shape[1]:
        return None
    return make_basis(W, rows)


class BasisCache:
    """The bases found so far for one W, all tried at once (stacked arrays).

    ``pool`` (a dict row-set -> hits, shared by the pieces of one analysis) seeds a new cache
    with the row sets that certified answers for other pieces with the same X.
    """

    def __init__(self, W: np.ndarray, pool: dict | None = None):
        self.W = W
        self.wmax = float(np.abs(W).max())
        self.sd_min = float(W[:, 0].min())
        self.pool = {} if pool is None else pool
        self._bases: list[Basis] = []
        self._stack: tuple | None = None
        self._last: dict = {}
        for rows in sorted(self.pool, key=self.pool.get, reverse=True)[:_SEEDS]:
            self._add(make_basis(W, rows))

    def _add(self, b: Basis | None) -> None:
        if b is not None and all(b.key != c.key for c in self._bases):
            self._bases.append(b)
            self.pool.setdefault(b.key, 0)
            self._stack = None

    def _stacked(self) -> tuple:
        """(W_B^{-1} for each basis, their rows, a mask of the rows in B, the vertices)."""
        if self._stack is None:
            inv = np.array([b.inv for b in self._bases])
            rows = np.array([b.rows for b in self._bases])
            in_b = np.zeros((len(self._bases), self.W.shape[0]), dtype=bool)
            np.put_along_axis(in_b, rows, True, axis=1)
            self._stack = inv, rows, in_b, np.array([b.x for b in self._bases])
        return self._stack

    def _evaluate(self, f: np.ndarray):
        """For every basis: u, the least slack outside B, and whether x is certified unique."""
        inv, rows, in_b, _ = self._stacked()
        U = (inv @ f[rows][:, :, None])[:, :, 0]
        slack = U @ self.W.T - f
        slack[in_b] = np.inf
        smin = slack.min(axis=1)
        scale = np.maximum(np.abs(U).max(axis=1) * self.wmax, max(float(np.abs(f).max()), 1e-300))
        return U, smin, smin > _MARGIN * scale

    def _hit(self, i: int, count: int = 1, hint=None) -> Basis:
        b = self._bases[i]
        self._last[hint] = i
        self.pool[b.key] = self.pool.get(b.key, 0) + count
        return b

    def _try_last(self, f: np.ndarray, hint=None):
        """(u, least slack, unique?) for the basis last useful at ``hint`` (neighbouring grid
        points usually share it), or None."""
        i = self._last.get(hint)
        if i is None:
            return None
        b = self._bases[i]
        u = b.inv @ f[b.rows]
        smin = float((b.w_out @ u - f[b.out]).min()) if b.out.size else np.inf
        return i, u, smin, smin > _MARGIN * _scale(float(np.abs(f).max()), u, self.wmax)

    def find(self, f: np.ndarray, hint=None) -> tuple[Basis, np.ndarray] | None:
        """A basis certified for f and its u, or None."""
        if not self._bases:
            return None
        last = self._try_last(f, hint)
        if last is not None and last[3]:
            return self._hit(last[0], hint=hint), last[1]
        U, _, unique = self._evaluate(f)
        if not unique.any():
            return None
        i = int(np.argmax(unique))
        return self._hit(i, hint=hint), U[i]

    def bounds(self, f: np.ndarray, hint=None) -> tuple[float, float, Basis | None]:
        """max f'x over P bracketed as [lo, hi] by the cached bases, and the basis if it is certified
        unique (then lo = hi = its value). A basis with slack >= -v outside B gives
        lo = x'f (x is feasible) and hi = u_0 + v / min(sd) (u + (v / min sd) e1 is dual feasible)."""
        if not self._bases:
            return -np.inf, np.inf, None
        last = self._try_last(f, hint)
        if last is not None:
            i, u, smin, unique = last
            if unique:
                return float(u[0]), float(u[0]), self._hit(i, hint=hint)
            if smin >= -_TIE * _scale(float(np.abs(f).max()), u, self.wmax):  # optimal, with ties
                return float(self._bases[i].x @ f), float(u[0]) + max(0.0, -smin) / self.sd_min, None
        U, smin, unique = self._evaluate(f)
        if unique.any():
            i = int(np.argmax(unique))
            return float(U[i, 0]), float(U[i, 0]), self._hit(i, hint=hint)
        i = int(np.argmax(smin))
        if smin[i] >= -_TIE * _scale(float(np.abs(f).max()), U[i], self.wmax):
            self._last[hint] = i
        lo = float((self._stacked()[3] @ f).max())
        return lo, float((U[:, 0] + np.maximum(0.0, -smin) / self.sd_min).min()), None

    def find_many(self, F: np.ndarray, ties: bool = False) -> tuple[np.ndarray, list[Basis | None]]:
        """For each row of F: u (nan if uncertified) and its basis (None if uncertified).

        ``ties=True`` certifies optimal values only (the basis may be one of several optimal)."""
        margin = -_TIE if ties else _MARGIN
        U = np.full((len(F), self.W.shape[1]), np.nan)
        found: list[Basis | None] = [None] * len(F)
        todo = np.arange(len(F))
        for i, b in enumerate(self._bases):
            if not todo.size:
                break
            ok, Ub = certify_many(b, F[todo], self.wmax, margin)
            if ok.any():
                U[todo[ok]] = Ub[ok]
                for j in todo[ok]:
                    found[j] = b
                self._hit(i, int(ok.sum()))
                todo = todo[~ok]
        return U, found

    def learn(self, x: np.ndarray, u: np.ndarray, f: np.ndarray) -> None:
        """Add the basis of a solver's optimal pair (x, u) for f, if one can be identified."""
        self._add(basis_from_solution(self.W, x, u, f))
