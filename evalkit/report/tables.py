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
    convention (Danish "0,048", "1.744,360"). Generic: a table that shows codes or values its own way
    (the HonestDiD table, :func:`evalkit.report.study.honest_table`) formats them where it is built."""
    return _estimates_table(format_p_columns(frame, digits, lang, draws), digits=digits, note=note, lang=lang)


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


def _whole(x):
    """``x`` rounded to a whole number (a Python int, shown without decimals); missing stays missing."""
    return int(round(float(x))) if pd.notna(x) and np.isfinite(float(x)) else np.nan


def balance_shown(table: pd.DataFrame, lang: str, counts: tuple[str, ...] = COUNT_INDICATORS) -> pd.DataFrame:
    """The balance table (:func:`balance_table`) as shown: a count indicator's means (residents, a
    number of persons) and their difference are whole persons (Python ints, so the table shows
    "1,744" / Danish "1.744" with the language's thousands separator instead of "1.744,360"); the
    difference is that of the shown means, so the row adds up. Rates and shares, and every
    standardised difference, keep their decimals."""
    names = {label(c, lang) for c in counts}
    means = [label(k, lang) for k in ("treated", "comparison")]
    diff = label("difference", lang)
    out = table.astype({c: object for c in (*means, diff)})
    for i in table.index[table[label("indicator", lang)].isin(names)]:
        treated, control = (_whole(table.at[i, c]) for c in means)
        out.at[i, means[0]], out.at[i, means[1]] = treated, control
        out.at[i, diff] = treated - control if pd.notna(treated) and pd.notna(control) else np.nan
    return out


def balance_safe(panel: pd.DataFrame, baseline_year: int, *, lang: str, round_base: int = 5) -> SafeTable:
    """The balance table as a sealed table (:func:`balance_table`, counts shown by :func:`balance_shown`)."""
    table = balance_table(panel, baseline_year, lang=lang, round_base=round_base)
    return _estimates_safe(balance_shown(table, lang), lang=lang)


#: the event-study table's columns as shown: event time names each row (the estimator's term
#: "e=-4" says the same, so it stays in the machine-readable results only)
EVENT_STUDY_COLUMNS = ("event_time", "estimate", "std_error", "conf_low", "conf_high", "p_value", "n_treated")


#: the columns of an event-study table in the outcome's units (x 100 for a share's percentage points)
EFFECT_COLUMNS = ("estimate", "std_error", "conf_low", "conf_high")


def event_study_frame(tidy: pd.DataFrame, lang: str, *, persons: bool = False, pp: bool = False) -> pd.DataFrame:
    """An event study's tidy table with the shown columns (:data:`EVENT_STUDY_COLUMNS`) under the
    language's headers; ``n_treated`` counts treated areas, or treated persons when ``persons``.
    ``pp``: a share's effects in percentage points (x 100, the estimate's header says so), as the
    report's text and figures state them."""
    names = {c: label(c, lang) for c in EVENT_STUDY_COLUMNS[:-1]}
    names["n_treated"] = label("treated_persons" if persons else "treated", lang)
    shown = tidy[list(EVENT_STUDY_COLUMNS)]
    if pp:
        shown = shown.assign(**{c: 100 * shown[c].astype(float) for c in EFFECT_COLUMNS})
        names["estimate"] = f"{names['estimate']} ({label('percentage_points', lang)})"
    return shown.rename(columns=names)
