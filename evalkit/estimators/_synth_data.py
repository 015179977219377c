"""Validation and reshaping for :func:`evalkit.estimators.synth.synth`.

Turns a long unit-time panel into the arrays the kernels use: the outcome matrix
(units x periods) and the predictor matrix (predictors x units). Never mutates the
caller's data (works on the copy made by :func:`select`).
"""
from __future__ import annotations

import math
import warnings
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import stack_level, ParameterError, ValidationError
from evalkit.core.checks import (check_label_column, check_no_missing, check_numeric, check_unique_keys,
                                 check_varies, check_whole, plain, select)


@dataclass(frozen=True, slots=True)
class SynthPanel:
    """A balanced panel in matrix form."""

    units: tuple               # unit ids, in the column order of y and x
    times: np.ndarray          # (T,) sorted integer periods
    y: np.ndarray              # (T, N) outcomes
    x: np.ndarray              # (k, N) predictors
    predictor_names: tuple[str, ...]
    pre: np.ndarray            # (T,) bool, True before treatment_start
    treated: tuple[int, ...]   # column indices of the treated units
    donors: tuple[int, ...]    # column indices of the donor pool


def _as_units(treated: object) -> list[Hashable]:
    if isinstance(treated, (str, bytes)) or not isinstance(treated, Iterable):
        return [treated]
    units = list(treated)
    if not units:
        raise ParameterError("treated=[] is empty; give the id of at least one treated unit.")
    if len(set(units)) != len(units):
        raise ParameterError(f"treated={[plain(u) for u in units]!r} lists a unit twice.")
    return units


def _predictor_spec(predictors: object, times: np.ndarray, pre: np.ndarray) -> dict[str, list]:
    """Map predictor column -> list of periods averaged over (default: all pre periods)."""
    pre_times = [int(t) for t in times[pre]]
    if predictors is None:
        return {}
    if isinstance(predictors, str):
        return {predictors: pre_times}
    if isinstance(predictors, Mapping):
        spec = {}
        for col, periods in predictors.items():
            periods = pre_times if periods is None else [periods] if isinstance(periods, numbers.Integral) else list(periods)
            bad = [p for p in periods if p not in set(pre_times)]
            if bad or not periods:
                raise ParameterError(f"predictors[{col!r}]: periods {[plain(p) for p in bad or periods]!r} are not pre-treatment "
                                     f"periods in the data; choose from {pre_times}.")
            spec[str(col)] = [int(p) for p in periods]
        return spec
    if isinstance(predictors, Sequence):
        return {str(c): pre_times for c in predictors}
    raise ParameterError(f"predictors={predictors!r} must be None, a list of columns or a mapping column -> periods.")


def _check_times(df: pd.DataFrame, time: str, treatment_start: object) -> tuple[np.ndarray, np.ndarray]:
    check_numeric(df, time, "time")
    values = df[time].to_numpy(dtype=float)
    if not np.all(values == np.round(values)):
        raise ValidationError(f"time={time!r} must hold whole numbers (years, quarters counted as integers).")
    times = np.unique(values.astype(np.int64))
    if isinstance(treatment_start, bool) or not isinstance(treatment_start, numbers.Real) or not (
            math.isfinite(treatment_start) and float(treatment_start).is_integer()):
        raise ParameterError(f"treatment_start={plain(treatment_start)!r} must be a period (a whole number).")
    pre = times < treatment_start
    if pre.sum() < 1 or (~pre).sum() < 1:
        raise ParameterError(
            f"The first treated period {plain(treatment_start)!r} (of cohort=/treatment=, or treatment_start=) must leave "
            f"at least one pre-treatment period and one period from it on; the data cover {times.min()}..{times.max()}.")
    return times, pre


def _canonical_units(df: pd.DataFrame, unit: str) -> tuple:
    """Unit ids in a canonical order (sorted when they sort), so that the row order never matters.

    :func:`build_panel` then orders them by their outcome paths: with few predictors the donor
    weights need not be unique, and the solver's answer would otherwise depend on the order
    of the rows or on the ids."""
    units = list(pd.unique(df[unit]))
    try:
        return tuple(sorted(units))
    except TypeError:
        return tuple(units)


