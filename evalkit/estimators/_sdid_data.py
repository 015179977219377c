"""Validation and reshaping for :func:`evalkit.estimators.sdid.sdid`.

Turns a long unit-time panel into the (units x periods) outcome matrix and the
adoption cohort of every unit (first treated period, 0 = never treated). Works on the
copy made by :func:`~evalkit.core.checks.select`; never mutates the caller's data.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError
from evalkit.core import checks as v
from evalkit.core.clusters import content_order


@dataclass(frozen=True, slots=True)
class SdidPanel:
    """A balanced panel in matrix form with the adoption cohort of each unit."""

    units: tuple          # unit ids, in the row order of y
    times: np.ndarray     # (T,) sorted integer periods
    y: np.ndarray         # (N, T) outcomes
    cohort: np.ndarray    # (N,) first treated period, 0 = never treated
    x: np.ndarray         # (N, T, K) time-varying covariates (K = 0: none), divided by x_scale
    covariates: tuple[str, ...] = ()
    x_scale: tuple[float, ...] = ()  # (K,) power of two each covariate is divided by (beta / x_scale: data units)

    @property
    def cohorts(self) -> tuple[int, ...]:
        """The adoption cohorts, ascending."""
        return tuple(int(g) for g in np.unique(self.cohort[self.cohort > 0]))


def build_panel(data: object, *, outcome: str, unit: str, time: str, treatment: str | None,
                cohort: str | None, covariates=None) -> SdidPanel:
    """Validate the long panel and return an :class:`SdidPanel`."""
    covariates = v.as_columns("covariates", covariates)
    if (treatment is None) == (cohort is None):
        raise ParameterError("Give exactly one of treatment= (a 0/1 column, 1 from the first treated period on) "
                             "or cohort= (first treated period, 0 = never treated).")
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment, "cohort": cohort,
                           "covariates": covariates})
    v.check_label_column(df, unit, "unit")
    v.check_no_missing(df, {"time": time})
    v.check_numeric(df, outcome, "outcome")
    _check_time(df, time)
    v.check_unique_keys(df, unit, time)
    _check_outcome_complete(df, outcome, unit, time)
    v.check_varies(df, outcome, "outcome")
    for col in covariates:
        v.check_numeric(df, col, "covariates")
        v.check_no_missing(df, {"covariates": col})
    v.check_covariates(df, covariates)
    times = np.unique(df[time].to_numpy(np.int64))
    wide = df.pivot(index=unit, columns=time, values=outcome).reindex(columns=times)
    _check_balanced(wide, unit, time)
    if treatment is not None:
        g = _cohort_from_treatment(df, treatment, unit, time, times).reindex(wide.index)
    else:
        g = _cohort_from_column(df, cohort, unit, times).reindex(wide.index)
    # units in the order of their content (cohort, then outcome path), not of their labels: the placebo
    # and bootstrap draws then do not depend on the id type or the row order (issue 12)
    order = content_order(np.column_stack([g.to_numpy(float), wide.to_numpy(float)]))
    wide, g = wide.iloc[order], g.iloc[order]
    x = np.stack([df.pivot(index=unit, columns=time, values=c).reindex(index=wide.index, columns=times).to_numpy(float)
                  for c in covariates], axis=2) if covariates else np.zeros((*wide.shape, 0))
    scale = _power_of_two_scale(x)
    panel = SdidPanel(units=tuple(wide.index), times=times, y=wide.to_numpy(float), cohort=g.to_numpy(np.int64),
                      x=x / scale if covariates else x, covariates=tuple(covariates), x_scale=tuple(scale.tolist()))
    _check_design(panel, unit, treatment or cohort)
    return panel


def _power_of_two_scale(x: np.ndarray) -> np.ndarray:
    """Per covariate, the power of two nearest its standard deviation.

    R synthdid fits beta by gradient steps of size 1/t, which diverge for a covariate in large
    units (income in kroner) and stall for one in tiny units. Dividing by a power of two brings
    every covariate to a unit scale; it is exact in floating point, so covariates already on a
    unit scale (factor 1) give R's numbers unchanged, and beta is reported in data units.
    The spread, not the root mean square, sets the scale: only the variation of a covariate
    enters beta (a constant is absorbed by the weighted DiD), and a covariate with an offset
    (x + 3e5) was divided by 2^18, so that beta had to reach 3e5 by steps of 1/t and stalled."""
    sd = np.std(x.reshape(-1, x.shape[2]), axis=0) if x.size else np.ones(x.shape[2])
    return np.exp2(np.round(np.log2(np.where(sd > 0, sd, 1.0))))


def _check_time(df: pd.DataFrame, time: str) -> None:
    v.check_numeric(df, time, "time")
    values = df[time].to_numpy(dtype=float)
    if not np.all(values == np.round(values)):
        raise ValidationError(f"time={time!r} must hold whole numbers (years, quarters counted as integers).")
    df[time] = df[time].astype(np.int64)


def _check_outcome_complete(df: pd.DataFrame, outcome: str, unit: str, time: str) -> None:
    miss = df[outcome].isna()
    if miss.any():
        first = df.loc[miss].iloc[0]
        raise ValidationError(
            f"outcome={outcome!r} has {int(miss.sum())} missing value(s), e.g. ({unit}={v._plain(first[unit])!r}, "
            f"{time}={v._plain(first[time])!r}). Synthetic DiD needs the outcome of every unit in every period; "
            "impute or drop those units first.")


def _check_balanced(wide: pd.DataFrame, unit: str, time: str) -> None:
    if wide.isna().any().any():
        stacked = wide.isna().stack()
        u, t = stacked[stacked].index[0]
        raise ValidationError(
            f"The panel is unbalanced: {int(stacked.sum())} (unit, period) row(s) are absent, e.g. "
            f"({unit}={v._plain(u)!r}, {time}={v._plain(t)!r}). Synthetic DiD needs every {unit!r} observed in "
            f"every {time!r} period {wide.columns.min()}..{wide.columns.max()}.")


def _cohort_from_treatment(df: pd.DataFrame, treatment: str, unit: str, time: str, times: np.ndarray) -> pd.Series:
    v.check_binary(df, treatment, "treatment")
    wide = df.pivot(index=unit, columns=time, values=treatment).reindex(columns=times)
    d = wide.to_numpy(int)
    switch_off = np.diff(d, axis=1) < 0
    if switch_off.any():
        r, c = np.argwhere(switch_off)[0]
        raise ValidationError(
            f"treatment={treatment!r} switches off for {int(switch_off.any(axis=1).sum())} unit(s), e.g. "
            f"{unit}={v._plain(wide.index[r])!r} in {time}={int(times[c + 1])}. Synthetic DiD needs an absorbing "
            "treatment (0 before adoption, 1 from then on).")
    return pd.Series(np.where(d.any(axis=1), times[np.argmax(d, axis=1)], 0), index=wide.index)


def _cohort_from_column(df: pd.DataFrame, cohort: str, unit: str, times: np.ndarray) -> pd.Series:
    v.check_cohort(df, cohort, unit)
    g = df.groupby(unit, sort=True)[cohort].first().astype(np.int64)
    late = g > times.max()
    if late.any():
        warnings.warn(f"cohort={cohort!r}: {int(late.sum())} unit(s) first treated after the last period "
                      f"{times.max()} are counted as never treated.", EvalkitWarning, stacklevel=stack_level())
        g = g.where(~late, 0)
    return g


def _check_design(panel: SdidPanel, unit: str, col: str) -> None:
    g, times = panel.cohort, panel.times
    early = (g > 0) & (g <= times[0])
    if early.any():
        bad = [v._plain(u) for u in np.asarray(panel.units, dtype=object)[early][:5]]
        raise ValidationError(
            f"{col!r}: {int(early.sum())} unit(s) are treated from the first period {times[0]} on ({unit} {bad}); "
            "they have no pre-treatment period. Drop them or extend the panel backwards.")
    if not (g == 0).any():
        raise ValidationError(f"{col!r}: no never-treated unit; Synthetic DiD needs never-treated controls.")
    if not (g > 0).any():
        raise ValidationError(f"{col!r}: no treated unit; nothing to estimate.")
    for c in panel.cohorts:
        if (times < c).sum() < 2:
            raise ValidationError(
                f"{col!r}: the units first treated in {c} have only {(times < c).sum()} pre-treatment period; "
                "Synthetic DiD needs at least 2 (the noise level uses first differences).")
