"""Content checks of text a report may show: person keys of the run's data and small whole numbers.

The lowest module of the report's disclosure stack (:mod:`~evalkit.report.disclosure`,
:mod:`~evalkit.report.sdc` and :mod:`~evalkit.report.outputs` build on it), so that none of
them imports another in a cycle.
"""
from __future__ import annotations

import html as _html
import os
import re
import unicodedata
from functools import lru_cache

from evalkit import seal
from evalkit.errors import ValidationError


class DisclosureError(ValidationError):
    """A table or notebook output would disclose persons (identifiers, small cells, raw rows)."""


DATA_DIR_ENV = "EVALKIT_DATA_DIR"
# a number not glued to a preceding letter or digit: thousands grouped by space, dot or comma first
# ("1 105 000 000"), then plain numbers with an optional decimal part ("3", "3.0", "2,0", "0.35")
# a number may be glued to a following word ("3personer") but not be part of a code ("3f2a9c", "k1")
_NUMBER = re.compile(r"(?<![^\W\d_])(?<!\d)(\d{1,3}(?:[ \u00a0.,]\d{3})+(?![\d])|\d+(?:[.,]\d+)?)"
                     r"(?=[^\W\d_]*(?!\w))")


@lru_cache(maxsize=4)
def _keys(data_dir: str):
    from evalkit.report.keyscan import collect_keys

    return collect_keys(data_dir)


def run_keys():
    """The person keys of the report run's data (``None`` outside a report run)."""
    data_dir = os.environ.get(DATA_DIR_ENV)
    return _keys(data_dir) if data_dir else None


def check_text(text: str, *, what: str, min_cell: int | None = None) -> str:
    """Refuse text that shows a person key of the run's data or a small whole number.

    Whole numbers from 1 to ``min_cell - 1`` could be counts of persons below the
    threshold; write them in words when they are not. Years, decimals and amounts pass.
    """
    min_cell = min_cell or seal.run_min_cell()
    original, text = text, unicodedata.normalize("NFKC", _html.unescape(text))  # "&#51;" and "³" are a 3 too
    keys = run_keys()
    if keys is not None:
        from evalkit.report.keyscan import MIN_PIECE, scan_text

        hits = scan_text(text, keys, min_piece=MIN_PIECE)  # short text: 8 characters, half a key
        if hits:
            raise DisclosureError(f"{what} shows a person key of the data ({', '.join(sorted(set(hits)))}); "
                                  "it cannot be released.")
    small = [m for m in _NUMBER.findall(text) if _small_whole(m, min_cell)]
    if small:
        raise DisclosureError(f"{what} holds the whole number {small[0]}, which could be a count of fewer than "
                              f"{min_cell} persons; write it in words if it is not a count, or show counts with "
                              "tabulate().")
    return original


def _small_whole(number: str, min_cell: int) -> bool:
    """A whole number from 1 to ``min_cell - 1`` ("3", "3.0", "2,0"), which could count persons;
    grouped thousands and decimals with a fractional part (0.35, 1.5) are not counts."""
    if re.fullmatch(r"\d{1,3}(?:[ \u00a0.,]\d{3})+", number):
        return False
    value = float(number.replace(",", "."))
    return value.is_integer() and 0 < value < min_cell
