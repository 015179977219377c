"""Small shared helpers of the domain layer: the checks every public domain function runs on its
inputs before any work, HTML of tidy results, and labels.

The checks raise :class:`~evalkit.errors.ParameterError` (an argument of the wrong type or value),
:class:`~evalkit.errors.ColumnError` (a missing or non-numeric column, naming the available ones
and the closest match) or :class:`~evalkit.errors.ValidationError` (data that cannot be used: empty
frames, duplicate keys, non-finite or astronomically large numbers). None of them modifies its input.

**Area ids** may be whole numbers, text (``"A1"``, area names) or a pandas categorical of either:
:func:`area_ids` turns them into plain values (numbers stay numbers, text stays text), and
:func:`restore_ids` gives results back in the caller's type (a categorical keeps its categories).
"""
from __future__ import annotations

import html
import numbers
import warnings

import numpy as np
import pandas as pd

from evalkit.core.checks import YEARS
from evalkit.core.checks import check_year as _core_check_year
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError, check_choice, closest
from evalkit.i18n import label

LANGS = ("da", "en")
#: numbers in a data column above this magnitude are refused: a unit or coding error (1e300, sentinel values)
MAX_ABS = 1e15
#: Danish and English labels used by the domain tables and figures.
DOMAIN_LABELS: dict[str, dict[str, str]] = {
    "stayers_change": {"da": "Bliveres ændring", "en": "Stayers' change"},
    "in_movers_contribution": {"da": "Tilflytteres bidrag", "en": "In-movers' contribution"},
    "out_movers_contribution": {"da": "Fraflytteres bidrag", "en": "Out-movers' contribution"},
    "total_change": {"da": "Samlet ændring", "en": "Total change"},
    "group": {"da": "Gruppe", "en": "Group"},
    "n_stayers": {"da": "Blivere", "en": "Stayers"},
    "n_in": {"da": "Tilflyttere", "en": "In-movers"},
    "n_out": {"da": "Fraflyttere", "en": "Out-movers"},
    "goal": {"da": "Mål", "en": "Goal"},
    "target_group": {"da": "Målgruppe", "en": "Target group"},
    "baseline": {"da": "Udgangspunkt", "en": "Baseline"},
    "target": {"da": "Målsætning", "en": "Target"},
    "observed": {"da": "Observeret", "en": "Observed"},
    "status": {"da": "Status", "en": "Status"},
    "achieved": {"da": "Opfyldt", "en": "Achieved"},
    "on_track": {"da": "På rette vej", "en": "On track"},
    "not_on_track": {"da": "Bagud", "en": "Not on track"},
    "not_achieved": {"da": "Ikke opfyldt", "en": "Not achieved"},
    "progress": {"da": "Fremdrift", "en": "Progress"},
    "estimand": {"da": "Estimand", "en": "Estimand"},
    "area": {"da": "Område", "en": "Area"},
    "cohort": {"da": "Kohorte", "en": "Cohort"},
    "budget_dkk": {"da": "Budget (kr.)", "en": "Budget (DKK)"},
    "n_persons_18_64": {"da": "Beboere 18-64 år", "en": "Residents 18-64"},
    "effect": {"da": "Effekt pr. person", "en": "Effect per person"},
    "additional": {"da": "Ekstra udfald", "en": "Additional outcomes"},
    "cost_dkk": {"da": "Pris pr. udfald (kr.)", "en": "Cost per outcome (DKK)"},
    "cost_interval": {"da": "Interval (kr.)", "en": "Interval (DKK)"},
}


def dlabel(key: str, lang: str) -> str:
    """Domain label for ``key`` in ``lang``; falls back to the shared labels (:mod:`evalkit.i18n`), then the key."""
    check_choice("lang", lang, LANGS)
    if key in DOMAIN_LABELS:
        return DOMAIN_LABELS[key][lang]
    return label(key, lang)


# ----------------------------------------------------------------- frames and columns
def check_frame(frame, what: str, *, allow_empty: bool = False) -> pd.DataFrame:
    """``frame`` must be a DataFrame with unique column names (and rows, unless ``allow_empty``)."""
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    if frame.columns.duplicated().any():
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ColumnError(f"{what} has duplicated column names {dup}; rename them first.")
    if not allow_empty and len(frame) == 0:
        raise ValidationError(f"{what} has no rows.")
    return frame


