"""Doubly robust 2x2 DiD for repeated cross-sections, computed block by block.

The same estimator as :func:`evalkit.estimators.staggered._drdid.rc` with
``method="dr"`` (Sant'Anna & Zhao 2020, eq. 3.4, the locally efficient DR DiD;
R ``DRDID::drdid_rc`` as called by ``did::att_gt``, Callaway & Sant'Anna 2021),
rearranged for speed without changing a formula:

* a cell's rows come as four blocks, (post, treated), (post, control),
  (base, treated), (base, control), each a view into the period-sorted design
  (no gathering of rows);
* the four outcome regressions need only each block's moments x'Wx and x'Wy,
  which do not depend on the cell: :class:`Moments` of every (period, cohort)
  block are computed once and shared by all cells that use the block;
* every term of the influence function is zero outside one or two blocks, so it
  is formed block by block from a few linear forms x @ b, in two passes
  (fitted values and sums, then the influence values).

Only floating-point summation order differs from ``_drdid.rc`` (tests check 1e-10).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.estimators.staggered._drdid import (TRIM_LEVEL, CellError, Warm, _gram, _solve, newton, newton_sums,
                                                 warm_start)


@dataclass(frozen=True, slots=True)
class Moments:
    """Sufficient statistics of a weighted least-squares fit on one block (raw weights)."""

    gram: np.ndarray   # x' W x
    xwy: np.ndarray    # x' W y

    def __add__(self, other: "Moments") -> "Moments":
        return Moments(self.gram + other.gram, self.xwy + other.xwy)


def moments(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Moments:
    return Moments(_gram(x, w), x.T @ (w * y))


@dataclass(frozen=True, slots=True)
class Block:
    """Rows of one block of a cell (views or copies of the design's period-sorted rows)."""

    y: np.ndarray
    x: np.ndarray
    w: np.ndarray       # raw sampling weights
    unit: np.ndarray    # influence row of each row (unique within the block)
    mom: Moments


@dataclass(frozen=True, slots=True)
class _Ols:
    beta: np.ndarray
    a: np.ndarray       # (x'Wx / n)^-1 with the cell's normalised weights (DRDID asy.lin.rep.ols)


def _ols(mom: Moments, scale: float, n: int, what: str) -> _Ols:
    xpx = mom.gram / scale
    beta = _solve(xpx, mom.xwy / scale, what)
    return _Ols(beta, _solve(xpx / n, np.eye(xpx.shape[0]), what))


def logit(xs: list, ds: list, ws: list, start=None, max_iter: int = 50, tol: float = 1e-10):
    """Weighted logit of d on x over blocks with constant d (Newton-Raphson = R glm IRLS).

    As :func:`_drdid.logit` on the stacked rows: returns the fitted probabilities
    per block, n * (X'WX)^-1 and the coefficients.
    """
    n, k = sum(x.shape[0] for x in xs), xs[0].shape[1]
    sw = sum(float(np.sum(w)) for w in ws)
    share = sum(float(np.sum(w)) for w, d in zip(ws, ds) if d == 1.0) / sw
    if k == 1 and all(np.all(x[:, 0] == 1.0) for x in xs):  # intercept only: closed form
        if not 0 < share < 1:
            raise CellError("propensity score: no treated or no control units")
        return [np.full(x.shape[0], share) for x in xs], np.array([[n / (sw * share * (1 - share))]]), \
            Warm(np.array([np.log(share / (1 - share))]), share)
    beta = newton(lambda b: _newton_sums(xs, ds, ws, b)[:2], k, warm_start(start, share), max_iter, tol)
    gram, _, ps = _newton_sums(xs, ds, ws, beta, keep_p=True)
    return ps, n * _solve(gram, np.eye(k), "propensity score"), Warm(beta, share)


def _newton_sums(xs, ds, ws, beta, keep_p: bool = False):
    """Hessian x'diag(w p (1 - p))x and score x'w(d - p) at beta over the blocks (:func:`_drdid.newton_sums`)."""
    k = beta.size
    gram, grad, ps = np.zeros((k, k)), np.zeros(k), []
    for x, d, w in zip(xs, ds, ws):
        p = np.empty(x.shape[0]) if keep_p else None
        g, s = newton_sums(x, d, w, beta, p)
        gram += g
        grad += s
        ps.append(p)
    return gram, grad, ps


def dr(tp: Block, cp: Block, tb: Block, cb: Block, start=None):
    """ATT, the influence values per block (on the cell's scale) and the logit coefficients."""
    blocks = (tp, cp, tb, cb)
    n = sum(b.y.size for b in blocks)
    scale = sum(float(np.sum(b.w)) for b in blocks) / n   # weights normalised to mean one, as DRDID
    w = [b.w / scale for b in blocks]
    ps, hess, coef = logit([b.x for b in blocks], [1.0, 0.0, 1.0, 0.0], w, start)
    ps = [np.minimum(p, 1 - 1e-6) for p in ps]
    fits = {}
    for key, b, what in [("c0", cb, "controls, base period"), ("c1", cp, "controls, current period"),
                         ("t0", tb, "treated, base period"), ("t1", tp, "treated, current period")]:
        fits[key] = _ols(b.mom, scale, n, f"outcome regression ({what})")
    t1 = _treated_pass(tp, w[0], fits["c1"], fits["t1"], fits["t0"], fits["c0"])
    t0 = _treated_pass(tb, w[2], fits["c0"], fits["t0"], fits["t1"], fits["c1"])
    c1 = _control_pass(cp, w[1], ps[1], fits["c1"])
    c0 = _control_pass(cb, w[3], ps[3], fits["c0"])
    sc = _scalars(n, t1, t0, c1, c0)
    h = hess @ (sc["m2_1"] / sc["mc1"] - sc["m2_0"] / sc["mc0"])
    vals = [_treated_values(tp, w[0], ps[0], t1, sc, 1, h, fits["t1"].a @ sc["mom1"]),
            _control_values(cp, w[1], ps[1], c1, sc, 1, h, fits["c1"].a @ sc["v_c1"]),
            _treated_values(tb, w[2], ps[2], t0, sc, 0, h, fits["t0"].a @ sc["mom0"]),
            _control_values(cb, w[3], ps[3], c0, sc, 0, h, fits["c0"].a @ sc["v_c0"])]
    return sc["att"], vals, coef


def _treated_pass(b: Block, w, own_c, own_t, other_t, other_c) -> dict:
    """Fitted values on a treated block of period p: r = y - x b_c(p), delta_p, delta_other, x'w."""
    u = b.x @ np.column_stack([own_c.beta, own_t.beta, other_t.beta, other_c.beta])
    r = b.y - u[:, 0]
    d_own, d_other = u[:, 1] - u[:, 0], u[:, 2] - u[:, 3]
    return {"r": r, "res_t": b.y - u[:, 1], "d_own": d_own, "d_other": d_other, "sw": float(np.sum(w)),
            "swr": float(w @ r), "sw_own": float(w @ d_own), "sw_other": float(w @ d_other), "xw": b.x.T @ w}


def _control_pass(b: Block, w, ps, fit) -> dict:
    """Residuals r = y - x b_c(p) and the odds weights w ps / (1 - ps) of untrimmed controls."""
    r = b.y - b.x @ fit.beta
    wc = np.where(ps < TRIM_LEVEL, w * ps / (1 - ps), 0.0)
    swc, swcr = float(np.sum(wc)), float(wc @ r)
    return {"r": r, "wc": wc, "swc": swc, "swcr": swcr, "xw": b.x.T @ wc, "xwr": b.x.T @ (wc * r)}


def _scalars(n, t1, t0, c1, c0) -> dict:
    """Hajek means, the ATT and the moment vectors of the linear representations (DRDID drdid_rc)."""
    mt1, mt0 = t1["sw"] / n, t0["sw"] / n
    mc1, mc0 = c1["swc"] / n, c0["swc"] / n
    for m, what in [(mt0, "pre-period treated"), (mt1, "post-period treated"), (mc0, "pre-period control"),
                    (mc1, "post-period control")]:
        if m <= 0:
            raise CellError(f"no {what} units with positive weight")
    md = mt1 + mt0
    a_t1, a_t0 = t1["swr"] / (n * mt1), t0["swr"] / (n * mt0)
    a_c1, a_c0 = c1["swcr"] / (n * mc1), c0["swcr"] / (n * mc0)
    a_d1, a_dt1 = (t1["sw_own"] + t0["sw_other"]) / (n * md), t1["sw_own"] / (n * mt1)
    a_d0, a_dt0 = (t0["sw_own"] + t1["sw_other"]) / (n * md), t0["sw_own"] / (n * mt0)
    att = (a_t1 - a_t0) - (a_c1 - a_c0) + (a_d1 - a_dt1) - (a_d0 - a_dt0)
    c_t1, c_t0 = t1["xw"] / n, t0["xw"] / n
    c_c1, c_c0 = c1["xw"] / n, c0["xw"] / n
    mom1 = c_t1 * (1 / md - 1 / mt1) + c_t0 / md
    mom0 = c_t1 / md + c_t0 * (1 / md - 1 / mt0)
    return {"att": att, "mt1": mt1, "mt0": mt0, "mc1": mc1, "mc0": mc0, "md": md, "a_t1": a_t1, "a_t0": a_t0,
            "a_c1": a_c1, "a_c0": a_c0, "a_d1": a_d1, "a_dt1": a_dt1, "a_d0": a_d0, "a_dt0": a_dt0,
            "m2_1": (c1["xwr"] - a_c1 * c1["xw"]) / n, "m2_0": (c0["xwr"] - a_c0 * c0["xw"]) / n,
            "mom1": mom1, "mom0": mom0, "v_c1": c_c1 / mc1 - c_t1 / mt1 - mom1,
            "v_c0": c_c0 / mc0 - c_t0 / mt0 + mom0}


def _treated_values(b: Block, w, ps, t: dict, sc: dict, post: int, h, g) -> np.ndarray:
    """Influence on a treated block: Hajek terms, the logit's and the treated regression's terms.

    post: w [(r - a_t1)/mt1 + (d1 - a_d1)/md - (d1 - a_dt1)/mt1 - (d0 - a_d0)/md
             - (1 - ps) x'h + (y - x b_t1) x'g]
    base: w [-(r - a_t0)/mt0 + (d1 - a_d1)/md - (d0 - a_d0)/md + (d0 - a_dt0)/mt0
             - (1 - ps) x'h - (y - x b_t0) x'g]
    """
    md = sc["md"]
    v = b.x @ np.column_stack([h, g])
    if post:
        mt = sc["mt1"]
        const = -sc["a_t1"] / mt - sc["a_d1"] / md + sc["a_dt1"] / mt + sc["a_d0"] / md
        out = t["r"] / mt + t["d_own"] * (1 / md - 1 / mt) - t["d_other"] / md + t["res_t"] * v[:, 1]
    else:
        mt = sc["mt0"]
        const = sc["a_t0"] / mt - sc["a_d1"] / md + sc["a_d0"] / md - sc["a_dt0"] / mt
        out = -t["r"] / mt + t["d_other"] / md + t["d_own"] * (1 / mt - 1 / md) - t["res_t"] * v[:, 1]
    out -= (1 - ps) * v[:, 0]
    out += const
    out *= w
    return out


def _control_values(b: Block, w, ps, c: dict, sc: dict, post: int, h, f) -> np.ndarray:
    """Influence on a control block: -+ wc (r - a_c)/mc + w ps x'h + w r x'f (post: minus; base: plus)."""
    mc, a_c = (sc["mc1"], sc["a_c1"]) if post else (sc["mc0"], sc["a_c0"])
    v = b.x @ np.column_stack([h, f])
    out = c["wc"] * ((c["r"] - a_c) / (-mc if post else mc))
    out += w * (ps * v[:, 0] + c["r"] * v[:, 1])
    return out
