"""Disclosure control for shown tables (Statistics Denmark rules, ``shared/domain.md``).

Pure functions plus one display object. A table of persons reaches a report in one of two
ways: :func:`~evalkit.report.sdc.tabulate` (counts and statistics straight from person-level
microdata; the recommended way) or :func:`safe_table` on person counts that evalkit itself
computed (:func:`count_persons`). Both refuse identifiers, check persons against the
threshold, suppress small cells (primary), protect them against recovery from the margins
(secondary) and from earlier tables (:mod:`evalkit.report.sdc`), round counts and return a
:class:`SafeTable`, whose display output is sealed (:func:`evalkit.seal.seal`): an HMAC under
the run's key that the report runner verifies before it releases the output.
Reference for the rules: Hundepool et al. (2012), *Statistical Disclosure Control*, Wiley,
ch. 4 (magnitude tables, secondary suppression) and ch. 5 (frequency tables, rounding).

Rules (documented once, here)
-----------------------------
Threshold
    A shown count of persons must be >= ``min_cell`` (default: the run's threshold,
    :func:`evalkit.seal.run_min_cell`, 5 outside a run; floor 3). A count of 0 rests on
    nobody and is shown.
Person counts
    Count distinct persons, never rows. A count column is accepted only when evalkit
    computed it: :func:`count_persons` and ``tabulate`` put an HMAC of the column's name,
    its label columns and its sorted (labels, count) pairs into
    ``frame.attrs["evalkit_person_counts"]``; :func:`safe_table` recomputes it, so a row count,
    a hand-typed column, a changed or renamed count, or an added or removed row is refused.
    Tables without person counts are not made with :func:`safe_table`: statistics of
    microdata come from ``tabulate`` and estimates are shown by displaying the ``Result``.
Primary suppression
    Every count cell with ``0 < count < min_cell`` is suppressed. The other (non-label,
    non-count) cells of its row, e.g. means or shares over those persons, are blanked too.
Secondary (complementary) suppression, when the table has margins: totals added here
(``margins=``), shown elsewhere (``margins={"show": False}``) or already in the frame (a body
row equal in every count column to the sum of the other rows, preferably labelled
total/totalt/i alt/alle/all/sum; a count column equal to the sum of the others)
    The table is a set of additive lines: every row (cells + row total) and every column
    (cells + column total). In any line with exactly one suppressed cell, that cell could be
    recovered by subtraction, so the smallest other non-zero cell of the line is also
    suppressed (inner cells before the line's total; zeros only when nothing else is left).
    This repeats until no line has exactly one suppressed cell: the simple line-by-line
    heuristic for complementary suppression (Hundepool et al. 2012, ch. 4). It meets
    Statistics Denmark's rule that suppressed cells must not be recoverable from totals. It
    guarantees no single-cell recovery; it does not compute the attacker's full
    feasibility intervals (tau-ARGUS's optimal suppression does). Margins are computed
    from the true counts. Sub-totals (hierarchical tables) are not detected.
Rounding (``round_to`` / ``round_base``)
    ``"near"`` (default): counts in ``[min_cell, 2*min_cell)`` are rounded to the nearest
    multiple of ``min_cell`` (half up), so with 5: 5-7 show as 5, 8-9 as 10.
    An int ``b`` (or ``round_base=b``, which wins when given): every shown count, margins
    included, is rounded to the nearest multiple of ``b``. In a report run the run's
    ``round_base`` parameter (default 5) is in force and cannot be weakened. ``None``: no
    rounding. Margins are computed from the true counts and rounded independently, so
    rounded tables need not add up. Suppression is always
    decided on the true, unrounded counts.
Marker
    Every suppressed cell shows ``".."`` (the usual official-statistics mark for a
    confidential figure; ``marker=`` changes it), the same for primary and secondary cells
    so the pattern does not reveal which cells are small; genuinely missing values show ``"–"``.
Numbers (``lang``)
    English as always ("1744", "0.048"); Danish (``lang="da"``) with the decimal comma and a dot
    between thousands ("1.744", "0,048", "1.744,360", "< 0,001"), numbers inside text cells
    included. Years and a count table's label columns are never grouped ("2024", not "2.024");
    the marker and "–" are the same in both languages.

The seal proves that the table went through this module in this run; the HMAC key lives
only in the kernel's process, so it is a control against mistakes, not against a user who
runs arbitrary code in that process. The runner's gate plus code review are the control.
"""
from __future__ import annotations

import hmac
import html as _html
import json
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from evalkit import seal as _seal
from evalkit.i18n import LANGS, format_number, localize_numbers
from evalkit.privacy import IDENTIFIERS, is_identifier
from evalkit.errors import ColumnError, ParameterError, ValidationError, check_choice, closest
from evalkit.report.ledger import LEDGER, _label_key, ledger_cells
from evalkit.report.textcheck import DisclosureError, check_text, run_keys

