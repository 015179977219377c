"""Tiny clean data sets for the bad-input catalogue (fast: every estimator runs in milliseconds).

Every builder returns a fresh deep copy, so a case may change its copy freely.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from evalkit.data.synthetic import staggered_panel

N_UNITS, N_PERIODS = 24, 6


@lru_cache(maxsize=None)
def _panel() -> pd.DataFrame:
    """24 units x 6 periods, 12 clusters; cohorts 0 (10 units), 3 (8) and 5 (6)."""
    d = staggered_panel(n_units=N_UNITS, n_periods=N_PERIODS, cohorts={0: 0.4, 3: 0.3, 5: 0.3}, n_clusters=12,
                        seed=1)
    rng = np.random.default_rng(2)
    d["x1"] = rng.normal(size=len(d))                                  # time-varying covariate
    d["x2"] = np.repeat(rng.normal(size=N_UNITS), N_PERIODS)           # time-invariant covariate
    d["w"] = np.repeat(rng.uniform(0.5, 2.0, N_UNITS), N_PERIODS)      # unit-level sampling weights
    d["post"] = (d["time"] >= 4).astype(int)
    d["g"] = (d["cohort"] > 0).astype(int)
    return d.drop(columns=["true_effect"])


def panel() -> pd.DataFrame:
    """The staggered panel (columns unit, cluster, time, cohort, treat, y, x1, x2, w, post, g)."""
    return _panel().copy(deep=True)


@lru_cache(maxsize=None)
def _synth_panel() -> pd.DataFrame:
    d = _panel()
    first = d.loc[d["cohort"] == 3, "unit"].min()
    d = d[(d["cohort"] == 0) | (d["unit"] == first)].copy()
    d["tr"] = (d["unit"] == first).astype(int)   # marks the treated unit (its id follows relabelling)
    return d.reset_index(drop=True)


def synth_panel() -> pd.DataFrame:
    """11 units x 6 periods: the 10 never-treated units and one unit treated from period 3 (``tr`` = 1)."""
    return _synth_panel().copy(deep=True)


@lru_cache(maxsize=None)
def _sdid_panel() -> pd.DataFrame:
    d = _panel()
    return d[d["cohort"].isin([0, 5])].reset_index(drop=True)


def sdid_panel() -> pd.DataFrame:
    """16 units x 6 periods: 10 never-treated units and 6 treated from period 5."""
    return _sdid_panel().copy(deep=True)


def arrays() -> dict[str, np.ndarray]:
    """y, X (treatment + x1 + intercept), cluster labels and OLS residuals, for the array entry points."""
    d = _panel()
    x = np.column_stack([d["treat"].to_numpy(float), d["x1"].to_numpy(float), np.ones(len(d))])
    y = d["y"].to_numpy(float, copy=True)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return {"y": y, "X": x, "clusters": d["cluster"].to_numpy(copy=True), "resid": y - x @ beta}
