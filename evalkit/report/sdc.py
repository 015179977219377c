"""Statistics that carry their persons (:func:`tabulate`) and protection across tables (the ledger).

Statistical disclosure control after Hundepool et al. (2012), *Statistical Disclosure
Control*, Wiley (ch. 4 magnitude tables, ch. 5 frequency tables), with Statistics Denmark's
rules for researcher access (``shared/domain.md``).

:func:`tabulate`
    Builds a table straight from person-level microdata: per cell the number of distinct
    persons, and means, sums, shares and percentiles of value columns. Every statistic knows
    the persons behind it (distinct persons with a non-missing value) and is suppressed at
    the source below ``min_cell`` persons. Percentiles (the median included) are never one
    person's value: they are the mean of the values of at least ``min_cell`` persons nearest
    the percentile's rank, the usual "no identifiable median" practice; minimum and maximum
    are refused outright. Sums and means of magnitudes (non-0/1 columns) obey the (n, k)
    dominance rule: suppressed when the ``n`` largest persons' contributions exceed ``k`` of
    the cell's total (default (2, 0.85), Statistics Denmark's rule for business data).
    The count column then goes through :func:`~evalkit.report.disclosure.safe_table`'s
    machinery (primary and secondary suppression, rounding); a row whose count is
    suppressed has its statistics blanked.

:class:`PublicationLedger` (``LEDGER``)
    Every table built in this kernel registers its published count cells (true count, shown
    count, suppressed flag). A new table is checked against the earlier ones before it is
    packed: (a) a line of the new table whose total equals a count published elsewhere is
    protected as if that total were shown here; (b) a new count equal to the true total of
    an earlier table's line with exactly one suppressed cell is suppressed (it would reveal
    that cell); (c) unless both tables are rounded to a base >= ``min_cell``, a new count
    within ``min_cell`` of an earlier published count of the same column name is suppressed
    (differencing, e.g. "persons 90+" minus "persons 90-97"). :meth:`PublicationLedger.records`
    holds true counts: it is for the run's restricted audit file, never for reviewers.

What is not protected
    * Statistics of nested groups (mean income of 90+ and of 90-97 give the mean of the
      98+ persons when weighted by their counts): protected only by rounding the counts;
      use ``round_base`` (the report runner passes 5).
    * Differencing by linear combinations of more than two tables is not searched; the
      ledger looks for exact equalities of one line total and one count, and for pairs of
      close counts. Sub-totals inside one table (hierarchies) are not detected.
    * Group (attribute) disclosure: a share of 0 or 1 says something about every person of
      the cell; the p% rule is not applied (only the (n, k) rule).
    * Tables made in another process, or before :meth:`PublicationLedger.reset`, are unknown
      to the ledger; counts the library passes as trusted are taken as given.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from evalkit.errors import ColumnError, ParameterError, ValidationError, closest
from evalkit.report.ledger import LEDGER, Cell, PublicationLedger, ledger_cells  # noqa: F401 (re-exported)
from evalkit.report.disclosure import (MAX_ROWS, DisclosureError, SafeTable, _counts_table, _prepare,
                                       check_analyst_text, check_person_column, run_threshold,
                                       _resolve_rounding, _verify_person_counts, is_identifier,
                                       _mark_person_counts)

PERSONS = "persons"
STATISTICS = ("mean", "sum", "share", "median", "p10", "p25", "p75", "p90")
QUANTILES = {"median": 0.5, "p10": 0.10, "p25": 0.25, "p75": 0.75, "p90": 0.90}
MAGNITUDE_STATISTICS = ("sum", "mean")
DEFAULT_DOMINANCE = (2, 0.85)


# =========================================================================== statistics
def dominated(values: np.ndarray, persons: np.ndarray, n: int, k: float) -> bool:
    """(n, k) dominance rule: the ``n`` largest persons' total |value| exceed ``k`` of the cell's
    total |value| (Hundepool et al. 2012, ch. 4). ``persons``: integer codes, one per value."""
    contributions = np.bincount(persons, weights=np.abs(values))
    total = contributions.sum()
    return bool(total > 0 and np.sort(contributions)[::-1][:n].sum() > k * total)


def percentile_of_many(values: np.ndarray, persons: np.ndarray, q: float, min_cell: int) -> float:
    """The ``q`` percentile as the mean of the values nearest its rank, never one person's value.

    The window of sorted values centred on the rank ``q * (n - 1)`` starts with ``min_cell``
    values and widens until they come from ``min_cell`` distinct persons (a person-year
    frame can hold several values of one person). NaN with fewer than ``min_cell`` persons.
    """
    order = np.argsort(values, kind="stable")
    v, p = values[order], persons[order]
    rank = q * (len(v) - 1)
    for k in range(min_cell, len(v) + 1):
        start = int(min(max(np.floor(rank - (k - 1) / 2 + 0.5), 0), len(v) - k))
        if len(np.unique(p[start:start + k])) >= min_cell:
            return float(v[start:start + k].mean())
    return float("nan")


def cell_statistic(stat: str, values: np.ndarray, persons: np.ndarray, min_cell: int,
                   dominance: tuple[int, float] | None = None, binary: bool = False) -> tuple[float, bool]:
    """One statistic of a cell and whether it is suppressed (fewer than ``min_cell`` distinct
    persons with a value, a dominated sum or mean, or a 0/1 statistic hiding a small count)."""
    if len(np.unique(persons)) < min_cell:
        return float("nan"), True
    if stat in QUANTILES:
        return percentile_of_many(values, persons, QUANTILES[stat], min_cell), False
    if dominance is not None and stat in MAGNITUDE_STATISTICS and dominated(values, persons, *dominance):
        return float("nan"), True
    if binary and hidden_count(values, persons, min_cell):
        return float("nan"), True
    return float(values.sum() if stat == "sum" else values.mean()), False


def hidden_count(values: np.ndarray, persons: np.ndarray, min_cell: int) -> bool:
    """True when a two-valued statistic reveals a small count: the persons with the higher value,
    or the others, number from 1 to ``min_cell - 1`` (a share of 1 in 74 is one person)."""
    with_one = len(np.unique(persons[values == values.max()])) if len(values) else 0
    without = len(np.unique(persons)) - with_one
    return 0 < with_one < min_cell or 0 < without < min_cell


# =========================================================================== tabulate: checks
def check_dominance(dominance) -> tuple[int, float] | None:
    """``None`` (no dominance rule) or ``(n, k)`` with an integer n >= 1 and 0 < k < 1."""
    if dominance is None:
        return None
    if not isinstance(dominance, (tuple, list)) or len(dominance) != 2:
        raise ParameterError(f"dominance={dominance!r} must be None or a pair (n, k), e.g. (2, 0.85).")
    n, k = dominance
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"dominance n={n!r} must be an integer >= 1.")
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) or not 0 < k < 1:
        raise ParameterError(f"dominance k={k!r} must be a share strictly between 0 and 1.")
    return int(n), float(k)


def _missing(data: pd.DataFrame, col: object, what: str) -> ColumnError:
    return ColumnError(f"{what} column {col!r} is not in the data; columns are {list(data.columns)}."
                       + closest(str(col), data.columns))


def _check_by(data: pd.DataFrame, by, person: str) -> list:
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(f"tabulate needs a pandas DataFrame, got {type(data).__name__}.")
    if person not in data.columns:
        raise _missing(data, person, "person")
    check_person_column(person)
    by = [by] if isinstance(by, str) else list(by)
    if not by:
        raise ParameterError("by must name at least one column to tabulate by.")
    for col in by:
        if col not in data.columns:
            raise _missing(data, col, "by")
        if col == person or is_identifier(col):
            raise DisclosureError(f"by column {col!r} is an identifier; a table cannot be split by person keys.")
    if PERSONS in by:
        raise ParameterError(f"by cannot hold a column named {PERSONS!r} (the count column); rename it.")
    return by


def _is_binary(values: pd.Series) -> bool:
    """0/1 columns, and any column with two values (0/1000, 1/2 for sex, D + 1): their mean or
    sum is a count of persons in disguise."""
    return pd.api.types.is_bool_dtype(values) or values.dropna().nunique() <= 2


def _check_stats(col: object, stats, binary: bool) -> list:
    stats = [stats] if isinstance(stats, str) else list(stats)
    for stat in stats:
        if stat in ("min", "max"):
            raise DisclosureError(f"{stat} of {col!r} would publish one person's value; use a percentile "
                                  "(p10, p90) instead.")
        if stat not in STATISTICS:
            raise ParameterError(f"statistic {stat!r} of {col!r} is not allowed; choose from {list(STATISTICS)}."
                                 + closest(str(stat), STATISTICS))
        if stat == "share" and not binary:
            raise ValidationError(f"share of {col!r} needs a 0/1 column; use mean for other values.")
    return stats


def _check_values(data: pd.DataFrame, values, person: str, by: list) -> dict:
    """``{column: [statistics]}`` after checking columns and statistics."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ParameterError(f"values={values!r} must be a dict such as {{'income': ['mean', 'median']}}.")
    out = {}
    for col, stats in values.items():
        if col not in data.columns:
            raise _missing(data, col, "values")
        if col == person or is_identifier(col):
            raise DisclosureError(f"values column {col!r} is an identifier; it has no statistics to show.")
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise ColumnError(f"values column {col!r} must be numeric, not {data[col].dtype}.")
        out[col] = _check_stats(col, stats, _is_binary(data[col]))
    clash = [f"{c}_{s}" for c, ss in out.items() for s in ss if f"{c}_{s}" in by]
    if clash:
        raise ParameterError(f"statistic column(s) {clash} clash with by columns; rename them.")
    return out


