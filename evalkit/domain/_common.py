"""Small shared helpers of the domain layer: column checks, HTML of tidy results, labels."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from evalkit.errors import ColumnError, ParameterError, ValidationError, check_choice, closest

LANGS = ("da", "en")

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
    """Domain label for ``key`` in ``lang``; falls back to the report labels, then the key."""
    check_choice("lang", lang, LANGS)
    if key in DOMAIN_LABELS:
        return DOMAIN_LABELS[key][lang]
    from evalkit.report.i18n import label

    return label(key, lang)


def require_columns(frame: pd.DataFrame, cols: list[str], what: str) -> None:
    """Raise :class:`ColumnError` naming the first missing column of ``frame`` (called ``what``)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    for col in cols:
        if col not in frame.columns:
            raise ColumnError(f"{what} needs column {col!r}; it has {list(frame.columns)}."
                              + closest(col, frame.columns))


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name}={value!r} must be an integer >= {minimum}.")
    return int(value)


def check_number(name: str, value, *, low: float = -np.inf, high: float = np.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in [low, high] (open ends on request), else :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ParameterError(f"{name}={value!r} must be a finite number.")
    value = float(value)
    bad = value < low or value > high or (low_open and value == low) or (high_open and value == high)
    if bad:
        lb, hb = "(" if low_open else "[", ")" if high_open else "]"
        raise ParameterError(f"{name}={value!r} must lie in {lb}{low}, {high}{hb}.")
    return value


def frame_html(title: str, frame: pd.DataFrame, digits: int = 4) -> str:
    """Plain HTML of a tidy result for Jupyter (the report path goes through ``safe_table``)."""
    body = frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", na_rep="", border=0,
                         classes="evalkit-table")
    return f"<div class='evalkit-result'><strong>{html.escape(title)}</strong>{body}</div>"
