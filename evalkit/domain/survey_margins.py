"""Register margins for survey calibration: residents per area, year, age band, sex and origin.

The population the survey describes is the register's: persons living in the area on 1 January
of the wave's year, aged at least the lowest age-band bound. :func:`register_margins` counts
them (distinct persons) in DuckDB over the register files, read by the register readers and the
same :class:`~evalkit.domain.register.RegisterConfig` (keys ``area``, ``year``, ``birth_year``,
``sex``, ``origin``). Age bands are :func:`age_band` of age = year - birth year, the same function
the survey side uses, so both sides have the same categories by construction.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.core.aliases import checked
from evalkit.data import io
from evalkit.domain.register import RegisterConfig, load_register_config
from evalkit.domain.register_files import register_files
from evalkit.domain.register_read import glob_files, stacked_sql
from evalkit.errors import ParameterError, ValidationError

__all__ = ["AGE_BANDS", "age_band", "check_age_bands", "register_margins"]

#: lower bounds of the default age bands: 15-29, 30-44, 45-64, 65+
AGE_BANDS = (15, 30, 45, 65)
POPULATION = "N"


def check_age_bands(bands) -> tuple[int, ...]:
    """Strictly increasing whole-number lower bounds (at least two), or a ParameterError naming ``age_bands``."""
    try:
        out = tuple(int(b) for b in bands)
    except (TypeError, ValueError):
        raise ParameterError(f"age_bands={bands!r} must be increasing whole-number lower bounds, "
                             "e.g. (15, 30, 45, 65).") from None
    if len(out) < 2 or any(b <= a for a, b in zip(out, out[1:])) or out[0] < 0 \
            or any(float(b) != o for b, o in zip(bands, out)):
        raise ParameterError(f"age_bands={bands!r} must be at least two increasing whole-number lower "
                             "bounds >= 0, e.g. (15, 30, 45, 65).")
    return out


def band_labels(bands: tuple[int, ...]) -> list[str]:
    """``["15-29", "30-44", "45-64", "65+"]`` for bounds (15, 30, 45, 65)."""
    return [f"{a}-{b - 1}" for a, b in zip(bands, bands[1:])] + [f"{bands[-1]}+"]


def age_band(age, bands=AGE_BANDS) -> np.ndarray:
    """The age-band label of each age (object array); ages below the first bound get ``None``."""
    bands = check_age_bands(bands)
    age = np.asarray(age, dtype=float)
    labels = np.array(band_labels(bands) + [None], dtype=object)
    idx = np.searchsorted(np.asarray(bands, dtype=float), age, side="right") - 1
    idx = np.where((idx < 0) | np.isnan(age), len(bands), idx)
    return labels[idx]


def _case_sql(bands: tuple[int, ...], age: str) -> str:
    labels = band_labels(bands)
    whens = " ".join(f"WHEN {age} >= {lo} THEN '{lab}'" for lo, lab in reversed(list(zip(bands, labels))))
    return f"CASE {whens} END"


def _source_sql(con, source: Path, config: RegisterConfig, keys: list[str]) -> str:
    if config.registers:
        spec = config.population
        missing = [k for k in keys if k not in spec.variables and k not in ("person_id", "year")]
        if missing:
            raise ParameterError(f"register_margins reads {missing} from the population register "
                                 f"{spec.name!r}: add them to registers.{spec.name}.variables.")
        paths = glob_files(source, spec.files, f"configuration key registers.{spec.name}.files")
        return stacked_sql(con, paths, config, keys, "margins")
    return stacked_sql(con, register_files(source, config), config, keys, "margins")


@checked
def register_margins(source, config: RegisterConfig | dict | str | Path | None = None, *,
                     years=None, age_bands=AGE_BANDS) -> pd.DataFrame:
    """Residents per (area, year, age band, sex, origin) from the register files: the calibration targets of a survey.

    Parameters
    ----------
    source : str or pathlib.Path
        Folder (or file) of the register files.
    config : RegisterConfig, dict, str or pathlib.Path, optional
        Where the register variables are (see :func:`load_register_config`); None: the
        simulator's names. Origin must be the register's three-way ``origin`` column
        (HERKOMST); a configuration that classifies origin from ``country_of_origin`` is
        refused.
    years : sequence of int, optional
        The years (survey waves) to count; None: all.
    age_bands : sequence of int, default (15, 30, 45, 65)
        Lower bounds of the age bands, at least two, increasing whole numbers >= 0; persons
        younger than the first bound are not counted. (15, 30, 45, 65) gives 15-29, 30-44,
        45-64 and 65+.

    Returns
    -------
    pandas.DataFrame
        ``OMR_ID, AAR, age_band, KOEN, HERKOMST, N`` with ``N`` the distinct persons living in
        the area on 1 January; only area residents. The ``margins`` of
        :func:`calibrate_weights` and :func:`survey_did`.

    Raises
    ------
    ParameterError
        Bad ``age_bands`` or ``years`` (whole numbers), a misspelled keyword, a bad
        configuration, or one without the three-way origin.
    ValidationError
        ``years`` that have no residents in the register (the years it has are named).
    """
    config = load_register_config(config)
    bands = check_age_bands(age_bands)
    years = _check_years(years)
    if config.country_of_origin:
        raise ParameterError("register_margins needs the register's three-way origin (configuration key "
                             "'origin', HERKOMST); a configuration with 'country_of_origin' only gives "
                             "non-western yes/no. Calibrate without origin (margins=('age_band', 'KOEN')).")
    keys = ["person_id", "year", "birth_year", "sex", "origin", "area"]
    con = io.connect()
    try:
        inner = _source_sql(con, Path(source), config, keys)
        where = "" if years is None else f" AND AAR IN ({', '.join(map(str, years))})"
        sql = (f"SELECT OMR_ID, AAR, age_band, KOEN, HERKOMST, count(DISTINCT PERSON_ID) AS {POPULATION} FROM "
               f"(SELECT *, {_case_sql(bands, '(AAR - FOED_AAR)')} AS age_band FROM ({inner})) "
               f"WHERE OMR_ID IS NOT NULL AND (AAR - FOED_AAR) >= {bands[0]}{where} "
               "GROUP BY ALL ORDER BY ALL")
        frame = con.execute(sql).df()
    finally:
        con.close()
    frame[POPULATION] = frame[POPULATION].astype(float)
    absent = [] if years is None else sorted(set(years) - set(frame["AAR"].astype(int)))
    if absent:
        raise ValidationError(f"register_margins: years={absent} have no area residents aged {bands[0]}+ in the "
                              "register files; pass years the register covers (the survey waves to calibrate).")
    return frame


def _check_years(years) -> list[int] | None:
    if years is None:
        return None
    values = [years] if isinstance(years, (int, np.integer)) else years
    try:
        values = list(values)
        ok = bool(values) and all(not isinstance(y, bool) and float(y).is_integer() for y in values)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError(f"years={years!r} must be whole-number years (the survey waves), e.g. [2018, 2020], "
                             "or None for all.")
    return sorted({int(y) for y in values})
