"""Doubly robust 2x2 DiD for repeated cross-sections, computed block by block.

The same estimator as :func:`evalkit.estimators.staggered._drdid.rc` with
``method="dr"`` (Sant'Anna & Zhao 2020, eq. 3.4, the locally efficient DR DiD;
R ``DRDID::drdid_rc`` as called by ``did::att_gt``, Callaway & Sant'Anna 2021),
rearranged for speed without changing a formula:

* a cell's rows come as four blocks, (post, treated), (post, control),
  (base, treated), (base, control), each a few spans of the design's
  period-sorted rows (no gathering or copying of rows);
* the four outcome regressions need only each block's moments x'Wx and x'Wy,
  which do not depend on the cell: :class:`Moments` of every (period, cohort)
  block are computed once and shared by all cells that use the block;
* every term of the influence function is zero outside one or two blocks, so it
  is formed block by block from a few linear forms x @ b, in two passes over
  cache-sized chunks of rows (sums, then the influence values, handed to the
  caller's ``emit`` chunk by chunk): no temporary is longer than a chunk. The
  propensity scores are recomputed in each pass instead of being stored, and the
  logit's Hessian at the optimum is summed in the first pass (which computes the
  scores anyway) rather than in a pass of its own;
* the raw sampling weights are used throughout and DRDID's normalisation to mean
  one is applied to the sums (the logit's Newton steps do not depend on it).

Only floating-point summation order differs from ``_drdid.rc`` (tests check 1e-10).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from evalkit.estimators.staggered._drdid import (CHUNK, TRIM_LEVEL, CellError, Warm, _gram, _sigmoid, _solve, newton,
                                                 newton_sums, warm_start)

#: ``emit(span_start, start, stop, values)``: the influence values of rows ``start:stop`` (in the span
#: beginning at ``span_start``); ``values`` is a scratch array the callee may overwrite
Emit = Callable[[int, int, int, np.ndarray], None]
PS_CAP = 1 - 1e-6  # propensity scores are capped below one (DRDID)


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
class Rows:
    """The design's period-sorted rows: outcome, covariates (n x k), raw sampling weights."""

    y: np.ndarray
    x: np.ndarray
    w: np.ndarray


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a cell: ascending ``[start, stop)`` spans of :class:`Rows` and their moments."""

    spans: tuple[tuple[int, int], ...]
    mom: Moments

    @property
    def size(self) -> int:
        return sum(b - a for a, b in self.spans)


def _chunks(block: Block):
    """(span start, start, stop) of the block's rows in chunks of at most CHUNK rows."""
    for a, z in block.spans:
        for s in range(a, z, CHUNK):
            yield a, s, min(s + CHUNK, z)


def _weight_sum(rows: Rows, block: Block) -> float:
    return sum(float(np.sum(rows.w[a:z])) for a, z in block.spans)


@dataclass(frozen=True, slots=True)
class Score:
    """The fitted propensity score: coefficients, or one share for an intercept-only logit."""

    beta: np.ndarray
    share: float | None  # intercept only: every score is this share (closed form)

    def at(self, x: np.ndarray) -> np.ndarray:
        """Capped scores of the rows x (a new array)."""
        if self.share is not None:
            return np.full(x.shape[0], min(self.share, PS_CAP))
        p = _sigmoid(x @ self.beta)
        return np.minimum(p, PS_CAP, out=p)


@dataclass(frozen=True, slots=True)
class _Ols:
    beta: np.ndarray
    a: np.ndarray       # (x'Wx / n)^-1 with the cell's normalised weights (DRDID asy.lin.rep.ols)


def _ols(mom: Moments, scale: float, n: int, what: str) -> _Ols:
    xpx = mom.gram / scale
    beta = _solve(xpx, mom.xwy / scale, what)
    return _Ols(beta, _solve(xpx / n, np.eye(xpx.shape[0]), what, check=False))  # xpx tested just above


def logit(rows: Rows, blocks: list, ds: list, scale: float, start=None, max_iter: int = 50, tol: float = 1e-10):
    """Weighted logit of d on x over blocks with constant d (Newton-Raphson = R glm IRLS), weights
    normalised by ``scale``. As :func:`_drdid.logit` on the stacked rows: returns the
    :class:`Score`, n * (X'WX)^-1 in closed form for an intercept-only logit (else None: the
    Hessian at the optimum is summed in the first pass of :func:`dr`, which computes the scores
    anyway) and the coefficients as a :class:`Warm`."""
    n, k = sum(b.size for b in blocks), rows.x.shape[1]
    sums = [_weight_sum(rows, b) for b in blocks]
    share = sum(s for s, d in zip(sums, ds) if d == 1.0) / sum(sums)
    if k == 1 and all(np.all(rows.x[a:z, 0] == 1.0) for b in blocks for a, z in b.spans):  # closed form
        if not 0 < share < 1:
            raise CellError("propensity score: no treated or no control units")
        beta = np.array([np.log(share / (1 - share))])
        return Score(beta, share), np.array([[n / (sum(sums) / scale * share * (1 - share))]]), Warm(beta, share)
    beta = newton(lambda b: _newton_sums(rows, blocks, ds, b), k, warm_start(start, share), max_iter, tol)
    return Score(beta, None), None, Warm(beta, share)


