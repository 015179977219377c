"""Small synthetic staggered-adoption panels with a known true effect.

Used by the simulation tests and benchmarks. The outcome is

    y_it = a_i + 0.1 * t + tau(t - g_i) * 1[g_i > 0] + e_it,

with unit effects a_i ~ N(0, unit_sd^2), a common linear trend (so parallel
trends hold), noise e_it ~ N(0, noise_sd^2) and the true effect tau of the
event time e = t - g_i. Treatment timing is assigned by cluster (the
assignment level), so it is constant within a cluster.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from evalkit.errors import ParameterError

Effect = float | Mapping[int, float] | Callable[[np.ndarray], np.ndarray]


def staggered_panel(
    n_units: int = 60,
    n_periods: int = 12,
    cohorts: Mapping[int, float] | None = None,
    effect: Effect = 1.0,
    n_clusters: int | None = None,
    unit_sd: float = 1.0,
    noise_sd: float = 1.0,
    seed: int | None = None,
) -> pd.DataFrame:
    """Return a balanced panel with columns unit, cluster, time, cohort, treat, y, true_effect.

    Parameters
    ----------
    n_units, n_periods : panel size; periods are 1..n_periods.
    cohorts : first treated period -> share of clusters (0 = never treated);
        shares must sum to 1. Default {0: 1/3, 5: 1/3, 9: 1/3}.
    effect : true effect by event time e = time - cohort. A number is a
        constant effect for e >= 0; a callable is evaluated on the array of
        event times e >= 0 only (no anticipation); a mapping gives the effect
        at the listed event times (negative keys allowed) and 0 elsewhere.
    n_clusters : number of clusters the units are spread over (round robin);
        None makes every unit its own cluster.
    seed : seed of ``numpy.random.default_rng``.
    """
    cohorts = {0: 1 / 3, 5: 1 / 3, 9: 1 / 3} if cohorts is None else dict(cohorts)
    _check_args(n_units, n_periods, cohorts, n_clusters)
    rng = np.random.default_rng(seed)
    n_clusters = n_units if n_clusters is None else n_clusters
    cluster_of_unit = np.arange(n_units) % n_clusters
    cohort_of_cluster = rng.permutation(_allocate(cohorts, n_clusters))
    unit_cohort = cohort_of_cluster[cluster_of_unit]

    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    cohort = unit_cohort[unit]
    event = time - cohort
    tau = np.where(cohort > 0, true_effect(effect, event), 0.0)
    y = (rng.normal(0, unit_sd, n_units)[unit] + 0.1 * time + tau
         + rng.normal(0, noise_sd, unit.size))
    return pd.DataFrame({
        "unit": unit, "cluster": cluster_of_unit[unit], "time": time, "cohort": cohort,
        "treat": ((cohort > 0) & (event >= 0)).astype(int), "y": y, "true_effect": tau,
    })


def true_effect(effect: Effect, event_time: np.ndarray) -> np.ndarray:
    """The true effect at each event time (see :func:`staggered_panel`)."""
    e = np.asarray(event_time)
    if callable(effect):
        out = np.zeros(e.shape, dtype=float)
        post = e >= 0
        out[post] = np.broadcast_to(np.asarray(effect(e[post]), dtype=float), post.sum())
        return out
    if isinstance(effect, Mapping):
        return np.array([float(effect.get(int(k), 0.0)) for k in e.ravel()]).reshape(e.shape)
    return np.where(e >= 0, float(effect), 0.0)


def _allocate(cohorts: Mapping[int, float], n: int) -> np.ndarray:
    """Cohort label of each of n clusters, by largest remainder of the shares."""
    keys = list(cohorts)
    raw = np.array([cohorts[k] for k in keys], dtype=float) * n
    counts = np.floor(raw).astype(int)
    counts[np.argsort(counts - raw)[: n - counts.sum()]] += 1
    return np.repeat(np.array(keys, dtype=int), counts)


def _check_args(n_units: int, n_periods: int, cohorts: dict, n_clusters: int | None) -> None:
    if n_units < 2 or n_periods < 2:
        raise ParameterError(f"n_units={n_units} and n_periods={n_periods} must both be at least 2.")
    if n_clusters is not None and not 2 <= n_clusters <= n_units:
        raise ParameterError(f"n_clusters={n_clusters} must be None or between 2 and n_units={n_units}.")
    bad = [g for g in cohorts if g != 0 and not 1 <= g <= n_periods]
    if bad:
        raise ParameterError(f"cohorts {bad} are outside 1..n_periods={n_periods} (0 = never treated).")
    if any(s < 0 for s in cohorts.values()) or not np.isclose(sum(cohorts.values()), 1.0):
        raise ParameterError(f"cohort shares {list(cohorts.values())} must be non-negative and sum to 1.")