FLOOR = 3
DEFAULT_MIN_CELL = 5
MAX_ROWS = 60
MARKER = ".."
MISSING = "–"
# evalkit's simulator: 16 lowercase hex characters (at least one digit and one letter).
KEY_PATTERN = re.compile(r"(?<![0-9A-Za-z+/])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{16}(?![0-9A-Za-z+/=])")
CPR_PATTERN = re.compile(r"(?<![\d.,])(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}-?\d{4}(?![\d]|[.,]\d)")
COUNT_WORDS = frozenset({"n", "persons", "personer", "antal", "count", "residents", "beboere"})
TOTAL_LABELS = frozenset({"total", "totalt", "i alt", "alle", "all", "sum"})
COUNTS_ATTR = "evalkit_person_counts"
COUNTS_BY_ATTR = "evalkit_person_count_by"
NO_COUNTS = ("safe_table needs person counts (count_cols=[...]); a table without them is refused. Tables of "
             "statistics from microdata must be made with tabulate(...), and estimates are shown by displaying "
             "the Result.")


# --------------------------------------------------------------------------- checks
def check_threshold(min_cell: int) -> int:
    """The disclosure threshold: default 5, never below the floor of 3 persons."""
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < FLOOR:
        raise ParameterError(f"min_cell={min_cell!r} must be an integer >= {FLOOR} (Statistics Denmark floor).")
    return int(min_cell)


def identifier_columns(frame: pd.DataFrame | pd.Series) -> list:
    """Identifier names among the columns (or Series name) and index level names."""
    names = list(frame.columns) if isinstance(frame, pd.DataFrame) else [frame.name]
    names += [n for n in frame.index.names if n is not None]
    return [n for n in names if n is not None and is_identifier(n)]


def looks_like_key(value: object) -> bool:
    """True for a string that looks like a pseudonymised key or a CPR number."""
    text = str(value)
    return bool(KEY_PATTERN.search(text) or CPR_PATTERN.search(text))


def looks_like_count_name(name: object) -> bool:
    """True for a column name that announces a count (n, persons, antal, residents, n_*, ...)."""
    text = str(name).strip().lower()
    return text.startswith("n_") or bool(COUNT_WORDS & set(re.split(r"[^0-9a-zæøå]+", text)))


def refuse_identifiers(frame: pd.DataFrame) -> None:
    """Raise when a frame about to be shown carries a pseudonymised key (column or values)."""
    found = identifier_columns(frame)
    if found:
        raise DisclosureError(f"table carries identifier column(s) {found}; aggregate before showing it.")
    for col in frame.columns:
        if frame[col].dtype == object or isinstance(frame[col].dtype, pd.StringDtype):
            if frame[col].dropna().astype(str).map(looks_like_key).any():
                raise DisclosureError(f"column {col!r} holds values that look like pseudonymised keys or "
                                      "CPR numbers; aggregate before showing it.")


def _check_columns(frame: pd.DataFrame, cols: list, what: str) -> None:
    for col in cols:
        if col not in frame.columns:
            raise ColumnError(f"{what} column {col!r} is not in the table; columns are "
                              f"{list(frame.columns)}." + closest(str(col), frame.columns))


