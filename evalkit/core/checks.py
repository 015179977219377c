"""The validation layer shared by every public entry point (estimators, inference, diagnostics).

Every check raises an :class:`~evalkit.errors.EvalkitError` that names the parameter or
column and says what is allowed. Nothing here mutates the caller's data: :func:`select`
copies only the needed columns, and later steps work on that copy. Rows are only dropped
for a missing outcome or covariate, always with an :class:`~evalkit.errors.EvalkitWarning`.

Conventions every entry point follows (checked before any work starts):

* data: a pandas DataFrame with flat, unique column names and at least one row;
* columns: a column parameter is one name (str), ``covariates``/``predictors`` a name or a
  list of names; a column may play one role only (``cluster`` may repeat ``unit``);
* values: numeric columns may hold missing values (handled as documented), but never
  ``inf``/``-inf`` or astronomically large values (``|x| >`` :data:`MAX_ABS`); nullable
  pandas dtypes (``Int64``, ``Float64``, ``boolean``), object columns holding numbers and
  categorical ids are accepted and converted on the copy;
* unit, cluster and time ids may be int, float, text or categorical, but not a mix of
  text and numbers;
* seeds: None, a non-negative int or a :class:`numpy.random.Generator` (:func:`check_seed`);
* replication counts: positive ints up to :data:`MAX_REPLICATIONS` (:func:`check_count`);
* option mappings: unknown keys name the closest valid one (:func:`check_options`).

This module is the bottom layer: it imports numpy, pandas and :mod:`evalkit.errors` only.
"""
from __future__ import annotations

import difflib
import math
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError, closest

#: values with a larger magnitude are refused as data errors (sentinels such as 1e300, 9.99e99)
MAX_ABS = 1e15
#: the largest replication count accepted (bootstrap draws, permutations, placebo replications)
MAX_REPLICATIONS = 10_000_000
#: parameters whose value is a list of columns (a single name is accepted and wrapped)
LIST_PARAMS = ("covariates", "predictors")
#: roles that must each use a column of their own (``cluster`` may repeat ``unit``)
DISTINCT_ROLES = ("outcome", "unit", "time", "treatment", "post", "cohort", "covariates", "weights")
#: roles whose values are numbers (object columns of numbers are converted for these)
NUMERIC_ROLES = ("outcome", "time", "treatment", "post", "cohort", "covariates", "weights", "predictors")
#: roles whose values are identifiers (text and numbers must not be mixed)
ID_ROLES = ("unit", "cluster", "time")


# ------------------------------------------------------------------ scalars
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


def check_int(param: str, value: object, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as int; it must be an integer (not bool, not float) within the bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{param}={value!r} must be an integer" + _bounds(minimum, maximum) + ".")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ParameterError(f"{param}={value!r} must be an integer" + _bounds(minimum, maximum) + ".")
    return int(value)


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum} and {maximum:,}"
    if minimum is not None:
        return f" >= {minimum}"
    return f" <= {maximum}" if maximum is not None else ""


def check_count(param: str, value: object, *, minimum: int = 1, maximum: int = MAX_REPLICATIONS) -> int:
    """A replication count (bootstrap draws, permutations, placebo replications): an int in
    [minimum, maximum]; ``0``, negatives, floats, text and bool are refused."""
    return check_int(param, value, minimum=minimum, maximum=maximum)


def check_bool(param: str, value: object) -> bool:
    """Return ``value`` as bool; it must be True or False (numpy bools too, not text or numbers)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{param}={value!r} must be True or False.")
    return bool(value)


def check_seed(param: str, seed: object) -> int | np.random.Generator | None:
    """A seed: None, a non-negative int (numpy ints too) or a :class:`numpy.random.Generator`.

    Text, floats, bools, negative numbers and sequences are refused, so a typo never
    silently changes the random stream."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"{param}={seed!r} must be None, a non-negative integer (e.g. 20240101) or a "
                             "numpy.random.Generator.")
    return int(seed)


def seed_label(seed: int | np.random.Generator | None) -> int | None:
    """The seed as recorded on a result: the int, or None for a Generator (its state is not a number)."""
    return seed if isinstance(seed, int) else None


