"""2x2 DiD kernels of Sant'Anna & Zhao (2020) with influence functions.

Pure functions on arrays, one call per (g, t) cell. They reproduce the R
package DRDID as called by R ``did::att_gt``:

* panel: ``reg_did_panel`` (outcome regression), ``std_ipw_did_panel``
  (normalised IPW) and ``drdid_panel`` ("traditional" doubly robust: logit
  propensity score by maximum likelihood + OLS outcome regression on the
  controls). ``did::att_gt(est_method = "dr")`` calls ``DRDID::drdid_panel``,
  not the improved ``drdid_imp_panel`` (checked in R did ``compute.att_gt``).
* repeated cross-sections: ``reg_did_rc``, ``std_ipw_did_rc`` and
  ``drdid_rc`` (locally efficient DR).

The influence functions are on R's scale: ``att_hat - att ~ mean(inf)``, so
``se = sqrt(sum(inf**2)) / n``. Weights are normalised to mean one inside
each kernel, as DRDID does. Propensity scores are capped at 1 - 1e-6 and
controls with a score >= 0.995 get zero weight (DRDID ``trim.level``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.core import linalg

TRIM_LEVEL = 0.995
CHUNK = 32_768  # rows per step of the logit's sums: temporaries stay in cache


class CellError(Exception):
    """A (g, t) cell cannot be estimated (singular design, no overlap)."""


@dataclass(frozen=True, slots=True)
class CellFit:
    att: float
    inf: np.ndarray  # influence function, one entry per observation of the cell
    ps_coef: Warm | None = None  # the propensity score fit (a warm start for the next cell)


@dataclass(frozen=True, slots=True)
class LinRep:
    """Asymptotic linear representation ``L = diag(e) @ x @ a`` (n x k) of a nuisance fit.

    Never formed: :meth:`dot` returns ``L @ v = e * (x @ (a @ v))`` in O(n),
    which is all the influence functions need (DRDID forms the n x k matrix).
    """

    e: np.ndarray
    a: np.ndarray

    def dot(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.e * (x @ (self.a @ v))


# ----------------------------------------------------------------- nuisance fits
def _solve(a: np.ndarray, b: np.ndarray, what: str, check: bool = True) -> np.ndarray:
    """Scale-invariant solve (:func:`evalkit.core.linalg.solve`); a singular design fails the cell.
    ``check=False``: ``a`` (or a multiple of it: the test is scale-invariant) passed the rank test already."""
    return linalg.solve(a, b, f"{what}: the covariate design", CellError, check=check)


def _gram(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x' diag(w) x."""
    return (x * w[:, None]).T @ x


def wls(x: np.ndarray, y: np.ndarray, w: np.ndarray, what: str) -> np.ndarray:
    """Weighted least-squares coefficients (rows with w = 0 do not count)."""
    return _solve(_gram(x, w), x.T @ (w * y), what)


def ols_fit(x: np.ndarray, y: np.ndarray, w_ols: np.ndarray, n: int, what: str,
            rows: slice = slice(None)) -> tuple[np.ndarray, LinRep]:
    """Weighted OLS fitted values and their linear representation (DRDID ``asy.lin.rep.ols``).

    ``rows``: a slice holding every row with a non-zero weight (the others add exact zeros).
    """
    return ols_apply(x, y, w_ols, ols_gram(x, w_ols, n, what, rows), what, rows)


@dataclass(frozen=True, slots=True)
class OlsGram:
    """x'Wx and n (x'Wx)^-1 of an outcome regression: shared by every outcome on the same rows."""

    xpx: np.ndarray
    inv_n: np.ndarray


def ols_gram(x: np.ndarray, w_ols: np.ndarray, n: int, what: str, rows: slice = slice(None)) -> OlsGram:
    xpx = _gram(x[rows], w_ols[rows])
    return OlsGram(xpx, _solve(xpx / n, np.eye(x.shape[1]), what))


def ols_apply(x: np.ndarray, y: np.ndarray, w_ols: np.ndarray, gram: OlsGram, what: str,
              rows: slice = slice(None)) -> tuple[np.ndarray, LinRep]:
    """:func:`ols_fit` for one outcome, from the rows' :class:`OlsGram`."""
    xs, ws = x[rows], w_ols[rows]
    beta = _solve(gram.xpx, xs.T @ (ws * y[rows]), what, check=False)  # tested in ols_gram
    fitted = x @ beta
    return fitted, LinRep(w_ols * (y - fitted), gram.inv_n)


