"""Frozen results of Callaway & Sant'Anna on random panels (regression guard for speed work).

``tests/data/cs_frozen.json`` holds the estimates and standard errors of ``att_gt`` and its
four aggregations, computed by the code of commit bdadcdd (session 2) before the session-3
speed-ups. Every later change must reproduce them to 1e-10: the speed-ups reorder floating-point
sums but do not change any formula. Regenerate only for a deliberate change of the numbers:
``python -m tests.test_cs_frozen``.

Deliberate change (session 5, issue 12): the multiplier bootstrap now gives the draws to the
clusters in the order of their content, not of their labels (a seeded bootstrap no longer changes
with the id type); only the bootstrap standard errors of ``unbalanced_dr_cov_boot`` were
regenerated (estimates unchanged to 0, SEs moved by the Monte Carlo noise of 199 draws).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.estimators.staggered import aggregate, att_gt

FROZEN = Path(__file__).resolve().parent / "data" / "cs_frozen.json"
TOL = 1e-10
KW = dict(outcome="y", unit="unit", time="time", cohort="cohort")
CASES = {
    "unbalanced_dr_cov_cluster": dict(covariates=["x1", "x2"], method="dr", cluster="area"),
    "unbalanced_ipw_cov_cluster": dict(covariates=["x1", "x2"], method="ipw", cluster="area"),
    "unbalanced_reg_cov": dict(covariates=["x1", "x2"], method="reg"),
    "unbalanced_dr_notyet_weights": dict(covariates=["x1", "x2"], method="dr", control_group="notyet",
                                         weights="w", cluster="area"),
    "unbalanced_dr_universal_anticipation": dict(covariates=["x1"], method="dr", base_period="universal",
                                                 anticipation=1),
    "unbalanced_dr_nocov_cluster": dict(method="dr", cluster="area"),
    "unbalanced_dr_cov_boot": dict(covariates=["x1", "x2"], method="dr", cluster="area", bootstrap=True,
                                   draws=199, seed=7),
    "balanced_dr_cov_cluster": dict(covariates=["x1", "x2"], method="dr", cluster="area", balanced=True),
    "rc_dr_cov": dict(covariates=["x1", "x2"], method="dr", panel=False),
}


def make_panel(seed: int = 20261122, n_units: int = 2500, n_periods: int = 9, balanced: bool = False) -> pd.DataFrame:
    """Unbalanced person-period panel: areas with staggered cohorts, two covariates, weights."""
    rng = np.random.default_rng(seed)
    area = rng.integers(0, 60, n_units)
    area_cohort = rng.choice([0, 3, 5, 7, 20], 60, p=[0.35, 0.2, 0.2, 0.15, 0.1])
    cohort = area_cohort[area]
    x1, x2 = rng.normal(size=n_units), (rng.random(n_units) < 0.4).astype(float)
    w = rng.uniform(0.5, 2.0, n_units)
    fe = rng.normal(scale=0.5, size=n_units)
    unit, time = np.meshgrid(np.arange(n_units), np.arange(1, n_periods + 1), indexing="ij")
    unit, time = unit.ravel(), time.ravel()
    keep = np.ones(unit.size, bool) if balanced else rng.random(unit.size) < 0.8
    unit, time = unit[keep], time[keep]
    g = cohort[unit]
    e = np.where(g > 0, time - g, -1)
    p_treat = 1 / (1 + np.exp(-(0.4 * x1 - 0.3 * x2)))[unit]
    y = (fe[unit] + 0.05 * time + 0.3 * x1[unit] * time / n_periods - 0.2 * x2[unit] + 0.1 * p_treat
         + np.where(e >= 0, 0.5 + 0.1 * e, 0.0) + rng.normal(scale=0.7, size=unit.size))
    df = pd.DataFrame({"unit": unit, "time": time, "area": area[unit], "cohort": g, "x1": x1[unit],
                       "x2": x2[unit], "w": w[unit], "y": y})
    return df.sample(frac=1.0, random_state=3).reset_index(drop=True)  # rows in no particular order


def compute(case: str) -> dict:
    kw = dict(CASES[case])
    df = make_panel(balanced=kw.pop("balanced", False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = att_gt(df, **KW, **kw)
        out = {"att_gt": _numbers(res)}
        for kind in ["simple", "group", "dynamic", "calendar"]:
            # draws=999: the frozen aggregates were made when aggregate's draws defaulted to 999
            # (it now takes the result's draws, 199 in unbalanced_dr_cov_boot)
            out[kind] = _numbers(aggregate(res, kind, seed=11, draws=999))
    return out


def _numbers(res) -> dict:
    tab = res.tidy() if hasattr(res, "tidy") else res.table
    return {"term": list(tab["term"]), "estimate": [float(x) for x in tab["estimate"]],
            "std_error": [float(x) for x in tab["std_error"]]}


@pytest.fixture(scope="module")
def frozen():
    return json.loads(FROZEN.read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_att_gt_and_aggregates_equal_frozen_results(frozen, case):
    got, want = compute(case), frozen[case]
    assert got.keys() == want.keys()
    for part in want:
        assert got[part]["term"] == want[part]["term"], (case, part)
        for col in ["estimate", "std_error"]:
            np.testing.assert_allclose(np.array(got[part][col], float), np.array(want[part][col], float),
                                       rtol=0, atol=TOL, err_msg=f"{case} {part} {col}")


if __name__ == "__main__":
    FROZEN.write_text(json.dumps({case: compute(case) for case in CASES}, indent=1) + "\n")
    print(f"wrote {FROZEN}")
