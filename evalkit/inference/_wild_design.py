"""Set-up of the wild cluster bootstrap: fixed effects out, then cluster-level sums only.

Roodman, MacKinnon, Nielsen & Webb (2019, "Fast and wild: Bootstrap inference in
Stata using boottest", Stata Journal 19(1), 4-60, sec. 5) reduce everything a
bootstrap draw needs to cluster-level objects that are computed once. Here the
fixed effects are partialled out of Z = [y, X] (Frisch-Waugh-Lovell), and Z is
summarised by

* ``xz``: X_g'Z_g per cluster (G x k x (1+k)); every residual vector the
  bootstrap uses is Z c for some c, so its scores are ``xz @ c``;
* ``ez``: sums of Z by (cluster, level of a crossing fixed effect) (G x L x (1+k));
* ``m_inv``: a generalised inverse of D_c' M_{D_n} D_c (crossing dummies D_c after
  the nested effects D_n), the exact correction for effects that cross clusters.

After :func:`build` no n-vector is used again: the cost of the draws and of the
test inversion does not depend on the number of observations.

Two-way fixed effects with a small second factor (persons and years) are
partialled exactly with a dense (units x levels) cross-tabulation
(:func:`twoway_residuals`, the solver of :mod:`evalkit.inference._two_way`); the same table
gives D_c' M_{D_n} D_c.

Weighted least squares (row weights w, :mod:`evalkit.core.weighting`) is the bootstrap of the
transformed model sqrt(w) y = sqrt(w) X b + sqrt(w) D a + sqrt(w) u (Roodman et al. 2019,
sec. 3): the fixed effects are partialled by weighted projection (Z~), the cluster products
are X~_g'W Z~_g, the (cluster, level) sums are those of w Z~, and the crossing Gram is
D_c' W M^W_{D_n} D_c; the algorithm is otherwise unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from evalkit.errors import ParameterError, ValidationError
from evalkit.core.demean import demean, twoway_fit
from evalkit.core.clusters import cr1_factor
from evalkit.inference._two_way import TwoWay, projection, tabulate

_DENSE_CELLS = 2 ** 25  # largest (units x levels) table built densely (268 MB)


@dataclass(frozen=True, slots=True)
class BootLevel:
    """The same sums by bootstrap cluster (subclusters nested in the clusters; MacKinnon &
    Webb 2018, "The wild bootstrap for few (treated) clusters", Econometrics Journal 21(2)):
    the weights are drawn per subcluster, the t-statistic stays clustered by cluster."""

    xz: np.ndarray            # H x k x (1+k)
    ez: np.ndarray | None     # H x L x (1+k)
    parent: np.ndarray        # (H,) cluster code of each subcluster


@dataclass(frozen=True, slots=True)
class ClusterDesign:
    """Cluster-level summary of y = X b + fixed effects + u (see the module docstring).

    scale: the CR1 factor G/(G-1) (N-1)/(N-K); ``ez``/``m_inv`` are None without
    fixed effects that cross the clusters; ``boot``: sums by bootstrap subcluster, or
    None when the weights are drawn per cluster.
    """

    xz: np.ndarray
    ez: np.ndarray | None
    m_inv: np.ndarray | None
    n_clusters: int
    n_obs: int
    scale: float
    boot: BootLevel | None = None

    @property
    def n_boot(self) -> int:
        """Number of bootstrap clusters (one weight each per draw)."""
        return self.n_clusters if self.boot is None else self.boot.parent.size


# ------------------------------------------------------------------ codes
def dense_codes(values: np.ndarray) -> np.ndarray:
    """Codes 0..m-1 in sorted order of the values (``pd.factorize(sort=True)``); integer
    values that already are such codes are returned as they are, without the sort."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer) and values.size and values.min() >= 0 \
            and np.bincount(values).all():
        return values.astype(np.intp, copy=False)
    return pd.factorize(values, sort=True)[0].astype(np.intp)


def nested(code: np.ndarray, cl: np.ndarray) -> bool:
    """Whether every level of ``code`` lies in one cluster (codes 0..m-1)."""
    first = np.empty(int(code.max()) + 1, dtype=cl.dtype)
    first[code] = cl  # one cluster of each level; nested iff every row agrees with it
    return bool(np.array_equal(first[code], cl))


# ---------------------------------------------------------- fixed effects
def two_way(unit: np.ndarray, other: np.ndarray, weights: np.ndarray | None = None) -> TwoWay | None:
    """The :class:`~evalkit.inference._two_way.TwoWay` of the codes, or None when the cross-tab is too
    large to hold densely; with ``weights`` the cross-tab holds the summed weights (the weighted normal
    equations; Roodman et al. 2019, sec. 3)."""
    if (int(unit.max()) + 1) * (int(other.max()) + 1) > _DENSE_CELLS:
        return None
    return tabulate(unit, other, weights)


