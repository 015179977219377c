"""Bottom-layer privacy facts shared by results and reports (no evalkit imports).

Statistics Denmark's rules for researcher access (``shared/domain.md``): never show
pseudonymised keys, and no cell may rest on fewer than ``min_cell`` persons (floor 3,
common practice 5).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

IDENTIFIERS = ("PERSON_ID", "CPR", "CPR_NR", "PNR", "CVR", "CVR_NR", "RESP_ID", "ADRESSE_ID",
               "ADRESSE", "BOPAEL_ID", "FAMILIE_ID", "ARBGNR", "LBNR", "ARBEJDSSTED_ID", "PERSON_KEY")
STATISTICS = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "band_low", "band_high")


def is_identifier(name: object) -> bool:
    """True for a pseudonymised-key column name (case-insensitive)."""
    return str(name).strip().upper() in IDENTIFIERS


AREA_UNITS = ("OMR_ID", "OMRAADE", "OMRAADE_ID", "AREA", "AREA_ID", "AFDELING", "AFD_ID", "KOMMUNE", "KOM",
              "REGION", "SOGN", "BYDEL")


def is_area(name: object) -> bool:
    """True for an area-level unit column (areas, estates, municipalities), whose counts are not persons."""
    return str(name).strip().upper() in AREA_UNITS


def person_unit(unit: object, strict: bool) -> bool:
    """Whether a result's units count as persons: a person key always; with ``strict`` (a report
    run) any unit that is not a known area column, so a recoded key (``pid = factorize(...)``)
    does not pass as an area."""
    if unit is None:
        return strict
    return is_identifier(unit) or (strict and not is_area(unit))


def thin_person_rows(table: pd.DataFrame, unit: object, min_cell: int, *, strict: bool = False) -> pd.Series:
    """Rows of a tidy result table that rest on fewer than ``min_cell`` treated (or comparison)
    persons.

    Only person-level results (``unit`` is a person key) have person counts in ``n_treated``
    and ``n_control``; for area-level results the mask is all False.
    """
    thin = pd.Series(False, index=table.index)
    if not person_unit(unit, strict):
        return thin
    reference = table["reference"].astype(bool) if "reference" in table else False
    for col in ("n_treated", "n_control"):
        if col in table:
            n = pd.to_numeric(table[col], errors="coerce")
            thin |= (n.notna() & (n < min_cell) & ~reference).fillna(False).astype(bool)
    return thin


def blank_rows(table: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """A copy of ``table`` with the statistics and person counts of ``rows`` set to missing."""
    out = table.copy()
    if rows.any():
        stats = [c for c in STATISTICS if c in out]
        out.loc[rows.to_numpy(), stats] = np.nan
        for col in ("n_treated", "n_control"):
            if col in out:
                out[col] = out[col].mask(rows)
    return out


def rounded_count(n: float, min_cell: int, round_base: int) -> float:
    """A published count of persons: NaN below ``min_cell`` (suppressed), else the nearest multiple
    of ``round_base`` (half up), never below ``min_cell``; ``round_base`` 1 keeps it exact. The rule
    of subgroup and survey counts, results files and result headers; ``safe_table`` rounds by
    :func:`evalkit.report.disclosure.round_counts` (the same nearest multiple, without the floor)."""
    if pd.isna(n) or n < min_cell:
        return np.nan
    return float(max(round_base * int(np.floor(n / round_base + 0.5)), min_cell)) if round_base > 1 else float(n)


def shown_count(n: int | None, unit: object, min_cell: int, round_base: int | None = None) -> str:
    """A count in a person-level result's header: below ``min_cell`` it is not shown, above it is
    rounded to ``round_base`` (:func:`rounded_count`) when given."""
    if n is None:
        return "none"
    if person_unit(unit, strict=True) and n < min_cell:
        return f"fewer than {min_cell}"
    if person_unit(unit, strict=True) and round_base and round_base > 1:
        return f"{int(rounded_count(n, min_cell, round_base)):,}"
    return f"{n:,}"


def complementary_parts(parts: dict, hidden: float, min_cell: int) -> list:
    """The parts whose counts must be blanked as well, so that what a published total leaves
    unexplained cannot be recovered by subtraction (secondary suppression against a margin).

    ``parts`` are the exact counts of the parts a table shows ({name: persons}), ``hidden`` the
    exact number of the total's persons in no shown part (cells left out at the source,
    suppressed parts, persons without a part). Subtracting the shown parts from the total gives
    ``hidden``; when it is 1 to ``min_cell - 1`` the smallest shown part is blanked too (its
    persons join the hidden ones), repeated until the hidden persons number 0 or at least
    ``min_cell``, or no part is left to blank. Returns the names to blank, smallest first.
    """
    shown = {k: float(v) for k, v in parts.items() if v is not None and not pd.isna(v)}
    hidden, blank = float(hidden), []
    while 0 < hidden < min_cell and shown:
        name = min(shown, key=lambda k: (shown[k], str(k)))
        hidden += shown.pop(name)
        blank.append(name)
    return blank