def _whole_numbers(values: pd.Series) -> bool:
    """True for a numeric, non-boolean column whose non-missing values are all whole numbers."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna().astype("float64")
    return len(present) > 0 and bool(np.all(np.isfinite(present)) and np.all(present % 1 == 0))


# --------------------------------------------------------------------------- person-count marks
def _count_bytes(frame: pd.DataFrame, column: str, by: list) -> bytes:
    """Canonical bytes of a count column: its name, its label names and its sorted (labels, count) pairs.

    Sorting makes row order irrelevant; any changed count or label, an added or removed row
    or a renamed column changes the bytes.
    """
    labels = [frame[b].tolist() for b in by]
    pairs = sorted(json.dumps([[_label_key(v[i]) for v in labels], _label_key(c)], ensure_ascii=False)
                   for i, c in enumerate(frame[column].tolist()))
    return json.dumps({"column": str(column), "by": [str(b) for b in by], "cells": pairs},
                      ensure_ascii=False).encode("utf-8")


def _mark_person_counts(frame: pd.DataFrame, column: str, by: list) -> pd.DataFrame:
    """Mark ``frame[column]`` (labelled by the ``by`` columns) as distinct persons counted by evalkit.

    For library code only: the mark vouches that the counts are counts of distinct persons.
    Sets ``frame.attrs`` in place and returns ``frame``.
    """
    key = _seal._init()["key"]
    frame.attrs.setdefault(COUNTS_ATTR, {})[column] = _seal.mac(key, _count_bytes(frame, column, list(by)))
    frame.attrs.setdefault(COUNTS_BY_ATTR, {})[column] = [*by]
    return frame


def is_person_count(frame: pd.DataFrame, work: pd.DataFrame, column: str) -> bool:
    """True when ``frame.attrs`` hold a mark that matches ``work[column]`` and its labels now."""
    marks, by = frame.attrs.get(COUNTS_ATTR, {}), frame.attrs.get(COUNTS_BY_ATTR, {}).get(column)
    if not isinstance(marks, dict) or not isinstance(marks.get(column), str) or not isinstance(by, list):
        return False
    if any(b not in work.columns for b in by):
        return False
    expected = _seal.mac(_seal._init()["key"], _count_bytes(work, column, by))
    return hmac.compare_digest(marks[column], expected)


def _verify_person_counts(frame: pd.DataFrame, work: pd.DataFrame, count_cols: list) -> None:
    for col in count_cols:
        if not is_person_count(frame, work, col):
            raise DisclosureError(f"column {col!r} is not a person count computed by evalkit: count distinct "
                                  "persons with count_persons() or tabulate().")


# --------------------------------------------------------------------------- counting
def check_person_column(person: object) -> str:
    """The column whose distinct values are persons must be a person key (PERSON_ID, PNR, CPR,
    RESP_ID, ...): counting distinct values of a row id or a recoded column would let a row
    count pass as a person count."""
    if not is_identifier(person):
        raise DisclosureError(f"person={person!r} is not a person-key column; count distinct persons by one of "
                              f"{list(IDENTIFIERS)} (rename a recoded key back rather than counting rows).")
    return str(person)


def count_persons(frame: pd.DataFrame, by: str | list[str], person: str = "PERSON_ID",
                  *, name: str = "persons", columns: str | None = None) -> pd.DataFrame:
    """Distinct persons per group (never rows): the groups' ``by`` columns plus ``name``.

    Rows with a missing person key are not counted; a missing ``by`` value forms its own
    group. With ``columns`` (a column of ``frame``) the result is wide: one count column per
    value of ``columns`` (0 where a group has nobody), e.g. men and women per area, ready
    for ``safe_table(..., margins=True)``. The result carries no identifier column, and its
    count columns are marked as evalkit person counts (``frame.attrs``, see the module doc).
    """
    by = [by] if isinstance(by, str) else list(by)
    _check_columns(frame, by + [person] + ([columns] if columns is not None else []), "count_persons")
    check_person_column(person)
    keys = by + ([columns] if columns is not None else [])
    counts = frame.groupby(keys, observed=True, dropna=False)[person].nunique()
    if columns is None:
        out = counts.rename(name).reset_index()
        return _mark_person_counts(out, name, by)
    wide = counts.unstack(columns, fill_value=0)
    wide.columns = [str(c) for c in wide.columns]
    out = wide.reset_index()
    out.columns.name = None
    for col in wide.columns:
        _mark_person_counts(out, col, by)
    return out


def _resolve_rounding(round_to: int | str | None, round_base: int | None) -> int | str | None:
    """The rounding rule in force: ``round_base`` (a positive int) wins over ``round_to``; in a
    report run without either, every count is rounded to the run's ``round_base`` parameter."""
    run_base = _seal.run_round_base() if _seal.in_report_run() else None
    if round_base is None and round_to == "near" and run_base:
        round_base = run_base
    chosen = round_base if round_base is not None else round_to
    if run_base and run_base > 1 and not (isinstance(chosen, (int, np.integer)) and chosen >= run_base):
        raise DisclosureError(f"this report run rounds every published count to a multiple of {run_base} "
                              f"(parameter round_base); round_to={round_to!r}, round_base={round_base!r} would "
                              "weaken it.")
    if round_base is not None:
        if isinstance(round_base, bool) or not isinstance(round_base, (int, np.integer)) or round_base < 1:
            raise ParameterError(f"round_base={round_base!r} must be a positive integer or None.")
        return int(round_base)
    round_counts(pd.Series([], dtype="float64"), FLOOR, round_to)  # validates round_to
    return round_to


def round_counts(values: pd.Series, min_cell: int, round_to: int | str | None = "near") -> pd.Series:
    """Round person counts by the rule ``round_to`` (see the module docstring)."""
    if round_to is None:
        return values
    if isinstance(round_to, str) and round_to == "near":
        base, near = min_cell, (values >= min_cell) & (values < 2 * min_cell)
    elif isinstance(round_to, (int, np.integer)) and not isinstance(round_to, bool) and round_to >= 1:
        base, near = int(round_to), values.notna()
    else:
        raise ParameterError(f"round_to={round_to!r} must be 'near', a positive integer base or None.")
    rounded = (np.floor(values.astype("float64") / base + 0.5) * base)
    return values.where(~near.fillna(False), rounded)


# --------------------------------------------------------------------------- suppression
def _lines(n_rows: int, n_cols: int, row_total: bool, col_total: bool) -> list[list[tuple[int, int]]]:
    """Additive lines of the (augmented) matrix; the total cell of each line comes last."""
    lines = []
    if col_total:  # each row sums to its last column
        lines += [[(i, j) for j in range(n_cols)] for i in range(n_rows)]
    if row_total:  # each column sums to its last row
        lines += [[(i, j) for i in range(n_rows)] for j in range(n_cols)]
    return lines


def suppress_lines(counts: np.ndarray, suppressed: np.ndarray, lines: list[list[tuple[int, int]]]) -> np.ndarray:
    """Complementary suppression over additive ``lines`` (cells, the line's total last).

    Returns a new mask where no line has exactly one suppressed cell: in such a line the
    smallest other non-zero free inner cell is suppressed too (a zero only when nothing else
    is left, the total last), repeated until nothing changes: the line-by-line heuristic
    for complementary suppression (Hundepool et al. 2012, ch. 4). NaN counts are unknown
    and never chosen.
    """
    mask = suppressed.copy()
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(mask[c] for c in line) != 1:
                continue
            inner, total = line[:-1], line[-1]
            free = [c for c in inner if not mask[c] and not np.isnan(counts[c])]
            options = ([c for c in free if counts[c] > 0] or free
                       or ([total] if not mask[total] else []))
            if options:
                mask[min(options, key=lambda c: counts[c])] = True
                changed = True
    return mask


