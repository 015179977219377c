"""Widgets for the analyst's own JupyterLab kernel: a disclosure preview (issue 16).

:func:`disclosure_widget` shows a table of person counts as a report would publish it, with a
slider for the threshold ``min_cell`` and a choice of the rounding base ``round_base``; the
preview re-renders when either changes, so an analyst sees which rows a threshold of 5 or 10
would suppress before writing a report section. The numbers come from pure functions
(:func:`disclosure_preview`, :func:`preview_html`); the widget only wires controls to them::

    from evalkit.report.widgets import disclosure_widget

    disclosure_widget(counts, "persons", lang="da")   # the cell's last line shows the widget

The rules are evalkit's own (Statistics Denmark's rules for researcher access, ``shared/domain.md``;
reference: Hundepool et al. (2012), *Statistical Disclosure Control*, Wiley, ch. 4 and 5), applied
with the library's functions, not re-implemented here:

* threshold: :func:`evalkit.report.disclosure.check_threshold` (floor 3 persons); a count with
  ``0 < n < min_cell`` is suppressed (primary); a count of 0 rests on nobody and is shown;
* secondary suppression against the published total: :func:`evalkit.privacy.complementary_parts`
  (the smallest shown rows are suppressed too until the suppressed persons number 0 or at
  least ``min_cell``, so they cannot be found by subtracting the shown rows from the total);
* rounding: :func:`evalkit.report.disclosure.round_counts` with the base ``round_base`` (the report
  runner's rule: every published count rounded to a multiple of the base), decided after
  suppression, which always looks at the true counts.

A suppressed row's count and its statistics (every column but its labels) are blanked in the
returned frame and shown as ``..`` in the HTML: the preview never displays a number it says is
suppressed. The preview is no release: it is refused in a report run (a widget in the report HTML
would show numbers no reviewer checked), and a report shows tables through ``safe_table`` or
``tabulate`` (``docs/disclosure.md``).

ipywidgets is optional (``pip install "evalkit[lab]"``) and imported only when a widget is built.

This module sits in the report layer (``evalkit.report.widgets``), not at the top level: the import
layers (``tests/test_layers.py``) have no place for a top-level ``evalkit.widgets``, and the
rounding rule and the threshold check it reuses live in :mod:`evalkit.report.disclosure`.
"""
from __future__ import annotations

import html as _html
import numbers

import numpy as np
import pandas as pd

from evalkit import seal
from evalkit.core.aliases import checked
from evalkit.core.checks import check_bool, check_choice, check_frame, check_int, check_numeric, suggest
from evalkit.domain.survey_weights import MissingDependencyError
from evalkit.errors import ColumnError, ParameterError, ValidationError
from evalkit.i18n import LANGS, WIDGET_LABELS
from evalkit.privacy import complementary_parts
from evalkit.report.disclosure import MARKER, _format_cell, check_threshold, is_year_column, refuse_identifiers, \
    round_counts
from evalkit.report.params import BY_NAME
from evalkit.report.textcheck import DisclosureError

__all__ = ["disclosure_preview", "preview_html", "disclosure_widget", "STATUS", "STATUS_COLUMNS", "MIN_CELL_RANGE",
           "ROUND_BASES"]

#: the header of the column the preview adds, by language: each row's status ("shown",
#: "suppressed (n < 5)", "suppressed (secondary)"; in Danish "vist", "undertrykt (n < 5)", ...)
STATUS_COLUMNS = {lang: WIDGET_LABELS["status"][lang] for lang in LANGS}
#: the English header of the status column (``STATUS_COLUMNS["da"]`` in a Danish preview)
STATUS = STATUS_COLUMNS["en"]
#: the widget's threshold slider (the Statistics Denmark floor of 3 persons up to 20)
MIN_CELL_RANGE = (3, 20)
#: the widget's rounding bases (1: no rounding)
ROUND_BASES = (1, 3, 5, 10)
#: the thresholds and rounding bases :func:`disclosure_preview` accepts: those of a report run
#: (the report parameters ``min_cell`` and ``round_base``, :mod:`evalkit.report.params`)
MIN_CELL_BOUNDS = tuple(int(b) for b in BY_NAME["min_cell"].bounds)
ROUND_BASE_BOUNDS = tuple(int(b) for b in BY_NAME["round_base"].bounds)
#: at most this many decimals in a shown statistic
MAX_DIGITS = 3
INSTALL = 'pip install "evalkit[lab]"'


