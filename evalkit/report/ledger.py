"""The publication ledger: every count a run has published, for the cross-table checks of
:mod:`evalkit.report.disclosure` (rules a-c of :mod:`evalkit.report.sdc`), and its audit file."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evalkit import seal


def _label_key(value: object) -> object:
    """A JSON-stable form of one label value (NA -> None, numpy scalars -> Python)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, (int, np.integer, float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Cell:
    """One published count cell: where it is, its true and shown count, whether suppressed."""

    table: str
    row: tuple
    column: str
    true: int
    shown: int | None
    suppressed: bool
    pos: tuple[int, int]
    margin_row: bool = False
    margin_col: bool = False


def ledger_cells(work: pd.DataFrame, cells: list, labels: list, counts: np.ndarray, mask: np.ndarray,
                 total_rows, total_cols, shape: tuple[int, int], shown: pd.DataFrame | None = None) -> list[Cell]:
    """The count cells ``[0, shape)`` of a table as :class:`Cell` records (``shown``: the packed table)."""
    out = []
    for i in range(shape[0]):
        row = tuple(_label_key(work[c].iat[i]) for c in labels) or (f"row {i + 1}",)
        for j in range(shape[1]):
            if np.isnan(counts[i, j]):
                continue
            value = None if shown is None else shown[cells[j]].iat[i]
            out.append(Cell("", row, str(cells[j]), int(counts[i, j]), None if pd.isna(value) else int(value),
                            bool(mask[i, j]), (i, j), i in total_rows, j in total_cols))
    return out


def inner_lines(cells: list[Cell], covered: tuple[bool, bool]) -> list[list[Cell]]:
    """The table's additive lines that have no total of their own (shown or hidden).

    ``covered``: (rows add up to a total column, columns add up to a total row).
    """
    by_row, by_col = {}, {}
    for c in cells:
        if not c.margin_col:
            by_row.setdefault(c.pos[0], []).append(c)
        if not c.margin_row:
            by_col.setdefault(c.pos[1], []).append(c)
    lines = ([] if covered[0] else list(by_row.values())) + ([] if covered[1] else list(by_col.values()))
    return [line for line in lines if len(line) >= 2]


def totals_published_elsewhere(lines: list[list[Cell]], published: set) -> set:
    """Rule (a): a line whose true total was published elsewhere is protected as if it had its
    total: with exactly one suppressed cell, its smallest other non-zero cell is suppressed too."""
    out = set()
    for line in lines:
        hidden = [c for c in line if c.suppressed]
        if len(hidden) != 1 or sum(c.true for c in line) not in published:
            continue
        free = [c for c in line if not c.suppressed]
        if free:
            out.add(min([c for c in free if c.true > 0] or free, key=lambda c: c.true).pos)
    return out


def revealing_counts(cells: list[Cell], weak_line_totals: set) -> set:
    """Rule (b): counts equal to the total of an earlier line with exactly one suppressed cell."""
    return {c.pos for c in cells if not c.suppressed and c.true > 0 and c.true in weak_line_totals}


def close_counts(cells: list[Cell], earlier: dict, min_cell: int) -> set:
    """Rule (c): counts within ``min_cell`` (but not equal) of any earlier published count
    (``earlier`` maps column names to arrays of counts; all columns are compared)."""
    out = set()
    pooled = np.concatenate(list(earlier.values())) if earlier else np.empty(0)
    for c in cells:
        others = pooled  # any published count: renaming the count column must not dodge the check
        if c.suppressed or not len(others):
            continue
        gap = np.abs(others - c.true)
        if ((gap > 0) & (gap < min_cell)).any():
            out.add(c.pos)
    return out


@dataclass
class _Published:
    label: str
    cells: list
    weak_totals: set  # true totals of lines without a total of their own and one suppressed cell
    blurred: bool  # rounded to a base >= min_cell


class PublicationLedger:
    """The count cells published in this kernel, checked against every new table (module docstring)."""

    def __init__(self) -> None:
        self._tables: list[_Published] = []

    def reset(self) -> None:
        """Forget every published table (a new report run, or a test)."""
        self._tables.clear()

    def register(self, cells: list[Cell], *, label: str | None = None, min_cell: int,
                 round_base: int | None = None, covered: tuple[bool, bool] = (False, False)) -> str:
        """Record a packed table's shown count cells; returns its label ("table N" by default)."""
        name = label or f"table {len(self._tables) + 1}"
        cells = [replace(c, table=name) for c in cells]
        weak = {sum(c.true for c in line) for line in inner_lines(cells, covered)
                if sum(c.suppressed for c in line) == 1}
        blurred = round_base is not None and round_base >= min_cell
        self._tables.append(_Published(name, cells, weak, blurred))
        _audit(self._tables[-1])
        return name

    def check_new(self, cells: list[Cell], *, min_cell: int = 5, round_base: int | None = None,
                  covered: tuple[bool, bool] = (False, False)) -> set:
        """Positions ``(row, column)`` of the new table's cells to suppress additionally (rules a-c)."""
        published = {c.true for t in self._tables for c in t.cells if not c.suppressed and c.true > 0}
        weak = set().union(*(t.weak_totals for t in self._tables)) if self._tables else set()
        out = totals_published_elsewhere(inner_lines(cells, covered), published)
        out |= revealing_counts(cells, weak)
        return out | close_counts(cells, self._comparable(round_base is not None and round_base >= min_cell),
                                  min_cell)

    def _comparable(self, blurred: bool) -> dict:
        """Published counts per column that a new table could be differenced against."""
        found: dict[str, list[int]] = {}
        for t in self._tables:
            if blurred and t.blurred:
                continue
            for c in t.cells:
                if not c.suppressed:
                    found.setdefault(c.column, []).append(c.true)
        return {k: np.asarray(v, dtype="float64") for k, v in found.items()}

    def records(self) -> list[dict]:
        """Every registered cell with its TRUE count: for the run's restricted audit file only."""
        return [{"table": c.table, "row": c.row, "column": c.column, "true": c.true, "shown": c.shown,
                 "suppressed": c.suppressed} for t in self._tables for c in t.cells]


def _audit(table: _Published) -> None:
    """In a report run, append the table's cells (true counts) to the restricted audit file."""
    path = seal.restricted_file("published_counts.jsonl")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"table": c.table, "row": [str(r) for r in c.row], "column": str(c.column),
                                      "true": c.true, "shown": c.shown, "suppressed": c.suppressed}) + "\n"
                          for c in table.cells)


LEDGER = PublicationLedger()