def secondary_suppression(counts: np.ndarray, suppressed: np.ndarray, *, row_total: bool,
                          col_total: bool) -> np.ndarray:
    """Complementary suppression on a count matrix whose last row / column are totals.

    Returns a new mask where no additive line has exactly one suppressed cell (rule in the
    module docstring). ``counts`` may hold NaN (treated as unknown, never chosen).
    """
    return suppress_lines(counts, suppressed, _lines(*counts.shape, row_total, col_total))


def total_index(matrix: np.ndarray, names: list | None = None) -> int | None:
    """The row of ``matrix`` that is the sum of all other rows in every column, else ``None``.

    Such a row is a margin whatever its label (an analyst-supplied total); among several
    candidates a row labelled total/totalt/i alt/alle/all/sum wins, then the first one.
    Rows holding NaN and an all-zero sum are never margins.
    """
    if matrix.shape[0] < 2 or matrix.shape[1] == 0 or np.isnan(matrix).any():
        return None
    others = matrix.sum(axis=0, keepdims=True) - matrix
    hits = [i for i in np.flatnonzero((matrix == others).all(axis=1)) if matrix[i].sum() > 0]
    if not hits:
        return None
    named = [i for i in hits if names is not None and str(names[i]).strip().lower() in TOTAL_LABELS]
    return int((named or hits)[0])


def margin_lines(shape: tuple[int, int], row_totals: list[tuple[int, list[int]]],
                 col_totals: list[tuple[int, list[int]]]) -> list[list[tuple[int, int]]]:
    """Additive lines of a table whose totals may sit anywhere, each line's total last.

    ``row_totals``: (total row, the rows it adds up), one line per column;
    ``col_totals``: (total column, the columns it adds up), one line per row.
    """
    lines = [[(i, j) for j in scope] + [(i, c)] for c, scope in col_totals for i in range(shape[0])]
    lines += [[(i, j) for i in scope] + [(r, j)] for r, scope in row_totals for j in range(shape[1])]
    return lines  # rows first, as in secondary_suppression (the heuristic depends on the order)


def _normalise_margins(margins: bool | dict, n_count: int) -> dict:
    if margins is False or margins is None:
        return {"rows": False, "columns": False, "label": "Total", "show": True}
    if margins is True:
        margins = {}
    if not isinstance(margins, dict):
        raise ParameterError(f"margins={margins!r} must be False, True or a dict with keys "
                             "'rows', 'columns', 'label', 'show'.")
    unknown = set(margins) - {"rows", "columns", "label", "show"}
    if unknown:
        raise ParameterError(f"margins has unknown key(s) {sorted(unknown)}; allowed: rows, columns, label, show.")
    out = {"rows": True, "columns": n_count > 1, "label": "Total", "show": True} | margins
    if out["columns"] and n_count < 2:
        raise ParameterError("margins={'columns': True} needs at least two count columns.")
    return out


def _add_margins(frame: pd.DataFrame, count_cols: list, labels: list, m: dict) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:  # keep whole numbers whole when the total row adds NA
        if c not in count_cols and pd.api.types.is_integer_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype("Int64")
    if m["columns"]:
        out[m["label"]] = out[count_cols].sum(axis=1, min_count=1)
    if m["rows"]:
        total = {c: out[c].sum(min_count=1) for c in count_cols + ([m["label"]] if m["columns"] else [])}
        total |= {c: (m["label"] if i == 0 else "") for i, c in enumerate(labels)}
        out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    return out


# --------------------------------------------------------------------------- the display object
@dataclass(frozen=True)
class SafeTable:
    """A table that passed :func:`safe_table` or ``tabulate``; displays as sealed HTML / text.

    ``table`` holds the shown values (suppressed and missing cells as NA), ``suppressed``
    the mask of suppressed cells. ``min_count_shown`` is the smallest non-zero count shown
    (``None`` for a table without person counts). ``n_suppressed`` counts suppressed count
    cells; ``n_statistics_suppressed`` suppressed statistic cells (``tabulate``).
    """

    table: pd.DataFrame = field(repr=False)
    suppressed: pd.DataFrame = field(repr=False)
    min_cell: int
    n_suppressed: int
    n_primary: int
    min_count_shown: int | None
    kind: str = "counts"
    rounding: str = "near"
    html: str = field(default="", repr=False)
    text: str = field(default="", repr=False)
    n_statistics_suppressed: int = 0

    @property
    def info(self) -> dict:
        return {"kind": self.kind, "min_cell": self.min_cell, "min_count_shown": self.min_count_shown,
                "n_suppressed": self.n_suppressed, "rounding": self.rounding}

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {"text/html": self.html, "text/plain": self.text}
        return data, _seal.seal(data, "table", min_cell=self.min_cell, n_suppressed=self.n_suppressed,
                                min_count_shown=self.min_count_shown, rounding=self.rounding)

    def __str__(self) -> str:
        """The checked table as text; ``print(table)`` reaches a report (its lines are in the run's ledger)."""
        return _seal.note_lines(self.text)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the shown table (suppressed cells NA)."""
        return self.table.copy()


def _format_cell(value: object, digits: int, is_count: bool, lang: str = "en", group: bool = True) -> str:
    """One shown cell: "–" when missing, counts and other whole numbers without decimals, other
    numbers with ``digits`` decimals, and, when ``group`` (not in year columns), thousands grouped:
    English "1,744", "0.048", "1,744.360"; Danish with decimal comma and a dot between thousands
    ("1.744", "0,048", "1.744,360"); text cells get the Danish convention for the numbers in them
    (:func:`evalkit.i18n.localize_numbers`)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    if lang == "da":
        return _format_cell_da(value, digits, is_count, group)
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if not (is_count or isinstance(value, (int, np.integer, float, np.floating))):
        return str(value)
    whole = (is_count or isinstance(value, (int, np.integer))) and float(value).is_integer()
    shown = format_number(value, "en", digits=0 if whole else digits)
    return shown if group else shown.replace(",", "")