def _missing_message(y: pd.DataFrame, pre: np.ndarray, unit: str) -> str:
    """Name the units and periods whose outcome is absent (pre-periods first: they decide the fit)."""
    miss = y.isna()
    by_unit = {u: [int(t) for t in miss.index[miss[u]]] for u in miss.columns if miss[u].any()}
    pre_units = [u for u in by_unit if miss.loc[miss.index[pre], u].any()]
    shown = "; ".join(f"{plain(u)!r}: {ts[:6]}{' ...' if len(ts) > 6 else ''}" for u, ts in list(by_unit.items())[:8])
    more = f" and {len(by_unit) - 8} more units" if len(by_unit) > 8 else ""
    return (f"The panel is unbalanced: {int(miss.sum().sum())} unit-period outcome(s) are absent "
            f"({len(pre_units)} unit(s) {unit}= miss pre-treatment periods). Missing periods by unit: {shown}{more}. "
            f"The synthetic control needs every unit observed in every period {y.index.min()}..{y.index.max()}; "
            "drop those donors or fill the gaps before fitting.")


def build_panel(data: object, *, outcome: str, unit: str, time: str, treated: object,
                treatment_start: object, predictors: object, pre_periods: object) -> SynthPanel:
    """Validate the long panel and return a :class:`SynthPanel`."""
    spec_cols = list(predictors) if isinstance(predictors, (Mapping, list, tuple)) else (
        [predictors] if isinstance(predictors, str) else [])
    df = select(data, {"outcome": outcome, "unit": unit, "time": time, "predictors": spec_cols})
    check_no_missing(df, {"unit": unit, "time": time, "outcome": outcome})
    for col in [outcome, *spec_cols]:
        check_numeric(df, col, "outcome" if col == outcome else "predictors")
    check_label_column(df, unit, "unit")
    check_varies(df, outcome, "outcome")
    check_unique_keys(df, unit, time)
    times, pre = _check_times(df, time, treatment_start)
    df[time] = df[time].astype(np.int64)
    units = _canonical_units(df, unit)
    y = df.pivot(index=time, columns=unit, values=outcome).reindex(index=times, columns=list(units))
    if y.isna().any().any():
        raise ValidationError(_missing_message(y, pre, unit))
    order = np.lexsort(y.to_numpy(float)[::-1])  # by outcome path, first period first (stable: ties by id)
    units, y = tuple(units[i] for i in order), y.iloc[:, order]
    treated_ids = _as_units(treated)
    missing = [t for t in treated_ids if t not in units]
    if missing:
        raise ParameterError(f"treated={[plain(u) for u in missing]!r} not found in unit={unit!r}; units include "
                             f"{[plain(u) for u in sorted(units, key=str)[:10]]}.")
    treated_idx = tuple(units.index(t) for t in treated_ids)
    donors = tuple(i for i in range(len(units)) if i not in treated_idx)
    if len(donors) < 2:
        raise ValidationError(f"Only {len(donors)} donor unit(s); the synthetic control needs at least 2.")
    names, rows = _predictor_rows(df, unit, time, outcome, units, times, pre,
                                  _predictor_spec(predictors, times, pre), pre_periods)
    return SynthPanel(units=units, times=times, y=y.to_numpy(float), x=np.vstack(rows),
                      predictor_names=tuple(names), pre=pre, treated=treated_idx, donors=donors)


def _predictor_rows(df, unit, time, outcome, units, times, pre, spec, pre_periods):
    names, rows = [], []
    for col, periods in spec.items():
        # each unit's values summed in time order, whatever the row order: shuffled rows gave means
        # that differed in the last bit, and the V search turned that into different estimates
        sub = df[df[time].isin(periods)].sort_values(time, kind="stable")
        means = sub.groupby(unit, sort=False, observed=True)[col].mean().reindex(list(units))
        if means.isna().any():
            bad = means.index[means.isna()].tolist()[:5]
            raise ValidationError(f"predictors: {col!r} is missing in every chosen period for unit(s) {[plain(u) for u in bad]}.")
        window = f"{min(periods)}-{max(periods)}" if len(periods) > 1 else f"{periods[0]}"
        values = means.to_numpy(float)
        if np.ptp(values) <= 1e-12 * float(np.abs(values).max()):  # V scales by the sd (relative: unit-free)
            raise ValidationError(f"predictors: {col!r} takes the same value {values[0]:g} for every unit over "
                                  f"{window}; a constant predictor cannot tell donors apart (its scale, and so "
                                  "V, is undefined). Drop it.")
        names.append(f"{col}[{window}]")
        rows.append(means.to_numpy(float))
    lags = _pre_periods(pre_periods, times, pre, bool(spec))
    wide = df.pivot(index=time, columns=unit, values=outcome).reindex(columns=list(units))
    for p in lags:
        names.append(f"{outcome}[{p}]")
        rows.append(wide.loc[p].to_numpy(float))
    return names, rows


