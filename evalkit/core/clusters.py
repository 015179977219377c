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