def logit(x: np.ndarray, d: np.ndarray, w: np.ndarray, max_iter: int = 50, tol: float = 1e-10,
          start: "Warm | None" = None):
    """Weighted logistic regression by Newton-Raphson (= R glm IRLS), from ``start`` (another cell's
    fit, :class:`Warm`; default 0).

    Returns fitted probabilities, n * (X'WX)^-1 (DRDID's ``vcov(glm) * n``) and the fit as a :class:`Warm`.
    """
    n, k = x.shape
    sw = float(np.sum(w))
    share = float(np.dot(w, d)) / sw
    if k == 1 and np.all(x[:, 0] == 1.0):  # intercept only: closed form
        if not 0 < share < 1:
            raise CellError("propensity score: no treated or no control units")
        return np.full(n, share), np.array([[n / (sw * share * (1 - share))]]), \
            Warm(np.array([np.log(share / (1 - share))]), share)
    beta = newton(lambda b: newton_sums(x, d, w, b), k, warm_start(start, share), max_iter, tol)
    p = np.empty(n)
    gram, _ = newton_sums(x, d, w, beta, p)
    return p, n * _solve(gram, np.eye(k), "propensity score"), Warm(beta, share)


@dataclass(frozen=True, slots=True)
class Warm:
    """A fitted propensity score as the next cell's starting values: the coefficients (intercept
    first) and the weighted share of treated rows it was fitted on."""

    beta: np.ndarray
    share: float


def warm_start(start: Warm | None, share: float) -> np.ndarray | None:
    """Starting values for a logit on a sample with treated share ``share``: ``start``'s slopes,
    its intercept moved by the change in the log-odds of being treated (cells differ mostly in how
    many controls they have, e.g. not-yet-treated controls; Newton then needs fewer steps to the
    same optimum)."""
    if start is None:
        return None
    beta = np.array(start.beta, dtype=float)
    if 0 < share < 1 and 0 < start.share < 1:
        beta[0] += np.log(share / (1 - share)) - np.log(start.share / (1 - start.share))
    return beta


def newton(sums, k: int, start, max_iter: int, tol: float) -> np.ndarray:
    """Newton-Raphson coefficients of a logit from ``sums(beta) -> (Hessian, score)``, from ``start``
    (default 0); the rank test on the first Hessian (and the caller's on the last), in between a
    plain solve. Converged when a step is below ``tol`` (relative to 1 + max |beta|), or when the
    quadratic convergence of the last two steps puts the next one below a hundredth of that
    (:func:`next_step_negligible`: the pass that would only confirm it is skipped)."""
    beta = np.zeros(k) if start is None else np.asarray(start, float).copy()
    prev = None
    for i in range(max_iter):
        gram, grad = sums(beta)
        step = linalg.solve(gram, grad, "propensity score: the covariate design", CellError, check=i == 0)
        beta = beta + step
        size, bound = float(np.max(np.abs(step))), tol * (1 + float(np.max(np.abs(beta))))
        if size < bound or next_step_negligible(size, prev, bound):
            return beta
        prev = size
    raise CellError("propensity score: the logit did not converge (perfect separation?)")


def next_step_negligible(size: float, prev: float | None, bound: float) -> bool:
    """Newton's steps near the optimum shrink quadratically, ``s_next ~ C s^2`` with ``C`` estimated
    by ``s / prev^2`` (Nocedal & Wright 2006, Thm. 3.5): True when ``s`` is small (< 1e-4), the
    steps shrink faster than linearly, and the predicted next step is below ``bound / 100`` -- the
    coefficients after this step are then within rounding of the optimum the confirming pass
    would reach (measured: that pass moved them by 1e-16 to 4e-16)."""
    if prev is None or not (size < 1e-4 and size < 1e-2 * prev):
        return False
    return (size / prev ** 2) * size ** 2 < 1e-2 * bound


