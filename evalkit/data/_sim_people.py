"""Persons: static attributes from keyed draws, and the yearly outcome kernel.

A person is a dict of equal-length numpy arrays (a "state"): ``id`` (internal uint64),
``foed``, ``koen``, ``origin`` (0 dansk, 1 vestlig, 2 ikke_vestlig), ``ie``, ``edu``
(0-3, 4 = unknown), ``alpha`` (latent employability), ``region``, ``omr``
(0 = outside the areas) and ``prio`` (let a dwelling under a letting rule; see _sim_world).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R

STATE_KEYS = ("id", "foed", "koen", "origin", "ie", "edu", "alpha", "region", "omr", "prio")
# age bands (lower edges, upper edge last) and shares by population kind
_AGE_EDGES = np.array([0, 18, 30, 50, 65, 90])
_AGE_SHARES = {
    "area_initial": np.array([0.27, 0.22, 0.27, 0.15, 0.09]),
    "in_mover": np.array([0.30, 0.34, 0.24, 0.08, 0.04]),
    "outside": np.array([0.21, 0.16, 0.27, 0.19, 0.17]),
}
_OUTSIDE_BORN_LATER = 0.13  # share of the outside population born 2011-2024


def _ages(u: np.ndarray, kind: str) -> np.ndarray:
    """Piecewise-uniform ages from one uniform per person."""
    cum = np.concatenate([[0.0], np.cumsum(_AGE_SHARES[kind])])
    band = np.minimum(np.searchsorted(cum, u, side="right") - 1, len(cum) - 2)
    frac = (u - cum[band]) / (cum[band + 1] - cum[band])
    lo, hi = _AGE_EDGES[band], _AGE_EDGES[band + 1]
    return np.floor(lo + frac * (hi - lo)).astype(np.int64)


def new_persons(seed: int, ids: np.ndarray, *, kind: str, year: int, omr: np.ndarray,
                region: np.ndarray, nw: np.ndarray) -> dict:
    """Persons created in ``year`` (age drawn for that year) with per-person NW share ``nw``."""
    ids = np.asarray(ids, dtype=np.uint64)
    u = {s: R.uniform(seed, ids, 0, s) for s in (R.S_SEX, R.S_ORIGIN, R.S_IE, R.S_EDU, R.S_AGE)}
    age = _ages(u[R.S_AGE], kind)
    probs = np.stack([1.0 - nw - 0.06, np.full_like(nw, 0.06), nw], axis=1)
    origin = R.categorical(u[R.S_ORIGIN], probs).astype(np.int8)
    descendant_p = np.where(age < 20, 0.75, 0.10)
    ie = np.where(origin == 0, 1, np.where(u[R.S_IE] < descendant_p, 3, 2)).astype(np.int8)
    edu = R.categorical(u[R.S_EDU], P.edu_probs(origin, kind != "outside", ie == 2))
    alpha = P.ALPHA_MEAN[kind] + P.ALPHA_SD * R.normal(seed, ids, 0, R.S_ALPHA)
    return {
        "id": ids, "foed": (year - age).astype(np.int16),
        "koen": np.where(u[R.S_SEX] < 0.5, 1, 2).astype(np.int8),
        "origin": origin, "ie": ie, "edu": edu.astype(np.int8), "alpha": alpha,
        "region": np.asarray(region, dtype=np.int16), "omr": np.asarray(omr, dtype=np.int32),
        "prio": np.zeros(len(ids), dtype=bool),
    }


def outside_persons(seed: int, ids: np.ndarray) -> dict:
    """The never-in-area comparison population (ages as of 2010; some born later)."""
    ids = np.asarray(ids, dtype=np.uint64)
    region_u = R.uniform(seed, ids, 0, R.S_REGION)
    region = P.REGIONS[R.categorical(region_u, P.POP_REGION_SHARES)]
    nw = np.full(len(ids), 0.09)
    st = new_persons(seed, ids, kind="outside", year=P.FIRST_YEAR, omr=np.zeros(len(ids)),
                     region=region, nw=nw)
    ub = R.uniform(seed, ids, 0, R.S_BIRTH)
    later = ub < _OUTSIDE_BORN_LATER
    born = P.FIRST_YEAR + 1 + np.floor(ub / _OUTSIDE_BORN_LATER * (P.LAST_YEAR - P.FIRST_YEAR))
    st["foed"] = np.where(later, born, st["foed"]).astype(np.int16)
    st["ie"] = np.where(later & (st["origin"] > 0), 3, st["ie"]).astype(np.int8)
    return st


def take(state: dict, mask_or_index) -> dict:
    """Subset every array of a state."""
    return {k: v[mask_or_index] for k, v in state.items()}


def concat(*states: dict) -> dict:
    """Stack states (same keys)."""
    return {k: np.concatenate([s[k] for s in states]) for k in STATE_KEYS}


def _labour(seed, st, year, age, delta):
    """Employment and education status; returns (besk, udd, udenfor) as float32."""
    ids = st["id"]
    student = R.uniform(seed, ids, year, R.S_STUDY) < P.study_prob(age)
    adult, teen, old = (age >= 18) & (age < 65), (age >= 16) & (age < 18), age >= 65
    index = (P.EMP_INTERCEPT + st["alpha"] + P.ORIGIN_EFFECT[st["origin"]]
             + P.EDU_EFFECT[st["edu"]] + P.year_effect(year) + P.age_effect(age))
    p = np.minimum(ndtr(index) + np.where(adult, delta, 0.0), 1.0)
    p = np.select([adult, teen, old], [p, 0.5 * p, P.old_emp_prob(age)], 0.0)
    employed = ~student & (R.uniform(seed, ids, year, R.S_EMP) < p)
    besk = np.where(employed, np.where(R.uniform(seed, ids, year, R.S_FULL) < 0.8, 1.0, 0.5), 0.0)
    part_edu = adult & ~student & ~employed & (R.uniform(seed, ids, year, R.S_PARTEDU) < 0.2)
    udd = np.where(student, 1.0, np.where(part_edu, 0.25, 0.0))
    return besk.astype(np.float32), udd.astype(np.float32), (1.0 - besk - udd).astype(np.float32)


def _income(seed, st, year, age, besk, udd, udenfor):
    """Gross income: wage x employment fraction + transfers."""
    ids = st["id"]
    logw = P.wage_log_mean(st["edu"], st["region"]) + 0.15 * st["alpha"]
    wage = np.exp(logw + 0.35 * R.normal(seed, ids, year, R.S_WAGE)) * besk
    wage = np.where(age < 18, 0.3 * wage, wage)
    adult, old = (age >= 18) & (age < 65), age >= 65
    transfers = np.where(adult, 150e3 * udenfor + 80e3 * udd, 0.0) + np.where(old, 180e3 * (1 - besk), 0.0)
    return np.round(wage + transfers)


def yearly_outcomes(seed: int, st: dict, year: int, delta: np.ndarray, conv_mult: np.ndarray,
                    area_crime: np.ndarray) -> dict:
    """One year's register outcomes for every person of ``st`` (vectorised kernel).

    ``delta`` is the treatment effect on the employment probability, ``conv_mult`` the
    multiplier on the conviction probability; ``area_crime`` the local (place) crime
    multiplier per person. Area differences in employment enter through ``alpha``.
    """
    age = year - st["foed"].astype(np.int64)
    besk, udd, udenfor = _labour(seed, st, year, age, delta)
    p_conv = P.conviction_base(age, st["koen"]) * np.exp(-0.5 * st["alpha"]) * area_crime * conv_mult
    domf = (R.uniform(seed, st["id"], year, R.S_CONV) < p_conv).astype(np.int8)
    income = _income(seed, st, year, age, besk, udd, udenfor)
    return {"besk": besk, "udd": udd, "udenfor": udenfor, "income": income, "domf": domf, "age": age}