def _pre_periods(pre_periods: object, times: np.ndarray, pre: np.ndarray, have_spec: bool) -> list[int]:
    """Pre-period outcome levels used as predictors (default: all, when no other predictor)."""
    pre_times = [int(t) for t in times[pre]]
    if pre_periods is None:
        return [] if have_spec else pre_times
    items = [pre_periods] if isinstance(pre_periods, numbers.Integral) else list(pre_periods)
    bad = [p for p in items if p not in pre_times]
    if bad:
        raise ParameterError(f"pre_periods={[plain(p) for p in bad]!r} are not pre-treatment periods; choose from {pre_times}.")
    if not items and not have_spec:
        raise ParameterError("No predictors: give predictors=[...] or pre_periods=[...].")
    return [int(p) for p in items]


def treatment_timing(data: object, *, unit: str, time: str, cohort: str | None, treatment: str | None,
                     treated: object, treatment_start: object) -> tuple[object, object]:
    """(treated unit ids, first treated period) from ``cohort=`` or ``treatment=`` (as in sdid), or
    from the deprecated ``treated=`` / ``treatment_start=`` (with a FutureWarning)."""
    given = [name for name, value in (("cohort", cohort), ("treatment", treatment)) if value is not None]
    old = [name for name, value in (("treated", treated), ("treatment_start", treatment_start)) if value is not None]
    if len(given) > 1 or (given and old):
        raise ParameterError(f"synth: give one of cohort= or treatment= (got {given + old}).")
    if old:
        if len(old) < 2:
            raise ParameterError("synth: treated= and treatment_start= go together; better, give cohort= or "
                                 "treatment= (a column, as in sdid).")
        warnings.warn("synth: treated= and treatment_start= are deprecated and will be removed; give cohort= "
                      "(first treated period per unit) or treatment= (a 0/1 column), as in sdid.",
                      FutureWarning, stacklevel=stack_level())
        return treated, treatment_start
    if not given:
        raise ParameterError("synth needs cohort= (column of first treated periods, 0 = never) or treatment= "
                             "(0/1 column).")
    col = cohort if cohort is not None else treatment
    df = select(data, {"unit": unit, "time": time, given[0]: col})
    check_no_missing(df, {"unit": unit, "time": time})
    check_numeric(df, col, given[0])
    if cohort is not None:
        check_whole(df, col, "cohort", "whole periods (the first treated period; 0 or missing = never treated)")
        if (df[col] < 0).any():
            raise ValidationError(f"cohort={col!r} has negative values {sorted(set(df.loc[df[col] < 0, col].tolist()))[:3]}; "
                                  "use the first treated period, or 0 for never treated.")
    starts = _starts_from_cohort(df, unit, col) if cohort is not None else _starts_from_treatment(df, unit, time, col)
    if starts.empty:
        raise ValidationError(f"{given[0]}={col!r}: no unit is treated.")
    if starts.nunique() > 1:
        raise ValidationError(f"{given[0]}={col!r}: the treated units start in different periods "
                              f"{sorted(starts.unique().tolist())}; synth takes one adoption period. Use "
                              "sdid(cohort=...) for staggered adoption, or subset the data.")
    return list(starts.index), int(starts.iloc[0])


def _starts_from_cohort(df: pd.DataFrame, unit: str, col: str) -> pd.Series:
    per_unit = df.groupby(unit, sort=True, observed=True)[col]
    if (per_unit.nunique(dropna=False) > 1).any():
        raise ValidationError(f"cohort={col!r} must be constant within each unit (its first treated period).")
    first = per_unit.first()
    return first[first.notna() & (first > 0)]


def _starts_from_treatment(df: pd.DataFrame, unit: str, time: str, col: str) -> pd.Series:
    values = df[col]
    if values.isna().any() or not values.isin([0, 1]).all():
        raise ValidationError(f"treatment={col!r} must be 0/1 without missing values.")
    on = df[values == 1]
    starts = on.groupby(unit, sort=True, observed=True)[time].min()
    later = df[df[unit].isin(starts.index)]
    should = later[time].to_numpy() >= later[unit].map(starts).to_numpy()
    if (later[col].to_numpy() == 1).tolist() != should.tolist():
        raise ValidationError(f"treatment={col!r} must switch on once and stay on (an absorbing treatment).")
    return starts