def _newton_sums(rows: Rows, blocks: list, ds: list, beta):
    """Hessian x'diag(w p (1 - p))x and score x'w(d - p) at beta over the blocks' spans (raw weights:
    the Newton step does not depend on their scale)."""
    k = beta.size
    gram, grad = np.zeros((k, k)), np.zeros(k)
    for block, d in zip(blocks, ds):
        for a, z in block.spans:
            g, s = newton_sums(rows.x[a:z], d, rows.w[a:z], beta)
            gram += g
            grad += s
    return gram, grad


def dr(rows: Rows, tp: Block, cp: Block, tb: Block, cb: Block, emit: Emit, fac: float = 1.0, start=None):
    """ATT and the logit coefficients; the influence values (on the cell's scale, times ``fac``)
    go to ``emit`` chunk by chunk."""
    blocks = (tp, cp, tb, cb)
    n = sum(b.size for b in blocks)
    scale = sum(_weight_sum(rows, b) for b in blocks) / n   # weights normalised to mean one, as DRDID
    score, hess, coef = logit(rows, list(blocks), [1.0, 0.0, 1.0, 0.0], scale, start)
    fits = {}
    for key, b, what in [("c0", cb, "controls, base period"), ("c1", cp, "controls, current period"),
                         ("t0", tb, "treated, base period"), ("t1", tp, "treated, current period")]:
        fits[key] = _ols(b.mom, scale, n, f"outcome regression ({what})")
    bt1 = np.column_stack([fits[k].beta for k in ("c1", "t1", "t0", "c0")])
    bt0 = np.column_stack([fits[k].beta for k in ("c0", "t0", "t1", "c1")])
    pgram = None if hess is not None else np.zeros((rows.x.shape[1],) * 2)  # the logit's Hessian at the optimum
    t1, t0 = _treated_sums(rows, tp, bt1, scale, score, pgram), _treated_sums(rows, tb, bt0, scale, score, pgram)
    c1 = _control_sums(rows, cp, score, fits["c1"].beta, scale, pgram)
    c0 = _control_sums(rows, cb, score, fits["c0"].beta, scale, pgram)
    if hess is None:
        hess = n * _solve(pgram / scale, np.eye(pgram.shape[0]), "propensity score")
    sc = _scalars(n, t1, t0, c1, c0)
    h = hess @ (sc["m2_1"] / sc["mc1"] - sc["m2_0"] / sc["mc0"])
    mult = fac / scale
    _treated_values(rows, tp, bt1, score, sc, 1, np.column_stack([h, fits["t1"].a @ sc["mom1"]]), mult, emit)
    _control_values(rows, cp, fits["c1"].beta, score, sc, 1, np.column_stack([h, fits["c1"].a @ sc["v_c1"]]), mult,
                    emit)
    _treated_values(rows, tb, bt0, score, sc, 0, np.column_stack([h, fits["t0"].a @ sc["mom0"]]), mult, emit)
    _control_values(rows, cb, fits["c0"].beta, score, sc, 0, np.column_stack([h, fits["c0"].a @ sc["v_c0"]]), mult,
                    emit)
    return sc["att"], coef


def _add_hessian(pgram, x: np.ndarray, w: np.ndarray, score: Score) -> None:
    """Add the rows' share x'diag(w p (1 - p))x of the logit's Hessian at the optimum to ``pgram``
    (uncapped scores, as the Newton sums)."""
    if pgram is None:
        return
    p = _sigmoid(x @ score.beta)
    p *= 1 - p
    p *= w
    pgram += _gram(x, p)


def _treated_sums(rows: Rows, b: Block, betas: np.ndarray, scale: float, score: Score, pgram=None) -> dict:
    """Sums over a treated block of period p (betas: b_c(p), b_t(p), b_t(other), b_c(other)) with
    r = y - x b_c(p), d_own = x (b_t(p) - b_c(p)), d_other = x (b_t(other) - b_c(other)); adds the
    block's share of the logit's Hessian to ``pgram`` (None: not needed)."""
    k = rows.x.shape[1]
    acc = np.zeros(4 + k)  # sw, swr, sw_own, sw_other, xw
    for _, s, e in _chunks(b):
        x, y, w = rows.x[s:e], rows.y[s:e], rows.w[s:e]
        _add_hessian(pgram, x, w, score)
        u = x @ betas
        acc[0] += np.sum(w)
        acc[1] += w @ (y - u[:, 0])
        acc[2] += w @ (u[:, 1] - u[:, 0])
        acc[3] += w @ (u[:, 2] - u[:, 3])
        acc[4:] += x.T @ w
    acc /= scale
    return {"sw": acc[0], "swr": acc[1], "sw_own": acc[2], "sw_other": acc[3], "xw": acc[4:]}