# =========================================================================== tabulate
def _cell_statistics(part: pd.DataFrame, person: str, requests: dict, magnitude: dict, min_cell: int,
                     dominance) -> tuple[dict, dict]:
    """The requested statistics of one cell, and which of them are suppressed at the source."""
    shown, suppressed = {}, {}
    pid = part[person]
    for col, stats in requests.items():
        keep = (part[col].notna() & pid.notna()).to_numpy()
        values = part[col].to_numpy(dtype="float64", na_value=np.nan)[keep]
        who = pd.factorize(pid[keep])[0]
        for stat in stats:
            name = f"{col}_{stat}"
            shown[name], suppressed[name] = cell_statistic(stat, values, who, min_cell,
                                                           dominance if magnitude[col] else None,
                                                           binary=not magnitude[col])
    return shown, suppressed


def _cell_table(data: pd.DataFrame, by: list, person: str, requests: dict, min_cell: int,
                dominance) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per cell of ``by``: labels, distinct persons, statistics; plus the source mask."""
    grouped = data.groupby(by, dropna=False, observed=True, sort=True)
    if grouped.ngroups > MAX_ROWS:
        raise DisclosureError(f"tabulate would give {grouped.ngroups} rows (> {MAX_ROWS}); tabulate by fewer "
                              "or coarser columns.")
    magnitude = {col: not _is_binary(data[col]) for col in requests}
    stat_cols = [f"{c}_{s}" for c, ss in requests.items() for s in ss]
    rows, flags = [], []
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        shown, suppressed = _cell_statistics(part, person, requests, magnitude, min_cell, dominance)
        rows.append(dict(zip(by, key)) | {PERSONS: int(part[person].nunique())} | shown)
        flags.append(suppressed)
    frame = pd.DataFrame(rows, columns=by + [PERSONS] + stat_cols)
    frame[PERSONS] = frame[PERSONS].astype("int64")
    return frame, pd.DataFrame(flags, columns=stat_cols, index=frame.index).fillna(False).astype(bool)


def tabulate(data: pd.DataFrame, by: str | list[str], *, person: str = "PERSON_ID",
             values: dict[str, str | list[str]] | None = None, min_cell: int | None = None,
             dominance: tuple[int, float] | None = DEFAULT_DOMINANCE, round_base: int | None = None,
             margins: bool | dict = False, digits: int = 3, note: str = "", label: str | None = None,
             lang: str = "en") -> SafeTable:
    """A safe table of distinct persons and their statistics per cell of ``by``, from microdata.

    ``persons`` counts distinct non-missing ``person`` keys (never rows); a missing ``by``
    value forms its own group. ``values``: ``{column: statistics}`` among "mean", "sum",
    "share" (mean of a 0/1 column), "median", "p10", "p25", "p75", "p90", each in a column
    ``<column>_<statistic>``; "min" and "max" are refused. Each statistic rests on the distinct
    persons with a value and is suppressed (".." ) below ``min_cell`` (default: the run's
    threshold); percentiles are means of at least ``min_cell`` persons' values near the rank;
    sums and means of magnitudes obey the ``dominance`` (n, k) rule (``None``: off). The
    counts get primary and secondary suppression (``margins``), cross-table checks (ledger,
    ``label``) and rounding (``round_base``; default the "near" rule); a row with a suppressed
    count has its statistics blanked. Rules and limits: the module docstring; Hundepool et
    al. (2012), chs. 4-5. Never mutates ``data``; the person column never appears. ``lang``: the
    number convention of the shown cells ("da": "1.744", "0,048"; see :func:`~evalkit.report.disclosure.safe_table`).
    """
    min_cell = run_threshold(min_cell)
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(f"tabulate needs a pandas DataFrame of microdata, got {type(data).__name__}.")
    if not isinstance(by, (str, list, tuple)) or not by:
        raise ParameterError(f"by={by!r} must be a column name or a non-empty list of column names.")
    by = _check_by(data, by, person)
    requests = _check_values(data, values, person, by)
    dominance = check_dominance(dominance)
    rounding = _resolve_rounding("near", round_base)
    frame, source = _cell_table(data, by, person, requests, min_cell, dominance)
    _mark_person_counts(frame, PERSONS, by)
    work, labels = _prepare(frame, [PERSONS], by, MAX_ROWS)
    _verify_person_counts(frame, work, [PERSONS])
    check_analyst_text(work, labels, note=note, label=label)
    return _counts_table(work, [PERSONS], labels, min_cell=min_cell, margins=margins, rounding=rounding,
                         digits=digits, marker="..", note=note, label=label, source_mask=source, lang=lang)