def _format_cell_da(value: object, digits: int, is_count: bool, group: bool) -> str:
    """A cell in the Danish convention (see :func:`_format_cell`)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if not (is_count or isinstance(value, (int, np.integer, float, np.floating))):
        return _interval_da(localize_numbers(str(value), "da"))
    whole = (is_count or isinstance(value, (int, np.integer))) and float(value).is_integer()
    if whole and not group:
        return f"{int(value)}"
    shown = format_number(value, "da", digits=0 if whole else digits)
    return shown if group else shown.replace(".", "")


def _interval_da(text: str) -> str:
    """An interval cell "[a, b]" as "[a; b]": after the decimal comma a comma cannot separate the ends."""
    if text.startswith("[") and text.endswith("]") and text.count(", ") == 1:
        return text.replace(", ", "; ")
    return text


#: words of a column name whose whole numbers are years or periods, shown without a thousands separator
YEAR_WORDS = frozenset({"year", "years", "år", "aar", "period", "periode", "event", "cohort", "kohorte", "wave",
                        "bølge", "start", "baseline"})


def is_year_column(name: object, values: pd.Series | None = None) -> bool:
    """True when a column's whole numbers are years or periods, never grouped by thousands ("2024",
    not "2.024"): its name has a year word (:data:`YEAR_WORDS`; Danish compounds ending in "år" such
    as "indsatsår"), or its values are whole numbers between 1800 and 2200.

    Parameters
    ----------
    name : object
        The column's name.
    values : pandas.Series, optional
        The column's values.

    Returns
    -------
    bool
        Whether the column is shown without thousands separators.
    """
    words = [w for w in re.split(r"[^0-9a-zæøå]+", str(name).lower()) if w]
    if any(w in YEAR_WORDS or (w.endswith("år") and len(w) > 4) for w in words):
        return True
    if values is None or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna().astype("float64")
    return len(present) > 0 and bool(np.all(present % 1 == 0) and present.between(1800, 2200).all())


def _footnote(marker: str, min_cell: int, n_suppressed: int, n_stats: int) -> str:
    if n_stats:
        return (f"{marker}: suppressed (fewer than {min_cell} persons, dominated by a few persons, "
                "or protecting such a cell).")
    return f"{marker}: suppressed (fewer than {min_cell} persons, or protecting such a cell)." if n_suppressed else ""


def _render(table: pd.DataFrame, mask: pd.DataFrame, count_cols: list, digits: int, marker: str,
            note: str, foot: str, lang: str = "en", plain: frozenset = frozenset()) -> tuple[str, str]:
    """HTML and text of the shown table; ``plain``: columns whose whole numbers are not grouped by
    thousands (labels, years). Suppressed cells show ``marker`` in every language."""
    shown = pd.DataFrame({c: [marker if mask[c].iat[i] else
                              _format_cell(table[c].iat[i], digits, c in count_cols, lang, c not in plain)
                              for i in range(len(table))] for c in table.columns}, index=table.index)
    notes = "".join(f"<p class='evalkit-note'>{_html.escape(t)}</p>" for t in (note, foot) if t)
    html = shown.to_html(index=False, classes="evalkit-table", border=0, escape=True) + notes
    text = shown.to_string(index=False) + "".join(f"\n{t}" for t in (note, foot) if t)
    return html, text


def _plain_columns(table: pd.DataFrame, cells: list, labels: list) -> frozenset:
    """Columns shown without thousands separators: a count table's label columns and year columns."""
    label_cols = set(labels) if cells else set()
    return frozenset(c for c in table.columns if c not in cells and (c in label_cols or is_year_column(c, table[c])))


