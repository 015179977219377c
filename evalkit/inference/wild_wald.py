"""Wild cluster restricted (WCR) bootstrap of a joint Wald test, H0: R beta = 0.

The bootstrap Wald test of several linear restrictions (Roodman, MacKinnon, Nielsen & Webb 2019,
"Fast and wild: Bootstrap inference in Stata using boottest", Stata Journal 19(1), 4-60, sec. 3.6;
MacKinnon & Webb 2017, "Wild bootstrap inference for wildly different cluster sizes", J. Applied
Econometrics 32(2), 233-254, for its good size with few treated clusters). The model is
y = X beta + fixed effects + u (row weights w for weighted least squares); the statistic is the CR1
cluster-robust Wald statistic W = (R b)' (R V R')^-1 (R b).

Algorithm (restricted residuals, the null imposed; as ``boottest`` with a matrix hypothesis):

1. The fixed effects are partialled out of [y, X] (Frisch-Waugh-Lovell, weighted projection M;
   :func:`evalkit.inference._two_way.projection` for two factors, else
   :func:`evalkit.inference._wild_design.partial`): y~, X~.
2. The restricted estimate b_r = b - A R'(R A R')^-1 R b (A = (X~'W X~)^-1) and its residuals
   u_r = y~ - X~ b_r, which are the residuals of the restricted model with its fixed effects.
3. Draw g gets cluster weights v (Rademacher, Webb or Mammen; all 2^G sign vectors when
   2^G <= draws) and the sample y* = fitted_r + v * u_r. Refitting the unrestricted model,
   b* - b_r = A X~'W (v * u_r) (X~'W M = X~'W), its residuals are M(v * u_r) - X~ (b* - b_r), and
   W* is the CR1 Wald statistic of R b* with them. Only the residuals need the projection M,
   applied to the draws in chunks.
4. p = share of draws with W* > W (strict; a tie within rounding, e.g. the draw v = 1 that
   reproduces the sample, does not count), the convention of :mod:`evalkit.inference.wild`.

With one restriction W = t^2 and the p-value equals the symmetric WCR p-value of
:func:`evalkit.inference.wild.wild_cluster_bootstrap` for the reparametrised coefficient
(``tests/test_wild_wald.py`` checks it under full enumeration, and W* against refitting the
dummy-variable regression draw by draw). Nothing passed in is modified.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from evalkit.core.clusters import content_rank, cr1_factor
from evalkit.core.linalg import inv
from evalkit.errors import ParameterError, ValidationError
from evalkit.inference import wild
from evalkit.inference._two_way import projection
from evalkit.inference._wild_design import _big_small, _fe_df, dense_codes, nested, partial, two_way
from evalkit.progress import bar

_CHUNK_CELLS = 4_000_000  # rows x draws projected at a time
_TIE = 1e-9


@dataclass(frozen=True, slots=True)
class WildWaldResult:
    """Outcome of :func:`wild_wald_test`.

    Attributes
    ----------
    statistic : float
        The CR1 Wald statistic W of the sample (W / q is the F form).
    p_value : float
        Share of bootstrap draws with W* > W.
    df : int
        Number of restrictions q.
    B : int
        Draws used (2^G when enumerated).
    enumerated : bool
        All Rademacher sign vectors were used.
    weights : str
        Distribution of the bootstrap weights.
    seed : int or None
        Seed of the draws.
    n_clusters : int
        Number of clusters G.
    """

    statistic: float
    p_value: float
    df: int
    B: int
    enumerated: bool
    weights: str
    seed: int | None
    n_clusters: int


def _projector(codes: list[np.ndarray], w: np.ndarray | None):
    """z -> residuals of z on the fixed effects: the exact two-way projection, one level fixed per
    connected component (:func:`evalkit.inference._two_way.projection`), when the cross-tab fits,
    else :func:`evalkit.inference._wild_design.partial` (Roodman et al. 2019, sec. 3.6, step 1)."""
    tw = two_way(*_big_small(codes), w) if len(codes) == 2 else None
    if tw is not None:
        return projection(tw).residuals
    return lambda z: partial(z, codes, None, w)


def _check(y, X, clusters, R, obs_weights, fe_codes):
    y, x, clusters = wild._check_data(y, X, clusters)
    r = np.atleast_2d(np.asarray(R, dtype=float))
    if r.ndim != 2 or r.shape[1] != x.shape[1] or not np.isfinite(r).all():
        raise ParameterError(f"R must be a finite q x k matrix with k = {x.shape[1]} columns (the columns of X); "
                             f"got shape {np.shape(R)}.")
    if np.linalg.matrix_rank(r) < r.shape[0]:
        raise ParameterError("R must have full row rank: the restrictions must not repeat one another.")
    w, _ = wild._obs_weights(obs_weights, "analytic", y.size)
    return y, x, dense_codes(clusters), r, w, wild._check_codes(fe_codes, y.shape)


def _scores(xw: np.ndarray, e: np.ndarray, cl: sp.csr_matrix) -> np.ndarray:
    """Cluster scores sum_{i in g} x_i w_i e_i for every draw: (G, k, m) from xw (n x k) and e (n x m)."""
    return np.stack([cl @ (xw[:, [j]] * e) for j in range(xw.shape[1])], axis=1)


def _wald(rb: np.ndarray, t: np.ndarray, scale: float) -> np.ndarray:
    """W per draw from R b (q x m) and the restricted-hypothesis scores t (G x q x m)."""
    v = scale * np.einsum("gqm,gpm->mqp", t, t)
    try:
        sol = np.linalg.solve(v, rb.T[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:  # a draw with singular scores: its W* is undefined (never exceeds W)
        sol = np.stack([np.linalg.lstsq(vm, rm, rcond=None)[0] if np.linalg.matrix_rank(vm) == vm.shape[0]
                        else np.full(rm.size, np.nan) for vm, rm in zip(v, rb.T)])
    return np.einsum("qm,mq->m", rb, sol)


def _chunks(kind: str, G: int, B: int, seed, rank: np.ndarray, n: int):
    step = max(1, _CHUNK_CELLS // max(n, 1))
    for V in wild._weight_chunks(kind, G, B, seed):
        V = V[rank]
        for s in range(0, V.shape[1], step):
            yield V[:, s:s + step]


def wild_wald_test(y, X, clusters, R, *, fe_codes: Sequence[np.ndarray] | None = None, obs_weights=None,
                   weights: str = "rademacher", draws: int = 9999, seed: int | None = None,
                   progress: bool = False) -> WildWaldResult:
    """Wild cluster restricted bootstrap of the joint Wald test H0: R beta = 0.

    The CR1 Wald statistic of q linear restrictions and its WCR bootstrap p-value (Roodman et al.
    2019, sec. 3.6), for y = X beta + fixed effects + u, clustered, optionally weighted. The
    joint-test counterpart of :func:`evalkit.inference.wild.wild_cluster_bootstrap`; with few
    treated clusters it keeps its size where the CR1 F test over-rejects (MacKinnon & Webb 2017).

    Parameters
    ----------
    y : array_like
        Outcome, shape (n,), finite.
    X : array_like
        Regressors, n x k (fixed effects go in ``fe_codes``).
    clusters : array_like
        n cluster labels, none missing; the bootstrap weights are drawn per cluster.
    R : array_like
        q x k restriction matrix of full row rank; H0: R beta = 0.
    fe_codes : sequence of numpy.ndarray, optional
        Non-negative integer codes, one per row, of fixed effects to absorb (nested in the
        clusters or crossing them).
    obs_weights : array_like, optional
        Row weights of a weighted least-squares fit (n non-negative numbers). None: OLS.
    weights : {"rademacher", "webb", "mammen"}, default "rademacher"
        Distribution of the bootstrap weights; "webb" with fewer than about 12 clusters.
    draws : int, default 9999
        Bootstrap draws; Rademacher sign vectors are enumerated when 2^G <= draws.
    seed : int, optional
        Seed of the draws. Clusters get their weights in an order fixed by their data, not
        their labels, so the seeded p-value does not depend on id types or row order.
    progress : bool, default False
        Show a progress bar over the chunks of draws.

    Returns
    -------
    WildWaldResult
        W, its bootstrap p-value, q, the draws and the clusters.

    Raises
    ------
    ParameterError
        Bad shapes, a rank-deficient ``R``, bad ``weights``/``draws``/``obs_weights``/``fe_codes``.
    ValidationError
        Fewer than 2 clusters, a singular design or a zero covariance of R b.

    References
    ----------
    Roodman, D., MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2019). Fast and wild: Bootstrap
    inference in Stata using boottest. *Stata Journal* 19(1), 4-60.
    MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different cluster
    sizes. *Journal of Applied Econometrics* 32(2), 233-254.
    """
    y, x, cl, r, w, codes = _check(y, X, clusters, R, obs_weights, fe_codes)
    wild._check_options(x.shape[1], 0, weights, draws, 0.05, 0.0)
    G, n, k = int(cl.max()) + 1, y.size, x.shape[1]
    if G < 2:
        raise ValidationError("The wild cluster bootstrap needs at least 2 clusters.")
    project = _projector(codes, w)
    zt = project(np.column_stack([y, x]))
    yt, xt = zt[:, 0], zt[:, 1:]
    sw = np.ones(n) if w is None else w
    xw = xt * sw[:, None]
    A = inv(xt.T @ xw)
    b = A @ (xw.T @ yt)
    ra = r @ A
    b_r = b - A @ r.T @ np.linalg.solve(ra @ r.T, r @ b)
    u_r = yt - xt @ b_r
    cmat = sp.csr_matrix((np.ones(n), (cl, np.arange(n))), shape=(G, n))
    scale = cr1_factor(G, n, k + _fe_df(codes, [nested(c, cl) for c in codes]))  # K as in the registry
    t_obs = np.einsum("qk,gkm->gqm", ra, _scores(xw, (yt - xt @ b)[:, None], cmat))
    stat = float(_wald((r @ b)[:, None], t_obs, scale)[0])
    if not np.isfinite(stat):
        raise ValidationError("The CR1 covariance of R b is singular; the restrictions cannot be tested.")
    rank = content_rank(np.column_stack([cmat @ (xw * yt[:, None]), cmat @ xw]))
    enumerated = weights == "rademacher" and G < 63 and 2 ** G <= draws
    stars = []
    total = -(-(2 ** G if enumerated else draws) // max(1, _CHUNK_CELLS // n))
    for V in bar(_chunks(weights, G, draws, seed, rank, n), total=total, description="joint wild bootstrap",
                 enabled=progress):
        ut = project(u_r[:, None] * V[cl])
        d = A @ (xw.T @ ut)
        t = np.einsum("qk,gkm->gqm", ra, _scores(xw, ut - xt @ d, cmat))
        stars.append(_wald(r @ d, t, scale))
    wstar = np.concatenate(stars)
    p = float(np.mean(wstar > stat * (1 + _TIE) + _TIE))
    return WildWaldResult(statistic=stat, p_value=p, df=int(r.shape[0]), B=int(wstar.size), enumerated=enumerated,
                          weights=weights, seed=seed, n_clusters=G)
