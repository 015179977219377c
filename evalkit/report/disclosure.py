"""Disclosure control for shown tables (Statistics Denmark rules, ``../shared/domain.md``).

A first, primary-suppression version: counts of persons below the threshold are
suppressed, and identifier columns are refused. Secondary suppression, rounding and
the post-run scanner come with the report-pipeline work.
"""
from __future__ import annotations

import pandas as pd

from evalkit.errors import ParameterError, ValidationError

FLOOR = 3
IDENTIFIERS = ("PERSON_ID", "CVR", "ADRESSE_ID", "RESP_ID", "CPR")


def check_threshold(min_cell: int) -> int:
    """The disclosure threshold: default 5, never below the floor of 3 persons."""
    if isinstance(min_cell, bool) or not isinstance(min_cell, int) or min_cell < FLOOR:
        raise ParameterError(f"min_cell={min_cell!r} must be an integer >= {FLOOR} (Statistics Denmark floor).")
    return min_cell


def refuse_identifiers(frame: pd.DataFrame) -> None:
    """Raise when a frame about to be shown carries a pseudonymised key."""
    found = [c for c in frame.columns if str(c).upper() in IDENTIFIERS]
    if found:
        raise ValidationError(f"table carries identifier column(s) {found}; aggregate before showing it.")


def suppress_small(frame: pd.DataFrame, count_columns: list[str], *, min_cell: int = 5) -> pd.DataFrame:
    """Copy of ``frame`` where every row with a count of persons below ``min_cell`` in any of
    ``count_columns`` has all its numeric cells blanked (primary suppression)."""
    check_threshold(min_cell)
    refuse_identifiers(frame)
    out = frame.copy()
    small = (out[count_columns] < min_cell).any(axis=1)
    numeric = out.select_dtypes("number").columns
    out[numeric] = out[numeric].astype("float64")
    out.loc[small, numeric] = float("nan")
    out.attrs["suppressed_rows"] = int(small.sum())
    return out