def _text(key: str, lang: str, **values) -> str:
    return WIDGET_LABELS[key][lang].format(**values)


def _plain(value: object) -> object:
    """A numpy scalar as the Python number or text it holds, so messages show ``123.4``, not
    ``np.float64(123.4)``; other values as they are."""
    return value.item() if isinstance(value, np.generic) else value


def _number(value: float) -> str:
    """A value of a numeric column for a message: "3" for a whole number, else Python's shortest form."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _check_table(table: object) -> pd.DataFrame:
    """The table: a DataFrame with at least one row (an empty one has nothing to preview)."""
    if isinstance(table, pd.DataFrame) and len(table) == 0:
        raise ValidationError("table has no rows; a disclosure preview needs at least one row of person counts.")
    return check_frame(table, "table")


def _check_count(table: pd.DataFrame, count: object) -> str:
    """The count column: an existing column of non-negative whole numbers without missing values."""
    count = _plain(count)
    if not isinstance(count, str):
        raise ParameterError(f"count={count!r} must be the name (str) of the table's column of person counts.")
    if count not in table.columns:
        available = [str(c) for c in table.columns]
        raise ColumnError(f"count={count!r}: no such column in table. Available columns: {available}."
                          + suggest(count, available))
    if pd.api.types.is_bool_dtype(table[count]):
        raise ColumnError(f"count={count!r} holds True/False; it must hold counts of persons (whole numbers >= 0).")
    check_numeric(table, count, "count")
    values = table[count].to_numpy(dtype="float64", na_value=np.nan)
    missing = int(np.isnan(values).sum())
    if missing:
        raise ValidationError(f"count={count!r} has {missing} missing value(s); every row needs its count of "
                              "persons (whole numbers >= 0).")
    bad = (values < 0) | (values % 1 != 0)
    if bad.any():
        raise ValidationError(f"count={count!r} must hold whole numbers of persons >= 0; {int(bad.sum())} row(s) "
                              f"do not, e.g. {_number(values[bad][0])}.")
    return count


def _check_labels(table: pd.DataFrame, count: str, labels: object) -> list:
    """The label columns (kept in suppressed rows): given, or the non-numeric and year columns."""
    if labels is None:
        return [c for c in table.columns if c != count and (
            not pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c])
            or is_year_column(c, table[c]))]
    cols = [labels] if isinstance(labels, str) else labels
    if isinstance(cols, (list, tuple)):
        cols = [_plain(c) for c in cols]
    if not isinstance(cols, (list, tuple)) or not all(isinstance(c, str) for c in cols):
        raise ParameterError(f"labels={labels!r} must be None, a column name or a list of column names.")
    available = [str(c) for c in table.columns]
    for col in cols:
        if col not in table.columns:
            raise ColumnError(f"labels: {col!r} is not a column of table. Available columns: {available}."
                              + suggest(col, available))
        if col == count:
            raise ColumnError(f"labels: {col!r} is the count column; label columns name the rows and are never "
                              "blanked, so the counts cannot be one of them.")
    return list(dict.fromkeys(cols))


def _check_min_cell(min_cell: object) -> int:
    """The threshold: the Statistics Denmark floor (:func:`check_threshold`) up to the report parameter's bound."""
    min_cell = _plain(min_cell)
    if isinstance(min_cell, numbers.Integral) and not isinstance(min_cell, bool) and min_cell < MIN_CELL_BOUNDS[0]:
        check_threshold(min_cell)  # the library's message: below the floor of 3 persons
    return check_int("min_cell", min_cell, minimum=MIN_CELL_BOUNDS[0], maximum=MIN_CELL_BOUNDS[1])


def _check_round_base(round_base: object) -> int:
    """The rounding base: 1 (no rounding) up to the report parameter's bound."""
    return check_int("round_base", _plain(round_base), minimum=ROUND_BASE_BOUNDS[0], maximum=ROUND_BASE_BOUNDS[1])


