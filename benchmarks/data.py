"""Simulated staggered person-year panels for the benchmarks: unbalanced, clustered by area.

Persons live in one of ``n_areas`` areas; treatment starts by area in staggered years (a share
never treated); persons enter and leave the panel (unbalanced), and the effect is heterogeneous
by cohort and dynamic in event time. Two time-invariant covariates. Seeded and cached as Parquet.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

YEARS = np.arange(2010, 2025)
COHORTS = np.array([0, 2014, 2016, 2018, 2020])


def make_panel(n_rows: int, *, seed: int = 1, n_areas: int = 200) -> pd.DataFrame:
    """About ``n_rows`` person-years (exactly: persons x their observed years)."""
    rng = np.random.default_rng(seed)
    n_years = len(YEARS)
    n_persons = int(n_rows / (0.75 * n_years)) + 1
    area = rng.integers(0, n_areas, n_persons)
    area_cohort = rng.choice(COHORTS, n_areas, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    first = rng.integers(0, n_years // 2, n_persons)                  # first observed year index
    length = rng.integers(n_years // 2, n_years + 1, n_persons)
    last = np.minimum(first + length, n_years)
    counts = last - first
    pid = np.repeat(np.arange(n_persons), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    year = YEARS[np.repeat(first, counts) + offset]
    keep = slice(0, n_rows)
    pid, year = pid[keep], year[keep]
    a = area[pid]
    cohort = area_cohort[a]
    x1 = rng.normal(size=n_persons)[pid]
    x2 = (rng.random(n_persons) < 0.4).astype(float)[pid]
    e = np.where(cohort > 0, year - cohort, -1)
    effect = np.where(e >= 0, (0.02 + 0.01 * (cohort - 2014) / 2) * np.minimum(e + 1, 3), 0.0)
    unit_fe = rng.normal(scale=0.5, size=n_persons)[pid]
    y = unit_fe + 0.01 * (year - 2010) + 0.1 * x1 - 0.05 * x2 + effect + rng.normal(scale=0.5, size=len(pid))
    return pd.DataFrame({"unit": pid.astype(np.int64), "time": year.astype(np.int64), "area": a.astype(np.int64),
                         "cohort": cohort.astype(np.int64), "treat": (e >= 0).astype(np.int64),
                         "x1": x1, "x2": x2, "y": y})


def cached_panel(n_rows: int, folder: Path, seed: int = 1) -> Path:
    """Write the panel once per size and seed; every library reads the same file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"panel_{n_rows}_{seed}.parquet"
    if not path.exists():
        make_panel(n_rows, seed=seed).to_parquet(path, index=False)
    return path
