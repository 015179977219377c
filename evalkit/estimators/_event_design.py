"""Event-time design of the TWFE event study: event times, their dummies and the checked data
(Freyaldenhoven, Hansen, Perez Perez & Shapiro 2021). Shared by :mod:`~evalkit.estimators.event_study`
and the post-fit methods that rebuild its design (:mod:`~evalkit.estimators._designs`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core import checks as v


def event_times(time: np.ndarray, cohort: np.ndarray, leads: int, lags: int, bin_endpoints: bool) -> np.ndarray:
    """Event time per row (NaN for never-treated), binned into [-leads, lags] if asked."""
    e = np.where(cohort > 0, time - cohort, np.nan)
    return np.clip(e, -leads, lags) if bin_endpoints else e


def _dummies(etime: np.ndarray, window: list[int]) -> pd.DataFrame:
    return pd.DataFrame({f"e={k}": (etime == k).astype(float) for k in window})


def _prepare(data, *, outcome, unit, time, cohort, cluster) -> pd.DataFrame:
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "cluster": cluster})
    v.check_numeric(df, outcome, "outcome")
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_numeric(df, time, "time")
    v.check_whole(df, time, "time")
    v.check_cohort(df, cohort, unit)
    return df
