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

TRIM_LEVEL = 0.995


class CellError(Exception):
    """A (g, t) cell cannot be estimated (singular design, no overlap)."""


@dataclass(frozen=True, slots=True)
class CellFit:
    att: float
    inf: np.ndarray  # influence function, one entry per observation of the cell


# ----------------------------------------------------------------- nuisance fits
def _solve(a: np.ndarray, b: np.ndarray, what: str) -> np.ndarray:
    if a.shape[0] and np.linalg.cond(a) > 1e12:
        raise CellError(f"{what}: the covariate design is singular (collinear covariates or too few units)")
    return np.linalg.solve(a, b)


def wls(x: np.ndarray, y: np.ndarray, w: np.ndarray, what: str) -> np.ndarray:
    """Weighted least-squares coefficients (rows with w = 0 do not count)."""
    xw = x * w[:, None]
    return _solve(xw.T @ x, xw.T @ y, what)


def ols_lin_rep(x: np.ndarray, resid: np.ndarray, w_ols: np.ndarray, n: int, what: str) -> np.ndarray:
    """Asymptotic linear representation of weighted OLS (n x k), as DRDID."""
    xpx = (x * w_ols[:, None]).T @ x / n
    return (x * (w_ols * resid)[:, None]) @ _solve(xpx, np.eye(x.shape[1]), what)


def logit(x: np.ndarray, d: np.ndarray, w: np.ndarray, max_iter: int = 50, tol: float = 1e-10):
    """Weighted logistic regression by Newton-Raphson (= R glm IRLS).

    Returns fitted probabilities and n * (X'WX)^-1 (DRDID's ``vcov(glm) * n``).
    """
    n, k = x.shape
    beta = np.zeros(k)
    if k == 1 and np.all(x[:, 0] == 1.0):  # intercept only: closed form
        p1 = float(np.sum(w * d) / np.sum(w))
        if not 0 < p1 < 1:
            raise CellError("propensity score: no treated or no control units")
        p = np.full(n, p1)
        return p, n * np.linalg.inv(np.array([[np.sum(w * p * (1 - p))]]))
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -35, 35)
        p = 1.0 / (1.0 + np.exp(-eta))
        wt = w * p * (1 - p)
        step = _solve((x * wt[:, None]).T @ x, x.T @ (w * (d - p)), "propensity score")
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    else:
        raise CellError("propensity score: the logit did not converge (perfect separation?)")
    p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -35, 35)))
    hess = (x * (w * p * (1 - p))[:, None]).T @ x
    return p, n * _solve(hess, np.eye(k), "propensity score")


def _pscore(x, d, w):
    ps, hess_n = logit(x, d, w)
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL)
    lin_rep = (x * (w * (d - ps))[:, None]) @ hess_n
    return ps, trim.astype(float), lin_rep


def _mean_pos(v: np.ndarray, what: str) -> float:
    m = float(np.mean(v))
    if m <= 0:
        raise CellError(f"no {what} units with positive weight")
    return m


# ------------------------------------------------------------------------ panel
def panel(method: str, dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray) -> CellFit:
    """ATT and influence function from outcome changes dy = y_t - y_base."""
    w = w / np.mean(w)
    n = dy.size
    if method == "reg":
        return _panel_reg(dy, d, x, w, n)
    ps, trim, lin_ps = _pscore(x, d, w)
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    mt, mc = _mean_pos(w_t, "treated"), _mean_pos(w_c, "control")
    if method == "ipw":
        att_t, att_c = w_t * dy, w_c * dy
        eta_t, eta_c = att_t.mean() / mt, att_c.mean() / mc
        inf_t = (att_t - w_t * eta_t) / mt
        m2 = ((w_c * (dy - eta_c))[:, None] * x).mean(axis=0)
        inf_c = (att_c - w_c * eta_c + lin_ps @ m2) / mc
        return CellFit(eta_t - eta_c, inf_t - inf_c)
    ctrl = w * (1 - d)
    beta = wls(x, dy, ctrl, "outcome regression")
    out = x @ beta
    lin_ols = ols_lin_rep(x, dy - out, ctrl, n, "outcome regression")
    r = dy - out
    att_t, att_c = w_t * r, w_c * r
    eta_t, eta_c = att_t.mean() / mt, att_c.mean() / mc
    inf_t = (att_t - w_t * eta_t - lin_ols @ (w_t[:, None] * x).mean(axis=0)) / mt
    m2 = ((w_c * (r - eta_c))[:, None] * x).mean(axis=0)
    m3 = (w_c[:, None] * x).mean(axis=0)
    inf_c = (att_c - w_c * eta_c + lin_ps @ m2 - lin_ols @ m3) / mc
    return CellFit(eta_t - eta_c, inf_t - inf_c)


