"""Panels for the wild-bootstrap reference test (tests/test_wild_reference.py).

Deterministic (numpy's PCG64 with fixed seeds), so the R script
tests/references/r/fwildclusterboot.R reads the very same numbers: run
``python -m tests.wild_reference_data DIR`` to write them as CSV (17 significant digits).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def cross_section(seed: int = 11, G: int = 10) -> pd.DataFrame:
    """G clusters of unequal size (4 to 40), a cluster-level treatment in 3 clusters, one covariate."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 41, size=G)
    g = np.repeat(np.arange(1, G + 1), sizes)
    d = (g <= 3).astype(float)
    x1 = rng.normal(size=g.size)
    y = 0.3 * d + 0.5 * x1 + rng.normal(size=G)[g - 1] + rng.normal(size=g.size) * (1 + (g % 3))
    return pd.DataFrame({"g": g, "d": d, "x1": x1, "y": y})


def area_panel(seed: int = 12, G: int = 12, T: int = 6) -> pd.DataFrame:
    """Persons nested in G areas of unequal size, T years, unbalanced; treated areas 1-4 from year 4."""
    rng = np.random.default_rng(seed)
    persons = rng.integers(2, 9, size=G)
    area = np.repeat(np.arange(1, G + 1), persons * T)
    person = np.repeat(np.arange(1, persons.sum() + 1), T)
    year = np.tile(np.arange(1, T + 1), persons.sum())
    d = ((area <= 4) & (year >= 4)).astype(float)
    shock = rng.normal(size=(G, T))[area - 1, year - 1]
    y = (0.2 * d + rng.normal(size=persons.sum())[person - 1] + 0.1 * year + shock
         + rng.normal(size=area.size))
    keep = rng.random(area.size) > 0.15  # unbalanced: about 15 % of person-years missing
    return pd.DataFrame({"area": area, "person": person, "year": year, "d": d, "y": y})[keep].reset_index(drop=True)


def many_areas(seed: int = 13, G: int = 30, T: int = 5) -> pd.DataFrame:
    """Area-year panel with 30 areas (too many to enumerate): 6 treated from year 3."""
    rng = np.random.default_rng(seed)
    area = np.repeat(np.arange(1, G + 1), T)
    year = np.tile(np.arange(1, T + 1), G)
    d = ((area <= 6) & (year >= 3)).astype(float)
    y = 0.25 * d + rng.normal(size=G)[area - 1] + rng.normal(size=T)[year - 1] + rng.normal(size=area.size)
    return pd.DataFrame({"area": area, "year": year, "d": d, "y": y})


def organ_donations() -> pd.DataFrame:
    """Kessler & Roth's organ-donation panel (causaldata, MIT): California's active-choice policy
    from 2011Q3, one treated state of 27, quarters 1-6."""
    import causaldata

    d = causaldata.organ_donations.load_pandas().data
    return d.assign(D=((d["State"] == "California") & (d["Quarter_Num"] >= 4)).astype(float))


PANELS = {"cross_section": cross_section, "area_panel": area_panel, "many_areas": many_areas,
          "organ_donations": organ_donations}

if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, make in PANELS.items():
        make().to_csv(out / f"{name}.csv", index=False, float_format="%.17g")
