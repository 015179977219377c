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

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evalkit import progress as prog
from evalkit.core import linalg
from evalkit.core.clusters import cluster_sums
from evalkit.core.demean import demean
from evalkit.errors import EvalkitError, EvalkitWarning, ValidationError


@dataclass(frozen=True, slots=True)
class RandomizationResult:
    """p-values per term under re-assigned treatment timing."""

    terms: tuple[str, ...]
    observed: np.ndarray       # observed statistic per term
    p_value: np.ndarray
    mc_se: np.ndarray          # Monte Carlo standard error of each p-value
    draws: int                 # re-assignments that could be estimated (each counts in the p-value)
    n_failed: int              # re-assignments whose estimation failed (left out, with a warning)
    n_nonfinite: tuple[int, ...]  # per term: draws with a non-finite statistic (counted as extreme)
    statistic: str
    seed: int | None


def permuted_cohorts(cohorts: np.ndarray, rng: np.random.Generator, order: np.ndarray | None = None) -> np.ndarray:
    """A random re-assignment of the clusters' cohorts (a permutation of the array).

    ``order``: the clusters in a canonical order (:func:`evalkit.core.clusters.content_order` of
    their data); the permutation is drawn over those positions, so a seeded test does not depend
    on the clusters' labels or the row order."""
    if order is None:
        return cohorts[rng.permutation(cohorts.size)]
    out = np.empty_like(cohorts)
    out[order] = cohorts[order][rng.permutation(cohorts.size)]
    return out


def p_values(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Two-sided p-values of |observed| against the rows of ``null`` (draws x terms).

    Every draw counts (the randomization p-value of Fisher; Imbens & Rubin 2015, ch. 5):
    an infinite draw is at least as extreme as any observed value, and a NaN draw (a
    statistic undefined under that assignment, e.g. 0/0) is counted as extreme too, so the
    p-value stays conservative instead of shrinking when draws are dropped. Returns the
    p-values, their Monte Carlo standard errors, the number of draws and the number of
    non-finite draws per term.
    """
    nonfinite = ~np.isfinite(null)
    hits = (np.abs(np.nan_to_num(null, nan=0.0)) >= np.abs(observed) * (1 - 1e-12)) | nonfinite
    r = null.shape[0]
    p = np.where(np.isfinite(observed), (1 + hits.sum(axis=0)) / (1 + r), np.nan)
    return p, np.sqrt(p * (1 - p) / max(r, 1)), r, nonfinite.sum(axis=0)


def ols_cluster_t(y_partialled: np.ndarray, x: np.ndarray, fe: list[np.ndarray], clusters: np.ndarray | None,
                  columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and cluster-robust t statistics (unscaled CR0) of the chosen columns.

    The fixed effects are partialled out of ``x`` (Frisch-Waugh-Lovell; ``y`` is
    passed already partialled, it does not change across re-assignments). The
    CR1 factor is the same for every re-assignment, so t ranks as CR1's t does.
    """
    xt = demean(x, fe).values if fe else np.asarray(x, float)
    xtx_inv = linalg.inv(xt.T @ xt, "a regressor is not identified under this assignment")
    beta = xtx_inv @ (xt.T @ y_partialled)
    score = cluster_sums(xt * (y_partialled - xt @ beta)[:, None], clusters)  # clusters: codes 0..G-1
    vcov = xtx_inv @ (score.T @ score) @ xtx_inv
    se = np.sqrt(np.diag(vcov))[columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        return beta[columns], beta[columns] / se


def randomization_test(refit: Callable[[np.ndarray], np.ndarray], cohorts: np.ndarray, observed: np.ndarray,
                       terms: list[str], *, draws: int, seed: int | None, statistic: str,
                       progress: bool = False, order: np.ndarray | None = None) -> RandomizationResult:
    """Null distribution of ``refit(permuted cohorts)`` (one statistic per term) and p-values.

    ``refit`` returns the statistics for a cohort assignment, or raises
    ``ValueError``-like EvalkitErrors for an assignment that cannot be
    estimated (counted in ``n_failed`` and skipped).
    """
    rng = np.random.default_rng(seed)
    null = np.full((draws, len(terms)), np.nan)
    ok = np.ones(draws, dtype=bool)
    for b in prog.bar(range(draws), total=draws, description="randomization inference", enabled=progress):
        try:
            null[b] = refit(permuted_cohorts(cohorts, rng, order))
        except EvalkitError:
            ok[b] = False
    if not ok.any():
        raise ValidationError(f"randomization inference: none of the {draws} re-assignments could be "
                              "estimated (too few treated or comparison units)")
    p, se, r, nonfinite = p_values(np.asarray(observed, float), null[ok])
    failed = int(draws - ok.sum())
    if failed or nonfinite.any():
        warnings.warn(f"randomization inference: {failed} of {draws} re-assignments could not be estimated "
                      f"and were left out; {int(nonfinite.max())} gave a non-finite statistic, counted as "
                      "at least as extreme as the observed one (conservative).", EvalkitWarning, stacklevel=3)
    return RandomizationResult(tuple(terms), np.asarray(observed, float), p, se, r, failed,
                               tuple(int(v) for v in nonfinite), statistic, seed)


__all__ = ["RandomizationResult", "p_values", "permuted_cohorts", "randomization_test"]