def _preview(table: object, count: object, *, min_cell: object, round_base: object, labels: object, total: object,
             lang: object) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list, int, int]:
    """The checked preview: (frame, primary rows, secondary rows, label columns, min_cell, round_base)."""
    table = _check_table(table)
    count = _check_count(table, count)
    min_cell = _check_min_cell(min_cell)
    round_base = _check_round_base(round_base)
    label_cols = _check_labels(table, count, labels)
    total = check_bool("total", _plain(total))
    lang = check_choice("lang", _plain(lang), LANGS)
    status_col = STATUS_COLUMNS[lang]
    if status_col in table.columns:
        raise ColumnError(f"table already has a column {status_col!r}; rename it (the preview adds its own "
                          f"{status_col!r} column).")
    refuse_identifiers(table)

    n = table[count].to_numpy(dtype="float64")
    primary = (n > 0) & (n < min_cell)
    secondary = np.zeros(len(n), dtype=bool)
    if total:  # the total is published: the suppressed persons must not be found by subtraction
        parts = {i: n[i] for i in range(len(n)) if not primary[i] and n[i] > 0}
        for i in complementary_parts(parts, float(n[primary].sum()), min_cell):
            secondary[i] = True
    suppressed = primary | secondary

    out = table.copy(deep=True)
    out.attrs = {}  # marks of evalkit's person counts (count_persons) vouch for the true counts, not these
    rounded = round_counts(pd.Series(n, index=out.index), min_cell, round_base).to_numpy()
    out[count] = pd.Series(np.where(suppressed, np.nan, rounded), index=out.index).astype("Int64")
    for col in out.columns:
        if col != count and col not in label_cols and suppressed.any():
            out[col] = out[col].mask(suppressed)
    status = np.where(primary, _text("primary", lang, min_cell=min_cell),
                      np.where(secondary, _text("secondary", lang), _text("shown", lang)))
    out[status_col] = pd.Series(status, index=out.index, dtype=object)
    return out, primary, secondary, label_cols, min_cell, round_base


@checked
def disclosure_preview(table: pd.DataFrame, count: str, *, min_cell: int = 5, round_base: int = 5,
                       labels: str | list[str] | None = None, total: bool = True, lang: str = "en") -> pd.DataFrame:
    """What a report would publish of a table of person counts: thin rows blanked, counts rounded.

    Applies evalkit's disclosure rules (Statistics Denmark's rules for researcher access,
    ``shared/domain.md``; Hundepool et al. 2012, ch. 4 and 5) with the library's own functions:
    a count with ``0 < n < min_cell`` is suppressed (primary); with ``total`` the smallest shown
    rows are suppressed too until the suppressed persons cannot be found by subtracting the shown
    rows from the published total (:func:`evalkit.privacy.complementary_parts`); the counts left
    are rounded to multiples of ``round_base`` (:func:`evalkit.report.disclosure.round_counts`).
    Suppression is decided on the true counts. Never mutates ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per cell: label columns (e.g. area, year, sex), a column of distinct persons and
        optionally statistics of those persons (e.g. a mean income). No person-key column.
    count : str
        The column of person counts: whole numbers >= 0, no missing values.
    min_cell : int, default 5
        The threshold: counts of 1 to ``min_cell - 1`` persons are suppressed. 3 (the Statistics
        Denmark floor) to 1000, the bounds of the report parameter ``min_cell``.
    round_base : int, default 5
        Shown counts are rounded to the nearest multiple of this base (half up), 1 to 100 (the
        bounds of the report parameter ``round_base``); 1 means no rounding.
    labels : str or list of str, optional
        The columns that name a row; they stay visible in suppressed rows. Every other column of
        a suppressed row is blanked. None: the non-numeric columns and year or period columns.
    total : bool, default True
        Whether the table's total is published (in the table or elsewhere); then secondary
        suppression protects the suppressed rows against recovery by subtraction.
    lang : {"da", "en"}, default "en"
        The language of the status column: its header and its texts.

    Returns
    -------
    pandas.DataFrame
        A new frame with the rows and columns of ``table`` (its index kept): ``count`` as the
        published count (``Int64``, missing where suppressed), the other non-label columns
        missing in suppressed rows, and a column ``status``: "shown", "suppressed (n < 5)" or
        "suppressed (secondary)" (in Danish the column ``diskretionering``: "vist", "undertrykt
        (n < 5)", "undertrykt (sekundær)"; :data:`STATUS_COLUMNS`).

    Raises
    ------
    evalkit.EvalkitError
        A :class:`~evalkit.errors.ColumnError` for an unknown, non-numeric or clashing column, a
        :class:`~evalkit.errors.ValidationError` for a table without rows or counts that are
        missing, negative or not whole (a ``DisclosureError`` for a person-key column), a
        :class:`~evalkit.errors.ParameterError` for a parameter out of range or a misspelled keyword.
    """
    return _preview(table, count, min_cell=min_cell, round_base=round_base, labels=labels, total=total,
                    lang=lang)[0]