def check_whole_or_inf(param: str, value: object, *, allow_none: bool = True) -> float:
    """An integer bound that may be ``-inf``/``inf`` (or None = no bound): returns a float."""
    if value is None and allow_none:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or (
            math.isfinite(value) and float(value) != int(value)):
        raise ParameterError(f"{param}={value!r} must be a whole number (an event time), -inf or inf"
                             + (", or None" if allow_none else "") + ".")
    return float(value)


def check_choice(param: str, value: object, allowed: Iterable[object]) -> object:
    """Return ``value`` if it is one of ``allowed``; otherwise a ParameterError naming the closest."""
    allowed = list(allowed)
    if isinstance(value, (list, tuple, set, dict)) or value not in allowed:
        raise ParameterError(f"{param}={value!r} is not allowed; choose one of {allowed}."
                             + suggest(str(value), [str(a) for a in allowed]))
    return value


# ------------------------------------------------------------------ names and option mappings
def suggest(name: str, options: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest of ``options`` (case-insensitive), or ''."""
    options = [str(o) for o in options]
    lower = {o.lower(): o for o in options}
    hit = lower.get(str(name).lower())
    if hit is None:
        match = difflib.get_close_matches(str(name).lower(), list(lower), n=1, cutoff=0.6)
        hit = lower[match[0]] if match else None
    return f" Did you mean {hit!r}?" if hit is not None else closest(name, options)


def check_options(param: str, options: object, allowed: Iterable[str]) -> dict[str, Any]:
    """Return ``options`` as a dict; every key must be one of ``allowed``.

    An unknown key is a :class:`ParameterError` that names it, lists the valid keys and
    the closest one ("Did you mean 'seed'?"). None is an empty mapping.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ParameterError(f"{param}={options!r} must be a mapping (dict) of option names to values, "
                             f"e.g. {{'seed': 1}}.")
    allowed = list(allowed)
    for key in options:
        if not isinstance(key, str) or key not in allowed:
            raise ParameterError(f"{param}: unknown option {key!r}; valid options are {allowed}."
                                 + suggest(str(key), allowed))
    return dict(options)


def as_columns(param: str, value: object) -> list[str]:
    """A list of column names from None, one name or a list/tuple of names (no duplicates)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (Mapping, set, bytes)) or not isinstance(value, Iterable):
        raise ParameterError(f"{param}={value!r} must be a column name or a list of column names.")
    cols = list(value)
    bad = [c for c in cols if not isinstance(c, str)]
    if bad:
        raise ParameterError(f"{param}={value!r} must list column names (str); got {bad[:3]}.")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ParameterError(f"{param}={cols!r} names {dup} more than once.")
    return cols


# ------------------------------------------------------------------ data frames
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def check_frame(data: object, param: str = "data") -> pd.DataFrame:
    """``data`` must be a non-empty DataFrame with flat, unique column names."""
    if not isinstance(data, pd.DataFrame):
        hint = " (build one with pandas.DataFrame(...))" if isinstance(data, (Mapping, np.ndarray, list)) else ""
        raise ParameterError(f"{param} must be a pandas DataFrame, not {type(data).__name__}{hint}.")
    if isinstance(data.columns, pd.MultiIndex):
        raise ParameterError(f"{param} has MultiIndex (hierarchical) columns {list(data.columns[:3])}; flatten "
                             "them to single names first, e.g. data.columns = ['_'.join(map(str, c)) for c in "
                             "data.columns].")
    if data.columns.duplicated().any():
        dup = data.columns[data.columns.duplicated()].tolist()
        raise ColumnError(f"{param} has duplicated column names {dup}; rename them first.")
    if len(data) == 0:
        raise ValidationError(f"{param} has no rows; there is nothing to estimate.")
    return data


def select(data: object, columns: Mapping[str, str | Sequence[str] | None]) -> pd.DataFrame:
    """Check that the columns exist and return a copy holding only them, with plain dtypes.

    ``columns`` maps parameter name -> column name (or, for :data:`LIST_PARAMS`, a list of
    names; None for an unused optional parameter). A column may serve one role only (see
    :data:`DISTINCT_ROLES`). On the copy, nullable pandas dtypes become numpy dtypes (NA ->
    NaN), object columns of numbers in a numeric role become float, and categorical columns
    become their values.
    """
    check_roles(columns)
    data = check_frame(data)
    wanted: list[str] = []
    numeric: set[str] = set()
    ids: dict[str, str] = {}
    for param, cols in columns.items():
        for col in _as_list(param, cols):
            if col not in data.columns:
                available = [str(c) for c in data.columns]
                if col in [n for n in data.index.names if n is not None]:
                    raise ColumnError(f"{param}={col!r} is an index level of data, not a column; use "
                                      "data.reset_index() first.")
                raise ColumnError(
                    f"{param}={col!r}: no such column in data. Available columns: {available}."
                    + suggest(str(col), available)
                )
            if _role(param) in NUMERIC_ROLES:
                numeric.add(col)
            if _role(param) in ID_ROLES:
                ids.setdefault(col, param)
            if col not in wanted:
                wanted.append(col)
    out = data.loc[:, wanted].reset_index(drop=True)
    out = out if _COPY_ON_WRITE else out.copy(deep=True)
    for col in wanted:
        out[col] = _plain_dtype(out[col], col in numeric)
    for col, param in ids.items():
        _check_id_types(out, col, param)
    return out


def check_roles(columns: Mapping[str, str | Sequence[str] | None]) -> None:
    """The column parameters alone (no data needed): one name (str) per column parameter, a name
    or list of names for :data:`LIST_PARAMS`, and no column in two of :data:`DISTINCT_ROLES`."""
    role_of: dict[str, str] = {}
    for param, cols in columns.items():
        for col in _as_list(param, cols):
            if _role(param) not in DISTINCT_ROLES:
                continue
            if col in role_of and role_of[col] != param:
                raise ParameterError(f"{param}={col!r} is already used as {role_of[col]}={col!r}; each column can "
                                     "play one role (outcome, unit, time, treatment, cohort, covariate, weight).")
            role_of.setdefault(col, param)


def _role(param: str) -> str:
    """'covariates' for 'covariates', 'unit' for 'unit' ... (parameters may carry a suffix)."""
    return param.split("[")[0]


def _as_list(param: str, cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    if _role(param) in LIST_PARAMS:
        return as_columns(param, cols)
    raise ParameterError(f"{param}={cols!r} must be one column name (str)"
                         + (f"; did you mean {param}={cols[0]!r}?" if isinstance(cols, (list, tuple)) and cols
                            and isinstance(cols[0], str) else "."))


def _plain_dtype(s: pd.Series, numeric: bool) -> pd.Series:
    """Nullable / categorical / object-of-numbers columns as plain numpy dtypes."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = s.to_numpy(dtype=object) if s.isna().any() else np.asarray(s)
        s = pd.Series(values, index=s.index, name=s.name)
        dtype = s.dtype
        if dtype == object and not numeric:
            return s.infer_objects()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iufb":
        if s.isna().any():
            return s.astype("float64")
        return s.astype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else "float64")
    if numeric and dtype == object:
        values = s.dropna()
        if len(values) and all(isinstance(x, (bool, np.bool_)) for x in values):
            return s.astype("float64") if s.isna().any() else s.astype(bool)
        if len(values) and all(isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) for x in values):
            return pd.to_numeric(s, errors="coerce").astype("float64")
    return s


