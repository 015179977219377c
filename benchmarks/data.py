"""Simulated staggered person-year data for the benchmarks, in every shape users have.

Persons live in one of ``n_areas`` areas (the clusters); treatment starts by area in staggered
years (a share never treated), and the effect is heterogeneous by cohort and dynamic in event
time. Two covariates: x1 continuous, x2 binary. The shapes (:data:`SHAPES`):

- ``balanced``: every person is observed in every year (R did's default panel);
- ``unbalanced``: persons enter and leave (about 75 % of the person-years of a balanced panel);
- ``rcs``: repeated cross-sections, a new sample of persons each year (``unit`` is unique per row).

Ids (:data:`ID_TYPES`): ``int`` (int64), ``str`` (text such as ``"P0001234"``, as pseudonymised
register ids are) or ``category`` (pandas categorical of those texts). The area and the time
stay integers. Seeded and cached as Parquet, so every library reads the same file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

YEARS = np.arange(2010, 2025)
COHORTS = np.array([0, 2014, 2016, 2018, 2020])
SHAPES = ("balanced", "unbalanced", "rcs")
ID_TYPES = ("int", "str", "category")


def _person_years(n_rows: int, shape: str, rng) -> tuple[np.ndarray, np.ndarray, int]:
    """Person index and year of each row, and the number of persons."""
    n_years = len(YEARS)
    if shape == "rcs":
        return np.arange(n_rows), YEARS[np.arange(n_rows) % n_years], n_rows
    if shape == "balanced":  # whole persons only: n_rows rounded down to a multiple of the 15 years
        n_persons = n_rows // n_years
        return np.repeat(np.arange(n_persons), n_years), np.tile(YEARS, n_persons), n_persons
    n_persons = int(n_rows / (0.75 * n_years)) + 1
    first = rng.integers(0, n_years // 2, n_persons)
    length = rng.integers(n_years // 2, n_years + 1, n_persons)
    counts = np.minimum(first + length, n_years) - first
    pid = np.repeat(np.arange(n_persons), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return pid[:n_rows], YEARS[np.repeat(first, counts) + offset][:n_rows], n_persons


def _ids(pid: np.ndarray, id_type: str):
    if id_type == "int":
        return pid.astype(np.int64)
    text = np.char.add("P", np.char.zfill(pid.astype(str), 8))
    return pd.Categorical(text) if id_type == "category" else pd.array(text, dtype=object)


def make_panel(n_rows: int, *, shape: str = "unbalanced", id_type: str = "int", seed: int = 1,
               n_areas: int = 200) -> pd.DataFrame:
    """``n_rows`` person-years of the given shape and id type (columns unit, time, area, cohort,
    treat, x1, x2, y; cohort 0 = never treated). The balanced panel has whole persons only, so
    ``n_rows`` rounded down to a multiple of the 15 years."""
    if shape not in SHAPES or id_type not in ID_TYPES:
        raise ValueError(f"shape must be one of {SHAPES} and id_type one of {ID_TYPES}")
    rng = np.random.default_rng(seed)
    pid, year, n_persons = _person_years(n_rows, shape, rng)
    area_of = rng.integers(0, n_areas, n_persons)
    area_cohort = rng.choice(COHORTS, n_areas, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    a = area_of[pid]
    cohort = area_cohort[a]
    x1 = rng.normal(size=n_persons)[pid]
    x2 = (rng.random(n_persons) < 0.4).astype(float)[pid]
    e = np.where(cohort > 0, year - cohort, -1)
    effect = np.where(e >= 0, (0.02 + 0.01 * (cohort - 2014) / 2) * np.minimum(e + 1, 3), 0.0)
    unit_fe = rng.normal(scale=0.5, size=n_persons)[pid]
    y = unit_fe + 0.01 * (year - 2010) + 0.1 * x1 - 0.05 * x2 + effect + rng.normal(scale=0.5, size=len(pid))
    return pd.DataFrame({"unit": _ids(pid, id_type), "time": year.astype(np.int64), "area": a.astype(np.int64),
                         "cohort": cohort.astype(np.int64), "treat": (e >= 0).astype(np.int64),
                         "x1": x1, "x2": x2, "y": y})


def cached_panel(n_rows: int, folder: Path, seed: int = 1, *, shape: str = "unbalanced",
                 id_type: str = "int") -> Path:
    """Write the data once per size, shape, id type and seed; every library reads the same file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"panel_{n_rows}_{shape}_{id_type}_{seed}.parquet"
    if not path.exists():
        make_panel(n_rows, shape=shape, id_type=id_type, seed=seed).to_parquet(path, index=False)
    return path