def _digits(values: pd.Series) -> int:
    """The decimals of a numeric column's shown cells: 0 when every shown value is whole (kroner,
    counts), else the fewest that show every value exactly, at most :data:`MAX_DIGITS` (1234.5 ->
    "1,234.5", 0.048 -> "0.048", 1/3 -> "0.333")."""
    x = np.array([float(v) for v in values if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))],
                 dtype="float64")
    x = x[np.isfinite(x)]
    for digits in range(MAX_DIGITS):
        if np.all(np.abs(np.round(x, digits) - x) <= 1e-9 * np.maximum(1.0, np.abs(x))):
            return digits
    return MAX_DIGITS


def _render(preview: pd.DataFrame, primary: np.ndarray, secondary: np.ndarray, count: str, labels: list,
            min_cell: int, round_base: int, lang: str) -> str:
    """HTML of a checked preview: every non-label cell of a suppressed row shows the marker."""
    suppressed = primary | secondary
    status_col = STATUS_COLUMNS[lang]
    shown = {}
    for col in preview.columns:
        if col == status_col:
            shown[col] = [str(v) for v in preview[col]]
            continue
        # cells as a report shows them (evalkit.report.disclosure): thousands grouped except in label and
        # year columns, whole numbers without decimals, lang's convention
        plain = col != count and (col in labels or is_year_column(col, preview[col]))
        blank = col not in labels
        digits = _digits(preview[col]) if pd.api.types.is_numeric_dtype(preview[col]) else MAX_DIGITS
        shown[col] = [MARKER if blank and suppressed[i]
                      else _format_cell(preview[col].iat[i], digits, col == count, lang, not plain)
                      for i in range(len(preview))]
    frame = pd.DataFrame(shown, columns=list(preview.columns))
    n_primary, n_secondary = int(primary.sum()), int(secondary.sum())
    rounding = _text("rounded", lang, base=round_base) if round_base > 1 else _text("unrounded", lang)
    summary = _text("summary", lang, shown=len(preview) - int(suppressed.sum()), primary=n_primary,
                    secondary=n_secondary, min_cell=min_cell, rounding=rounding)
    notes = [summary] + ([_text("footnote", lang, marker=MARKER, min_cell=min_cell)] if suppressed.any() else [])
    notes.append(_text("note", lang))
    table = frame.to_html(index=False, escape=True, border=0, classes="evalkit-table evalkit-preview")
    return "<div class='evalkit-preview'>" + table + "".join(
        f"<p class='evalkit-note'>{_html.escape(t)}</p>" for t in notes) + "</div>"


@checked
def preview_html(table: pd.DataFrame, count: str, *, min_cell: int = 5, round_base: int = 5,
                 labels: str | list[str] | None = None, total: bool = True, lang: str = "en") -> str:
    """The disclosure preview of a table as HTML: the table of :func:`disclosure_preview` and its notes.

    Every suppressed row shows ``..`` in its count and statistics (the true counts never reach
    the HTML), other missing values "–"; numbers in ``lang``'s convention (Danish "1.744",
    "0,048"), as a report shows table cells: a column of whole numbers (counts, kroner) without
    decimals, other numeric columns with the fewest decimals that show their values, at most 3.
    Below the table: how many rows are shown and suppressed, the rounding, and a note that the
    preview is no release. Rules: Statistics Denmark's (``shared/domain.md``), as in
    :func:`disclosure_preview`.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per cell: label columns, a column of distinct persons, optionally statistics.
    count : str
        The column of person counts: whole numbers >= 0, no missing values.
    min_cell : int, default 5
        The threshold, 3 to 1000 (the report parameter's bounds): counts of 1 to ``min_cell - 1``
        persons are suppressed.
    round_base : int, default 5
        Shown counts are rounded to multiples of this base, 1 to 100 (1: no rounding).
    labels : str or list of str, optional
        The columns that name a row, visible in suppressed rows. None: the non-numeric columns
        and year or period columns.
    total : bool, default True
        Whether the table's total is published; then secondary suppression applies.
    lang : {"da", "en"}, default "en"
        The language of the texts and the number convention.

    Returns
    -------
    str
        An HTML fragment (a ``div`` with the table and its notes), cells escaped.
    """
    preview, primary, secondary, label_cols, min_cell, round_base = _preview(
        table, count, min_cell=min_cell, round_base=round_base, labels=labels, total=total, lang=lang)
    return _render(preview, primary, secondary, count, label_cols, min_cell, round_base, lang)


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        raise MissingDependencyError("disclosure_widget needs the optional dependency ipywidgets: "
                                     f"{INSTALL} (or pip install ipywidgets).") from None
    return ipywidgets


