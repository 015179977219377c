"""Wild cluster bootstrap and randomization inference for the closed-form TWFE kernels, batched.

Wild cluster bootstrap (Cameron, Gelbach & Miller 2008; MacKinnon & Webb 2017, 2018), in the
cluster-level closed form of Roodman, MacKinnon, Nielsen & Webb (2019, "Fast and wild", Stata
Journal 19(1), sec. 5): with one regressor and the area and year effects re-estimated in every
draw, a draw v (G,) gives

    numerator  a'v,                a_g = w_g r_g Z_g
    scores     a * v - b (f'v) - e (a'v),   b = w r, f = w Z / W, e = w r^2 c2 / sxx

with Z = Q (restricted, WCR: the null b = 0 imposed) or Z = Q - b r c2 (unrestricted, WCU); the
``f`` term is the exact correction for the year effects, which cross the clusters. So
sum_g score_g^2 is a quadratic form in v and every draw of every assignment costs five dot
products of G-vectors: one matrix product (m x G) @ (G x B) each. t* = a'v / sqrt(scale sum score^2);
p = share of |t*| > |t| (ties within 1e-9, e.g. v = 1 under WCR, count as not exceeding), as
:mod:`evalkit.inference.wild`.

Randomization inference (Fisher; MacKinnon & Webb 2020, J. Econometrics 218(2)): the CR1 t of
R random re-assignments of the same number of treated areas, for each outcome vector, from the
polynomial expansion in the 0/1 assignment (s^k = s), again matrix products only.
p = (1 + #{|t*| >= |t|}) / (1 + R), non-finite draws counted as extreme, as
:func:`evalkit.inference.randomization.p_values`.
"""
from __future__ import annotations

import numpy as np

from evalkit.inference._placebo_kernels import Collapsed, Fits

_TIE = 1e-9
WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


# ------------------------------------------------------------------ draws
def enumerate_signs(G: int) -> np.ndarray:
    """All 2^G Rademacher sign vectors as columns (G x 2^G), in the order of evalkit's wild bootstrap."""
    bits = (np.arange(2 ** G)[None, :] >> np.arange(G)[:, None]) & 1
    return 1.0 - 2.0 * bits


def boot_weights(kind: str, G: int, B: int, rng: np.random.Generator) -> np.ndarray:
    """G x B wild bootstrap weights: "rademacher" (all 2^G sign vectors when 2^G <= B) or "webb"."""
    if kind == "rademacher":
        if G < 63 and 2 ** G <= B:
            return enumerate_signs(G)
        return 1.0 - 2.0 * rng.integers(0, 2, size=(G, B))
    return WEBB[rng.integers(0, 6, size=(G, B))]


def random_assignments(G: int, k: int, R: int, rng: np.random.Generator) -> np.ndarray:
    """R x G 0/1 matrix: R uniform draws of k treated areas among G."""
    keys = rng.random((R, G))
    idx = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < G else np.tile(np.arange(G), (R, 1))
    out = np.zeros((R, G))
    np.put_along_axis(out, idx, 1.0, axis=1)
    return out


# ------------------------------------------------------------ wild bootstrap
def wild_tstats(design: Collapsed, f: Fits, V: np.ndarray, restricted: bool) -> np.ndarray:
    """Bootstrap t statistics (m x B) of every assignment for the weights V (G x B)."""
    w, c2 = design.weights, design.c2
    Z = f.Q if restricted else f.Q - f.estimate[:, None] * f.r * c2
    a = w * f.r * Z
    b = w * f.r
    fz = w * Z / w.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        e = w * f.r ** 2 * c2 / f.sxx[:, None]
    num, fv = a @ V, fz @ V
    ab_v, ae_v = (a * b) @ V, (a * e) @ V
    sq = (a ** 2) @ (V ** 2)
    ss = (sq + np.sum(b * b, 1)[:, None] * fv ** 2 + np.sum(e * e, 1)[:, None] * num ** 2
          - 2 * fv * ab_v - 2 * num * ae_v + 2 * np.sum(b * e, 1)[:, None] * fv * num)
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / np.sqrt(design.scale * np.maximum(ss, 0.0))


def wild_pvalues(t_obs: np.ndarray, tstar: np.ndarray) -> np.ndarray:
    """Symmetric bootstrap p-values: share of |t*| > |t| (ties within rounding count as not exceeding)."""
    thr = np.abs(t_obs)[:, None] * (1 + _TIE) + _TIE
    p = np.mean(np.abs(tstar) > thr, axis=1)
    return np.where(np.isfinite(t_obs), p, np.nan)


# --------------------------------------------------- randomization inference
def permutation_tstats(design: Collapsed, draws: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """CR1 t statistics (R x P) of the R assignments ``draws`` (R x G, 0/1) for each of the P outcome
    contrast vectors (P x G): the expansion of sum_g score_g^2 in powers of s (s^k = s)."""
    w, c2 = design.weights, design.c2
    C = np.atleast_2d(contrast)
    W = w.sum()
    sbar = (draws @ w / W)[:, None]                                  # R x 1
    Q = C - (C @ w / W)[:, None]                                     # P x G
    srq = draws @ (w * Q).T                                          # sum w r Q   (R x P)
    srr = (draws @ w)[:, None] * (1 - sbar)                          # sum w r^2   (R x 1)
    a2 = (1 - 2 * sbar) * (draws @ (w ** 2 * Q ** 2).T) + sbar ** 2 * np.sum(w ** 2 * Q ** 2, 1)
    a3 = (1 - 3 * sbar + 3 * sbar ** 2) * (draws @ (w ** 2 * Q).T) - sbar ** 3 * np.sum(w ** 2 * Q, 1)
    a4 = (1 - 4 * sbar + 6 * sbar ** 2 - 4 * sbar ** 3) * (draws @ w ** 2)[:, None] + sbar ** 4 * np.sum(w ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = srq / (c2 * srr)
        ss = a2 - 2 * beta * c2 * a3 + beta ** 2 * c2 ** 2 * a4
        return beta * c2 * srr / np.sqrt(design.scale * np.maximum(ss, 0.0))


def permutation_pvalues(t_obs: np.ndarray, null: np.ndarray) -> np.ndarray:
    """(1 + #{|t*| >= |t|}) / (1 + R) per column of ``null`` (R x P, or R x 1 shared by all)."""
    bad = ~np.isfinite(null)
    hits = (np.abs(np.nan_to_num(null, nan=0.0)) >= np.abs(t_obs)[None, :] * (1 - 1e-12)) | bad
    p = (1 + hits.sum(axis=0)) / (1 + null.shape[0])
    return np.where(np.isfinite(t_obs), p, np.nan)


__all__ = ["WEBB", "boot_weights", "enumerate_signs", "permutation_pvalues", "permutation_tstats",
           "random_assignments", "wild_pvalues", "wild_tstats"]
