"""Fixed-length confidence interval (FLCI) under the smoothness restriction
Delta^SD(M) (Rambachan & Roth 2023, sec. 4.1; Armstrong & Kolesar 2018 style;
HonestDiD ``findOptimalFLCI``).

The estimator is affine, theta_hat = l'beta_post + v'beta_pre with v = D w (D first
differences) and sum(w) = sum_s s l_s (unbiased under linear trends). Its worst-case
bias over Delta^SD(M) is M * (c0 + sum_k |cumsum(w)_k|) and its standard deviation
h(w) is a quadratic form. The half-length h * q_{1-alpha}(|N(M B/h, 1)|) grows with
the bias B for a fixed h, so the optimum lies on the convex frontier
B(h) = min{ ||u||_1 : sd(u) <= h }, h in [h_min, h_0]. Its points are the solutions of
the lasso min_u var(u) + mu ||u||_1 (mu from 0 at h_min to mu_max at h_0), which are
piecewise linear in mu: the whole frontier is computed exactly by the homotopy
(LARS-lasso) path, and the half-length is minimised along each linear piece, at
its breakpoints and at the zeros of its analytic derivative (Brent's root finder).

Why not a numerical solver: an SLSQP solve of the bias at each h, inside a bounded
scalar search over h, settled on different optima when the inputs changed in the
last digits (unit ids relabelled, rows shuffled: endpoints moved by 0.9 %), and its
feasibility tolerance was absolute, so the answer depended on the outcome's units
(issue 12). The path depends only on mu / mu_max, which does not change with the
units, and every optimum is located to rounding error.

R approximates the folded-normal quantile by 10^6 draws and uses a derivative
bisection over h; here the exact quantile is used (``r_compat=True`` reproduces
R's simulated quantile, whose derivative does not exist: then each piece is searched
by a bounded scalar minimiser). The optimal half-lengths agree with R's to about
1e-4 relative, but where the half-length is flat in h the two settle on different
h, hence different weights and a shifted centre: against HonestDiD 0.2.6 the
endpoints differ by up to 3.4e-4 on an interval of length 0.083
(tests/test_honest_did_r.py, which pins this).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from evalkit.errors import ValidationError


@dataclass(frozen=True, slots=True)
class FLCI:
    lb: float
    ub: float
    half_length: float
    weights: np.ndarray  # full weight vector on (pre, post) coefficients
    sd: float
    max_bias: float


def _diff_matrix(k: int) -> np.ndarray:
    return np.eye(k) - np.eye(k, k=-1)


def _parts(sigma, num_pre, l_vec):
    pre = slice(0, num_pre)
    post = slice(num_pre, None)
    Dd = _diff_matrix(num_pre) @ _diff_matrix(num_pre)  # u (cumsums of w) -> v
    Q = Dd.T @ sigma[pre, pre] @ Dd
    a = 2 * Dd.T @ sigma[pre, post] @ l_vec
    c = float(l_vec @ sigma[post, post] @ l_vec)
    T = len(l_vec)
    s = np.arange(1, T + 1)
    c0 = sum(abs(float(np.arange(1, j + 1) @ l_vec[T - j:])) for j in s) - float(s @ l_vec)
    return Q, a, c, c0, float(s @ l_vec), Dd


@dataclass(frozen=True, slots=True)
class _Piece:
    """u_free(mu) = p + mu d on [lo, hi] (support ``idx``); var = q0 + q1 mu + q2 mu^2 and, with the
    signs of the support fixed on the piece, bias = b0 + b1 mu (||u||_1, the fixed last entry included)."""

    lo: float
    hi: float
    idx: np.ndarray
    p: np.ndarray
    d: np.ndarray
    q: tuple[float, float, float]
    b: tuple[float, float]

    def u(self, mu: float, m: int, k: float) -> np.ndarray:
        f = np.zeros(m)
        f[self.idx] = self.p + mu * self.d
        return np.r_[f, k]

    def var(self, mu: float) -> float:
        return max(self.q[0] + mu * (self.q[1] + mu * self.q[2]), 0.0)

    def bias(self, mu: float) -> float:
        return self.b[0] + self.b[1] * mu


def _lasso_path(A: np.ndarray, g: np.ndarray, const: float, k: float) -> list[_Piece]:
    """Exact solution path of min_f f'Af + g'f + mu ||f||_1 (A positive definite), mu from
    mu_max = max|g| (f = 0) down to 0 (the minimum-variance point), as linear pieces.

    Homotopy (Osborne, Presnell & Turlach 2000; Efron et al. 2004, LARS-lasso): on a piece
    with support S and signs s, f_S = -(2 A_SS)^-1 (g_S + mu s_S); a coordinate joins when
    its gradient reaches +-mu, and leaves when it crosses zero.
    """
    m = g.size
    mu = float(np.max(np.abs(g))) if m else 0.0
    pieces: list[_Piece] = []
    if mu == 0.0:  # f = 0 is the minimum-variance point: the frontier is one point
        return [_Piece(0.0, 0.0, np.arange(0), np.zeros(0), np.zeros(0), (const, 0.0, 0.0), (abs(k), 0.0))]
    eps = 1e-12
    first = [int(j) for j in np.flatnonzero(np.abs(g) >= mu * (1 - eps))]  # ties enter together
    active, signs = first, {j: -np.sign(g[j]) for j in first}
    last = None  # the previous event: a coordinate that has just left may not rejoin at the same mu
    for _ in range(20 * m + 20):
        idx = np.array(active, dtype=np.intp)
        s = np.array([signs[j] for j in active])
        A2 = 2 * A[np.ix_(idx, idx)]
        p = np.linalg.solve(A2, -g[idx])
        d = np.linalg.solve(A2, -s)
        # events below mu: an inactive coordinate's gradient reaches +-mu, an active one crosses 0
        best, event = 0.0, None
        rest = [j for j in range(m) if j not in signs]
        if rest:
            r = np.array(rest, dtype=np.intp)
            alpha = 2 * A[np.ix_(r, idx)] @ p + g[r]
            beta = 2 * A[np.ix_(r, idx)] @ d
            for j, al, be in zip(rest, alpha, beta):
                for sigma in (1.0, -1.0):
                    den = sigma - be
                    if den != 0:
                        t = al / den  # up to mu itself (a tie, to rounding): a piece of length zero
                        if best < t <= mu * (1 + eps) and not (last == ("leave", j) and t > mu * (1 - eps)):
                            best, event = min(t, mu), ("join", j, -sigma)
        for i, (pi, di) in enumerate(zip(p, d)):
            if di != 0:
                t = -pi / di  # strictly below mu: an active coordinate is 0 where it joined
                if best < t < mu * (1 - eps):
                    best, event = t, ("leave", int(idx[i]), 0.0)
        q0 = float(p @ A[np.ix_(idx, idx)] @ p + g[idx] @ p + const)
        q1 = float(2 * p @ A[np.ix_(idx, idx)] @ d + g[idx] @ d)
        q2 = float(d @ A[np.ix_(idx, idx)] @ d)
        pieces.append(_Piece(best, mu, idx, p, d, (q0, q1, q2), (abs(k) + float(s @ p), float(s @ d))))
        if event is None:
            return pieces
        kind, j, sign = event
        last = (kind, j)
        if kind == "join":
            active.append(j)
            signs[j] = sign
        else:
            active.remove(j)
            del signs[j]
        mu = best
    raise ValidationError("HonestDiD FLCI: the lasso path of the bias-variance frontier did not terminate; "
                          "check that sigma is a valid covariance matrix or use method='C-LF'.")


def _cv(p: float, r: float) -> float:
    """Exact quantile p of |N(r, 1)| (root of Phi(x - r) - Phi(-x - r) = p, to rounding)."""
    r = abs(r)
    lo, hi = r + special.ndtri(p), r + special.ndtri((1 + p) / 2)
    lo = max(lo, 0.0)
    if hi <= lo:
        return float(hi)
    fun = lambda x: special.ndtr(x - r) - special.ndtr(-x - r) - p  # noqa: E731
    if fun(lo) >= 0:
        return float(lo)
    return float(optimize.brentq(fun, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def _folded_quantile(p: float, mu: float, r_compat: bool) -> float:
    """Quantile of |N(mu, 1)|; ``r_compat`` uses R's 10^6 simulated draws (seed 0)."""
    if not r_compat:
        return _cv(p, mu)
    return float(np.quantile(np.abs(_r_draws() + mu), p))