@checked
def disclosure_widget(table: pd.DataFrame, count: str, *, min_cell: int = 5, round_base: int = 5,
                      labels: str | list[str] | None = None, total: bool = True, lang: str = "en"):
    """A disclosure preview in JupyterLab: a threshold slider, a rounding choice and the table they give.

    Import it from its module (``from evalkit.report.widgets import disclosure_widget``); the
    cell's last line displays the widget. Moving the ``min_cell`` slider (3 to 20) or choosing
    another ``round_base`` (1, 3, 5, 10) re-renders :func:`preview_html`, so the analyst sees which
    rows a report would suppress under Statistics Denmark's rules (``shared/domain.md``). The
    widget works on a copy of ``table`` taken when it is built. It is for the analyst's own
    kernel only and is refused in a report run; reports show tables through ``safe_table`` or
    ``tabulate``. Needs ipywidgets (``pip install "evalkit[lab]"``).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per cell: label columns, a column of distinct persons, optionally statistics.
    count : str
        The column of person counts: whole numbers >= 0, no missing values.
    min_cell : int, default 5
        The slider's first value, 3 to 20.
    round_base : int, default 5
        The rounding base first chosen: 1 (no rounding), 3, 5 or 10.
    labels : str or list of str, optional
        The columns that name a row, visible in suppressed rows. None: the non-numeric columns
        and year or period columns.
    total : bool, default True
        Whether the table's total is published; then secondary suppression applies.
    lang : {"da", "en"}, default "en"
        The language of the controls, texts and numbers.

    Returns
    -------
    ipywidgets.VBox
        Its children: an ``HBox`` of the controls (an ``IntSlider`` for ``min_cell``, a
        ``Dropdown`` for ``round_base``), then an ``HTML`` widget holding the preview.

    Raises
    ------
    evalkit.EvalkitError
        A ``DisclosureError`` in a report run; a ``MissingDependencyError`` (also an
        ``ImportError``) without ipywidgets; the errors of :func:`disclosure_preview` for bad
        input, and a :class:`~evalkit.errors.ParameterError` for a first value the controls do not offer.
    """
    if seal.known_report_run():
        raise DisclosureError("disclosure_widget is refused in a report run: a widget in the report HTML would "
                              "show numbers no reviewer checked. Use it in your own JupyterLab kernel; a report "
                              "shows tables through safe_table(...) or tabulate(...).")
    min_cell = check_int("min_cell", _plain(min_cell), minimum=MIN_CELL_RANGE[0], maximum=MIN_CELL_RANGE[1])
    round_base = _plain(round_base)
    if isinstance(round_base, bool) or not isinstance(round_base, numbers.Integral) or round_base not in ROUND_BASES:
        raise ParameterError(f"round_base={round_base!r} is not offered by the widget; choose one of "
                             f"{list(ROUND_BASES)} (disclosure_preview takes any base from 1 to {ROUND_BASE_BOUNDS[1]}).")
    frame = _check_table(table).copy(deep=True)
    lang = _plain(lang)
    options = {"labels": labels, "total": total, "lang": lang}
    first = preview_html(frame, count, min_cell=min_cell, round_base=int(round_base), **options)  # checks the input
    widgets = _ipywidgets()
    style = {"description_width": "initial"}
    slider = widgets.IntSlider(value=min_cell, min=MIN_CELL_RANGE[0], max=MIN_CELL_RANGE[1], step=1,
                               continuous_update=False, description=_text("min_cell", lang), style=style)
    base = widgets.Dropdown(options=[(str(b), b) for b in ROUND_BASES], value=int(round_base),
                            description=_text("round_base", lang), style=style)
    shown = widgets.HTML(value=first)

    def update(change=None) -> None:
        shown.value = preview_html(frame, count, min_cell=slider.value, round_base=base.value, **options)

    slider.observe(update, names="value")
    base.observe(update, names="value")
    return widgets.VBox([widgets.HBox([slider, base]), shown])
