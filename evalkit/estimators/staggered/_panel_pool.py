"""Every cell of a balanced panel's control pool from one pass over its units.

The cells of a cohort with never-treated controls (and the not-yet-treated cells whose control
units coincide) share their treated and control units, hence their propensity score and the
controls' outcome-regression Gram (:class:`~evalkit.estimators.staggered._drdid.PanelNuisance`).
Given that nuisance fit, the panel kernels of Sant'Anna & Zhao (2020) (DRDID ``drdid_panel``,
``std_ipw_did_panel``, ``reg_did_panel``; :func:`_drdid.panel`) are *linear* in the outcome change
``dy = y_t - y_base``. Collecting terms, the influence function of a cell is

    inf = c0 * dy + Z @ coef,

with a pool vector ``c0`` and a pool matrix ``Z`` (n x (2k+2)) that do not depend on the outcome,
and ``coef`` (2k+2) computed from ``V' dy`` (one more pool matrix). So each cell costs two matrix
products and one scaled vector instead of the ~30 vector passes of the direct formula; a chunk of
cells is one matrix product each. :func:`_drdid.panel` stays the readable transcription of DRDID
and the tests hold the two equal.

Derivation (DR; ``w_t, w_c, mt, mc`` the IPW weights and their means, ``G = x'diag(w_ols)x``,
``A = n G^-1``, ``e_ps, a_ps`` the score's linear representation, ``s_t = x'w_t``,
``s_c = x'w_c``, ``H_c = x'diag(w_c)x``)::

    beta  = G^-1 x'(w_ols dy),          r = dy - x beta
    eta_t = (w_t'dy - s_t'beta) / (n mt),  eta_c = (w_c'dy - s_c'beta) / (n mc)
    m2    = (x'(w_c dy) - H_c beta - eta_c s_c) / n
    c0    = (w_t - w_ols (x A s_t/n)) / mt - (w_c - w_ols (x A s_c/n)) / mc
    inf   = c0 dy - (c0 x) beta - w_t eta_t/mt + w_c eta_c/mc - (e_ps x)(a_ps m2)/mc

IPW is the same with ``beta = 0`` and no outcome-regression terms in ``c0``; the outcome
regression (``reg``) has ``c0 = (w_t - w_ols (x A s_t/n)) / mt`` and the ``w_t`` coefficient
``-(eta_t - eta_c)/mt`` with ``eta_c = s_t'beta / (n mt)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.estimators.staggered import _drdid


@dataclass(frozen=True, slots=True)
class PoolMap:
    """The outcome-free part of a pool's cells: ``inf = c0 * dy + z @ coef(v' dy)``."""

    method: str
    c0: np.ndarray  # n
    z: np.ndarray  # n x (2k+2): [c0 x, w_t, w_c, e_ps x]
    v: np.ndarray  # n x (2k+2): [w_ols x, w_t, w_c, w_c x]
    nu: _drdid.PanelNuisance
    mt: float  # mean of the treated weights
    s_t: np.ndarray
    s_c: np.ndarray
    h_c: np.ndarray


def pool_map(method: str, d: np.ndarray, x: np.ndarray, nu: _drdid.PanelNuisance) -> PoolMap:
    """The pool vectors and matrices of the module docstring's derivation."""
    n, k = x.shape
    w_t = nu.w * d if method == "reg" else nu.w_t
    mt = _drdid._mean_pos(w_t, "treated") if method == "reg" else nu.mt
    w_c = np.zeros(n) if method == "reg" else nu.w_c
    s_t, s_c = x.T @ w_t, x.T @ w_c
    c0 = w_t / mt
    if method != "reg":
        c0 = c0 - w_c / nu.mc
    if method != "ipw":
        c0 = c0 - nu.w_ols * (x @ (nu.ols.inv_n @ s_t)) / (n * mt)
    if method == "dr":
        c0 = c0 + nu.w_ols * (x @ (nu.ols.inv_n @ s_c)) / (n * nu.mc)
    e_ps = nu.lin_ps.e if nu.lin_ps is not None else np.zeros(n)
    z, v = _stack(x, c0, w_t, w_c, e_ps), _stack(x, nu.w_ols, w_t, w_c, w_c)
    return PoolMap(method, c0, z, v, nu, mt, s_t, s_c, v[:, k + 2:].T @ x)


def _stack(x: np.ndarray, a: np.ndarray, w_t: np.ndarray, w_c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[a x, w_t, w_c, b x]`` (n x (2k+2)), written in place (no n x k temporaries)."""
    n, k = x.shape
    out = np.empty((n, 2 * k + 2), order="F")  # columns: fast products with x (column-major)
    np.multiply(x, a[:, None], out=out[:, :k])
    out[:, k], out[:, k + 1] = w_t, w_c
    np.multiply(x, b[:, None], out=out[:, k + 2:])
    return out


def pool_columns(pm: PoolMap, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ATTs (m) and influence functions (n x m) of the cells whose outcome changes are the
    columns of ``dy`` (n x m, overwritten by the influence functions); equal to
    :func:`_drdid.panel` column by column."""
    n = dy.shape[0]
    k = (pm.v.shape[1] - 2) // 2
    s = pm.v.T @ dy  # (2k+2) x m
    p_dy, wt_dy, wc_dy, q_dy = s[:k], s[k], s[k + 1], s[k + 2:]
    nu, m = pm.nu, dy.shape[1]
    beta = (np.zeros((k, m)) if pm.method == "ipw" else
            _drdid._solve(nu.ols.xpx, p_dy, "outcome regression", check=False))  # tested in ols_gram
    coef = np.zeros((2 * k + 2, m))
    coef[:k] = -beta
    if pm.method == "reg":
        mt = pm.mt
        eta_t, eta_c = wt_dy / (n * mt), pm.s_t @ beta / (n * mt)
        coef[k] = -(eta_t - eta_c) / mt
        return eta_t - eta_c, _influence(pm, dy, coef)
    eta_t = (wt_dy - pm.s_t @ beta) / (n * pm.mt)
    eta_c = (wc_dy - pm.s_c @ beta) / (n * nu.mc)
    m2 = (q_dy - pm.h_c @ beta - np.outer(pm.s_c, eta_c)) / n
    coef[k], coef[k + 1] = -eta_t / pm.mt, eta_c / nu.mc
    coef[k + 2:] = -(nu.lin_ps.a @ m2) / nu.mc
    return eta_t - eta_c, _influence(pm, dy, coef)


def _influence(pm: PoolMap, dy: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``c0 * dy + z @ coef``, written over dy (one n x m temporary instead of three)."""
    out = np.multiply(dy, pm.c0[:, None], out=dy)
    out += pm.z @ coef
    return out
