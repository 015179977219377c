"""Every area-panel outcome of one simulated world and year, in numpy (the truth's kernel).

The definitions are those of :mod:`evalkit.data.outcomes` (the area panel's SQL in
:mod:`evalkit.data.panels` and :mod:`evalkit.data.composition`), recomputed from the
simulator's records so the untreated world, which is never written, has them too.
``tests/test_outcomes.py`` checks that the treated world's values equal the panel built
from the written data.
"""
from __future__ import annotations

import numpy as np

from evalkit.data import _sim_params as P

#: the outcomes computed here (the truth of the older three is kept as before in _sim_truth)
OUTCOMES = ("k1_share", "basic_edu_share", "income_rel_region", "nonwestern_share", "youth_emp_edu_share",
            "in_emp_edu_share", "in_nonwestern_share", "out_emp_edu_share", "out_nonwestern_share")


def _mean(omr: np.ndarray, mask: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """Mean of ``values`` over ``mask`` by area index 0..m-1 (NaN where nobody)."""
    n = np.bincount(omr[mask], minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(omr[mask], np.asarray(values, dtype=np.float64)[mask], m) / n


def _emp_edu(rec: dict) -> np.ndarray:
    """Employed or in education, in full-time persons (the complement of K1)."""
    return np.minimum(rec["besk"].astype(np.float64) + rec["udd"].astype(np.float64), 1.0)


def _working(rec: dict) -> np.ndarray:
    """K4's population: taxpayers 15-64 not in education (UDD_FTE < 0.5)."""
    return (rec["age"] >= 15) & (rec["age"] <= 64) & (rec["udd"] < 0.5)


def region_income(rec: dict, outside: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Mean K4 income by region (index as ``P.REGIONS``): the area system plus the outside population.

    ``outside`` is (income sum, count) of the outside population by region, same index.
    """
    w = _working(rec)
    idx = np.searchsorted(P.REGIONS, rec["region"][w])
    total = np.bincount(idx, rec["income"][w], len(P.REGIONS)) + outside[0]
    return total / (np.bincount(idx, minlength=len(P.REGIONS)) + outside[1])


def residents(rec: dict, region_mean: np.ndarray, area_region: np.ndarray, m: int) -> dict:
    """Indicators of the residents (area index 0..m-1; index 0 = outside, dropped by the caller)."""
    omr, age, res = rec["omr"], rec["age"], rec["omr"] > 0
    wa = res & (age >= 18) & (age <= 64)
    known30 = res & (age >= 30) & (age <= 59) & (rec["edu"] != P.UNKNOWN_EDU)
    income = _mean(omr, res & _working(rec), rec["income"], m)
    return {
        "k1_share": _mean(omr, wa, rec["udenfor"], m),
        "basic_edu_share": _mean(omr, known30, rec["edu"] == 0, m),
        "income_rel_region": income / region_mean[np.searchsorted(P.REGIONS, area_region)],
        "nonwestern_share": _mean(omr, res, rec["origin"] == 2, m),
        "youth_emp_edu_share": _mean(omr, res & (age >= 15) & (age <= 24), _emp_edu(rec), m),
    }


def _previous_area(ids: np.ndarray, other_ids: np.ndarray, other_omr: np.ndarray) -> np.ndarray:
    """Area of each id in the other year's records (-1: no row that year)."""
    order = np.argsort(other_ids, kind="stable")
    pos = np.minimum(np.searchsorted(other_ids, ids, sorter=order), len(order) - 1)
    found = other_ids[order[pos]] == ids
    return np.where(found, other_omr[order[pos]], -1)


def movers(rec: dict, prev: dict, m: int) -> dict:
    """In-mover (year t) and out-mover (year t-1 status) composition, ages 18-64 (see outcomes)."""
    was = _previous_area(rec["id"], prev["id"], prev["omr"])
    now = _previous_area(prev["id"], rec["id"], rec["omr"])
    ins = (rec["omr"] > 0) & (was != rec["omr"]) & (rec["age"] >= 18) & (rec["age"] <= 64)
    outs = (prev["omr"] > 0) & (now >= 0) & (now != prev["omr"]) & (prev["age"] >= 18) & (prev["age"] <= 64)
    return {
        "in_emp_edu_share": _mean(rec["omr"], ins, _emp_edu(rec), m),
        "in_nonwestern_share": _mean(rec["omr"], ins, rec["origin"] == 2, m),
        "out_emp_edu_share": _mean(prev["omr"], outs, _emp_edu(prev), m),
        "out_nonwestern_share": _mean(prev["omr"], outs, prev["origin"] == 2, m),
    }


def area_values(rec: dict, prev: dict | None, outside: tuple, area_region: np.ndarray) -> dict:
    """{outcome: values for areas 1..n} of one world and year (movers NaN without a previous year)."""
    m = len(area_region)
    values = residents(rec, region_income(rec, outside), area_region, m)
    if prev is None:
        values.update({k: np.full(m, np.nan) for k in OUTCOMES if k.startswith(("in_", "out_"))})
    else:
        values.update(movers(rec, prev, m))
    return {k: values[k][1:] for k in OUTCOMES}