def require_columns(frame, cols, what: str, *, allow_empty: bool = False) -> None:
    """Raise :class:`ColumnError` naming every missing column of ``frame`` (called ``what``), the
    available ones and the closest match; ``frame`` must be a non-empty DataFrame."""
    check_frame(frame, what, allow_empty=allow_empty)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        available = [str(c) for c in frame.columns]
        word = "column" if len(missing) == 1 else "columns"
        shown = repr(missing[0]) if len(missing) == 1 else str(missing)
        raise ColumnError(f"{what} needs {word} {shown}; it has {available}." + closest(str(missing[0]), available))


def check_numeric_columns(frame: pd.DataFrame, cols, what: str, *, allow_missing: bool = True,
                          low: float | None = None, high: float | None = None) -> None:
    """Each column is numeric (not boolean or text), finite, at most :data:`MAX_ABS` in magnitude and,
    when given, within [``low``, ``high``]; missing values only if ``allow_missing``."""
    for col in cols:
        values = frame[col]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            example = values.dropna().iloc[0] if values.notna().any() else None
            raise ColumnError(f"{what} column {col!r} must be numeric, but has dtype {values.dtype}"
                              + (f" (e.g. {_plain(example)!r})." if example is not None else "."))
        x = values.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(x)
        if missing.any() and not allow_missing:
            raise ValidationError(f"{what} column {col!r} has {int(missing.sum())} missing value(s); it must be complete.")
        ok = x[~missing]
        bad = ~np.isfinite(ok) | (np.abs(ok) > MAX_ABS)
        if bad.any():
            raise ValidationError(f"{what} column {col!r} holds {int(bad.sum())} non-finite or astronomically large "
                                  f"value(s) (e.g. {ok[bad][0]!r}); values must be finite and at most {MAX_ABS:g} "
                                  "in magnitude. Check the units and missing-value codes.")
        if low is not None and (ok < low).any():
            raise ValidationError(f"{what} column {col!r} holds values below {low:g} (e.g. {ok[ok < low][0]!r}).")
        if high is not None and (ok > high).any():
            raise ValidationError(f"{what} column {col!r} holds values above {high:g} (e.g. {ok[ok > high][0]!r}).")


def check_unique(frame: pd.DataFrame, keys: list[str], what: str, why: str = "") -> None:
    """Raise :class:`ValidationError` when ``keys`` identify more than one row of ``frame``."""
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        first = tuple(_plain(v) for v in frame.loc[dup, keys].iloc[0])
        n = int(frame.duplicated(keys).sum())
        key = ", ".join(keys)
        raise ValidationError(f"{what} must hold one row per ({key}){why}; {n} duplicate row(s), e.g. "
                              f"({key}) = {first[0] if len(first) == 1 else first!r}.")


def check_year_column(frame: pd.DataFrame, col: str, what: str) -> None:
    """A complete column of whole calendar years in :data:`YEARS`."""
    check_numeric_columns(frame, [col], what, allow_missing=False)
    x = frame[col].to_numpy(dtype=float)
    if not np.all(np.mod(x, 1) == 0):
        raise ValidationError(f"{what} column {col!r} must hold whole years; found e.g. {x[np.mod(x, 1) != 0][0]!r}.")
    if x.min() < YEARS[0] or x.max() > YEARS[1]:
        bad = x[(x < YEARS[0]) | (x > YEARS[1])][0]
        raise ValidationError(f"{what} column {col!r} must hold years in {YEARS[0]}-{YEARS[1]}; found {bad:g}.")


def warn_dropped(n: int, total: int, what: str, why: str) -> None:
    """The one way the domain layer drops rows: an :class:`EvalkitWarning` saying how many and why (at
    the user's line)."""
    if n:
        warnings.warn(f"{what}: left out {n} of {total} rows {why}.", EvalkitWarning, stacklevel=stack_level())