# --------------------------------------------------------------------------- the safe table
def _prepare(frame: pd.DataFrame, count_cols: list, index, max_rows: int) -> tuple[pd.DataFrame, list]:
    """The frame with its index as label columns, and the label columns; refuses what cannot be shown."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"safe_table needs a pandas DataFrame, got {type(frame).__name__}.")
    found = identifier_columns(frame)
    if found:
        raise DisclosureError(f"table carries identifier column(s) {found}; aggregate before showing it.")
    default_index = frame.index.names == [None] and frame.index.equals(pd.RangeIndex(len(frame)))
    work = frame.reset_index(drop=True) if default_index else frame.reset_index()
    from_index = [c for c in work.columns if c not in frame.columns]
    _check_columns(work, count_cols, "count")
    by = frame.attrs.get(COUNTS_BY_ATTR) or {}
    counted_by = {c for cols in (by.values() if isinstance(by, dict) else [by]) for c in cols if c in work.columns}
    labels = ([index] if isinstance(index, str) else list(index)) if index is not None else from_index + \
        [c for c in frame.columns if c not in count_cols and (c in counted_by or
                                                               not pd.api.types.is_numeric_dtype(work[c]))]
    _check_columns(work, labels, "index")
    refuse_identifiers(work)
    if len(work) > max_rows:
        raise DisclosureError(f"table has {len(work)} rows (> max_rows={max_rows}); aggregate it further.")
    return work, labels


def _check_count_values(work: pd.DataFrame, count_cols: list) -> None:
    for c in count_cols:
        values = work[c]
        if not pd.api.types.is_numeric_dtype(values) or (values.dropna() < 0).any() or \
                not np.allclose(values.dropna().astype("float64") % 1, 0):
            raise ValidationError(f"count column {c!r} must hold non-negative whole numbers of persons.")


def safe_table(frame: pd.DataFrame, *, count_cols: list[str], min_cell: int | None = None,
               margins: bool | dict = False, round_to: int | Literal["near"] | None = "near",
               round_base: int | None = None, index: str | list[str] | None = None, digits: int = 3,
               marker: str = MARKER, note: str = "", max_rows: int = MAX_ROWS, label: str | None = None,
               lang: str = "en", _trusted: bool = False) -> SafeTable:
    """A table of person counts that evalkit computed, made safe to show (rules in the module docstring).

    ``count_cols``: columns holding counts of distinct persons made by :func:`count_persons`
    (or ``tabulate``); never empty. ``index``: label columns, never suppressed (default: the
    non-numeric columns). A non-default index of ``frame`` becomes label columns (e.g. the
    output of ``groupby``). Other non-count columns are statistics of the row's persons and
    are blanked with its primary-suppressed counts.
    ``margins``: ``True`` or ``{"rows": bool, "columns": bool, "label": str, "show": bool}``
    adds totals and enables secondary suppression. ``min_cell``: default the run's threshold.
    ``round_base``: round every shown count to this base (wins over ``round_to``).
    ``label``: the table's name in the publication ledger (:mod:`evalkit.report.sdc`).
    ``lang``: the number convention of the shown cells ("en": "1744", "0.048"; "da": "1.744", "0,048";
    years and label columns are never grouped by thousands).
    ``_trusted``: internal, for library code only (counts the library computed itself, e.g.
    DuckDB resident counts of the area panel); skips the person-count mark check.
    Never mutates ``frame``.
    """
    min_cell = run_threshold(min_cell)
    rounding = _resolve_rounding(round_to, round_base)
    check_choice("lang", lang, LANGS)
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"safe_table needs a pandas DataFrame, got {type(frame).__name__}.")
    count_cols = [count_cols] if isinstance(count_cols, str) else list(count_cols)
    if not count_cols:
        raise DisclosureError(NO_COUNTS)
    work, labels = _prepare(frame, count_cols, index, max_rows)
    _check_count_values(work, count_cols)
    if not _trusted:
        _verify_person_counts(frame, work, count_cols)
        _only_counts_and_labels(work, count_cols, labels)
        check_analyst_text(work, labels, note=note, label=label)
    return _counts_table(work, count_cols, labels, min_cell=min_cell, margins=margins, rounding=rounding,
                         digits=digits, marker=marker, note=note, label=label, lang=lang)


def run_threshold(min_cell: int | None) -> int:
    """The threshold of a table: the run's by default; in a report run never below the run's."""
    run = _seal.run_min_cell()
    min_cell = check_threshold(run if min_cell is None else min_cell)
    if _seal.in_report_run() and min_cell < run:
        raise DisclosureError(f"min_cell={min_cell} is below this report run's threshold of {run} persons.")
    return min_cell


def check_analyst_text(work: pd.DataFrame, labels: list, *, note: str, label: str | None) -> None:
    """In a report run, an analyst's table text is checked like released text: the note and the
    table label fully (no keys, no small whole numbers), column names and row labels for the
    data's person keys (row labels may be small category codes such as sex 1/2)."""
    if not _seal.in_report_run():
        return
    from evalkit.report.keyscan import scan_text

    for text, what in ((note, "the table note"), (label or "", "the table label")):
        check_text(text, what=what)
    keys = run_keys()
    names = " ".join(map(str, work.columns)) + " " + " ".join(map(str, work[labels].to_numpy().ravel()))
    if keys is not None and scan_text(names, keys):
        raise DisclosureError("a column name or row label of the table shows a person key of the data.")


