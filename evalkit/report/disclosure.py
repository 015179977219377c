"""Disclosure control for shown tables (Statistics Denmark rules, ``shared/domain.md``).

Pure functions plus one display object. :func:`safe_table` is *the* way a table reaches a
report: it refuses identifiers, counts persons against the threshold, suppresses small
cells (primary), protects them against recovery from the margins (secondary), rounds
counts near the threshold and returns a :class:`SafeTable`, whose display output carries
an ``evalkit_safe`` stamp in its metadata. The post-run scanner
(:mod:`evalkit.report.scan`) refuses every table output without a valid stamp.

Rules (documented once, here)
-----------------------------
Threshold
    A shown count of persons must be >= ``min_cell`` (default 5, floor 3). Count distinct
    persons (:func:`count_persons`), never rows. A count of 0 rests on nobody and is shown.
Primary suppression
    Every count cell with ``0 < count < min_cell`` is suppressed. The other (non-label,
    non-count) cells of its row, e.g. means or shares over those persons, are blanked too.
Secondary (complementary) suppression, only when the table has margins (totals shown here,
or shown elsewhere: ``margins={"show": False}``)
    The table is a set of additive lines: every row (cells + row total) and every column
    (cells + column total). In any line with exactly one suppressed cell, that cell could be
    recovered by subtraction, so the smallest other non-zero cell of the line is also
    suppressed (inner cells before the line's total; zeros only when nothing else is left).
    This repeats until no line has exactly one suppressed cell. It is the simple
    line-by-line heuristic for complementary suppression described in Hundepool et al.,
    *Statistical Disclosure Control* (Wiley 2012), chapters on tabular data, and meets
    Statistics Denmark's rule for researcher access that suppressed cells must not be
    recoverable from totals (``shared/domain.md``). It guarantees no single-cell
    recovery; it does not compute the attacker's full feasibility intervals (tau-ARGUS's
    optimal suppression does). Margins are computed here from the unsuppressed counts.
Rounding (``round_to``)
    ``"near"`` (default): counts in ``[min_cell, 2*min_cell)`` are rounded to the nearest
    multiple of ``min_cell`` (half up), so with 5: 5-7 show as 5, 8-9 as 10. This blurs
    counts just above the threshold, the ones differencing between tables exploits.
    An int ``b``: every shown count is rounded to the nearest multiple of ``b``.
    ``None``: no rounding. Margins are rounded independently, so rounded tables need not
    add up. Suppression is decided on the
    true, unrounded counts.
Marker
    Every suppressed cell shows ``".."`` (the usual official-statistics mark for a
    confidential figure; ``marker=`` changes it), the same for primary and secondary cells so the pattern does not
    reveal which cells are small; genuinely missing values show ``"–"``.

The stamp is a proof that the table went through this module, not a security boundary:
a determined user can forge it. The scanner plus code review are the control.
"""
from __future__ import annotations

import hashlib
import html as _html
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from evalkit.errors import ColumnError, ParameterError, ValidationError, closest

FLOOR = 3
DEFAULT_MIN_CELL = 5
MAX_ROWS = 60
MARKER = ".."
MISSING = "–"
IDENTIFIERS = ("PERSON_ID", "CPR", "CPR_NR", "PNR", "CVR", "CVR_NR", "RESP_ID", "ADRESSE_ID",
               "ADRESSE", "BOPAEL_ID", "FAMILIE_ID", "ARBGNR", "LBNR", "ARBEJDSSTED_ID", "PERSON_KEY")
# evalkit's simulator: 16 lowercase hex characters (at least one digit and one letter).
KEY_PATTERN = re.compile(r"(?<![0-9A-Za-z+/])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{16}(?![0-9A-Za-z+/=])")
CPR_PATTERN = re.compile(r"(?<![\d.,])(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}-?\d{4}(?![\d]|[.,]\d)")
IDENTIFIER_PATTERN = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(IDENTIFIERS) + r")(?![A-Za-z0-9_])", re.IGNORECASE)


class DisclosureError(ValidationError):
    """A table or notebook output would disclose persons (identifiers, small cells, raw rows)."""


# --------------------------------------------------------------------------- checks
def check_threshold(min_cell: int) -> int:
    """The disclosure threshold: default 5, never below the floor of 3 persons."""
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < FLOOR:
        raise ParameterError(f"min_cell={min_cell!r} must be an integer >= {FLOOR} (Statistics Denmark floor).")
    return int(min_cell)


def is_identifier(name: object) -> bool:
    """True for a pseudonymised-key column name (case-insensitive)."""
    return str(name).strip().upper() in IDENTIFIERS


def identifier_columns(frame: pd.DataFrame | pd.Series) -> list:
    """Identifier names among the columns (or Series name) and index level names."""
    names = list(frame.columns) if isinstance(frame, pd.DataFrame) else [frame.name]
    names += [n for n in frame.index.names if n is not None]
    return [n for n in names if n is not None and is_identifier(n)]