def newton_sums(x: np.ndarray, d, w: np.ndarray, beta: np.ndarray, p_out: np.ndarray | None = None):
    """The logit's Hessian ``x'diag(w p (1 - p))x`` and score ``x'w(d - p)`` at beta, summed over
    cache-sized chunks of rows (no row-length temporaries); ``d`` an array or one value for all
    rows; ``p_out`` receives the probabilities."""
    k = beta.size
    gram, grad = np.zeros((k, k)), np.zeros(k)
    for a in range(0, x.shape[0], CHUNK):
        xc, wc = x[a:a + CHUNK], w[a:a + CHUNK]
        p = _sigmoid(xc @ beta)
        grad += xc.T @ (wc * ((d[a:a + CHUNK] if np.ndim(d) else d) - p))
        if p_out is not None:
            p_out[a:a + CHUNK] = p
        p *= 1 - p
        p *= wc
        gram += _gram(xc, p)
    return gram, grad


def _sigmoid(eta: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-clip(eta, -35, 35)))``, in place."""
    np.clip(eta, -35, 35, out=eta)
    np.negative(eta, out=eta)
    np.exp(eta, out=eta)
    eta += 1.0
    return np.reciprocal(eta, out=eta)


def _pscore(x, d, w, start=None):
    ps, hess_n, coef = logit(x, d, w, start=start)
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL)
    return ps, trim.astype(float), LinRep(w * (d - ps), hess_n), coef


def _mean_pos(v: np.ndarray, what: str) -> float:
    m = float(np.mean(v))
    if m <= 0:
        raise CellError(f"no {what} units with positive weight")
    return m


def _colmeans(x: np.ndarray, *vs: np.ndarray) -> list[np.ndarray]:
    """Column means of x weighted by each v (one matrix product for all)."""
    out = np.array(vs) @ x / x.shape[0]  # (m x n) @ (n x k): contiguous rows, one BLAS call
    return list(out)


# ------------------------------------------------------------------------ panel
@dataclass(frozen=True, slots=True)
class PanelNuisance:
    """What a panel cell computes before it sees the outcome: normalised weights, the propensity
    score and its linear representation, the IPW weights and the controls' outcome-regression Gram.
    Cells with the same treated and control units (every period of a cohort with never-treated
    controls) share it: :func:`panel` then gives exactly what it gives alone."""

    w: np.ndarray
    ols: OlsGram | None
    w_ols: np.ndarray
    lin_ps: LinRep | None = None
    w_t: np.ndarray | None = None
    w_c: np.ndarray | None = None
    mt: float = 0.0
    mc: float = 0.0
    ps_coef: np.ndarray | None = None


def panel_nuisance(method: str, d: np.ndarray, x: np.ndarray, w: np.ndarray,
                   start: Warm | None = None) -> PanelNuisance:
    """The outcome-free part of :func:`panel` (its cell errors are raised here); ``start``: the
    propensity-score logit's starting values (another cell's fit; Newton ends at the same optimum)."""
    w = w / np.mean(w)
    n = w.size
    w_ols = w * (1 - d)
    if method == "reg":
        return PanelNuisance(w, ols_gram(x, w_ols, n, "outcome regression"), w_ols)
    ps, trim, lin_ps, coef = _pscore(x, d, w, start)  # the score's errors come first, as in DRDID
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    mt, mc = _mean_pos(w_t, "treated"), _mean_pos(w_c, "control")
    ols = ols_gram(x, w_ols, n, "outcome regression") if method == "dr" else None
    return PanelNuisance(w, ols, w_ols, lin_ps, w_t, w_c, mt, mc, coef)


def panel(method: str, dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray,
          nuisance: PanelNuisance | None = None) -> CellFit:
    """ATT and influence function from outcome changes dy = y_t - y_base (``nuisance``: the cell's
    :func:`panel_nuisance`, when already computed for another cell on the same units)."""
    nu = panel_nuisance(method, d, x, w) if nuisance is None else nuisance
    n = dy.size
    if method == "reg":
        return _panel_reg(dy, d, x, nu, n)
    w_t, w_c, mt, mc, lin_ps = nu.w_t, nu.w_c, nu.mt, nu.mc, nu.lin_ps
    if method == "ipw":
        att_t, att_c = w_t * dy, w_c * dy
        eta_t, eta_c = att_t.mean() / mt, att_c.mean() / mc
        inf_t = (att_t - w_t * eta_t) / mt
        (m2,) = _colmeans(x, w_c * (dy - eta_c))
        inf_c = (att_c - w_c * eta_c + lin_ps.dot(x, m2)) / mc
        return CellFit(eta_t - eta_c, inf_t - inf_c)
    out, lin_ols = ols_apply(x, dy, nu.w_ols, nu.ols, "outcome regression")
    r = dy - out
    att_t, att_c = w_t * r, w_c * r
    eta_t, eta_c = att_t.mean() / mt, att_c.mean() / mc
    m1, m2, m3 = _colmeans(x, w_t, w_c * (r - eta_c), w_c)
    inf_t = (att_t - w_t * eta_t - lin_ols.dot(x, m1)) / mt
    inf_c = (att_c - w_c * eta_c + lin_ps.dot(x, m2) - lin_ols.dot(x, m3)) / mc
    return CellFit(eta_t - eta_c, inf_t - inf_c)


def _panel_reg(dy, d, x, nu, n):
    out, lin_ols = ols_apply(x, dy, nu.w_ols, nu.ols, "outcome regression")
    w_t = nu.w * d
    mt = _mean_pos(w_t, "treated")
    att_t, att_c = w_t * dy, w_t * out
    eta_t, eta_c = att_t.mean() / mt, att_c.mean() / mt
    (m1,) = _colmeans(x, w_t)
    inf_t = (att_t - w_t * eta_t) / mt
    inf_c = (att_c - w_t * eta_c + lin_ols.dot(x, m1)) / mt
    return CellFit(eta_t - eta_c, inf_t - inf_c)


# ---------------------------------------------------------- repeated cross-sections
def rc(method: str, y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray,
       start: Warm | None = None) -> CellFit:
    """ATT and influence function from pooled rows of the base and the current period.

    ``start``: starting values of the propensity-score logit. Rows sorted in the
    blocks (post, treated), (post, control), (base, treated), (base, control)
    let the outcome regressions read only their block; any order gives the same result.
    """
    w = w / np.mean(w)
    n = y.size
    blocks = _blocks(post, d)
    if method == "reg":
        return _rc_reg(y, post, d, x, w, n, blocks)
    ps, trim, lin_ps, coef = _pscore(x, d, w, start)
    wt0, wt1 = trim * w * d * (1 - post), trim * w * d * post
    odds = ps * (1 - d) / (1 - ps)
    wc0, wc1 = trim * w * odds * (1 - post), trim * w * odds * post
    if method == "ipw":
        fit = _rc_ipw(y, x, wt0, wt1, wc0, wc1, lin_ps)
    else:
        fit = _rc_dr(y, post, d, x, w, n, wt0, wt1, wc0, wc1, lin_ps, blocks)
    return CellFit(fit.att, fit.inf, coef)


def _blocks(post: np.ndarray, d: np.ndarray) -> dict:
    """Slices of the (post, d) groups when the rows come sorted in blocks, else whole-array slices."""
    code = 2 * post + d
    if code.size > 1 and np.any(code[1:] > code[:-1]):
        return {key: slice(None) for key in [(1, 1), (1, 0), (0, 1), (0, 0)]}
    ends = np.cumsum([np.count_nonzero(code == c) for c in (3, 2, 1, 0)])
    starts = np.concatenate([[0], ends[:-1]])
    return {key: slice(int(a), int(b)) for key, a, b in zip([(1, 1), (1, 0), (0, 1), (0, 0)], starts, ends)}


def _hajek(weight: np.ndarray, value: np.ndarray, what: str):
    """Weighted mean and its influence function (value - mean) * weight / mean(weight)."""
    m = _mean_pos(weight, what)
    eta = weight * value / m
    att = float(eta.mean())
    return att, eta - weight * att / m


def _rc_ipw(y, x, wt0, wt1, wc0, wc1, lin_ps):
    a_t0, i_t0 = _hajek(wt0, y, "pre-period treated")
    a_t1, i_t1 = _hajek(wt1, y, "post-period treated")
    a_c0, i_c0 = _hajek(wc0, y, "pre-period control")
    a_c1, i_c1 = _hajek(wc1, y, "post-period control")
    m2_0, m2_1 = _colmeans(x, wc0 * (y - a_c0) / wc0.mean(), wc1 * (y - a_c1) / wc1.mean())
    inf_c = i_c1 - i_c0 + lin_ps.dot(x, m2_1 - m2_0)
    return CellFit((a_t1 - a_t0) - (a_c1 - a_c0), (i_t1 - i_t0) - inf_c)


def _rc_reg(y, post, d, x, w, n, blocks):
    out0, lin0 = ols_fit(x, y, w * (1 - d) * (1 - post), n, "outcome regression (controls, base period)", blocks[0, 0])
    out1, lin1 = ols_fit(x, y, w * (1 - d) * post, n, "outcome regression (controls, current period)", blocks[1, 0])
    a_t0, i_t0 = _hajek(w * d * (1 - post), y, "pre-period treated")
    a_t1, i_t1 = _hajek(w * d * post, y, "post-period treated")
    w_c = w * d
    mc = _mean_pos(w_c, "treated")
    att_c = w_c * (out1 - out0)
    eta_c = att_c.mean() / mc
    (m1,) = _colmeans(x, w_c)
    inf_c = (att_c - w_c * eta_c + lin1.dot(x, m1) - lin0.dot(x, m1)) / mc
    return CellFit((a_t1 - a_t0) - eta_c, (i_t1 - i_t0) - inf_c)


def _rc_dr(y, post, d, x, w, n, wt0, wt1, wc0, wc1, lin_ps, blocks):
    """Locally efficient DR DiD for repeated cross-sections (Sant'Anna & Zhao 2020, eq. 3.4; DRDID ``drdid_rc``)."""
    oc0, lc0 = ols_fit(x, y, w * (1 - d) * (1 - post), n, "outcome regression (controls, base period)", blocks[0, 0])
    oc1, lc1 = ols_fit(x, y, w * (1 - d) * post, n, "outcome regression (controls, current period)", blocks[1, 0])
    ot0, lt0 = ols_fit(x, y, w * d * (1 - post), n, "outcome regression (treated, base period)", blocks[0, 1])
    ot1, lt1 = ols_fit(x, y, w * d * post, n, "outcome regression (treated, current period)", blocks[1, 1])
    r = y - (post * oc1 + (1 - post) * oc0)
    a_t0, i_t0 = _hajek(wt0, r, "pre-period treated")
    a_t1, i_t1 = _hajek(wt1, r, "post-period treated")
    a_c0, i_c0 = _hajek(wc0, r, "pre-period control")
    a_c1, i_c1 = _hajek(wc1, r, "post-period control")
    w_d, w_d1, w_d0 = w * d, w * d * post, w * d * (1 - post)
    a_d1, i_d1 = _hajek(w_d, ot1 - oc1, "treated")
    a_dt1, i_dt1 = _hajek(w_d1, ot1 - oc1, "post-period treated")
    a_d0, i_d0 = _hajek(w_d, ot0 - oc0, "treated")
    a_dt0, i_dt0 = _hajek(w_d0, ot0 - oc0, "pre-period treated")
    att = (a_t1 - a_t0) - (a_c1 - a_c0) + (a_d1 - a_dt1) - (a_d0 - a_dt0)
    mt1, mt0, mc1, mc0 = wt1.mean(), wt0.mean(), wc1.mean(), wc0.mean()
    c_t1, c_t0, c_c1, c_c0, m2_1, m2_0, mom1, mom0 = _colmeans(
        x, wt1, wt0, wc1, wc0, wc1 * (r - a_c1), wc0 * (r - a_c0),
        w_d / w_d.mean() - w_d1 / w_d1.mean(), w_d / w_d.mean() - w_d0 / w_d0.mean())
    # every linear representation enters once, with its moment vectors summed
    inf = (i_t1 - i_t0) - (i_c1 - i_c0) + (i_d1 - i_dt1) - (i_d0 - i_dt0)
    inf -= lin_ps.dot(x, m2_1 / mc1 - m2_0 / mc0)
    inf += lc1.dot(x, c_c1 / mc1 - c_t1 / mt1 - mom1)
    inf += lc0.dot(x, c_c0 / mc0 - c_t0 / mt0 + mom0)
    inf += lt1.dot(x, mom1) - lt0.dot(x, mom0)
    return CellFit(att, inf)