def _check_id_types(df: pd.DataFrame, col: str, param: str) -> None:
    s = df[col]
    if s.dtype != object:
        return
    kinds = {"text" if isinstance(x, str) else "number" if isinstance(x, numbers.Number) else type(x).__name__
             for x in s.dropna()}
    if len(kinds) > 1:
        raise ValidationError(f"{param}={col!r} mixes value types ({', '.join(sorted(kinds))}), e.g. "
                              f"{_examples(s)}; use one type for all ids (e.g. all text: data[{col!r}].astype(str)).")


def _examples(s: pd.Series, k: int = 4) -> list:
    return [_plain(x) for x in pd.unique(s.dropna())[:k]]


# ------------------------------------------------------------------ columns
def check_numeric(df: pd.DataFrame, col: str, param: str) -> None:
    """Raise unless ``col`` is numeric (or boolean) and free of inf and astronomically large values.

    Missing values pass (each entry point handles them as documented)."""
    if not pd.api.types.is_numeric_dtype(df[col]):
        raise ColumnError(
            f"{param}={col!r} must be numeric, but has dtype {df[col].dtype} "
            f"(example value {df[col].dropna().iloc[0]!r})." if df[col].notna().any()
            else f"{param}={col!r} must be numeric, but has dtype {df[col].dtype}."
        )
    check_finite(df, col, param)


