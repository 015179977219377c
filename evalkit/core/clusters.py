"""Cluster sums and the CR1 small-sample factor, computed in one place.

The CR1 ("stata") factor ``G/(G-1) * (N-1)/(N-K)`` is the one of Stata's ``regress, vce(cluster)``,
R ``fixest`` (``ssc(adj = TRUE, cluster.adj = TRUE)``) and ``sandwich::vcovCL(type = "HC1")``
(Cameron & Miller 2015, *J. Human Resources* 50(2), sec. II.C). ``K`` counts the parameters of
the dummy-variable regression; fixed effects nested in the clusters count as one, as fixest does.
"""
from __future__ import annotations

import numpy as np

from evalkit.errors import ValidationError


def cluster_sums(scores: np.ndarray, codes: np.ndarray | None, n_clusters: int | None = None) -> np.ndarray:
    """Sum the rows of ``scores`` (n or n x k) within clusters ``codes`` (0..G-1); None returns rows."""
    if codes is None:
        return scores
    codes = np.asarray(codes)
    g = int(codes.max()) + 1 if n_clusters is None else int(n_clusters)
    if scores.ndim == 1:
        return np.bincount(codes, weights=scores, minlength=g)
    out = np.empty((g, scores.shape[1]))
    for j in range(scores.shape[1]):
        out[:, j] = np.bincount(codes, weights=scores[:, j], minlength=g)
    return out


def cr1_factor(n_clusters: int, n_obs: int, n_params: int) -> float:
    """``G/(G-1) * (N-1)/(N-K)``; raises when it is undefined (G < 2 or N <= K)."""
    if n_clusters < 2:
        raise ValidationError(f"cluster-robust inference needs at least 2 clusters; the data have {n_clusters}.")
    if n_obs <= n_params:
        raise ValidationError(f"too few observations ({n_obs}) for {n_params} parameters "
                              "(including absorbed fixed effects).")
    return n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params)


def hc1_factor(n_obs: int, n_params: int) -> float:
    """``N/(N-K)``, the heteroskedasticity-robust HC1 factor (MacKinnon & White 1985)."""
    if n_obs <= n_params:
        raise ValidationError(f"too few observations ({n_obs}) for {n_params} parameters.")
    return n_obs / (n_obs - n_params)


def sandwich(bread: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """``bread @ (S'S) @ bread`` for cluster (or observation) score sums ``S``."""
    return bread @ (sums.T @ sums) @ bread


def content_order(features: np.ndarray) -> np.ndarray:
    """Indices that sort groups (the rows of ``features``, G x m) by their content, so that random
    draws assigned to groups in this order do not depend on how the groups are labelled or on the
    row order of the data: a seeded bootstrap, placebo or permutation test gives the same answer
    for int, text or categorical ids and for shuffled rows (issue 12).

    Columns are compared in order (the first is the primary key), each divided by its largest
    absolute value and rounded to 9 decimals, so that sums accumulated in another row order (which
    differ in the last bits) and a change of units do not reorder the groups. Groups equal in every
    column keep their given order (stable sort); such groups enter every statistic alike.
    """
    f = np.asarray(features, dtype=float)
    f = f.reshape(f.shape[0], -1)
    scale = np.abs(f).max(axis=0) if f.shape[0] else np.ones(f.shape[1])
    keys = np.round(f / np.where(scale > 0, scale, 1.0), 9)
    keys = np.where(np.isfinite(keys), keys, 0.0)
    return np.lexsort(keys.T[::-1]) if keys.shape[1] else np.arange(f.shape[0])


def content_rank(features: np.ndarray) -> np.ndarray:
    """The position of each group in :func:`content_order` (``rank[g]``: which draw group ``g`` gets)."""
    order = content_order(features)
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return rank
