"""Non-western origin for NW: from ``HERKOMST`` values, or from OPR_LAND and IE_TYPE (BEF).

Statistics Denmark's BEF holds ``IE_TYPE`` (1 Danish origin, 2 immigrant, 3 descendant) and
``OPR_LAND`` (country of origin). A person is *non-western* when an immigrant or descendant
(``IE_TYPE`` 2 or 3) whose country of origin is not western. Western means the Nordic
countries, the EU, Andorra, Liechtenstein, Monaco, San Marino, Switzerland, the Vatican,
Canada, the USA, Australia and New Zealand (``shared/domain.md``); the packaged list
``evalkit/domain/data/western_countries.csv`` holds them as ISO 3166-1 alpha-3 codes (and
the United Kingdom, western in Statistics Denmark's classification). BEF's ``OPR_LAND`` uses
Statistics Denmark's own numeric country codes: map them to ISO codes, or supply your own
list of western codes (configuration key ``western_countries_file``, a CSV with a ``code``
column). A Danish-origin person (``IE_TYPE`` 1) is never non-western whatever the country;
an immigrant or descendant without a country of origin is counted as not non-western and
counted in ``n_origin_unknown`` (``area_indicators`` warns).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from evalkit.domain.register import RegisterConfig
from evalkit.errors import ColumnError, ParameterError

IMMIGRANT_OR_DESCENDANT = (2, 3)


def western_codes(path: str | Path | None = None) -> tuple:
    """The western country codes: the packaged ISO alpha-3 list, or the ``code`` column of ``path``.

    Codes that are all whole numbers (Statistics Denmark's numeric codes) are returned as
    ints so they match numeric and text columns alike; others as upper-case strings.
    """
    if path is None:
        with resources.files("evalkit.domain").joinpath("data/western_countries.csv").open(encoding="utf-8") as fh:
            frame = pd.read_csv(fh, dtype=str)
    else:
        if not Path(path).exists():
            raise ParameterError(f"western_countries_file={str(path)!r} does not exist.")
        frame = pd.read_csv(path, dtype=str)
    if "code" not in frame.columns:
        raise ColumnError(f"western_countries_file={str(path)!r} needs a 'code' column; "
                          f"columns: {list(frame.columns)}.")
    codes = [c.strip().upper() for c in frame["code"].dropna() if c.strip()]
    if not codes:
        raise ParameterError(f"western_countries_file={str(path)!r} lists no country codes.")
    if all(c.lstrip("-").isdigit() for c in codes):
        return tuple(sorted({int(c) for c in codes}))
    return tuple(sorted(set(codes)))


def _western_sql(codes: tuple) -> str:
    """SQL test that ``OPR_LAND`` is one of the western ``codes`` (numbers as numbers)."""
    if all(isinstance(c, int) for c in codes):
        return f"TRY_CAST(OPR_LAND AS BIGINT) IN ({', '.join(str(c) for c in codes)})"
    quoted = ", ".join("'" + c.replace("'", "''") + "'" for c in codes)
    return f"upper(trim(CAST(OPR_LAND AS VARCHAR))) IN ({quoted})"


def immigrant_sql() -> str:
    return f"TRY_CAST(IE_TYPE AS INTEGER) IN {IMMIGRANT_OR_DESCENDANT}"


def nonwestern_sql(config: RegisterConfig, in_values) -> str:
    """SQL boolean: the person-year is a non-western immigrant or descendant (never null)."""
    if not config.country_of_origin:
        return in_values("HERKOMST", config.nonwestern_values)
    western = _western_sql(western_codes(config.western_countries_file))
    return f"(coalesce({immigrant_sql()}, FALSE) AND OPR_LAND IS NOT NULL AND NOT coalesce({western}, FALSE))"


def origin_unknown_sql(config: RegisterConfig) -> str:
    """SQL boolean: an immigrant or descendant without a country of origin (OPR_LAND mode only)."""
    if not config.country_of_origin:
        return "FALSE"
    return f"coalesce({immigrant_sql()} AND OPR_LAND IS NULL, FALSE)"