def check_finite(df: pd.DataFrame, col: str, param: str) -> None:
    """ValidationError naming the column and the number of rows holding inf, -inf or |x| > MAX_ABS."""
    if pd.api.types.is_bool_dtype(df[col]):
        return
    x = df[col].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = np.isinf(x) | (np.abs(x) > MAX_ABS)
    if bad.any():
        n = int(bad.sum())
        examples = sorted({float(v) for v in x[bad]})[:3]
        raise ValidationError(
            f"{param}={col!r} has {n} row(s) with non-finite or astronomically large values (inf, -inf or "
            f"|x| > {MAX_ABS:.0e}), e.g. {examples}. Fix or drop these rows (a code for 'missing' should be NaN)."
        )


def check_label_column(df: pd.DataFrame, col: str | None, param: str) -> None:
    """A key column (unit, time, cluster): complete, and without inf when numeric.

    Ids may be large integers (hashed person ids); a numeric ``time`` must also stay below
    :data:`MAX_ABS`."""
    if col is None:
        return
    check_no_missing(df, {param: col})
    if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
        return
    if param == "time":
        check_finite(df, col, param)
    elif pd.api.types.is_float_dtype(df[col]) and np.isinf(df[col].to_numpy(float)).any():
        n = int(np.isinf(df[col].to_numpy(float)).sum())
        raise ValidationError(f"{param}={col!r} has {n} row(s) with an infinite id (inf or -inf); ids must be "
                              "finite numbers or text.")


def check_no_missing(df: pd.DataFrame, cols: Mapping[str, str | None]) -> None:
    """Raise ValidationError if any of the key columns has missing values."""
    for param, col in cols.items():
        if col is not None and df[col].isna().any():
            n = int(df[col].isna().sum())
            hint = " Code never-treated units as 0 (fill the missing values with 0)." if param == "cohort" else ""
            raise ValidationError(f"{param}={col!r} has {n} missing value(s); key columns must be complete.{hint}")


def check_binary(df: pd.DataFrame, col: str, param: str) -> None:
    """Require values 0/1 (or bool) without missing values; converts on the copy to int."""
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


def check_both_values(df: pd.DataFrame, col: str, param: str, *, one: str = "treated",
                      zero: str = "untreated (control)") -> None:
    """A 0/1 column must take both values: otherwise there is no treated or no comparison group."""
    values = df[col].to_numpy()
    if not (values == 1).any():
        raise ValidationError(f"{param}={col!r} is 0 on every row: there are no {one} observations to estimate from.")
    if not (values == 0).any():
        raise ValidationError(f"{param}={col!r} is 1 on every row: there are no {zero} observations to compare with.")


def check_varies(df: pd.DataFrame, col: str, param: str) -> None:
    """The outcome must vary: a constant outcome has nothing to estimate (every effect is 0 with SE 0)."""
    x = df[col].to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= 1e-13 * max(abs(lo), abs(hi)):
        raise ValidationError(f"{param}={col!r} is constant ({_plain(x[0])!r} on all {x.size} rows used); "
                              "there is no variation to estimate an effect from.")


def check_levels(df: pd.DataFrame, col: str, param: str, minimum: int = 2, what: str = "periods") -> None:
    """``col`` must take at least ``minimum`` distinct values (e.g. two periods, two clusters)."""
    n = int(df[col].nunique(dropna=True))
    if n < minimum:
        only = f" ({_plain(df[col].dropna().iloc[0])!r})" if n == 1 else ""
        raise ValidationError(f"{param}={col!r} has {n} distinct value(s){only}; the design needs at least "
                              f"{minimum} {what}.")


def check_whole(df: pd.DataFrame, col: str, param: str, what: str = "whole periods (integers, e.g. years)") -> None:
    """Numeric ``col`` must hold whole numbers (NaN allowed)."""
    x = df[col].to_numpy(dtype=float, na_value=np.nan)
    frac = ~np.isnan(x) & (np.mod(x, 1) != 0)
    if frac.any():
        raise ValidationError(f"{param}={col!r} must hold {what}; {int(frac.sum())} row(s) do not, e.g. "
                              f"{sorted({float(v) for v in x[frac]})[:3]}.")