def _odds(w: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """w ps / (1 - ps) of untrimmed controls, 0 for trimmed ones (DRDID trim.level); overwrites ps."""
    keep = ps < TRIM_LEVEL
    odds = np.divide(ps, 1 - ps, out=ps)
    odds *= w
    odds[~keep] = 0.0
    return odds


def _control_sums(rows: Rows, b: Block, score: Score, beta: np.ndarray, scale: float, pgram=None) -> dict:
    """Sums over a control block with r = y - x b_c(p) and the odds weights wc = w ps / (1 - ps);
    adds the block's share of the logit's Hessian to ``pgram`` (None: not needed)."""
    k = rows.x.shape[1]
    acc = np.zeros(2 + 2 * k)  # swc, swcr, xw, xwr
    for _, s, e in _chunks(b):
        x, y, w = rows.x[s:e], rows.y[s:e], rows.w[s:e]
        if pgram is None:
            ps = score.at(x)
        else:  # one score evaluation for the Hessian and the odds
            ps = _sigmoid(x @ score.beta)
            h = ps * (1 - ps)
            h *= w
            pgram += _gram(x, h)
            np.minimum(ps, PS_CAP, out=ps)
        wc = _odds(w, ps)
        r = y - x @ beta
        acc[0] += np.sum(wc)
        acc[1] += wc @ r
        acc[2:2 + k] += x.T @ wc
        r *= wc
        acc[2 + k:] += x.T @ r
    acc /= scale
    return {"swc": acc[0], "swcr": acc[1], "xw": acc[2:2 + k], "xwr": acc[2 + k:]}


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


def _treated_values(rows: Rows, b: Block, betas, score: Score, sc: dict, post: int, hg, mult: float,
                    emit: Emit) -> None:
    """Influence on a treated block (normalised weights w / scale; ``mult`` = fac / scale):

    post: w [(r - a_t1)/mt1 + (d1 - a_d1)/md - (d1 - a_dt1)/mt1 - (d0 - a_d0)/md
             - (1 - ps) x'h + (y - x b_t1) x'g]
    base: w [-(r - a_t0)/mt0 + (d1 - a_d1)/md - (d0 - a_d0)/md + (d0 - a_dt0)/mt0
             - (1 - ps) x'h - (y - x b_t0) x'g]
    (d_own = d1 on the post block, d0 on the base block; hg = [h, g]).
    """
    md = sc["md"]
    if post:
        mt = sc["mt1"]
        const = -sc["a_t1"] / mt - sc["a_d1"] / md + sc["a_dt1"] / mt + sc["a_d0"] / md
        c_r, c_own, c_other, c_res = 1 / mt, 1 / md - 1 / mt, -1 / md, 1.0
    else:
        mt = sc["mt0"]
        const = sc["a_t0"] / mt - sc["a_d1"] / md + sc["a_d0"] / md - sc["a_dt0"] / mt
        c_r, c_own, c_other, c_res = -1 / mt, 1 / mt - 1 / md, 1 / md, -1.0
    for a, s, e in _chunks(b):
        x, y, w = rows.x[s:e], rows.y[s:e], rows.w[s:e]
        u, v = x @ betas, x @ hg
        out = (y - u[:, 0]) * c_r
        out += (u[:, 1] - u[:, 0]) * c_own
        out += (u[:, 2] - u[:, 3]) * c_other
        out += (y - u[:, 1]) * v[:, 1] * c_res
        out -= (1 - score.at(x)) * v[:, 0]
        out += const
        out *= w
        out *= mult
        emit(a, s, e, out)


def _control_values(rows: Rows, b: Block, beta, score: Score, sc: dict, post: int, hf, mult: float,
                    emit: Emit) -> None:
    """Influence on a control block: -+ wc (r - a_c)/mc + w ps x'h + w r x'f (post: minus; base: plus)."""
    mc, a_c = (sc["mc1"], sc["a_c1"]) if post else (sc["mc0"], sc["a_c0"])
    sign = -1 / mc if post else 1 / mc
    for a, s, e in _chunks(b):
        x, y, w = rows.x[s:e], rows.y[s:e], rows.w[s:e]
        ps, v = score.at(x), x @ hf
        r = y - x @ beta
        out = ps * v[:, 0]
        out += r * v[:, 1]
        out *= w
        wc = _odds(w, ps)
        r -= a_c
        r *= wc
        r *= sign
        out += r
        out *= mult
        emit(a, s, e, out)
