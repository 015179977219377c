"""Cluster sums of influence functions, analytic SEs and the multiplier bootstrap.

Conventions of R ``did`` (>= 2.3.1.906, ``mboot``; Callaway & Sant'Anna 2021,
Remark 10). With influence functions psi (n x k, R's scale, n = units):

* the influence function is summed within clusters, S = rowsum(psi, cluster)
  (G x k; without clustering every unit is its own cluster, S = psi);
* analytic standard error: sqrt(colSums(S**2)) / n;
* bootstrap: one multiplier v_c per cluster and draw, bres = v @ S / sqrt(G);
  se = IQR(bres) / (z_.75 - z_.25) * sqrt(G) / n; the sup-t critical value is
  the type-1 (1 - alpha) quantile of max_k |bres_k / IQRscale_k|.

The cost of a draw is G x k, independent of the number of observations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from evalkit import progress as prog
from evalkit.core.clusters import content_rank

_IQR_Z = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)
_TINY = np.sqrt(np.finfo(float).eps) * 10
CHUNK = 128


@dataclass(frozen=True, slots=True)
class BootOut:
    se: np.ndarray          # bootstrap standard errors (NaN for degenerate columns)
    crit: float             # sup-t critical value over the columns used for the band
    draws: int
    corr: np.ndarray        # correlation of the bootstrap draws between columns (NaN for degenerate ones)


def analytic_se(sums: np.ndarray, n: int, scale: float = 1.0) -> np.ndarray:
    """Analytic SEs; NaN where the SE is zero up to rounding, ``se <= _TINY * scale``.

    ``scale`` is the outcome's standard deviation (``meta["outcome_scale"]``): R's absolute
    cut-off ``sqrt(eps) * 10`` declared every SE of an outcome in millions of kroner
    (times 1e-6) degenerate; relative to the outcome, the cut-off does not depend on its units.
    """
    se = np.sqrt(np.sum(sums**2, axis=0)) / n
    return np.where(se <= _TINY * scale, np.nan, se)


def analytic_vcov(sums: np.ndarray, n: int) -> np.ndarray:
    return sums.T @ sums / n**2


def _multipliers(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    if kind == "rademacher":
        return rng.integers(0, 2, size=shape, dtype=np.int8).astype(float) * 2.0 - 1.0
    s5 = np.sqrt(5.0)
    low, high = (1 - s5) / 2, (1 + s5) / 2
    return np.where(rng.random(shape) < (s5 + 1) / (2 * s5), low, high)


def multiplier(sums: np.ndarray, n: int, *, draws: int, kind: str, seed: int | None, alpha: float,
               band_cols: np.ndarray | None = None, progress: bool = False, scale: float = 1.0) -> BootOut:
    """Multiplier bootstrap on cluster sums ``sums`` (G x k).

    ``scale``: the outcome's standard deviation; a column is degenerate when its draws are
    zero relative to it (as :func:`analytic_se`; an absolute cut-off depended on the outcome's units).
    """
    rng = np.random.default_rng(seed)
    n_clusters, k = sums.shape
    rank = content_rank(sums)  # cluster g takes multiplier column rank[g]: labels and row order do not matter
    bres = np.empty((draws, k))
    chunks = range(0, draws, CHUNK)  # a bar where progress goes (evalkit.progress): never into report HTML
    for start in prog.bar(chunks, total=len(chunks), description=f"multiplier bootstrap ({draws} draws)",
                          enabled=progress):
        stop = min(start + CHUNK, draws)
        v = _multipliers(rng, (stop - start, n_clusters), kind)[:, rank]
        bres[start:stop] = v @ sums / np.sqrt(n_clusters)
    q75 = np.quantile(bres, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(bres, 0.25, axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / _IQR_Z
    ok = np.isfinite(bres).all(axis=0) & (np.sum(bres**2, axis=0) > _TINY * scale**2) & (sigma > 0)
    se = np.where(ok, sigma * np.sqrt(n_clusters) / n, np.nan)
    use = ok if band_cols is None else ok & band_cols
    if use.any():
        bt = np.max(np.abs(bres[:, use] / sigma[use]), axis=1)
        crit = float(np.quantile(bt[np.isfinite(bt)], 1 - alpha, method="inverted_cdf"))
    else:
        crit = float("nan")
    corr = np.full((k, k), np.nan)
    if ok.any():
        corr[np.ix_(ok, ok)] = np.atleast_2d(np.corrcoef(bres[:, ok], rowvar=False))
    return BootOut(se=se, crit=crit, draws=draws, corr=corr)


def bootstrap_vcov(bout: BootOut, analytic: np.ndarray) -> np.ndarray:
    """The covariance a bootstrap result carries: ``D R D`` with ``D`` the bootstrap standard errors
    (the table's, robust IQR-based as R ``did``'s ``mboot``) and ``R`` the correlation of the draws.

    Its diagonal is the table's squared standard errors, so linear combinations, Wald tests and
    HonestDiD read the same uncertainty the table shows (issue 12: they read the analytic one).
    Columns whose bootstrap is degenerate keep their (zero-variance) analytic entries.
    """
    ok = np.isfinite(bout.se)
    out = np.array(analytic, dtype=float, copy=True)
    out[np.ix_(ok, ok)] = bout.corr[np.ix_(ok, ok)] * np.outer(bout.se[ok], bout.se[ok])
    return out