def looks_like_key(value: object) -> bool:
    """True for a string that looks like a pseudonymised key or a CPR number."""
    text = str(value)
    return bool(KEY_PATTERN.search(text) or CPR_PATTERN.search(text))


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


# --------------------------------------------------------------------------- counting
def count_persons(frame: pd.DataFrame, by: str | list[str], person: str = "PERSON_ID",
                  *, name: str = "persons") -> pd.DataFrame:
    """Distinct persons per group (never rows): the groups' ``by`` columns plus ``name``.

    Rows with a missing person key are not counted. The result carries no identifier column.
    """
    by = [by] if isinstance(by, str) else list(by)
    _check_columns(frame, by + [person], "count_persons")
    counts = frame.groupby(by, observed=True, dropna=False)[person].nunique().rename(name)
    return counts.reset_index()


def round_counts(values: pd.Series, min_cell: int, round_to: int | str | None = "near") -> pd.Series:
    """Round person counts by the rule ``round_to`` (see the module docstring)."""
    if round_to is None:
        return values
    if round_to == "near":
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


def secondary_suppression(counts: np.ndarray, suppressed: np.ndarray, *, row_total: bool,
                          col_total: bool) -> np.ndarray:
    """Complementary suppression on a count matrix whose last row / column are totals.

    Returns a new mask where no additive line has exactly one suppressed cell (rule in the
    module docstring). ``counts`` may hold NaN (treated as unknown, never chosen).
    """
    mask = suppressed.copy()
    lines = _lines(*counts.shape, row_total, col_total)
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
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stamp_meta(html: str, plain: str, info: dict) -> dict:
    return {"text/html": {"evalkit_safe": info | {"digest": _digest(html)}},
            "text/plain": {"evalkit_safe": info | {"digest": _digest(plain)}}}


