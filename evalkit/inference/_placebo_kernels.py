"""Closed-form TWFE kernels for a balanced area-year panel with one adoption date, batched over assignments.

The inference advisor (:mod:`evalkit.inference.advisor`) re-tests one design thousands of times.
For y_it = a_i + l_t + b D_it + u_it with D_it = s_i p_t (s_i: area i treated, p_t: a post period
common to all treated areas), clusters = areas and analytic weights w_i constant within an area,
everything the fit and its cluster-robust inference need is a function of G-vectors:

* the weighted two-way residual of D is (s_i - sbar_w) pt_t, with pt = p - mean(p) and
  sbar_w = sum_i w_i s_i / W (the unit means are plain means because w is constant within an
  area; the weighted time means then solve both normal equations);
* with R_i = pt'y_i (the area's post-minus-pre contrast) and Q_i = R_i - Rbar_w, the TWFE
  estimate is the weighted cross-section regression of R on s:
  b = sum w r Q / (c2 sum w r^2), r = s - sbar_w, c2 = pt'pt;
* the cluster score of area i is w_i r_i (Q_i - b r_i c2) and the leverage of its block along
  its regressor is h_i = w_i / W + w_i r_i^2 / sum w r^2 (the regressor block of area i is an
  eigenvector of H_ii), so CR2 (Bell & McCaffrey 2002), its Imbens & Kolesar (2016) degrees of
  freedom and the leave-one-area-out jackknife CR3 (MacKinnon, Nielsen & Webb 2023) are O(G).

Each kernel equals evalkit's general path (``twfe`` then ``with_inference``) to rounding error;
``tests/test_advisor.py`` checks it. Arrays: ``treated`` (m x G) 0/1, ``contrast`` (m x G) or (G,).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

_EIG_ONE = 1e-10  # leverage treated as one (pseudo-inverse weight 0), as evalkit.inference.small_sample


@dataclass(frozen=True, slots=True)
class Collapsed:
    """A balanced area-year panel reduced to what the kernels need.

    contrast: R_i = pt'y_i (G,); weights: w_i (G,); sizes: area sizes (G,) or None (kept for
    methods that use them, e.g. Ferman & Pinto 2019); c2 = pt'pt; n_periods: T.
    """

    contrast: np.ndarray
    weights: np.ndarray
    sizes: np.ndarray | None
    c2: float
    n_periods: int

    @property
    def n_clusters(self) -> int:
        return int(self.contrast.size)

    @property
    def scale(self) -> float:
        """CR1 factor G/(G-1) (N-1)/(N-K), N = G T, K = 1 + T (the regressor, the area effects
        nested in the clusters as one, T - 1 year effects), as :mod:`evalkit.inference.registry`."""
        G, T = self.n_clusters, self.n_periods
        n = G * T
        return G / (G - 1) * (n - 1) / (n - 1 - T)

    def subset(self, keep: np.ndarray) -> "Collapsed":
        """The same panel restricted to the areas ``keep`` (boolean or indices)."""
        sizes = None if self.sizes is None else self.sizes[keep]
        return Collapsed(self.contrast[keep], self.weights[keep], sizes, self.c2, self.n_periods)


def collapse(y: np.ndarray, post: np.ndarray, weights: np.ndarray | None = None,
             sizes: np.ndarray | None = None) -> Collapsed:
    """:class:`Collapsed` of the outcome matrix ``y`` (G x T, areas x years), the 0/1 post
    indicator ``post`` (T,) and the area weights (G,; None: unweighted)."""
    y = np.asarray(y, dtype=float)
    pt = np.asarray(post, dtype=float) - np.mean(post)
    w = np.ones(y.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    return Collapsed(y @ pt, w, None if sizes is None else np.asarray(sizes, float), float(pt @ pt), y.shape[1])


def inject(design: Collapsed, treated: np.ndarray, effect: float) -> np.ndarray:
    """Contrasts (m x G) after adding ``effect`` to the post-period outcomes of the treated areas:
    R_i + effect * pt'p = R_i + effect * c2."""
    return design.contrast[None, :] + effect * design.c2 * np.asarray(treated, float)


@dataclass(frozen=True, slots=True)
class Fits:
    """TWFE fits of m assignments: estimate (m,), r = s - sbar_w (m x G), Q = R - Rbar_w (m x G),
    sxx = c2 sum w r^2 (m,), cluster scores (m x G)."""

    estimate: np.ndarray
    r: np.ndarray
    Q: np.ndarray
    sxx: np.ndarray
    score: np.ndarray