def twoway_residuals(z: np.ndarray, tw: TwoWay) -> np.ndarray:
    """Residuals of the columns of z on unit and second-factor effects, exactly
    (:func:`evalkit.inference._two_way.projection`: the normal equations of
    :func:`evalkit.core.demean.twoway_solve`, level 0 of the second factor fixed).
    Raises ValidationError when the design is not connected."""
    return projection(tw, split=False).residuals(z, order="F")  # column-major, as the cluster sums read it


def _big_small(codes: list[np.ndarray]) -> list[np.ndarray]:
    return sorted(codes, key=lambda c: -(int(c.max()) + 1))


def partial(z: np.ndarray, codes: list[np.ndarray], tw: TwoWay | None = None,
            weights: np.ndarray | None = None) -> np.ndarray:
    """Residuals of the columns of z on the fixed effects (exact two-way solver, else
    alternating projections), weighted by ``weights`` if given. ``tw``: the :class:`TwoWay`
    of the two codes (with the same weights), if built."""
    if not codes:
        return z
    if len(codes) == 2:
        big, small = _big_small(codes)
        if tw is None or tw.unit is not big or tw.other is not small or tw.weights is not weights:
            tw = two_way(big, small, weights)
        try:
            return twoway_fit(z, big, small, weights).residuals if tw is None else twoway_residuals(z, tw)
        except ValidationError:  # redundant or disconnected factors: alternating projections
            pass
    res = demean(z, codes, weights)
    if not res.converged:
        raise ValidationError("Partialling out the fixed effects did not converge.")
    return res.values


def _stacked(crossing: list[np.ndarray]) -> tuple[np.ndarray, int]:
    sizes = [int(c.max()) + 1 for c in crossing]
    offsets = np.cumsum([0] + sizes[:-1])
    return np.column_stack([c + o for c, o in zip(crossing, offsets)]), int(sum(sizes))


