"""The display grid of a comparison: formatted text cells, one pure function of its tables.

Every rendering (text, HTML, LaTeX, Markdown, RTF) draws this grid, so they show the same
cells. In a report run, rows resting on fewer than ``min_cell`` persons are blank and
person counts below it are not shown, as in :meth:`evalkit.results.Result.summary`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from evalkit import seal
from evalkit.i18n import format_number, format_p, label
from evalkit.privacy import person_unit, thin_person_rows
from evalkit.results import _compare_labels as lab

#: kind of a grid row: the estimate of a term, a statistic under it, a model fact below the terms
ESTIMATE, STAT, FOOTER = "estimate", "stat", "footer"
#: marks an interval shown where a standard error was asked for
DAGGER = "†"


@dataclass(frozen=True, slots=True)
class Grid:
    """Header (first entry: over the row labels), rows of text cells with their labels and kinds, notes."""

    header: tuple[str, ...]
    labels: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    kinds: tuple[str, ...]
    notes: tuple[str, ...]


def build_grid(table: pd.DataFrame, models: pd.DataFrame, terms: tuple[str, ...], stat: tuple[str, ...],
               lang: str, digits: int) -> Grid:
    """The grid of a comparison (see :class:`evalkit.results.comparison.Comparison`)."""
    table = _disclosed(table, models)
    names = list(models["model"])
    fmt = _Format(lang, digits)
    labels, rows, kinds, marked, empty = [], [], [], set(), set()
    for term in terms:
        sub = table[table["term"] == term].set_index("model")
        cells = {m: sub.loc[m] if m in sub.index else None for m in names}
        labels.append(term), kinds.append(ESTIMATE)
        rows.append(tuple(_estimate(cells[m], fmt) for m in names))
        for s in stat:
            line = []
            for m in names:
                text, mark = _stat(cells[m], s, stat, fmt)
                line.append(text)
                if mark == DAGGER:
                    marked.add(m)
                elif mark == "empty":
                    empty.add(m)
            labels.append(""), kinds.append(STAT), rows.append(tuple(line))
    for key, line in _footer(models, lang):
        labels.append(lab.text(key, lang)), kinds.append(FOOTER), rows.append(line)
    notes = _notes(models, stat, lang, marked, empty - marked, blanked=bool(table["_blank"].any()))
    return Grid(header=("", *names), labels=tuple(labels), rows=tuple(rows), kinds=tuple(kinds), notes=notes)


@dataclass(frozen=True, slots=True)
class _Format:
    lang: str
    digits: int

    def num(self, x) -> str:
        return format_number(x, self.lang, digits=self.digits)

    def interval(self, low, high) -> str:
        if _missing(low) and _missing(high):
            return "–"
        sep = "; " if self.lang == "da" else ", "
        return f"[{self.num(low)}{sep}{self.num(high)}]"

    def p(self, p, draws) -> str:
        shown = format_p(p, self.lang, digits=self.digits, comma=self.lang == "da", draws=draws)
        return "p " + shown if shown.startswith("<") else f"p = {shown}"


def _missing(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _estimate(row, fmt: _Format) -> str:
    if row is None or row["_blank"]:
        return ""
    return fmt.num(row["estimate"])


def _stat(row, s: str, stats: tuple[str, ...], fmt: _Format) -> tuple[str, str | None]:
    """A statistic's cell and its mark: DAGGER for an interval in place of a missing standard
    error, "empty" for a term with neither a standard error nor an interval."""
    if row is None or row["_blank"]:
        return "", None
    if row["reference"]:
        return (f"({lab.text('reference', fmt.lang)})", None) if s == stats[0] else ("", None)
    has_ci = not (_missing(row["conf_low"]) and _missing(row["conf_high"]))
    if s == "se":
        if not _missing(row["std_error"]):
            return f"({fmt.num(row['std_error'])})", None
        if has_ci and "ci" not in stats:
            return fmt.interval(row["conf_low"], row["conf_high"]) + DAGGER, DAGGER
        return "–", None if has_ci else "empty"
    if s == "ci":
        return fmt.interval(row["conf_low"], row["conf_high"]), None if has_ci else "empty"
    if _missing(row["p_value"]):
        return "–", None
    draws = row["_draws"] if row["_resampled"] else None
    return fmt.p(row["p_value"], draws), None


def _disclosed(table: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``_blank`` (rows not shown in a report run) and the draws behind resampled p-values."""
    out = table.copy()
    info = models.set_index("model")
    out["_draws"] = [None if pd.isna(info.at[m, "draws"]) else int(info.at[m, "draws"]) for m in out["model"]]
    out["_resampled"] = [info.at[m, "method"] in lab.RESAMPLED_P for m in out["model"]]
    out["_blank"] = False
    if seal.in_report_run():
        for model, rows in out.groupby("model", sort=False):
            thin = thin_person_rows(rows, info.at[model, "unit"], seal.run_min_cell(), strict=True)
            out.loc[thin[thin].index, "_blank"] = True
    return out


def _count(n, unit, lang: str) -> str:
    """A count as shown: below ``min_cell`` persons in a report run, "fewer than 5"."""
    if _missing(n):
        return "–"
    min_cell = seal.run_min_cell()
    if seal.in_report_run() and person_unit(unit, strict=True) and n < min_cell:
        return lab.text("fewer_than", lang, n=min_cell)
    return format_number(int(n), lang, digits=0)


def _footer(models: pd.DataFrame, lang: str) -> list[tuple[str, tuple[str, ...]]]:
    rows = [{k: None if _missing(v) else v for k, v in r.items()} for r in models.to_dict("records")]
    out = [("estimator", tuple(r["estimator_label"] for r in rows)),
           ("outcome", tuple(label(str(r["outcome"]), lang) for r in rows)),
           ("n_obs", tuple(_count(r["n_obs"], r["unit"], lang) for r in rows)),
           ("clusters", tuple(_count(r["n_clusters"], r["cluster"] or r["unit"], lang)
                              + (f" ({r['cluster']})" if r["cluster"] and not _missing(r["n_clusters"]) else "")
                              for r in rows)),
           ("inference", tuple(r["inference"] for r in rows))]
    for key in ("fixed_effects", "controls"):
        if any(r[key] is not None for r in rows):
            out.append((key, tuple(r[key] or "" for r in rows)))
    if any(r["weights"] not in (None, lab.text("none", lang)) for r in rows):
        out.append(("weights", tuple(r["weights"] or "" for r in rows)))
    if len({r["alpha"] for r in rows}) > 1:
        out.append(("level", tuple(_level(r["alpha"], lang) + (" %" if lang == "da" else "%") for r in rows)))
    return out


def _level(alpha: float, lang: str) -> str:
    text = f"{100 * (1 - alpha):g}"
    return text.replace(".", ",") if lang == "da" else text


def _notes(models: pd.DataFrame, stat: tuple[str, ...], lang: str, marked: set, empty: set, *,
           blanked: bool) -> tuple[str, ...]:
    level = "/".join(dict.fromkeys(_level(a, lang) for a in models["alpha"]))
    notes = []
    if "se" in stat:
        notes.append(lab.text("note_se", lang))
    if "ci" in stat:
        notes.append(lab.text("note_ci", lang, level=level))
    order = list(models["model"])
    if marked:
        notes.append(lab.text("note_no_se", lang, level=level, names=", ".join(m for m in order if m in marked)))
    if empty:
        notes.append(lab.text("note_nothing", lang, names=", ".join(m for m in order if m in empty)))
    if blanked:
        notes.append(lab.text("note_blanked", lang, n=seal.run_min_cell()))
    return tuple(notes)