# ----------------------------------------------------------------- area ids
def area_ids(values, what: str, *, allow_empty: bool = False) -> pd.Series:
    """Area ids as a plain Series: whole numbers (int64) or text (object), never a mix, no missing ids.

    Accepts a list, tuple, array, Index or Series of ints or text, or a categorical of either."""
    if isinstance(values, (str, bytes, dict, set, frozenset, pd.DataFrame)) or np.isscalar(values) \
            or not hasattr(values, "__iter__"):
        raise ParameterError(f"{what} must be a list (or Series, Index, array) of area ids, got {type(values).__name__}"
                             + ("; pick its id column." if isinstance(values, pd.DataFrame) else "."))
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ParameterError(f"{what} must be one-dimensional, got an array of shape {values.shape}.")
    if isinstance(values, (pd.Series, pd.Index, pd.Categorical, np.ndarray)):
        s = pd.Series(np.asarray(values, dtype=object) if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)
                      else values).reset_index(drop=True)
    else:
        s = pd.Series(list(values))
    if s.dtype == object:
        s = s.infer_objects()
    if len(s) == 0 and not allow_empty:
        raise ValidationError(f"{what} holds no area ids.")
    if s.isna().any():
        raise ValidationError(f"{what} has {int(s.isna().sum())} missing area id(s); every row needs an area.")
    return _plain_ids(s, what)


def _plain_ids(s: pd.Series, what: str) -> pd.Series:
    if len(s) == 0:
        return s.astype(object)
    if pd.api.types.is_bool_dtype(s):
        raise ValidationError(f"{what} holds True/False, not area ids.")
    if pd.api.types.is_numeric_dtype(s):
        x = s.to_numpy(dtype=float)
        if not np.all(np.isfinite(x)) or not np.all(np.mod(x, 1) == 0) or np.abs(x).max() > 2 ** 53:
            bad = s[~np.isfinite(x) | (np.mod(np.nan_to_num(x, nan=0.5), 1) != 0) | (np.abs(x) > 2 ** 53)]
            raise ValidationError(f"{what} holds numeric ids that are not whole numbers (e.g. {_plain(bad.iloc[0])!r}); "
                                  "area ids are whole numbers or text.")
        return s.astype("int64")
    inferred = pd.api.types.infer_dtype(s, skipna=False)
    if inferred == "string":
        return s.astype(object)
    if inferred == "integer":
        return s.astype("int64")
    names = sorted({type(v).__name__ for v in s})
    raise ValidationError(f"{what} mixes id types {names}; use whole numbers or text for every area id, not both.")


def id_kind(ids: pd.Series) -> str:
    """``"number"`` or ``"text"`` for plain ids from :func:`area_ids`."""
    return "number" if pd.api.types.is_numeric_dtype(ids) else "text"


def check_same_ids(a: pd.Series, what_a: str, b: pd.Series, what_b: str) -> None:
    """Both id sets are numbers or both are text (else nothing would match)."""
    if len(a) and len(b) and id_kind(a) != id_kind(b):
        raise ValidationError(f"{what_a} holds {id_kind(a)} area ids (e.g. {_plain(a.iloc[0])!r}) but {what_b} holds "
                              f"{id_kind(b)} ids (e.g. {_plain(b.iloc[0])!r}); give area ids of one type in both.")


def with_plain_ids(frame: pd.DataFrame, col: str, what: str) -> pd.DataFrame:
    """A copy of ``frame`` whose ``col`` holds plain ids (:func:`area_ids`); the caller's frame is untouched."""
    ids = area_ids(frame[col], f"{what} column {col!r}", allow_empty=True)
    out = frame.copy()
    out[col] = ids.to_numpy()
    return out


def restore_ids(ids, like) -> pd.Series | np.ndarray:
    """``ids`` (plain) in the type of ``like`` (the caller's ids): a categorical keeps its categories."""
    dtype = getattr(like, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(np.asarray(ids, dtype=object), dtype=dtype)
    return ids


def sorted_ids(ids: pd.Series) -> np.ndarray:
    """Unique ids in ascending order (numbers numerically, text alphabetically)."""
    return np.sort(pd.unique(ids)) if id_kind(ids) == "number" else np.array(sorted(pd.unique(ids)), dtype=object)


# ----------------------------------------------------------------- parameters
def check_positive_int(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)) or value < minimum \
            or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ParameterError(f"{name}={value!r} must be an integer >= {minimum}{upper}.")
    return int(value)


