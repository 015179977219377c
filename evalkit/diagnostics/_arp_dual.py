"""Truncation bounds of the ARP conditional test when the LP is degenerate
(Andrews, Roth & Pakes 2023; HonestDiD ``.vlo_vup_dual_fn``): vlo/vup are the values c
at which the vertex gamma of the dual LP stops being optimal, found by a secant-like
iteration and then bisection, exactly as in the R package (tolerances 1e-6). The LPs
go through ``lp`` (``_arp_lp``); comparisons within rounding of a tolerance raise
``Ambiguous`` when ``lp`` answers from cached bases."""
from __future__ import annotations

import numpy as np

from evalkit.diagnostics._arp_lp import ExactLP, guard

_TOL_C = 1e-6
_TOL_EQ = 1e-6
_SWITCH_ITERS = 10
_MAX_ITERS = 10000
_ROUND_EPS = np.finfo(float).eps ** 0.75
_BAND = 1e-9  # relative to max(1, |c|): |c - V(c)| this close to _TOL_EQ is too close to call


def _max_program(s_T, b, lp, c):
    """max_x (s_T + b c)' x  s.t. W'x = e1, x >= 0; returns (value, x) or (nan, None)."""
    return lp.max_program(s_T + b * c)


def _is_solution(c, s_T, b, lp, site=None):
    """(|c - V(c)| <= tol, the maximiser x at c); V(c) = max (s_T + b c)'x over the dual polytope.

    ``site`` labels the call for the cached LP's basis hint (no effect on the result)."""
    if lp.approximate:
        known = _bracketed(c, s_T + b * c, lp, site)
        if known is not None:
            return known
        value, x = lp.solve_max(s_T + b * c)
    else:
        value, x = _max_program(s_T, b, lp, c)
    if x is None:
        return False, x
    guard(lp, abs(c - value), _TOL_EQ, _BAND * max(1.0, abs(c)))
    return abs(c - value) <= _TOL_EQ, x


def _bracketed(c, f, lp, site):
    """The answer of :func:`_is_solution` from cached bases, or None if they cannot settle it.

    Inside the tolerance only the verdict is used; outside, the maximiser x must be unique."""
    lo, hi, x = lp.max_bounds(f, site)
    band = _BAND * max(1.0, abs(c))
    if c - _TOL_EQ + band <= lo and hi <= c + _TOL_EQ - band:
        return True, x
    if x is not None and (hi < c - _TOL_EQ - band or lo > c + _TOL_EQ + band):
        return False, x
    return None


def _next_mid(x, s_T, b, lp) -> float:
    num = float(x @ s_T)
    guard(lp, abs(num), _ROUND_EPS, 1e-3 * _ROUND_EPS)
    num = 0.0 if abs(num) < _ROUND_EPS else num
    return num / (1.0 - float(x @ b))


def _search(start, eta, s_T, b, lp, upper: bool) -> float:
    ok, x = _is_solution(start, s_T, b, lp, ("start", upper))
    if ok:
        return np.inf if upper else -np.inf
    dif, iters = 0.0, 1
    mid = _next_mid(x, s_T, b, lp) if x is not None else start
    while True:
        ok, x = _is_solution(mid, s_T, b, lp, ("mid", upper, iters))
        if ok or iters >= _MAX_ITERS:
            break
        iters += 1
        if iters >= _SWITCH_ITERS or x is None:
            dif = _TOL_C + 1
            break
        mid = _next_mid(x, s_T, b, lp)
    lo, hi = (eta, mid) if upper else (mid, eta)
    while dif > _TOL_C and iters < _MAX_ITERS:
        iters += 1
        mid = (lo + hi) / 2
        inside = _is_solution(mid, s_T, b, lp, ("bisect", upper))[0]
        if inside == upper:
            lo = mid
        else:
            hi = mid
        dif = hi - lo
        guard(lp, dif, _TOL_C, 1e-9 * _TOL_C)
    return mid


def vlo_vup_dual(eta: float, y, X, sigma, gamma, lp=None):
    """(vlo, vup) of the conditioning interval for the dual vertex ``gamma``."""
    if lp is None:
        lp = ExactLP(np.column_stack([np.sqrt(np.diag(sigma)), X]))
    gsg = float(gamma @ sigma @ gamma)
    b = sigma @ gamma / gsg
    s_T = y - b * float(gamma @ y)
    if not _is_solution(eta, s_T, b, lp, "eta")[0]:
        return eta, np.inf
    sd_B = np.sqrt(gsg)
    vup = _search(max(100.0, eta + 20 * sd_B), eta, s_T, b, lp, upper=True)
    vlo = _search(min(-100.0, eta - 20 * sd_B), eta, s_T, b, lp, upper=False)
    return vlo, vup
