"""The simulated social-housing areas and the assignment of interventions.

Area arrays are indexed by OMR_ID (1..n); index 0 stands for "outside the areas",
so per-person lookups ``arr[omr]`` need no masking.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.data import _sim_params as P

_PREFIX = ("Nørre", "Søndre", "Vester", "Øster", "Mjølner", "Skov", "Bakke", "Strand",
           "Lind", "Enge", "Hede", "Tinge", "Sol", "Kilde", "Fjord", "Rosen", "Birke",
           "Ege", "Hasle", "Tårn")
_SUFFIX = ("parken", "gården", "høj", "vang", "lund", "bakken", "haven", "toften",
           "sletten", "engen")
NEVER = 9999  # start year of "not treated"


@dataclass(frozen=True)
class Areas:
    """Per-area parameters; arrays of length n_areas + 1 (index 0 = outside)."""

    size: np.ndarray
    growth: np.ndarray
    nw0: np.ndarray
    nw_trend: np.ndarray
    emp: np.ndarray
    crime: np.ndarray
    tryg: np.ndarray
    region: np.ndarray
    kommune: np.ndarray
    names: tuple

    @property
    def n(self) -> int:
        return len(self.size) - 1


@dataclass(frozen=True)
class Treatment:
    """Start years by area (index 0 = outside, NEVER = untreated)."""

    outreach_start: np.ndarray
    poa_start: np.ndarray
    letting_start: np.ndarray

    @staticmethod
    def none(n_areas: int) -> "Treatment":
        never = np.full(n_areas + 1, NEVER, dtype=np.int64)
        return Treatment(never, never.copy(), never.copy())


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


def _sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    size = np.clip(1900.0 * np.exp(0.38 * rng.standard_normal(n)), 1000.0, 4800.0)
    size[np.argmax(size)] = 9000.0 + rng.integers(0, 400)  # one Vollsmose-like area
    return np.round(size)


def _with_outside(values: np.ndarray, outside: float) -> np.ndarray:
    return np.concatenate([[outside], values])


def make_areas(seed: int, n: int = P.N_AREAS) -> Areas:
    """Draw the area parameters (sizes, composition, area effects, region)."""
    rng = _rng(seed, 101)
    region_idx = rng.choice(len(P.REGIONS), size=n, p=P.AREA_REGION_SHARES)
    names = rng.permutation(len(_PREFIX) * len(_SUFFIX))[:n]
    return Areas(
        size=_with_outside(_sizes(rng, n), 0.0),
        growth=_with_outside(rng.normal(0.0, 0.006, n), 0.0),
        nw0=_with_outside(0.15 + 0.67 * rng.beta(3.0, 3.0, n), 0.09),
        nw_trend=_with_outside(rng.normal(0.004, 0.004, n), 0.0),
        emp=_with_outside(rng.normal(-0.05, 0.12, n), 0.0),
        crime=_with_outside(1.25 * np.exp(rng.normal(0.0, 0.25, n)), 1.0),
        tryg=_with_outside(rng.uniform(0.64, 0.73, n), 0.87),
        region=_with_outside(P.REGIONS[region_idx], 0).astype(np.int16),
        kommune=_with_outside(101 + 150 * region_idx + 7 * rng.integers(0, 12, n), 0).astype(np.int16),
        names=tuple(_PREFIX[i // len(_SUFFIX)] + _SUFFIX[i % len(_SUFFIX)] for i in names),
    )


def target_size(areas: Areas, year: int) -> np.ndarray:
    """Target number of residents on 1 January (index 0 = 0)."""
    t = areas.size * np.exp(areas.growth * (year - P.FIRST_YEAR))
    t[1:] = np.clip(t[1:], 1000.0, 9500.0)
    return np.round(t).astype(np.int64)


def nw_share(areas: Areas, year: int) -> np.ndarray:
    """Non-western share of the in-mover profile in a year (composition drifts)."""
    return np.clip(areas.nw0 + areas.nw_trend * (year - P.FIRST_YEAR), 0.05, 0.9)


def areas_frame(areas: Areas) -> pd.DataFrame:
    """areas.parquet content."""
    return pd.DataFrame({
        "OMR_ID": np.arange(1, areas.n + 1, dtype=np.int32),
        "OMR_NAVN": pd.array(list(areas.names), dtype="str"),
        "REGION": areas.region[1:].astype(np.int16),
        "KOMMUNE": areas.kommune[1:].astype(np.int16),
    })


def _gumbel_top(rng: np.random.Generator, logw: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(logw + rng.gumbel(size=len(logw))), kind="stable")[:k]


def assign_interventions(seed: int, areas: Areas, k1: np.ndarray, crime: np.ndarray):
    """Outreach selected on K1 levels (pre-period), POA on conviction levels.

    ``k1`` and ``crime`` are per-area pre-period levels (length n_areas, OMR_ID order).
    The letting rule goes to areas with no other intervention (:func:`_letting_rule`).
    Returns the interventions table and the Treatment of the treated world.
    """
    rng = _rng(seed, 202)
    n_out = sum(P.OUTREACH_COHORTS.values())
    z = (k1 - k1.mean()) / k1.std()
    chosen = _gumbel_top(rng, 1.2 * z, n_out)
    starts = rng.permutation(np.repeat(list(P.OUTREACH_COHORTS), list(P.OUTREACH_COHORTS.values())))
    rest = np.setdiff1d(np.arange(areas.n), chosen)
    zc = (crime[rest] - crime[rest].mean()) / crime[rest].std()
    poa = rest[_gumbel_top(rng, zc, P.N_POA)]
    treat = Treatment.none(areas.n)
    treat.outreach_start[chosen + 1] = starts
    treat.poa_start[poa + 1] = P.POA_START
    rows = [(a + 1, P.OUTREACH, s, rng.uniform(2e6, 6e6)) for a, s in zip(chosen, starts)]
    rows += [(a + 1, P.POA, P.POA_START, rng.uniform(1e6, 2.5e6)) for a in poa]
    rows += _letting_rule(seed, np.setdiff1d(rest, poa), k1, treat)
    frame = pd.DataFrame(rows, columns=["OMR_ID", "intervention", "start_year", "rate"])
    frame["end_year"] = P.END_YEAR
    frame["budget_dkk"] = np.round(frame["rate"] * (P.END_YEAR - frame["start_year"] + 1), -3)
    frame = frame.sort_values(["intervention", "start_year", "OMR_ID"], ignore_index=True)
    return frame[["OMR_ID", "intervention", "start_year", "end_year", "budget_dkk"]], treat


def _letting_rule(seed: int, free: np.ndarray, k1: np.ndarray, treat: Treatment) -> list:
    """Letting-rule areas among ``free`` (0-based area indices), selected on K1 levels like outreach.

    Its own random stream (203): adding the rule changes none of the draws of the other
    interventions. Sets ``treat.letting_start``; returns the interventions rows.
    """
    rng = _rng(seed, 203)
    n = sum(P.LETTING_COHORTS.values())
    z = (k1[free] - k1[free].mean()) / k1[free].std()
    chosen = free[_gumbel_top(rng, 0.8 * z, n)]
    starts = rng.permutation(np.repeat(list(P.LETTING_COHORTS), list(P.LETTING_COHORTS.values())))
    treat.letting_start[chosen + 1] = starts
    return [(a + 1, P.LETTING, s, rng.uniform(0.3e6, 0.8e6)) for a, s in zip(chosen, starts)]