def _only_counts_and_labels(work: pd.DataFrame, count_cols: list, labels: list) -> None:
    """A public safe table shows labels and evalkit's person counts only; any other column is a
    statistic whose persons evalkit cannot know (a maximum, a row count), so it is refused."""
    other = [c for c in work.columns if c not in count_cols and c not in labels]
    if other:
        raise DisclosureError(f"column(s) {other} are neither labels nor person counts evalkit made; compute "
                              "statistics with tabulate(data, by, values={...}), which knows the persons behind "
                              "each of them.")


@dataclass(frozen=True)
class _Layout:
    """The additive structure of a count table: its lines and where its totals are."""

    lines: list
    total_rows: frozenset
    total_cols: frozenset

    @property
    def covered(self) -> tuple[bool, bool]:
        """(rows add up to a total column, columns add up to a total row)."""
        return bool(self.total_cols), bool(self.total_rows)


def _layout(work: pd.DataFrame, count_cols: list, cells: list, labels: list, m: dict, n_body: int) -> _Layout:
    """Lines of the table: the margins computed here plus a total row / column already in the body."""
    body = work[count_cols].iloc[:n_body].astype("float64").to_numpy()
    names = work[labels[0]].iloc[:n_body].tolist() if labels else None
    t_row, t_col = total_index(body, names), total_index(body.T, count_cols)
    rows = [(len(work) - 1, list(range(len(work) - 1)))] if m["rows"] else []
    rows += [(t_row, [i for i in range(n_body) if i != t_row])] if t_row is not None else []
    cols = [(len(cells) - 1, list(range(len(cells) - 1)))] if m["columns"] else []
    cols += [(t_col, [j for j in range(len(count_cols)) if j != t_col])] if t_col is not None else []
    return _Layout(margin_lines((len(work), len(cells)), rows, cols), frozenset(r for r, _ in rows),
                   frozenset(c for c, _ in cols))


def _cross_tables(work, cells, labels, counts, mask, lay: _Layout, shape, min_cell: int, base) -> np.ndarray:
    """Add the publication ledger's suppressions (:mod:`evalkit.report.sdc`) and re-protect the
    table's own lines, until nothing changes. ``shape``: the part of the table that is shown."""
    while True:
        new = ledger_cells(work, cells, labels, counts, mask, lay.total_rows, lay.total_cols, shape)
        extra = [p for p in LEDGER.check_new(new, min_cell=min_cell, round_base=base, covered=lay.covered)
                 if not mask[p]]
        if not extra:
            return mask
        for p in extra:
            mask[p] = True
        mask = suppress_lines(counts, mask, lay.lines)


def _counts_table(work: pd.DataFrame, count_cols: list, labels: list, *, min_cell: int, margins, rounding,
                  digits: int, marker: str, note: str, label: str | None,
                  source_mask: pd.DataFrame | None = None, lang: str = "en") -> SafeTable:
    """Suppress (primary, secondary, across tables), round, render and register a checked count table."""
    m = _normalise_margins(margins, len(count_cols))
    n_body = len(work)
    work = _add_margins(work, count_cols, labels, m)
    cells = count_cols + ([m["label"]] if m["columns"] else [])
    counts = work[cells].astype("float64").to_numpy()
    lay = _layout(work, count_cols, cells, labels, m, n_body)
    primary = (counts > 0) & (counts < min_cell)
    base = rounding if isinstance(rounding, int) else None
    shape = counts.shape if m["show"] else (n_body, len(count_cols))
    mask = _cross_tables(work, cells, labels, counts, suppress_lines(counts, primary, lay.lines), lay, shape,
                         min_cell, base)
    if not m["show"]:
        work, counts, mask, primary = _drop_margins(work, counts, mask, primary, m, n_body)
        cells = count_cols
    table = _pack(work, cells, counts, mask, primary, labels, min_cell, rounding, digits, marker, note, source_mask,
                  lang=lang)
    shown = ledger_cells(work, cells, labels, counts, mask, lay.total_rows, lay.total_cols, counts.shape,
                         shown=table.table)
    LEDGER.register(shown, label=label, min_cell=min_cell, round_base=base, covered=lay.covered)
    return table


def _drop_margins(work, counts, mask_arr, primary, m, n_body):
    keep_cols = counts.shape[1] - (1 if m["columns"] else 0)
    work = work.iloc[:n_body].drop(columns=[m["label"]] if m["columns"] else [])
    return work, counts[:n_body, :keep_cols], mask_arr[:n_body, :keep_cols], primary[:n_body, :keep_cols]


def _statistic_mask(table: pd.DataFrame, stats: list, primary_rows: np.ndarray, source_mask) -> pd.DataFrame:
    """Which statistic cells are blanked: the primary rows' (``safe_table``), or for ``tabulate``
    the statistics suppressed at the source plus every row with a suppressed count."""
    rows = pd.Series(primary_rows, index=table.index)
    blank = pd.DataFrame({c: rows for c in stats}, index=table.index, dtype=bool)
    if source_mask is not None:
        source = source_mask.reindex(index=table.index, columns=stats).fillna(False).astype(bool)
        blank = blank | source
    return blank