_DRAWS: list[np.ndarray] = []


def _r_draws() -> np.ndarray:
    if not _DRAWS:
        from evalkit.diagnostics._rrng import r_rnorm
        _DRAWS.append(r_rnorm(10**6, 0))
    return _DRAWS[0]


def _grid(lo: float, hi: float, n: int = 9) -> np.ndarray:
    return np.linspace(lo, hi, n) if hi > lo else np.array([lo])


def flci(betahat, sigma, num_pre: int, l_vec, M: float, alpha: float, r_compat: bool = False) -> FLCI:
    Q, a, c, c0, k, Dd = _parts(sigma, num_pre, l_vec)
    K = num_pre
    m = K - 1
    A, g = Q[:m, :m], a[:m] + 2 * k * Q[:m, m]
    const = float(k * k * Q[m, m] + a[m] * k + c)
    pieces = _lasso_path(A, g, const, k)
    p = 1 - alpha

    def half(piece: _Piece, mu: float) -> float:
        h = np.sqrt(piece.var(mu))
        if not h > 0:
            return np.inf
        return _folded_quantile(p, M * (c0 + piece.bias(mu)) / h, r_compat) * h

    def slope(piece: _Piece, mu: float) -> float:
        """d half / d mu (exact quantile): cv'(r) = (phi(cv - r) - phi(cv + r)) / (phi(cv - r) + phi(cv + r))."""
        v = piece.var(mu)
        h = np.sqrt(v)
        dh = (piece.q[1] + 2 * piece.q[2] * mu) / (2 * h)
        bias = c0 + piece.bias(mu)
        r = M * bias / h
        cv = _cv(p, r)
        dr = M * (piece.b[1] * h - bias * dh) / v
        e1, e2 = stats.norm.pdf(cv - r), stats.norm.pdf(cv + r)
        return float(dh * cv + h * (e1 - e2) / (e1 + e2) * dr)

    # candidates: every breakpoint (mu = 0 is the minimum-variance point, mu_max is h0) and the
    # interior minima of every piece
    cands = [(pc, pc.lo) for pc in pieces] + [(pieces[0], pieces[0].hi)]
    for pc in pieces:
        if not pc.hi > pc.lo:
            continue
        if r_compat:  # R's simulated quantile has no derivative: a bounded search per piece
            res = optimize.minimize_scalar(lambda mu: half(pc, mu), bounds=(pc.lo, pc.hi), method="bounded",
                                           options={"xatol": 1e-10 * pc.hi})
            cands.append((pc, float(res.x)))
            continue
        if M == 0:
            continue  # the half-length is z * h: minimal at the minimum-variance end, a breakpoint
        grid = _grid(pc.lo, pc.hi)
        slopes = [slope(pc, mu) for mu in grid]
        for (x0, s0), (x1, s1) in zip(zip(grid, slopes), zip(grid[1:], slopes[1:])):
            if s0 < 0 < s1:
                root = optimize.brentq(lambda mu: slope(pc, mu), x0, x1, xtol=4 * np.finfo(float).eps * pc.hi,
                                       rtol=4 * np.finfo(float).eps)
                cands.append((pc, float(root)))
    values = [half(pc, mu) for pc, mu in cands]
    best = int(np.argmin(values))
    if not np.isfinite(values[best]):
        raise ValidationError("HonestDiD FLCI: every affine estimator has standard deviation zero; check that "
                              "sigma is a valid covariance matrix or use method='C-LF'.")
    pc, mu = cands[best]
    u = pc.u(mu, m, k)
    hl = values[best]
    w_all = np.r_[Dd @ u, l_vec]
    est = float(w_all @ betahat)
    return FLCI(est - hl, est + hl, hl, w_all, float(np.sqrt(pc.var(mu))), M * (c0 + pc.bias(mu)))
