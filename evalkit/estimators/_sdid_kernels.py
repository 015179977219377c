"""Numerical kernels of synthetic difference in differences (pure functions on arrays).

Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021, AER), "Synthetic
Difference-in-Differences", Algorithm 1, with the choices of the authors' R package
``synthdid`` (``synthdid_estimate``, ``sc.weight.fw``):

* One block: ``y`` is (N, T), the first ``n0`` rows are controls, the first ``t0``
  columns pre-treatment periods; the last N1 = N - n0 rows are treated in the last
  T1 = T - t0 periods.
* Noise level: the standard deviation of the first differences of the control outcomes
  in the pre-period. Regularisation ``zeta_omega = (N1 * T1)^(1/4) * noise`` (eq. 2.2),
  ``zeta_lambda = 1e-6 * noise``; stopping rule ``min_decrease = 1e-5 * noise``.
* Unit weights omega and time weights lambda solve penalised least squares on the
  simplex with an intercept (eqs. 2.2-2.3) by Frank-Wolfe on the "collapsed" panel
  (treated units averaged, post periods averaged): 100 iterations, then sparsify (drop
  weights at most max/4, renormalise) and restart, up to 10,000 iterations.
* Estimate: the weighted 2x2 DiD ``(-omega, 1/N1)' y (-lambda, 1/T1)`` (eq. 2.1/Alg. 1).
* Time-varying covariates ``x`` (N, T, K), as R ``sc.weight.fw.covariates`` (Arkhangelsky
  et al. 2021, footnote 4 / sec. 2): Frank-Wolfe steps on omega and lambda alternate with
  gradient steps of size 1/t on beta for the residualised outcome ``y - x beta`` (no
  sparsification); the estimate is the weighted DiD of ``y - x beta``.

Special cases as in ``synthdid``: ``method="sc"`` (``sc_estimate``: omega without
intercept, zeta_omega = 1e-6 * noise, lambda = 0) and ``method="did"``
(``did_estimate``: uniform omega and lambda).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

METHODS = ("sdid", "sc", "did")
#: Frank-Wolfe iterations before sparsifying the weights (R ``max.iter.pre.sparsify``)
MAX_ITER_PRE_SPARSIFY = 100


@dataclass(frozen=True, slots=True)
class Options:
    """Settings of one block fit; replicates re-use the settings of the full-sample fit (as R)."""

    method: str
    noise_level: float
    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int = 10_000


@dataclass(frozen=True, slots=True)
class BlockFit:
    """Weights and the estimate of one block design."""

    estimate: float
    omega: np.ndarray    # (n0,) unit weights of the controls
    lam: np.ndarray      # (t0,) time weights of the pre periods
    n_iter_omega: int
    n_iter_lambda: int
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))   # (K,) covariate coefficients


def noise_level(y0_pre: np.ndarray) -> float:
    """Sd (n - 1) of the first differences of the control outcomes in the pre-period."""
    d = np.diff(np.asarray(y0_pre, float), axis=1)
    return float(np.std(d, ddof=1)) if d.size > 1 else float("nan")


def default_options(y: np.ndarray, n0: int, t0: int, method: str) -> Options:
    """R ``synthdid_estimate`` (``sc_estimate``, ``did_estimate``) defaults for one block."""
    noise = noise_level(y[:n0, :t0])
    n1, t1 = y.shape[0] - n0, y.shape[1] - t0
    zeta_omega = ((n1 * t1) ** 0.25) * noise if method == "sdid" else 1e-6 * noise
    return Options(method=method, noise_level=noise, zeta_omega=zeta_omega, zeta_lambda=1e-6 * noise,
                   omega_intercept=method != "sc", update_omega=method != "did",
                   update_lambda=method == "sdid", min_decrease=1e-5 * noise)


def fixed_weights(opts: Options) -> Options:
    """The same settings with the weights held fixed (the jackknife, Algorithm 3)."""
    return replace(opts, update_omega=False, update_lambda=False)


def start_weights(method: str, n0: int, t0: int) -> tuple[np.ndarray, np.ndarray]:
    """Starting (or fixed) weights: uniform, with lambda = 0 for the synthetic control."""
    lam = np.zeros(t0) if method == "sc" else np.full(t0, 1.0 / t0)
    return np.full(n0, 1.0 / n0), lam


def sum_normalize(x: np.ndarray) -> np.ndarray:
    """x / sum(x), or uniform weights when the sum is 0 (R ``sum_normalize``)."""
    s = x.sum()
    return x / s if s != 0 else np.full(x.size, 1.0 / x.size)


def sparsify(v: np.ndarray) -> np.ndarray:
    """Zero the weights at most max/4 and renormalise (R ``sparsify_function``)."""
    v = np.where(v <= v.max() / 4, 0.0, v)
    return v / v.sum()


def collapsed(y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """(n0 + 1, t0 + 1) panel: treated rows averaged, post columns averaged."""
    top = np.column_stack([y[:n0, :t0], y[:n0, t0:].mean(axis=1)])
    bottom = np.append(y[n0:, :t0].mean(axis=0), y[n0:, t0:].mean())
    return np.vstack([top, bottom])


def frank_wolfe(a: np.ndarray, b: np.ndarray, x: np.ndarray, zeta: float, min_decrease: float,
                max_iter: int) -> tuple[np.ndarray, int]:
    """Minimise ``zeta^2 |x|^2 + |a x - b|^2 / rows`` over the simplex (R ``sc.weight.fw``).

    Frank-Wolfe with exact line search; stops after ``max_iter`` iterations or when the
    objective fell by at most ``min_decrease^2`` in the last one. Returns (x, iterations).
    The iterates are R's; only the bookkeeping differs: with ``G = a'a``, ``c = a'b`` the
    half gradient ``h = G x - c + eta x`` moves to ``(1 - s) h + s q_i`` along a step
    ``s`` towards vertex i (``q_i`` = row i of ``G - 1 c' + eta I``), and the scalars
    ``h'x``, ``c'x``, ``x'x`` (hence the objective) are updated in closed form, so an
    iteration costs a few vector operations and no matrix product.
    """
    rows = a.shape[0]
    eta, z2, md2 = rows * zeta ** 2, zeta ** 2, min_decrease ** 2
    g, c, bb = a.T @ a, a.T @ b, float(b @ b)
    q = g - c[None, :] + eta * np.eye(g.shape[0])
    qd, cl = np.diag(q).tolist(), c.tolist()
    x = np.array(x, dtype=float)
    h = g @ x - c + eta * x
    hx, xc, xx = float(h @ x), float(x @ c), float(x @ x)
    prev = last = np.inf
    t = 0
    while t < max_iter and (t < 2 or prev - last > md2):
        t += 1
        i = int(h.argmin())
        xi, hi = float(x[i]), float(h[i])
        dxx = xx - 2.0 * xi + 1.0                                   # |e_i - x|^2
        gxi = hi + cl[i] - eta * xi                                 # (G x)_i
        xgx = hx + xc - eta * xx                                    # x'G x
        denom = qd[i] + cl[i] - eta - 2.0 * gxi + xgx + eta * dxx   # |a(e_i - x)|^2 + eta |e_i - x|^2
        if dxx > 0 and denom > 0:
            s = min(1.0, max(0.0, -(hi - hx) / denom))
            r = 1.0 - s
            x *= r
            x[i] += s
            h *= r
            h += s * q[i]
            hx = r * r * hx + s * r * (hi + gxi - xc + eta * xi) + s * s * qd[i]
            xc = r * xc + s * cl[i]
            xx = r * r * xx + 2.0 * s * r * xi + s * s
        prev, last = last, z2 * xx + (hx + xc - eta * xx - 2.0 * xc + bb) / rows
    return x, t


def simplex_weights(m: np.ndarray, zeta: float, intercept: bool, start: np.ndarray, min_decrease: float,
                    max_iter: int) -> tuple[np.ndarray, int]:
    """Weights on the columns of ``m[:, :-1]`` fitting its last column, with sparsification.

    With an intercept every column is centred first (the intercept is then free).
    """
    if intercept:
        m = m - m.mean(axis=0)
    a, b = m[:, :-1], m[:, -1]
    w, n1 = frank_wolfe(a, b, start, zeta, min_decrease, MAX_ITER_PRE_SPARSIFY)
    w, n2 = frank_wolfe(a, b, sparsify(w), zeta, min_decrease, max_iter)
    return w, n1 + n2


def block_estimate(y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray) -> float:
    """The weighted DiD ``(-omega, 1/N1)' y (-lambda, 1/T1)``."""
    n1, t1 = y.shape[0] - n0, y.shape[1] - t0
    wu = np.concatenate([-omega, np.full(n1, 1.0 / n1)])
    wt = np.concatenate([-lam, np.full(t1, 1.0 / t1)])
    return float(wu @ (y @ wt))


def fit_block(y: np.ndarray, n0: int, t0: int, opts: Options, omega: np.ndarray | None = None,
              lam: np.ndarray | None = None, x: np.ndarray | None = None) -> BlockFit:
    """Algorithm 1 on one block: weights (re-estimated from the given start, or kept) and estimate.

    ``x`` (N, T, K) holds time-varying covariates (None or K = 0: none).
    """
    o0, l0 = start_weights(opts.method, n0, t0)
    omega = o0 if omega is None else np.asarray(omega, float)
    lam = l0 if lam is None else np.asarray(lam, float)
    if x is not None and x.shape[2] > 0:
        omega, lam, beta, it = covariate_weights(collapsed(y, n0, t0), _collapsed_x(x, n0, t0), opts, omega, lam)
        est = block_estimate(y - x @ beta, n0, t0, omega, lam)
        return BlockFit(estimate=est, omega=omega, lam=lam, n_iter_omega=it, n_iter_lambda=it, beta=beta)
    it_o = it_l = 0
    yc = collapsed(y, n0, t0) if (opts.update_omega or opts.update_lambda) else None
    if opts.update_lambda:
        lam, it_l = simplex_weights(yc[:n0, :], opts.zeta_lambda, True, lam, opts.min_decrease, opts.max_iter)
    if opts.update_omega:
        omega, it_o = simplex_weights(yc[:, :t0].T, opts.zeta_omega, opts.omega_intercept, omega,
                                      opts.min_decrease, opts.max_iter)
    return BlockFit(estimate=block_estimate(y, n0, t0, omega, lam), omega=omega, lam=lam,
                    n_iter_omega=it_o, n_iter_lambda=it_l)


def _collapsed_x(x: np.ndarray, n0: int, t0: int) -> np.ndarray:
    return np.stack([collapsed(x[:, :, j], n0, t0) for j in range(x.shape[2])], axis=2)


def fw_step(a: np.ndarray, x: np.ndarray, b: np.ndarray, eta: float) -> np.ndarray:
    """One Frank-Wolfe step with exact line search for ``|a x - b|^2 + eta |x|^2`` (R ``fw.step``)."""
    ax = a @ x
    half_grad = (ax - b) @ a + eta * x
    i = int(np.argmin(half_grad))
    dx = -x
    dx[i] = 1.0 - x[i]
    d_err = a[:, i] - ax
    denom = d_err @ d_err + eta * (dx @ dx)
    if not np.any(dx != 0) or denom <= 0:
        return x
    return x + min(1.0, max(0.0, -(half_grad @ dx) / denom)) * dx


def _covariate_update(yb: np.ndarray, opts: Options, omega: np.ndarray, lam: np.ndarray):
    """One pass of R's ``update.weights``: a step on lambda and on omega, residuals, objective."""
    n0, t0 = yb.shape[0] - 1, yb.shape[1] - 1
    yl = yb[:n0, :] - yb[:n0, :].mean(axis=0)
    if opts.update_lambda:
        lam = fw_step(yl[:, :t0], lam, yl[:, t0], n0 * opts.zeta_lambda ** 2)
    err_l = yl @ np.append(lam, -1.0)
    yo = yb[:, :t0].T
    if opts.omega_intercept:
        yo = yo - yo.mean(axis=0)
    if opts.update_omega:
        omega = fw_step(yo[:, :n0], omega, yo[:, n0], t0 * opts.zeta_omega ** 2)
    err_o = yo @ np.append(omega, -1.0)
    val = (opts.zeta_omega ** 2 * (omega @ omega) + opts.zeta_lambda ** 2 * (lam @ lam)
           + (err_o @ err_o) / t0 + (err_l @ err_l) / n0)
    return omega, lam, err_o, err_l, val


def covariate_weights(yc: np.ndarray, xc: np.ndarray, opts: Options, omega: np.ndarray, lam: np.ndarray):
    """Joint omega, lambda and beta on the collapsed panel (R ``sc.weight.fw.covariates``).

    Returns (omega, lambda, beta, iterations); beta starts at 0 and takes steps of size 1/t.
    """
    n0, t0 = yc.shape[0] - 1, yc.shape[1] - 1
    beta = np.zeros(xc.shape[2])
    omega, lam, err_o, err_l, _ = _covariate_update(yc, opts, omega.copy(), lam.copy())
    md2, prev, last, t = opts.min_decrease ** 2, np.inf, np.inf, 0
    while t < opts.max_iter and (t < 2 or prev - last > md2):
        t += 1
        wl, wo = np.append(lam, -1.0), np.append(omega, -1.0)
        grad = -np.array([err_l @ (xc[:n0, :, j] @ wl) / n0 + err_o @ (xc[:, :t0, j].T @ wo) / t0
                          for j in range(xc.shape[2])])
        beta = beta - grad / t
        omega, lam, err_o, err_l, val = _covariate_update(yc - xc @ beta, opts, omega, lam)
        prev, last = last, val
    return omega, lam, beta, t