@dataclass(frozen=True)
class SafeTable:
    """A table that passed :func:`safe_table`; displays as stamped HTML / text.

    ``table`` holds the shown values (suppressed and missing cells as NA), ``suppressed``
    the mask of suppressed cells. ``min_count_shown`` is the smallest non-zero count shown
    (``None`` for a table without person counts).
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

    @property
    def info(self) -> dict:
        return {"kind": self.kind, "min_cell": self.min_cell, "min_count_shown": self.min_count_shown,
                "n_suppressed": self.n_suppressed, "rounding": self.rounding}

    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"text/html": self.html, "text/plain": self.text}, _stamp_meta(self.html, self.text, self.info))

    def to_frame(self) -> pd.DataFrame:
        """A copy of the shown table (suppressed cells NA)."""
        return self.table.copy()


@dataclass(frozen=True)
class StampedHTML:
    """Hand-built HTML without person-count cells (e.g. estimates), stamped for the scanner."""

    html: str
    kind: str = "estimates"
    text: str = "[evalkit table: see the HTML output]"

    def _repr_mimebundle_(self, include=None, exclude=None):
        info = {"kind": self.kind, "min_cell": None, "min_count_shown": None, "n_suppressed": 0}
        return {"text/html": self.html, "text/plain": self.text}, _stamp_meta(self.html, self.text, info)


def safe_html(html_str: str, *, kind: str = "estimates") -> StampedHTML:
    """Stamp HTML whose tables carry no person counts (the caller vouches for that).

    Use it for regression estimates or area-level means over many residents. It still
    refuses identifier names and key-like values in the HTML.
    """
    if kind == "counts":
        raise ParameterError("safe_html cannot stamp count tables; build them with safe_table(count_cols=...).")
    text = re.sub(r"data:[^\"'\s)]+", "", html_str)
    if IDENTIFIER_PATTERN.search(text) or looks_like_key(text):
        raise DisclosureError("HTML carries an identifier name or a key-like value; it cannot be stamped.")
    return StampedHTML(html=html_str, kind=kind)


stamp = safe_html


def _format_cell(value: object, digits: int, is_count: bool) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    if is_count or isinstance(value, (int, np.integer)):
        return f"{int(value)}" if float(value).is_integer() else f"{value:.{digits}f}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _render(table: pd.DataFrame, mask: pd.DataFrame, count_cols: list, digits: int, marker: str,
            note: str, min_cell: int, n_suppressed: int) -> tuple[str, str]:
    shown = pd.DataFrame({c: [marker if mask[c].iat[i] else _format_cell(table[c].iat[i], digits, c in count_cols)
                              for i in range(len(table))] for c in table.columns}, index=table.index)
    foot = f"{marker}: suppressed (fewer than {min_cell} persons, or protecting such a cell)." if n_suppressed else ""
    notes = "".join(f"<p class='evalkit-note'>{_html.escape(t)}</p>" for t in (note, foot) if t)
    html = shown.to_html(index=False, classes="evalkit-table", border=0, escape=True) + notes
    text = shown.to_string(index=False) + "".join(f"\n{t}" for t in (note, foot) if t)
    return html, text


# --------------------------------------------------------------------------- the safe table
def safe_table(frame: pd.DataFrame, *, count_cols: list[str], min_cell: int = DEFAULT_MIN_CELL,
               margins: bool | dict = False, round_to: int | Literal["near"] | None = "near",
               index: str | list[str] | None = None, digits: int = 3, marker: str = MARKER,
               note: str = "", max_rows: int = MAX_ROWS) -> SafeTable:
    """The only way a table reaches a report (rules in the module docstring).

    ``count_cols``: columns holding counts of distinct persons (``[]`` for a table without
    person counts, e.g. estimates). ``index``: label columns, never suppressed (default:
    the non-numeric columns). A non-default index of ``frame`` becomes label columns
    (e.g. the output of ``groupby``). Other non-count columns are statistics of the row's
    persons and are blanked with its suppressed counts.
    ``margins``: ``True`` or ``{"rows": bool, "columns": bool, "label": str, "show": bool}``
    adds totals and enables secondary suppression. Never mutates ``frame``.
    """
    min_cell = check_threshold(min_cell)
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"safe_table needs a pandas DataFrame, got {type(frame).__name__}.")
    found = identifier_columns(frame)
    if found:
        raise DisclosureError(f"table carries identifier column(s) {found}; aggregate before showing it.")
    default_index = frame.index.names == [None] and frame.index.equals(pd.RangeIndex(len(frame)))
    work = frame.reset_index(drop=True) if default_index else frame.reset_index()
    from_index = [c for c in work.columns if c not in frame.columns]
    count_cols = list(count_cols)
    _check_columns(work, count_cols, "count")
    labels = ([index] if isinstance(index, str) else list(index)) if index is not None else from_index + \
        [c for c in frame.columns if c not in count_cols and not pd.api.types.is_numeric_dtype(work[c])]
    _check_columns(work, labels, "index")
    refuse_identifiers(work)
    if len(work) > max_rows:
        raise DisclosureError(f"table has {len(work)} rows (> max_rows={max_rows}); aggregate it further.")
    for c in count_cols:
        values = work[c]
        if not pd.api.types.is_numeric_dtype(values) or (values.dropna() < 0).any() or \
                not np.allclose(values.dropna().astype("float64") % 1, 0):
            raise ValidationError(f"count column {c!r} must hold non-negative whole numbers of persons.")
    m = _normalise_margins(margins, len(count_cols))
    n_body = len(work)
    work = _add_margins(work, count_cols, labels, m) if count_cols else work
    cells = count_cols + ([m["label"]] if m["columns"] and count_cols else [])
    counts = work[cells].astype("float64").to_numpy() if cells else np.zeros((len(work), 0))
    primary = (counts > 0) & (counts < min_cell)
    mask_arr = secondary_suppression(counts, primary, row_total=m["rows"], col_total=m["columns"]) \
        if (m["rows"] or m["columns"]) and cells else primary
    if not m["show"]:
        work, counts, mask_arr, primary = _drop_margins(work, counts, mask_arr, primary, m, n_body)
        cells = count_cols
    return _pack(work, cells, counts, mask_arr, primary, labels, min_cell, round_to, digits, marker, note)


def _drop_margins(work, counts, mask_arr, primary, m, n_body):
    keep_cols = counts.shape[1] - (1 if m["columns"] else 0)
    work = work.iloc[:n_body].drop(columns=[m["label"]] if m["columns"] else [])
    return work, counts[:n_body, :keep_cols], mask_arr[:n_body, :keep_cols], primary[:n_body, :keep_cols]


def _pack(work, cells, counts, mask_arr, primary, labels, min_cell, round_to, digits, marker, note) -> SafeTable:
    mask = pd.DataFrame(False, index=work.index, columns=work.columns)
    for j, c in enumerate(cells):
        mask[c] = mask_arr[:, j]
    stats = [c for c in work.columns if c not in cells and c not in labels]
    primary_rows = primary.any(axis=1) if cells else np.zeros(len(work), bool)
    table = work.copy()
    for c in cells:
        table[c] = round_counts(work[c].astype("float64"), min_cell, round_to).mask(mask[c]).astype("Int64")
    for c in stats:
        table[c] = table[c].mask(pd.Series(primary_rows, index=table.index))
    shown = table[cells].astype("float64").to_numpy().ravel() if cells else np.zeros(0)
    nonzero = shown[~np.isnan(shown) & (shown > 0)]
    min_shown = int(nonzero.min()) if len(nonzero) else None
    n_sup = int(mask_arr.sum())
    html, text = _render(table, mask, cells, digits, marker, note, min_cell, n_sup)
    return SafeTable(table=table, suppressed=mask, min_cell=min_cell, n_suppressed=n_sup,
                     n_primary=int(primary.sum()), min_count_shown=min_shown,
                     kind="counts" if cells else "estimates", rounding=str(round_to), html=html, text=text)


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


# --------------------------------------------------------------------------- legacy
