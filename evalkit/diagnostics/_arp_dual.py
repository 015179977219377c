"""Truncation bounds of the ARP conditional test when the LP is degenerate
(HonestDiD ``.vlo_vup_dual_fn``): vlo/vup are the values c at which the vertex
gamma of the dual LP stops being optimal, found by a secant-like iteration and
then bisection, exactly as in the R package (tolerances 1e-6)."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

_TOL_C = 1e-6
_TOL_EQ = 1e-6
_SWITCH_ITERS = 10
_MAX_ITERS = 10000
_ROUND_EPS = np.finfo(float).eps ** 0.75


def _max_program(s_T, b, W_T, c):
    """max_x (s_T + b c)' x  s.t. W_T' x = e1, x >= 0; returns (value, x) or (nan, None)."""
    f = s_T + b * c
    beq = np.zeros(W_T.shape[1])
    beq[0] = 1.0
    res = linprog(-f, A_eq=W_T.T, b_eq=beq, bounds=(0, None), method="highs")
    if res.status != 0:
        return np.nan, None
    return -res.fun, res.x


def _is_solution(c, s_T, b, W_T):
    value, x = _max_program(s_T, b, W_T, c)
    return (abs(c - value) <= _TOL_EQ) if x is not None else False, x


def _next_mid(x, s_T, b) -> float:
    num = float(x @ s_T)
    num = 0.0 if abs(num) < _ROUND_EPS else num
    return num / (1.0 - float(x @ b))


def _search(start, eta, s_T, b, W_T, upper: bool) -> float:
    ok, x = _is_solution(start, s_T, b, W_T)
    if ok:
        return np.inf if upper else -np.inf
    dif, iters = 0.0, 1
    mid = _next_mid(x, s_T, b) if x is not None else start
    while True:
        ok, x = _is_solution(mid, s_T, b, W_T)
        if ok or iters >= _MAX_ITERS:
            break
        iters += 1
        if iters >= _SWITCH_ITERS or x is None:
            dif = _TOL_C + 1
            break
        mid = _next_mid(x, s_T, b)
    lo, hi = (eta, mid) if upper else (mid, eta)
    while dif > _TOL_C and iters < _MAX_ITERS:
        iters += 1
        mid = (lo + hi) / 2
        inside = _is_solution(mid, s_T, b, W_T)[0]
        if inside == upper:
            lo = mid
        else:
            hi = mid
        dif = hi - lo
    return mid


def vlo_vup_dual(eta: float, y, X, sigma, gamma):
    """(vlo, vup) of the conditioning interval for the dual vertex ``gamma``."""
    sd = np.sqrt(np.diag(sigma))
    W_T = np.column_stack([sd, X])
    gsg = float(gamma @ sigma @ gamma)
    b = sigma @ gamma / gsg
    s_T = y - b * float(gamma @ y)
    if not _is_solution(eta, s_T, b, W_T)[0]:
        return eta, np.inf
    sd_B = np.sqrt(gsg)
    vup = _search(max(100.0, eta + 20 * sd_B), eta, s_T, b, W_T, upper=True)
    vlo = _search(min(-100.0, eta - 20 * sd_B), eta, s_T, b, W_T, upper=False)
    return vlo, vup
