"""A display guard for the report kernel: a seatbelt, not the control.

:func:`install_display_guard` registers IPython formatters for ``pd.DataFrame`` and
``pd.Series`` that refuse to render a frame that

* carries an identifier column or index level (PERSON_ID, CPR, CVR, ...),
* looks like raw microdata (more than ``max_rows`` rows), or holds key-like values, or
* has a person-count-looking column (``persons``, ``n``, ``antal`` ...) with a value
  between 1 and ``min_cell - 1`` (heuristic),

and show a one-line refusal instead. Everything else renders as usual.

It is NOT the disclosure control: ``print(df)``, ``df.to_html()``, ``df.style``, itables
and ``display(HTML(...))`` bypass it. The control is the allowlist release gate
(:mod:`evalkit.report.gate`) together with :func:`evalkit.report.disclosure.safe_table`.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from evalkit.errors import EvalkitError
from evalkit.report.disclosure import MAX_ROWS, check_threshold, identifier_columns, looks_like_key

COUNT_NAMES = ("persons", "personer", "n", "n_persons", "antal", "count", "residents", "beboere", "respondents",
               "respondenter", "responses", "besvarelser")


def refusal(obj: pd.DataFrame | pd.Series, *, min_cell: int = 5, max_rows: int = MAX_ROWS) -> str | None:
    """Why ``obj`` must not be displayed, or ``None`` when it may be."""
    found = identifier_columns(obj)
    if found:
        return f"identifier column(s) {found}"
    if len(obj) > max_rows:
        return f"{len(obj)} rows (more than {max_rows}; looks like microdata)"
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    for col in frame.columns:
        values = frame[col]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            if values.dropna().astype(str).map(looks_like_key).any():
                return f"column {col!r} holds key-like values"
        elif str(col).lower() in COUNT_NAMES and pd.api.types.is_numeric_dtype(values):
            if ((values > 0) & (values < min_cell)).any():
                return f"column {col!r} has counts below {min_cell}"
    return None


def _message(reason: str) -> str:
    return (f"[evalkit display guard] not shown: {reason}. Aggregate the data and show it "
            "with evalkit.report.disclosure.safe_table().")


@dataclass
class DisplayGuard:
    """Handle of an installed guard; :meth:`uninstall` restores the previous formatters."""

    shell: object
    min_cell: int
    max_rows: int
    _previous: list = field(default_factory=list, repr=False)

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def uninstall(self) -> None:
        formatters = self.shell.display_formatter.formatters
        for mime, cls, old in reversed(self._previous):
            printers = formatters[mime].type_printers
            if old is None:
                printers.pop(cls, None)
            else:
                printers[cls] = old
        self._previous.clear()

    def __enter__(self) -> "DisplayGuard":
        return self

    def __exit__(self, *exc) -> None:
        self.uninstall()


def _html_printer(guard: DisplayGuard, old):
    def render(obj):
        reason = refusal(obj, min_cell=guard.min_cell, max_rows=guard.max_rows)
        if reason:
            return f"<p class='evalkit-refused'>{html.escape(_message(reason))}</p>"
        if old is not None:
            return old(obj)
        meth = getattr(obj, "_repr_html_", None)
        return meth() if callable(meth) else None
    return render


def _plain_printer(guard: DisplayGuard, old):
    def render(obj, p, cycle):
        reason = refusal(obj, min_cell=guard.min_cell, max_rows=guard.max_rows)
        if reason:
            p.text(_message(reason))
        elif old is not None:
            old(obj, p, cycle)
        else:
            p.text(repr(obj))
    return render


def _other_printer(guard: DisplayGuard, old, method: str):
    def render(obj):  # other mimetypes (LaTeX, table schema JSON ...): drop them when refused
        if refusal(obj, min_cell=guard.min_cell, max_rows=guard.max_rows):
            return None
        if old is not None:
            return old(obj)
        meth = getattr(obj, method, None)
        return meth() if callable(meth) else None
    return render


def install_display_guard(min_cell: int = 5, max_rows: int = MAX_ROWS, *, shell=None) -> DisplayGuard:
    """Register refusing formatters for DataFrame and Series in the running IPython shell.

    Returns a :class:`DisplayGuard`; call ``uninstall()`` (or use it as a context manager)
    to restore the previous formatters. Raises :class:`EvalkitError` outside IPython.
    """
    min_cell = check_threshold(min_cell)
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        raise EvalkitError("install_display_guard needs a running IPython kernel (none found).")
    guard = DisplayGuard(shell=shell, min_cell=min_cell, max_rows=int(max_rows))
    for mime, formatter in shell.display_formatter.formatters.items():
        for cls in (pd.DataFrame, pd.Series):
            old = formatter.type_printers.get(cls)
            if mime == "text/plain":
                new = _plain_printer(guard, old)
            elif mime == "text/html":
                new = _html_printer(guard, old)
            else:
                new = _other_printer(guard, old, formatter.print_method)
            formatter.for_type(cls, new)
            guard._previous.append((mime, cls, old))
    return guard