def _pack(work, cells, counts, mask_arr, primary, labels, min_cell, rounding, digits, marker, note,
          source_mask=None, *, lang: str = "en") -> SafeTable:
    check_choice("lang", lang, LANGS)
    mask = pd.DataFrame(False, index=work.index, columns=work.columns)
    for j, c in enumerate(cells):
        mask[c] = mask_arr[:, j]
    stats = [c for c in work.columns if c not in cells and c not in labels]
    rows = (mask_arr if source_mask is not None else primary).any(axis=1) if cells else np.zeros(len(work), bool)
    blank = _statistic_mask(work, stats, rows, source_mask)
    table = work.copy()
    table.attrs = {}
    for c in cells:
        table[c] = round_counts(work[c].astype("float64"), min_cell, rounding).mask(mask[c]).astype("Int64")
    for c in stats:
        table[c] = table[c].mask(blank[c])
        if source_mask is not None:
            mask[c] = blank[c]
    shown = table[cells].astype("float64").to_numpy().ravel() if cells else np.zeros(0)
    nonzero = shown[~np.isnan(shown) & (shown > 0)]
    n_sup, n_stats = int(mask_arr.sum()), int(blank.to_numpy().sum()) if source_mask is not None else 0
    html, text = _render(table, mask, cells, digits, marker, note, _footnote(marker, min_cell, n_sup, n_stats),
                         lang, _plain_columns(table, cells, labels))
    return SafeTable(table=table, suppressed=mask, min_cell=min_cell, n_suppressed=n_sup,
                     n_primary=int(primary.sum()), min_count_shown=int(nonzero.min()) if len(nonzero) else None,
                     kind="counts" if cells else "estimates", rounding=str(rounding), html=html, text=text,
                     n_statistics_suppressed=n_stats)


# --------------------------------------------------------------------------- tables of estimates
def _estimates_table(frame: pd.DataFrame, *, digits: int = 3, note: str = "", lang: str = "en") -> SafeTable:
    """Internal: a sealed table of estimates the report layer built from ``Result`` objects.

    Not for analysts (statistics of microdata come from ``tabulate``). It carries no person
    counts, so it refuses identifier columns, key-like values, more than ``MAX_ROWS`` rows and
    whole-number columns whose name looks like a count (n, persons, antal, residents, n_*, ...).
    ``lang``: the number convention of the shown cells (see :func:`safe_table`).
    """
    check_choice("lang", lang, LANGS)
    work, labels = _prepare(frame, [], list(frame.columns) if isinstance(frame, pd.DataFrame) else [], MAX_ROWS)
    counted = [c for c in work.columns if looks_like_count_name(c) and _whole_numbers(work[c])]
    if counted:
        raise DisclosureError(f"column(s) {counted} look like counts; a table of estimates carries no counts "
                              "(show person counts with tabulate() or safe_table()).")
    empty = np.zeros((len(work), 0))
    return _pack(work, [], empty, empty.astype(bool), empty.astype(bool), labels, _seal.run_min_cell(), None,
                 digits, MARKER, note, lang=lang)


# --------------------------------------------------------------------------- thin cells
def flag_thin(frame: pd.DataFrame, count_col: str, min_cell: int = DEFAULT_MIN_CELL, *,
              pool_into: str | None = None, by: str | list[str] | None = None) -> pd.DataFrame:
    """Flag (``thin`` column) or pool thin cells, e.g. event-time or area-year counts.

    Without ``pool_into``: a copy with a boolean ``thin`` (= count < ``min_cell``).
    With ``pool_into`` (an ordered bin column such as ``event_time``): also
    ``<pool_into>_pooled``, the bin each row is pooled into (a thin bin goes to the nearest
    non-thin bin within its ``by`` group, ties to the bin nearer 0, then the lower one; when
    no bin of the group is big enough, all go to its largest bin), and
    ``<count_col>_pooled``, the count of that pooled bin; ``thin`` is then recomputed on it.
    """
    min_cell = check_threshold(min_cell)
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    _check_columns(frame, [count_col, *by] + ([pool_into] if pool_into else []), "flag_thin")
    out = frame.copy()
    out["thin"] = out[count_col] < min_cell
    if pool_into is None:
        return out
    if not pd.api.types.is_numeric_dtype(out[pool_into]):
        raise ValidationError(f"pool_into column {pool_into!r} must be numeric (ordered bins).")
    groups = [g.index for _, g in out.groupby(by, sort=False, dropna=False)] if by else [out.index]
    target = pd.Series(out[pool_into].to_numpy(), index=out.index)
    for idx in groups:
        part = out.loc[idx]
        bins = part.groupby(pool_into)[count_col].sum()
        big = bins[bins >= min_cell]
        for b in bins.index[bins < min_cell]:
            if len(big):
                dist = pd.DataFrame({"d": np.abs(big.index - b), "z": np.abs(big.index), "v": big.index})
                to = dist.sort_values(["d", "z", "v"])["v"].iloc[0]
            else:
                to = bins.idxmax()
            target.loc[part.index[part[pool_into] == b]] = to
    out[f"{pool_into}_pooled"] = target
    keys = by + [f"{pool_into}_pooled"]
    out[f"{count_col}_pooled"] = out.groupby(keys, dropna=False)[count_col].transform("sum")
    out["thin"] = out[f"{count_col}_pooled"] < min_cell
    return out
