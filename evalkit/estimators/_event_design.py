"""Event-time design of the TWFE event study: event times, their dummies and the checked data
(Freyaldenhoven, Hansen, Perez Perez & Shapiro 2021). Shared by :mod:`~evalkit.estimators.event_study`
and the post-fit methods that rebuild its design (:mod:`~evalkit.estimators._designs`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core import checks as v, weighting
from evalkit.estimators._fast_checks import constant_within


def event_times(time: np.ndarray, cohort: np.ndarray, leads: int, lags: int, bin_endpoints: bool) -> np.ndarray:
    """Event time per row (NaN for never-treated), binned into [-leads, lags] if asked."""
    e = np.where(cohort > 0, time - cohort, np.nan)
    return np.clip(e, -leads, lags) if bin_endpoints else e


def _dummies(etime: np.ndarray, window: list[int]) -> pd.DataFrame:
    return pd.DataFrame({f"e={k}": (etime == k).astype(float) for k in window})


def event_codes(etime: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Position of each row's event time in lo..hi (0..hi-lo), hi-lo+1 for none (never treated,
    outside the range or not whole): the event-time dummies as one integer code per row."""
    m = hi - lo + 1
    shifted = etime - lo
    inside = (shifted >= 0) & (shifted < m)  # NaN (never treated) is outside
    code = np.full(len(etime), m, dtype=np.intp)
    pos = shifted[inside]
    whole = pos == np.floor(pos)
    code[np.flatnonzero(inside)[whole]] = pos[whole].astype(np.intp)
    return code


def event_span(time: np.ndarray, cohort: np.ndarray, leads: int, lags: int, bin_endpoints: bool) -> np.ndarray:
    """``event_codes(event_times(time, cohort, leads, lags, bin_endpoints), -leads, lags)``; for
    integer columns in integer arithmetic, without the float event times (whole numbers: the same)."""
    time, cohort = np.asarray(time), np.asarray(cohort)
    if time.dtype.kind not in "iu" or cohort.dtype.kind not in "iu":
        return event_codes(event_times(time.astype(float), cohort.astype(float), leads, lags, bin_endpoints),
                           -leads, lags)
    m = leads + lags + 1
    code = time.astype(np.intp)
    code -= cohort
    if bin_endpoints:
        np.clip(code, -leads, lags, out=code)
    code += leads
    none = cohort <= 0
    none |= code < 0
    none |= code >= m
    code[none] = m
    return code


def _prepare(data, *, outcome, unit, time, cohort, cluster, weights=None, weights_type="analytic") -> pd.DataFrame:
    return _prepare_coded(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster,
                          weights=weights, weights_type=weights_type)[0]


def _prepare_coded(data, *, outcome, unit, time, cohort, cluster, weights=None,
                   weights_type="analytic") -> tuple[pd.DataFrame, np.ndarray]:
    """The checked data and the sorted integer codes of ``unit`` (``pd.factorize(..., sort=True)``)."""
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "cluster": cluster,
                         "weights": weights})
    weighting.check_column(df, weights, weights_type)
    v.check_numeric(df, outcome, "outcome")
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_numeric(df, time, "time")
    v.check_whole(df, time, "time")
    v.check_cohort(df, cohort, None)  # v.check_cohort(df, cohort, unit) with its last step from the codes:
    units = pd.factorize(df[unit], sort=True)[0]
    constant_within(df, cohort, [unit], units, "cohort", "a unit is first treated only once")
    return df, units