def check_covariates(df: pd.DataFrame, covariates: Sequence[str], param: str = "covariates") -> None:
    """Covariates must vary and must not be collinear with each other or with the intercept.

    Scale-invariant: the columns are centred and scaled to unit norm before the rank test,
    so a covariate in kroner and the same covariate in millions give the same answer."""
    if not covariates:
        return
    x = df[list(covariates)].to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x).any(axis=1)]
    if x.shape[0] == 0:
        return
    for j, col in enumerate(covariates):
        if np.ptp(x[:, j]) <= 1e-13 * max(np.abs(x[:, j]).max(), 1e-300):
            raise ValidationError(f"{param}: {col!r} is constant ({_plain(x[0, j])!r}); it is collinear with the "
                                  "intercept (or the fixed effects). Drop it.")
    if len(covariates) < 2:
        return
    xc = x - x.mean(axis=0)
    xc = xc / np.linalg.norm(xc, axis=0)
    sv = np.linalg.svd(xc, compute_uv=False)
    if sv[-1] <= 1e-8 * sv[0]:
        _, _, vt = np.linalg.svd(xc, full_matrices=False)
        involved = [c for c, w in zip(covariates, vt[-1]) if abs(w) > 1e-6]
        raise ValidationError(f"{param}={list(covariates)} are perfectly collinear: {involved} are a linear "
                              "combination of each other (and the intercept). Drop one of them.")