def check_seed(name: str, value) -> int:
    """A seed: a whole number in [0, 2**63 - 1] (numpy's SeedSequence takes no negative words)."""
    return check_positive_int(name, value, minimum=0, maximum=2 ** 63 - 1)


def check_number(name: str, value, *, low: float = -np.inf, high: float = np.inf,
                 low_open: bool = False, high_open: bool = False, max_abs: float = MAX_ABS) -> float:
    """A finite real number in [low, high] (open ends on request) and at most ``max_abs`` in magnitude,
    else :class:`ParameterError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)) \
            or not np.isfinite(float(value)):
        raise ParameterError(f"{name}={value!r} must be a finite number.")
    value = float(value)
    if abs(value) > max_abs:
        raise ParameterError(f"{name}={value!r} is astronomically large; it must be at most {max_abs:g} in magnitude.")
    bad = value < low or value > high or (low_open and value == low) or (high_open and value == high)
    if bad:
        lb, hb = "(" if low_open else "[", ")" if high_open else "]"
        raise ParameterError(f"{name}={value!r} must lie in {lb}{low:g}, {high:g}{hb}.")
    return value


def check_probability(name: str, value) -> float:
    """A number strictly between 0 and 1 (alpha, power)."""
    return check_number(name, value, low=0, high=1, low_open=True, high_open=True)


def check_year(name: str, value, *, allow_none: bool = False) -> int | None:
    """A calendar year as a whole number (not text, a float or a bool) in :data:`YEARS`
    (:func:`evalkit.core.checks.check_year`)."""
    return _core_check_year(name, value, allow_none=allow_none)


def check_years(name: str, values, *, allow_empty: bool = False) -> list[int]:
    """A list of calendar years (each as :func:`check_year`), sorted and without duplicates."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ParameterError(f"{name}={values!r} must be a list of years, e.g. [2018, 2019].")
    years = [check_year(f"{name}[{i}]", v) for i, v in enumerate(list(values))]
    if not years and not allow_empty:
        raise ParameterError(f"{name} is empty; give at least one year.")
    return sorted(set(years))


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name}={value!r} must be True or False.")
    return bool(value)


def check_str(name: str, value) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(f"{name}={value!r} must be a non-empty string.")
    return value


def check_names(name: str, value, *, allow_empty: bool = False) -> list[str]:
    """Column names: one name or a list of names (each a non-empty string, no duplicates)."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, (pd.DataFrame, dict)) or not isinstance(names, (list, tuple, pd.Index, pd.Series, np.ndarray)):
        raise ParameterError(f"{name}={value!r} must be a column name or a list of column names.")
    names = list(names)
    if not all(isinstance(n, str) and n for n in names):
        raise ParameterError(f"{name}={value!r} must hold column names (strings).")
    if not names and not allow_empty:
        raise ParameterError(f"{name} must name at least one column.")
    if len(set(names)) < len(names):
        raise ParameterError(f"{name}={names!r} names a column twice.")
    return names


def _plain(value):
    """numpy scalar -> Python scalar, so messages read 3 rather than np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value


def show_ids(ids, limit: int = 5) -> str:
    """Area ids (or years) for a message, as plain values: ``[8, 12]`` or ``['A1', 'B2']``, never
    ``[np.int64(8), ...]``; at most ``limit`` of them, then how many more."""
    ids = list(ids)
    shown = [_plain(v) for v in ids[:limit]]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"{shown}{more}"


def frame_html(title: str, frame: pd.DataFrame, digits: int = 4) -> str:
    """Plain HTML of a tidy result for Jupyter (the report path goes through ``safe_table``)."""
    body = frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", na_rep="", border=0,
                         classes="evalkit-table")
    return f"<div class='evalkit-result'><strong>{html.escape(title)}</strong>{body}</div>"
