"""Randomization inference for treatment assigned to clusters (areas).

Under the sharp null of no effect for anyone, the outcomes do not depend on
which clusters were treated, so re-estimating with the treatment timing
re-assigned at random across clusters gives the null distribution of any
statistic (Fisher 1935; Rosenbaum 2002; for DiD with few treated clusters
MacKinnon & Webb 2020, "Randomization inference for difference-in-differences
with few treated clusters", J. Econometrics 218(2)). Re-assignment permutes
the clusters' cohorts, so the number of clusters first treated in each period
is kept: the timing design is respected.

The p-value is (1 + #{|s*| >= |s|}) / (1 + R) over R draws, which is valid
for any R (Phipson & Smyth 2010), with its Monte Carlo standard error
sqrt(p (1 - p) / R). Statistic: the studentised one (``"t"``, robust to
heteroskedasticity across clusters; Wu & Ding 2021, JASA 116) or the estimate.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evalkit import progress as prog


@dataclass(frozen=True, slots=True)
class RandomizationResult:
    """p-values per term under re-assigned treatment timing."""

    terms: tuple[str, ...]
    observed: np.ndarray       # observed statistic per term
    p_value: np.ndarray
    mc_se: np.ndarray          # Monte Carlo standard error of each p-value
    draws: int                 # re-assignments that gave a finite statistic (min over terms)
    n_failed: int              # re-assignments whose estimation failed
    statistic: str
    seed: int | None


def permuted_cohorts(cohorts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random re-assignment of the clusters' cohorts (a permutation of the array)."""
    return cohorts[rng.permutation(cohorts.size)]


def p_values(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Two-sided p-values of |observed| against the rows of ``null`` (draws x terms), NaN draws skipped."""
    finite = np.isfinite(null)
    hits = (np.abs(null) >= np.abs(observed) * (1 - 1e-12)) & finite
    r = finite.sum(axis=0)
    p = np.where(np.isfinite(observed), (1 + hits.sum(axis=0)) / (1 + r), np.nan)
    return p, np.sqrt(p * (1 - p) / np.maximum(r, 1)), int(r.min()) if r.size else 0


def ols_cluster_t(y_partialled: np.ndarray, x: np.ndarray, fe: list[np.ndarray], clusters: np.ndarray | None,
                  columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and cluster-robust t statistics (unscaled CR0) of the chosen columns.

    The fixed effects are partialled out of ``x`` (Frisch-Waugh-Lovell; ``y`` is
    passed already partialled, it does not change across re-assignments). The
    CR1 factor is the same for every re-assignment, so t ranks as CR1's t does.
    """
    from evalkit.estimators._kernels.demean import demean
    from evalkit.estimators.staggered._bootstrap import cluster_sums

    from evalkit.errors import ValidationError
    from evalkit.inference.small_sample import scaled_cond

    xt = demean(x, fe).values if fe else np.asarray(x, float)
    if scaled_cond(xt.T @ xt) > 1e12:
        raise ValidationError("a regressor is not identified under this assignment")
    xtx_inv = np.linalg.inv(xt.T @ xt)
    beta = xtx_inv @ (xt.T @ y_partialled)
    score = cluster_sums(xt * (y_partialled - xt @ beta)[:, None], clusters)  # clusters: codes 0..G-1
    vcov = xtx_inv @ (score.T @ score) @ xtx_inv
    se = np.sqrt(np.diag(vcov))[columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        return beta[columns], beta[columns] / se


def randomization_test(refit: Callable[[np.ndarray], np.ndarray], cohorts: np.ndarray, observed: np.ndarray,
                       terms: list[str], *, draws: int, seed: int | None, statistic: str,
                       progress: bool = False) -> RandomizationResult:
    """Null distribution of ``refit(permuted cohorts)`` (one statistic per term) and p-values.

    ``refit`` returns the statistics for a cohort assignment, or raises
    ``ValueError``-like EvalkitErrors for an assignment that cannot be
    estimated (counted in ``n_failed`` and skipped).
    """
    from evalkit.errors import EvalkitError

    rng = np.random.default_rng(seed)
    null = np.full((draws, len(terms)), np.nan)
    failed = 0
    for b in prog.bar(range(draws), total=draws, description="randomization inference", enabled=progress):
        try:
            null[b] = refit(permuted_cohorts(cohorts, rng))
        except EvalkitError:
            failed += 1
    p, se, r = p_values(np.asarray(observed, float), null)
    return RandomizationResult(tuple(terms), np.asarray(observed, float), p, se, r, failed, statistic, seed)


__all__ = ["RandomizationResult", "p_values", "permuted_cohorts", "randomization_test"]