def drop_missing(df: pd.DataFrame, outcome: str, covariates: Sequence[str] = ()) -> tuple[pd.DataFrame, int]:
    """Drop rows with a missing outcome or covariate, warning how many.

    Raises ValidationError if the outcome is missing on every row.
    """
    if df[outcome].isna().all():
        raise ValidationError(f"outcome={outcome!r} is missing on all {len(df)} rows; nothing to estimate.")
    missing = df[[outcome, *covariates]].isna().any(axis=1)
    n = int(missing.sum())
    if n == len(df):
        empty = [c for c in covariates if df[c].isna().all()]
        raise ValidationError(f"Every row has a missing outcome={outcome!r} or covariate"
                              + (f" (covariates {empty} are missing on all rows)" if empty else "")
                              + "; nothing is left to estimate.")
    if n:
        warnings.warn(
            f"Dropped {n} of {len(df)} rows with missing {outcome!r}"
            + (f" or covariates {list(covariates)}" if covariates else "") + ".",
            EvalkitWarning, stacklevel=stack_level(),
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


def check_cohort(df: pd.DataFrame, cohort: str, unit: str | None) -> None:
    """Cohort = first treated period, 0 = never treated; finite, whole; constant within unit."""
    check_numeric(df, cohort, "cohort")
    check_no_missing(df, {"cohort": cohort})
    if (df[cohort] < 0).any():
        examples = pd.unique(df.loc[df[cohort] < 0, cohort])[:5].tolist()
        raise ValidationError(
            f"cohort={cohort!r} must be the first treated period or 0 (never treated); found negative values {examples}."
        )
    check_whole(df, cohort, "cohort", "whole periods (the first treated period, or 0 = never treated)")
    if unit is not None:
        check_constant_within(df, cohort, [unit], "cohort", "a unit is first treated only once")


def check_has_treated(df: pd.DataFrame, cohort: str) -> None:
    """At least one unit with cohort > 0."""
    if not (df[cohort] > 0).any():
        raise ValidationError(f"cohort={cohort!r} is 0 (never treated) on every row: there are no treated units to "
                              "estimate an effect for.")


def check_weights(df: pd.DataFrame, col: str | None, param: str = "weights") -> None:
    """Sampling weights: numeric, complete, finite, non-negative and not all zero."""
    if col is None:
        return
    check_numeric(df, col, param)
    check_no_missing(df, {param: col})
    w = df[col].to_numpy(float)
    if (w < 0).any():
        raise ValidationError(f"{param}={col!r} has {int((w < 0).sum())} negative value(s); weights must be >= 0.")
    if not (w > 0).any():
        raise ValidationError(f"{param}={col!r} is zero on every row; at least one weight must be positive.")


def plain(value: object) -> object:
    """numpy scalar -> Python scalar, so messages read 3 rather than np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value


_plain = plain


def check_varies_within(df: pd.DataFrame, col: str, by: str, param: str, why: str) -> None:
    """``col`` must vary within at least one group of ``by`` (else it is absorbed by ``by``'s fixed effects)."""
    x = df[col].to_numpy(dtype=float, na_value=np.nan)
    codes = pd.factorize(df[by])[0]
    ok = ~np.isnan(x) & (codes >= 0)
    if not ok.any():
        return
    lo = np.full(codes.max() + 1, np.inf)
    hi = np.full(codes.max() + 1, -np.inf)
    np.minimum.at(lo, codes[ok], x[ok])
    np.maximum.at(hi, codes[ok], x[ok])
    spread = np.where(np.isfinite(lo), hi - lo, 0.0)
    if not (spread > 1e-13 * max(float(np.abs(x[ok]).max()), 1e-300)).any():
        raise ValidationError(f"{param}: {col!r} is constant within every {by!r}, so {why}; drop it (a "
                              f"{by}-level variable cannot be estimated next to {by} fixed effects).")


def as_finite_array(name: str, values: object) -> np.ndarray:
    """``values`` as a float array; a ParameterError if not numeric, a ValidationError naming ``name`` and
    the count if it holds NaN, inf or astronomically large values (|x| > :data:`MAX_ABS`)."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be numeric (an array of numbers), not {type(values).__name__} holding "
                             "non-numbers.") from None
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(a) | (np.abs(a) > MAX_ABS)
    if bad.any():
        raise ValidationError(f"{name} has {int(bad.sum())} missing, non-finite or astronomically large value(s) "
                              f"(NaN, inf or |x| > {MAX_ABS:.0e}); drop or fix them first.")
    return a


# ------------------------------------------------------------------ calendar years and constructors
#: calendar years accepted as year parameters (registers, lists, plans, baseline years)
YEARS = (1900, 2100)


def check_year(param: str, value: object, *, allow_none: bool = False) -> int | None:
    """A calendar year: a whole number (int or numpy int, not text, float or bool) in :data:`YEARS`.

    ``'2014'`` (text), ``2014.5`` and ``True`` are refused with a :class:`ParameterError` naming
    ``param``, the value and its type, rather than failing later as "outside the data years"."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        hint = f" (write {value.strip()}, not {value!r})" if isinstance(value, str) and value.strip().isdigit() else ""
        raise ParameterError(f"{param}={plain(value)!r} must be a year as a whole number"
                             + (" or None" if allow_none else "") + f", got {type(value).__name__}{hint}.")
    if not YEARS[0] <= value <= YEARS[1]:
        raise ParameterError(f"{param}={plain(value)!r} must be a year in {YEARS[0]}-{YEARS[1]}.")
    return int(value)


def checked_init(cls: type) -> type:
    """Class decorator: the constructor of ``cls`` (a dataclass or any class users instantiate)
    refuses a misspelled keyword with a :class:`ParameterError` naming the closest field
    (``ListRules(hard_year_2018=4)`` -> "Did you mean 'hard_years_2018'?"), and too many
    positional arguments, a field given twice or a missing required field likewise, instead of
    Python's bare ``TypeError``. Apply it above ``@dataclass`` so it wraps the generated
    ``__init__``."""
    import functools
    import inspect

    init = cls.__init__
    sig = inspect.signature(init)
    params = list(sig.parameters.values())[1:]  # without self
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    open_args = any(p.kind is p.VAR_POSITIONAL for p in params)
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    required = [p.name for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        name = f"{cls.__name__}()"
        unknown = [k for k in kwargs if k not in names]
        if unknown and not open_kwargs:
            raise ParameterError(f"{name} has no parameter {unknown[0]}=; its parameters are {names}."
                                 + suggest(unknown[0], names))
        if len(args) > len(positional) and not open_args:
            raise ParameterError(f"{name} takes at most {len(positional)} positional argument(s) ({positional}), "
                                 f"got {len(args)}; pass the others by name.")
        given = positional[:len(args)]
        twice = [k for k in given if k in kwargs]
        if twice:
            raise ParameterError(f"{name} got {twice[0]}= twice (by position and by name).")
        missing = [k for k in required if k not in given and k not in kwargs]
        if missing:
            raise ParameterError(f"{name} needs " + ", ".join(f"{k}=" for k in missing) + f"; its parameters are "
                                 f"{names}.")
        init(self, *args, **kwargs)

    cls.__init__ = __init__
    return cls