def crossing_gram(nested_codes: list[np.ndarray], stacked: np.ndarray, L: int,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """D_c' M_{D_n} D_c for the stacked crossing-level codes (n x f, levels 0..L-1); with
    ``weights`` D_c' W M^W_{D_n} D_c (the projection weighted too)."""
    n, f = stacked.shape
    if len(nested_codes) == 1 and f == 1:  # one nested and one crossing factor: the two-way Schur complement
        tw = two_way(nested_codes[0], stacked[:, 0], weights)
        if tw is not None:
            return tw.schur
    gram = sum(np.bincount(stacked[:, a] * L + stacked[:, b], weights=weights, minlength=L * L) for a in range(f)
               for b in range(f)).reshape(L, L).astype(float)
    if not nested_codes:
        return gram
    rows = np.repeat(np.arange(n), f)
    d_c = sp.csr_matrix((np.ones(rows.size), (rows, stacked.ravel())), shape=(n, L))
    w = np.ones(n) if weights is None else weights
    if len(nested_codes) == 1:
        u = nested_codes[0]
        d_u = np.bincount(u).astype(float) if weights is None else np.bincount(u, weights=w)
        cross = sp.csr_matrix((w, (u, np.arange(n))), shape=(d_u.size, n)) @ d_c
        return gram - (cross.T @ sp.diags(1.0 / d_u) @ cross).toarray()
    if n * L > 50_000_000:
        raise ParameterError("Too many crossing fixed-effect levels with several nested factors; "
                             "pass at most one fixed effect nested in the clusters.")
    dense = partial(d_c.toarray(), nested_codes, weights=weights)
    return dense.T @ dense if weights is None else dense.T @ (dense * w[:, None])


# --------------------------------------------------------- cluster sums
def cluster_cross(z: np.ndarray, cl: np.ndarray, G: int) -> np.ndarray:
    """X_g'Z_g for Z = [y, X] (n x (1+k)) -> (G x k x (1+k)), each product summed once."""
    k = z.shape[1] - 1
    out = np.empty((G, k, k + 1))
    for i in range(k):
        xi = z[:, 1 + i]
        for c in range(2 + i):  # y and x_0..x_i; x_i'x_c fills both triangles
            s = np.bincount(cl, weights=xi * z[:, c], minlength=G)
            out[:, i, c] = s
            if c >= 1:
                out[:, c - 1, 1 + i] = s
    return out


def level_sums(z: np.ndarray, cl: np.ndarray, stacked: np.ndarray, G: int, L: int) -> np.ndarray:
    """Sums of the columns of z by (cluster, crossing level) -> (G x L x m)."""
    out = np.zeros((G * L, z.shape[1]))
    for j in range(stacked.shape[1]):
        key = cl * L + stacked[:, j]
        for c in range(z.shape[1]):
            out[:, c] += np.bincount(key, weights=z[:, c], minlength=G * L)
    return out.reshape(G, L, z.shape[1])


# ------------------------------------------------------------------ build
def _fe_df(codes: list[np.ndarray], is_nested: list[bool]) -> int:
    """Absorbed parameters counted as in the registry (nested effects count as one intercept)."""
    if not codes:
        return 0
    return 1 + sum(int(c.max()) for c, nst in zip(codes, is_nested) if not nst)


def _crossing_inverse(zl, cl, G, codes, is_nested, tw, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(level sums of zl, g-inverse of D_c' M_{D_n} D_c, stacked crossing codes, L); ``zl`` is the
    partialled Z, times the weights in a weighted fit."""
    crossing = [c for c, nst in zip(codes, is_nested) if not nst]
    nested_codes = [c for c, nst in zip(codes, is_nested) if nst]
    stacked, L = _stacked(crossing)
    if tw is not None and len(crossing) == len(nested_codes) == 1 \
            and tw.unit is nested_codes[0] and tw.other is crossing[0] and tw.weights is weights:
        gram = tw.schur  # the partialling's Schur complement is this matrix
    else:
        gram = crossing_gram(nested_codes, stacked, L, weights)
    return level_sums(zl, cl, stacked, G, L), np.linalg.pinv(gram, rcond=1e-10, hermitian=True), stacked, L


def _boot_level(zx, zl, cl, boot, codes, is_nested, stacked, L) -> BootLevel:
    """Sums by subcluster; the subclusters must lie in one cluster each, and every fixed effect
    nested in the clusters must be nested in the subclusters (else its re-estimation in a draw
    would move the crossing effects' sums, which the fast algorithm does not carry)."""
    if not nested(boot, cl):
        raise ParameterError("bootcluster must be nested in the clusters: each bootstrap cluster must lie "
                             "in one cluster (e.g. persons or area-years within areas).")
    if any(nst and not nested(c, boot) for c, nst in zip(codes, is_nested)):
        raise ParameterError("bootcluster is coarser than a fixed effect nested in the clusters; choose bootstrap "
                             "clusters that contain whole levels of it (e.g. persons for person effects).")
    H = int(boot.max()) + 1
    parent = np.empty(H, dtype=np.intp)
    parent[boot] = cl
    ez = None if stacked is None else level_sums(zl, boot, stacked, H, L)
    return BootLevel(xz=cluster_cross(zx, boot, H), ez=ez, parent=parent)


def _to_clusters(fine: np.ndarray, parent: np.ndarray, G: int) -> np.ndarray:
    out = np.zeros((G,) + fine.shape[1:])
    np.add.at(out, parent, fine)
    return out


def summarise(zt: np.ndarray, cl: np.ndarray, codes: list[np.ndarray], tw: TwoWay | None = None,
              boot: np.ndarray | None = None, weights: np.ndarray | None = None,
              n_obs: float | None = None) -> ClusterDesign:
    """The :class:`ClusterDesign` of partialled Z = [y, X] (``zt``) with cluster codes
    ``cl`` (0..G-1) and the fixed-effect codes that were partialled out (``tw``: their
    :class:`TwoWay`, if built). ``boot``: subcluster codes (0..H-1) for weights drawn per
    subcluster; the cluster sums are then the subclusters' sums added up. ``weights``: row
    weights of a weighted fit (``zt`` partialled by weighted projection); ``n_obs``: N of the CR1
    factor (default the rows; the sum of frequency weights)."""
    G = _n_clusters(cl)
    is_nested = [nested(c, cl) for c in codes]
    n, k = zt.shape[0], zt.shape[1] - 1
    K = k + _fe_df(codes, is_nested)
    if n <= K:
        raise ValidationError(f"Too few observations ({n}) for {K} parameters.")
    zx = zt if weights is None else zt * np.sqrt(weights)[:, None]  # the transformed model sqrt(w) Z~
    zl = zt if weights is None else zt * weights[:, None]           # D_c' W Z~ by (cluster, level)
    ez = m_inv = stacked = L = None
    if not all(is_nested):
        ez, m_inv, stacked, L = _crossing_inverse(zl, cl, G, codes, is_nested, tw, weights)
    fine = None if boot is None else _boot_level(zx, zl, cl, boot, codes, is_nested, stacked, L)
    xz = cluster_cross(zx, cl, G) if fine is None else _to_clusters(fine.xz, fine.parent, G)
    n_fac = n if n_obs is None else n_obs
    return ClusterDesign(xz=xz, ez=ez, m_inv=m_inv, n_clusters=G, n_obs=n,
                         scale=cr1_factor(G, n_fac, K), boot=fine)


def _n_clusters(cl: np.ndarray) -> int:
    G = int(cl.max()) + 1
    if G < 2:
        raise ValidationError("The wild cluster bootstrap needs at least 2 clusters.")
    return G


def build(y: np.ndarray, x: np.ndarray, cl: np.ndarray, codes: list[np.ndarray],
          boot: np.ndarray | None = None, weights: np.ndarray | None = None,
          n_obs: float | None = None) -> ClusterDesign:
    """Partial the fixed effects out of [y, X] (by weighted projection with ``weights``) and
    summarise by cluster (and by bootstrap subcluster ``boot``); with two fixed effects the dense
    two-way cross-tab is built once."""
    _n_clusters(cl)
    tw = two_way(*_big_small(codes), weights) if len(codes) == 2 else None
    return summarise(partial(np.column_stack([y, x]), codes, tw, weights), cl, codes, tw, boot, weights, n_obs)