def fit(design: Collapsed, treated: np.ndarray, contrast: np.ndarray | None = None) -> Fits:
    """The TWFE estimate and cluster scores of every assignment (rows of ``treated``)."""
    w = design.weights
    s = np.atleast_2d(np.asarray(treated, dtype=float))
    R = design.contrast if contrast is None else np.asarray(contrast, dtype=float)
    R = np.broadcast_to(R, s.shape)
    W = w.sum()
    r = s - (s @ w / W)[:, None]
    Q = R - (R @ w / W)[:, None]
    wr = w * r
    sxx = design.c2 * np.einsum("mg,mg->m", wr, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.einsum("mg,mg->m", wr, Q) / sxx
    score = wr * (Q - beta[:, None] * r * design.c2)
    return Fits(beta, r, Q, sxx, score)


def _two_sided(t: np.ndarray, df) -> np.ndarray:
    return 2 * stats.t.sf(np.abs(t), df)


def _t(estimate: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(var)
        return se, estimate / se


@dataclass(frozen=True, slots=True)
class Tested:
    """Standard error, t statistic, degrees of freedom and two-sided p-value per assignment."""

    std_error: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    p_value: np.ndarray


def cr1(design: Collapsed, f: Fits) -> Tested:
    """CR1 (Liang-Zeger with G/(G-1)(N-1)/(N-K)), t(G-1) (Cameron, Gelbach & Miller 2008)."""
    var = design.scale * np.einsum("mg,mg->m", f.score, f.score) / f.sxx ** 2
    se, t = _t(f.estimate, var)
    df = np.full(t.shape, design.n_clusters - 1.0)
    return Tested(se, t, df, _two_sided(t, df))


def leverage(design: Collapsed, f: Fits) -> np.ndarray:
    """h_g: eigenvalue of the hat block H_gg along area g's regressor (m x G)."""
    w = design.weights
    wr2 = w * f.r ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return w / w.sum() + wr2 / wr2.sum(axis=1, keepdims=True)


def cr2(design: Collapsed, f: Fits) -> Tested:
    """CR2 (Bell & McCaffrey 2002; B_g = (I - H_gg)^{+1/2}, leverage one -> weight 0 as
    clubSandwich) with the Bell-McCaffrey / Imbens-Kolesar (2016) degrees of freedom."""
    h = leverage(design, f)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = np.where(h < 1 - _EIG_ONE, 1.0 / (1.0 - h), 0.0)
    var = np.einsum("mg,mg->m", g2 * f.score, f.score) / f.sxx ** 2
    se, t = _t(f.estimate, var)
    df = cr2_dof(design, f, g2, h)
    return Tested(se, t, df, _two_sided(t, df))


def cr2_dof(design: Collapsed, f: Fits, g2: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Imbens-Kolesar K_BM: (tr G'G)^2 / tr((G'G)^2) with G'G = diag(a) - diag(alpha) H diag(alpha),
    a = alpha^2, alpha_g = (1 - h_g)^{-1/2} sqrt(w_g) r_g (up to a common factor), and H the rank-two
    hat matrix of the cross-section [1, s] with u1 = sqrt(w / W), u2 = sqrt(w) r / sqrt(sum w r^2)."""
    w = design.weights
    a = g2 * w * f.r ** 2
    u1sq = np.broadcast_to(w / w.sum(), a.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        u2sq = w * f.r ** 2 / np.sum(w * f.r ** 2, axis=1, keepdims=True)
    u12 = np.sqrt(u1sq) * np.sqrt(w) * f.r / np.sqrt(np.sum(w * f.r ** 2, axis=1, keepdims=True))
    trace = np.sum(a * (1 - h), axis=1)
    cross = np.sum(a * u1sq, axis=1) ** 2 + 2 * np.sum(a * u12, axis=1) ** 2 + np.sum(a * u2sq, axis=1) ** 2
    trace2 = np.sum(a ** 2 * (1 - 2 * h), axis=1) + cross
    with np.errstate(divide="ignore", invalid="ignore"):
        return trace ** 2 / trace2


def jackknife_estimates(design: Collapsed, f: Fits) -> np.ndarray:
    """b_(g): the TWFE estimate without area g (m x G), from the centred cross-section sums.

    NaN where dropping g leaves no variation in treatment (e.g. the only treated area)."""
    w = design.weights
    wg = np.broadcast_to(w, f.r.shape)
    sw = w.sum() - wg                       # sum w over the other areas
    swr = -wg * f.r                         # sum w r (sum over all areas is 0)
    swq = -wg * f.Q
    swrr = np.sum(w * f.r ** 2, axis=1, keepdims=True) - wg * f.r ** 2
    swrq = np.sum(w * f.r * f.Q, axis=1, keepdims=True) - wg * f.r * f.Q
    den = design.c2 * (swrr - swr ** 2 / sw)
    scale = design.c2 * np.sum(w * f.r ** 2, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 1e-12 * scale, (swrq - swr * swq / sw) / den, np.nan)


def cr3(design: Collapsed, f: Fits) -> Tested:
    """CR3/CV3, (G-1)/G sum_g (b_(g) - b)^2 (MacKinnon, Nielsen & Webb 2023, "mnw"), t(G-1);
    NaN when a leave-one-out fit is undefined (evalkit's general path raises then)."""
    G = design.n_clusters
    dev = jackknife_estimates(design, f) - f.estimate[:, None]
    var = (G - 1) / G * np.sum(dev ** 2, axis=1)
    se, t = _t(f.estimate, var)
    df = np.full(t.shape, G - 1.0)
    return Tested(se, t, df, _two_sided(t, df))


__all__ = ["Collapsed", "Fits", "Tested", "collapse", "cr1", "cr2", "cr2_dof", "cr3", "fit", "inject",
           "jackknife_estimates", "leverage"]
