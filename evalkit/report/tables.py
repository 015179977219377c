"""Report tables, computed from panels and results (pure functions, no display)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.report.disclosure import SafeTable, _estimates_table, safe_table
from evalkit.report.i18n import format_p, label

BALANCE_INDICATORS = ("residents", "employment_rate", "k1_share", "conviction_share",
                      "basic_edu_share", "income_rel_region", "nonwestern_share")


def design_safe(panel: pd.DataFrame, baseline_year: int, *, lang: str, min_cell: int = 5,
                note: str = "") -> SafeTable:
    """The design table as a stamped :class:`SafeTable`: residents are person counts
    (suppressed below ``min_cell``, rounded near it, protected against recovery from the total row)."""
    base = panel[panel["AAR"] == baseline_year]
    table = base.groupby("cohort").agg(n_areas=("OMR_ID", "nunique"), residents=("residents", "sum")).reset_index()
    table["cohort"] = table["cohort"].map(lambda c: label("comparison", lang) if c == 0 else str(int(c)))
    table = table.rename(columns={"cohort": label("cohort", lang), "n_areas": label("n_areas", lang),
                                  "residents": label("residents", lang)})
    return safe_table(table, count_cols=[label("residents", lang)], index=[label("cohort", lang)],
                      min_cell=min_cell, margins={"rows": True, "label": {"da": "I alt", "en": "Total"}[lang]},
                      digits=0, note=note, lang=lang, _trusted=True)


def _is_p_column(name) -> bool:
    low = str(name).lower()
    return low == "p_value" or "p-value" in low or "p-værdi" in low


#: decimals of every p-value in a report table, whatever the table's other numbers show: "0.048",
#: "< 0.001" (the text's p-values have three as well, :func:`evalkit.i18n.p_equals`)
P_DIGITS = 3


def format_p_columns(frame: pd.DataFrame, digits: int, lang: str = "en", draws=None) -> pd.DataFrame:
    """p-value columns as text with :data:`P_DIGITS` decimals and "< 0.001" below 0.001 instead of
    "0.0000" (:func:`evalkit.i18n.format_p`), in ``lang``'s convention ("< 0,001" and "0,048" in
    Danish, as the table's other numbers). ``digits`` (the table's decimals) does not change them:
    one report shows every p-value alike. ``draws``: the resamples behind the p-values when known
    (one number, or one per row with ``None`` for an analytic p-value), so an exact 0 shows as
    "< 1/(B+1)"."""
    cols = [c for c in frame.columns if _is_p_column(c) and pd.api.types.is_numeric_dtype(frame[c])]
    if not cols:
        return frame
    per_row = list(draws) if isinstance(draws, (list, tuple, np.ndarray, pd.Series)) else [draws] * len(frame)
    out = frame.copy()
    for c in cols:
        out[c] = [format_p(x, lang, digits=P_DIGITS, draws=b) if pd.notna(x) else np.nan
                  for x, b in zip(frame[c], per_row)]
        out[c] = out[c].astype(object)
    return out


def _estimates_safe(frame: pd.DataFrame, digits: int = 3, note: str = "", lang: str = "en", draws=None) -> SafeTable:
    """Sealed table of estimates or area-level means built by the library from results and the
    area panel (whose thin area-years are already left out): it carries no person-count cells.
    p-value columns are shown as text with "< 0.001" for small values, "< 1/(B+1)" for a resampling
    p-value of 0 with ``draws`` known (:func:`format_p_columns`); every number in ``lang``'s
    convention (Danish "0,048", "1.744,360")."""
    shown = _honest_columns(format_p_columns(frame, digits, lang, draws), lang)
    return _estimates_table(shown, digits=digits, note=note, lang=lang)


#: HonestDiD's interval codes (:mod:`evalkit.diagnostics.honest_did`) as a report shows them
HONEST_METHODS = {
    "c-lf": {"da": "Hybrid af betinget og mindst gunstig test (C-LF)", "en": "Conditional least-favorable hybrid (C-LF)"},
    "flci": {"da": "Interval med fast længde (FLCI)", "en": "Fixed-length confidence interval (FLCI)"},
    "conditional": {"da": "Betinget test", "en": "Conditional test"},
    "original": {"da": "Oprindeligt interval", "en": "Original interval"},
}


def _grid_value(x, lang: str):
    """An M or Mbar grid point as written by hand: "0", "0,5", "1" (Danish), "0.25" (English)."""
    if not isinstance(x, (int, float, np.integer, np.floating)) or pd.isna(x):
        return x
    shown = f"{float(x):.4f}".rstrip("0").rstrip(".")
    shown = "0" if shown in ("-0", "") else shown
    return shown.replace(".", ",") if lang == "da" else shown


def _honest_columns(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A HonestDiD table (``HonestDiDResult.tidy()`` with report headers) as shown: the interval
    codes by name ("c-lf" -> "Conditional least-favorable hybrid (C-LF)") and the M/Mbar grid
    without padding zeros ("0,5", not "0,5000"). Other tables come back unchanged."""
    method = next((c for c in frame.columns if c in ("method", label("method", lang))), None)
    grid = [c for c in frame.columns if c in ("M", "Mbar", label("Mbar", lang))]
    if method is None or not grid:
        return frame
    codes = frame[method]
    if not codes.map(lambda v: isinstance(v, str) and v in HONEST_METHODS).any():
        return frame
    out = frame.copy()
    out[method] = [HONEST_METHODS[v][lang] if isinstance(v, str) and v in HONEST_METHODS else v for v in codes]
    for c in grid:
        out[c] = pd.Series([_grid_value(x, lang) for x in frame[c]], index=frame.index, dtype=object)
    return out


#: balance indicators that are counts of persons: rounded per area before they are averaged
COUNT_INDICATORS = ("residents",)


def balance_table(panel: pd.DataFrame, baseline_year: int, *, lang: str,
                  indicators: tuple[str, ...] = BALANCE_INDICATORS, round_base: int = 5) -> pd.DataFrame:
    """Baseline means of treated and comparison areas with the standardised difference
    (difference over the pooled standard deviation; Imbens & Rubin 2015, ch. 14).

    Counts of persons (:data:`COUNT_INDICATORS`) are rounded per area to ``round_base`` before the
    mean and standard deviation: a mean of exact counts times the number of areas gave back the
    exact total that the design table rounds (differencing between tables)."""
    base = panel[panel["AAR"] == baseline_year].copy()
    for ind in COUNT_INDICATORS:
        if ind in base and round_base > 1:
            base[ind] = np.round(base[ind].to_numpy(float) / round_base) * round_base
    treated, control = base[base["cohort"] > 0], base[base["cohort"] == 0]
    rows = []
    for ind in indicators:
        t, c = treated[ind].mean(), control[ind].mean()
        pooled = np.sqrt((treated[ind].var() + control[ind].var()) / 2)
        rows.append({label("indicator", lang): label(ind, lang), label("treated", lang): t,
                     label("comparison", lang): c, label("difference", lang): t - c,
                     label("std_diff", lang): (t - c) / pooled if pooled > 0 else np.nan})
    return pd.DataFrame(rows)