def _panel_reg(dy, d, x, w, n):
    ctrl = w * (1 - d)
    beta = wls(x, dy, ctrl, "outcome regression")
    out = x @ beta
    w_t = w * d
    mt = _mean_pos(w_t, "treated")
    att_t, att_c = w_t * dy, w_t * out
    eta_t, eta_c = att_t.mean() / mt, att_c.mean() / mt
    lin_ols = ols_lin_rep(x, dy - out, ctrl, n, "outcome regression")
    inf_t = (att_t - w_t * eta_t) / mt
    inf_c = (att_c - w_t * eta_c + lin_ols @ (w_t[:, None] * x).mean(axis=0)) / mt
    return CellFit(eta_t - eta_c, inf_t - inf_c)


# ---------------------------------------------------------- repeated cross-sections
def rc(method: str, y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray) -> CellFit:
    """ATT and influence function from pooled rows of the base and the current period."""
    w = w / np.mean(w)
    n = y.size
    if method == "reg":
        return _rc_reg(y, post, d, x, w, n)
    ps, trim, lin_ps = _pscore(x, d, w)
    wt0, wt1 = trim * w * d * (1 - post), trim * w * d * post
    odds = ps * (1 - d) / (1 - ps)
    wc0, wc1 = trim * w * odds * (1 - post), trim * w * odds * post
    if method == "ipw":
        return _rc_ipw(y, x, wt0, wt1, wc0, wc1, lin_ps)
    return _rc_dr(y, post, d, x, w, n, wt0, wt1, wc0, wc1, lin_ps)


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
    m2_0 = ((wc0 * (y - a_c0))[:, None] * x).mean(axis=0) / wc0.mean()
    m2_1 = ((wc1 * (y - a_c1))[:, None] * x).mean(axis=0) / wc1.mean()
    inf_c = i_c1 - i_c0 + lin_ps @ (m2_1 - m2_0)
    return CellFit((a_t1 - a_t0) - (a_c1 - a_c0), (i_t1 - i_t0) - inf_c)


def _or_fit(x, y, wgt, n, what):
    beta = wls(x, y, wgt, what)
    out = x @ beta
    return out, ols_lin_rep(x, y - out, wgt, n, what)


def _rc_reg(y, post, d, x, w, n):
    out0, lin0 = _or_fit(x, y, w * (1 - d) * (1 - post), n, "outcome regression (controls, base period)")
    out1, lin1 = _or_fit(x, y, w * (1 - d) * post, n, "outcome regression (controls, current period)")
    a_t0, i_t0 = _hajek(w * d * (1 - post), y, "pre-period treated")
    a_t1, i_t1 = _hajek(w * d * post, y, "post-period treated")
    w_c = w * d
    mc = _mean_pos(w_c, "treated")
    att_c = w_c * (out1 - out0)
    eta_c = att_c.mean() / mc
    m1 = (w_c[:, None] * x).mean(axis=0)
    inf_c = (att_c - w_c * eta_c + lin1 @ m1 - lin0 @ m1) / mc
    return CellFit((a_t1 - a_t0) - eta_c, (i_t1 - i_t0) - inf_c)


def _rc_dr(y, post, d, x, w, n, wt0, wt1, wc0, wc1, lin_ps):
    oc0, lc0 = _or_fit(x, y, w * (1 - d) * (1 - post), n, "outcome regression (controls, base period)")
    oc1, lc1 = _or_fit(x, y, w * (1 - d) * post, n, "outcome regression (controls, current period)")
    ot0, lt0 = _or_fit(x, y, w * d * (1 - post), n, "outcome regression (treated, base period)")
    ot1, lt1 = _or_fit(x, y, w * d * post, n, "outcome regression (treated, current period)")
    oc = post * oc1 + (1 - post) * oc0
    r = y - oc
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

    def colmean(v):
        return (v[:, None] * x).mean(axis=0)

    inf_t_or = lc1 @ (-colmean(wt1 * post) / wt1.mean()) + lc0 @ (-colmean(wt0 * (1 - post)) / wt0.mean())
    inf_t = i_t1 - i_t0 + inf_t_or
    m2_0 = colmean(wc0 * (r - a_c0)) / wc0.mean()
    m2_1 = colmean(wc1 * (r - a_c1)) / wc1.mean()
    inf_c_or = lc1 @ (-colmean(wc1 * post) / wc1.mean()) + lc0 @ (-colmean(wc0 * (1 - post)) / wc0.mean())
    inf_c = i_c1 - i_c0 + lin_ps @ (m2_1 - m2_0) + inf_c_or
    inf_eff = (i_d1 - i_dt1) - (i_d0 - i_dt0)
    mom1 = colmean(w_d / w_d.mean() - w_d1 / w_d1.mean())
    mom0 = colmean(w_d / w_d.mean() - w_d0 / w_d0.mean())
    inf_or = (lt1 - lc1) @ mom1 - (lt0 - lc0) @ mom0
    return CellFit(att, inf_t - inf_c + inf_eff + inf_or)
