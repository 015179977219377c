"""Input validation shared by the estimators.

Every check raises an evalkit error that names the parameter and the column.
Nothing here mutates the caller's data: :func:`select` copies only the needed
columns, and later steps work on that copy. Rows are only dropped for a
missing outcome or covariate, always with an :class:`EvalkitWarning`.
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from evalkit.errors import ColumnError, EvalkitWarning, ParameterError, ValidationError, closest


def check_alpha(alpha: object) -> float:
    """Return ``alpha`` as float; it must lie strictly between 0 and 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < float(alpha) < 1:
        raise ParameterError(f"alpha={alpha!r} must be a number strictly between 0 and 1, e.g. 0.05.")
    return float(alpha)


def check_nonneg_int(param: str, value: object) -> int:
    """Return ``value`` as int; it must be a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ParameterError(f"{param}={value!r} must be a non-negative integer.")
    return int(value)


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def select(data: object, columns: Mapping[str, str | Sequence[str] | None]) -> pd.DataFrame:
    """Check that the columns exist and return a copy holding only them.

    ``columns`` maps parameter name -> column name (or a list of names, or None
    for an unused optional parameter).
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    wanted: list[str] = []
    for param, cols in columns.items():
        for col in _as_list(param, cols):
            if col not in data.columns:
                available = [str(c) for c in data.columns]
                raise ColumnError(
                    f"{param}={col!r}: no such column in data. Available columns: {available}."
                    + closest(str(col), available)
                )
            if col not in wanted:
                wanted.append(col)
    if data.columns.duplicated().any():
        dup = data.columns[data.columns.duplicated()].tolist()
        raise ColumnError(f"data has duplicated column names {dup}; rename them first.")
    out = data.loc[:, wanted].reset_index(drop=True)
    # pandas >= 3 copies on write, so the selection can never write through to the caller's frame
    return out if _COPY_ON_WRITE else out.copy(deep=True)


def _as_list(param: str, cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    if isinstance(cols, Iterable):
        cols = list(cols)
        if all(isinstance(c, str) for c in cols):
            return cols
    raise ParameterError(f"{param}={cols!r} must be a column name (str) or a list of names.")


def check_numeric(df: pd.DataFrame, col: str, param: str) -> None:
    """Raise ColumnError unless ``col`` is numeric (or boolean)."""
    if not pd.api.types.is_numeric_dtype(df[col]):
        raise ColumnError(
            f"{param}={col!r} must be numeric, but has dtype {df[col].dtype} "
            f"(example value {df[col].dropna().iloc[0]!r})." if df[col].notna().any()
            else f"{param}={col!r} must be numeric, but has dtype {df[col].dtype}."
        )


def check_no_missing(df: pd.DataFrame, cols: Mapping[str, str | None]) -> None:
    """Raise ValidationError if any of the key columns has missing values."""
    for param, col in cols.items():
        if col is not None and df[col].isna().any():
            n = int(df[col].isna().sum())
            raise ValidationError(f"{param}={col!r} has {n} missing value(s); key columns must be complete.")


def check_binary(df: pd.DataFrame, col: str, param: str) -> None:
    """Require values 0/1 (or bool) without missing values; converts in place to int."""
    check_no_missing(df, {param: col})
    values = df[col]
    if pd.api.types.is_bool_dtype(values):
        df[col] = values.astype(int)
        return
    bad = ~values.isin([0, 1]) if pd.api.types.is_numeric_dtype(values) else pd.Series(True, index=values.index)
    if bad.any():
        examples = pd.unique(values[bad])[:5].tolist()
        raise ValidationError(f"{param}={col!r} must be 0/1 or boolean; found values such as {examples}.")
    df[col] = values.astype(int)


def drop_missing(df: pd.DataFrame, outcome: str, covariates: Sequence[str] = ()) -> tuple[pd.DataFrame, int]:
    """Drop rows with a missing outcome or covariate, warning how many.

    Raises ValidationError if the outcome is missing on every row.
    """
    if df[outcome].isna().all():
        raise ValidationError(f"outcome={outcome!r} is missing on all {len(df)} rows; nothing to estimate.")
    missing = df[[outcome, *covariates]].isna().any(axis=1)
    n = int(missing.sum())
    if n:
        warnings.warn(
            f"Dropped {n} of {len(df)} rows with missing {outcome!r}"
            + (f" or covariates {list(covariates)}" if covariates else "") + ".",
            EvalkitWarning, stacklevel=3,
        )
        df = df.loc[~missing].reset_index(drop=True)
    return df, n


def check_unique_keys(df: pd.DataFrame, unit: str, time: str) -> None:
    """Raise ValidationError if (unit, time) identifies more than one row."""
    dup = df.duplicated([unit, time], keep=False)
    if dup.any():
        first = df.loc[dup, [unit, time]].iloc[0]
        n = int(df.duplicated([unit, time]).sum())
        raise ValidationError(
            f"unit={unit!r} and time={time!r} do not identify rows: {n} duplicate row(s), "
            f"e.g. ({unit}={_plain(first[unit])!r}, {time}={_plain(first[time])!r}). Aggregate to one row per unit and time."
        )


def check_constant_within(df: pd.DataFrame, col: str, by: Sequence[str], param: str, why: str) -> None:
    """Raise ValidationError if ``col`` takes several values within a ``by`` group."""
    n_values = df.groupby(list(by), sort=False, observed=True)[col].nunique(dropna=False)
    bad = n_values[n_values > 1]
    if len(bad):
        key = bad.index[0] if len(by) > 1 else (bad.index[0],)
        where = ", ".join(f"{b}={_plain(k)!r}" for b, k in zip(by, key))
        mask = np.logical_and.reduce([df[b] == k for b, k in zip(by, key)])
        values = sorted(_plain(x) for x in pd.unique(df.loc[mask, col]))
        raise ValidationError(
            f"{param}={col!r} must be constant within ({', '.join(by)}) because {why}; "
            f"it varies in {len(bad)} group(s), e.g. ({where}) has values {values}."
        )


def check_cohort(df: pd.DataFrame, cohort: str, unit: str) -> None:
    """Cohort = first treated period, 0 = never treated; constant within unit."""
    check_numeric(df, cohort, "cohort")
    check_no_missing(df, {"cohort": cohort})
    if (df[cohort] < 0).any():
        examples = pd.unique(df.loc[df[cohort] < 0, cohort])[:5].tolist()
        raise ValidationError(
            f"cohort={cohort!r} must be the first treated period or 0 (never treated); found negative values {examples}."
        )
    if not np.all(np.mod(df[cohort].to_numpy(dtype=float), 1) == 0):
        raise ValidationError(f"cohort={cohort!r} must hold whole periods (integers).")
    check_constant_within(df, cohort, [unit], "cohort", "a unit is first treated only once")


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar, so messages read 3 rather than np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value
