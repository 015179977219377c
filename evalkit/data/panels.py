"""Register microdata -> analysis panels, aggregated in DuckDB (out of core).

Two estimands need two panels (see ``../shared/domain.md``, "Composition vs effect"):

* the **area panel** (area x year): indicators of whoever lives in the area that year
  (a repeated cross-section; it mixes effects on people with sorting);
* the **cohort panel** (person x year): the residents of a baseline year, followed
  wherever they move (intention to treat by baseline address).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from evalkit.core.aliases import checked
from evalkit.core.checks import check_year, checked_init
from evalkit.data import io, schemas
from evalkit.errors import ParameterError, ValidationError, check_choice

AREA_INDICATORS = {
    "residents": "number of distinct residents on 1 January",
    "employment_rate": "employed full-time persons / residents 18-64",
    "k1_share": "full-time persons outside labour market and education / residents 18-64",
    "conviction_share": "residents 18+ convicted during the year / residents 18+",
    "basic_edu_share": "residents 30-59 with only basic schooling / residents 30-59",
    "income_rel_region": "mean gross income of taxpayers 15-64 not in education, relative to the region",
    "nonwestern_share": "non-western immigrants and descendants / residents",
    "youth_emp_edu_share": "residents 15-24 in employment or education (full-time persons) / residents 15-24",
}

_AGE = "(AAR - FOED_AAR)"
#: employed or in education in full-time persons (the complement of K1, capped at one full year;
#: NULL, so left out of the mean, when either status is missing)
EMP_EDU = ("CASE WHEN CAST(BESK_FTE AS DOUBLE) + CAST(UDD_FTE AS DOUBLE) > 1.0 THEN 1.0 "
           "ELSE CAST(BESK_FTE AS DOUBLE) + CAST(UDD_FTE AS DOUBLE) END")


def _edu_expr(unknown_education: str) -> tuple[str, str]:
    """Numerator and denominator filters for the basic-education share (30-59)."""
    check_choice("unknown_education", unknown_education, ["exclude", "basic"])
    basic = "HFAUDD = 'grundskole'"
    if unknown_education == "basic":
        return f"({basic} OR HFAUDD IS NULL)", "TRUE"
    return basic, "HFAUDD IS NOT NULL"


def area_panel_sql(relation: str, unknown_education: str = "exclude") -> str:
    """SQL for the area x year indicator panel (indicators as in ``AREA_INDICATORS``)."""
    basic, known = _edu_expr(unknown_education)
    working = f"{_AGE} BETWEEN 15 AND 64 AND UDD_FTE < 0.5 AND PERINDKIALT IS NOT NULL"
    return f"""
    WITH region_income AS (
      SELECT REGION, AAR, avg(PERINDKIALT) AS region_income
      FROM {relation} WHERE {working} GROUP BY REGION, AAR
    ), area AS (
      SELECT OMR_ID, AAR, any_value(REGION) AS REGION, count(DISTINCT REGION) AS n_regions,
        count(DISTINCT PERSON_ID) AS residents,
        count(*) FILTER ({_AGE} BETWEEN 18 AND 64) AS residents_18_64,
        count(*) FILTER ({_AGE} BETWEEN 15 AND 24) AS residents_15_24,
        avg(BESK_FTE) FILTER ({_AGE} BETWEEN 18 AND 64) AS employment_rate,
        avg(UDENFOR_FTE) FILTER ({_AGE} BETWEEN 18 AND 64) AS k1_share,
        avg(DOMFAELDT) FILTER ({_AGE} >= 18) AS conviction_share,
        avg(CASE WHEN {basic} THEN 1.0 ELSE 0.0 END)
            FILTER ({_AGE} BETWEEN 30 AND 59 AND {known}) AS basic_edu_share,
        avg(PERINDKIALT) FILTER ({working}) AS area_income,
        avg(CASE WHEN HERKOMST = 'ikke_vestlig' THEN 1.0 ELSE 0.0 END) AS nonwestern_share,
        avg({EMP_EDU}) FILTER ({_AGE} BETWEEN 15 AND 24) AS youth_emp_edu_share
      FROM {relation} WHERE OMR_ID IS NOT NULL GROUP BY OMR_ID, AAR
    )
    SELECT a.OMR_ID, a.AAR, a.REGION, a.n_regions, a.residents, a.residents_18_64, a.residents_15_24,
      a.employment_rate, a.k1_share, a.conviction_share, a.basic_edu_share,
      a.area_income / r.region_income AS income_rel_region, a.nonwestern_share, a.youth_emp_edu_share
    FROM area a LEFT JOIN region_income r USING (REGION, AAR)
    ORDER BY a.OMR_ID, a.AAR
    """


def cohort_panel_sql(relation: str, baseline_year: int, age_range: tuple[int, int]) -> str:
    """SQL for the baseline cohort: residents of ``baseline_year`` followed in every year."""
    lo, hi = (int(a) for a in age_range)
    return f"""
    WITH base AS (
      SELECT PERSON_ID, OMR_ID AS OMR_ID_BASE FROM {relation}
      WHERE AAR = {int(baseline_year)} AND OMR_ID IS NOT NULL
        AND {_AGE} BETWEEN {lo} AND {hi}
    )
    SELECT p.PERSON_ID, p.AAR, b.OMR_ID_BASE, p.OMR_ID, p.REGION, {_AGE} AS ALDER, p.KOEN,
      p.HERKOMST, p.BESK_FTE, p.UDD_FTE, p.UDENFOR_FTE, p.PERINDKIALT, p.DOMFAELDT,
      coalesce(p.OMR_ID = b.OMR_ID_BASE, FALSE) AS stayer
    FROM {relation} p JOIN base b USING (PERSON_ID)
    WHERE {_AGE} BETWEEN {lo} AND {hi}
    ORDER BY b.OMR_ID_BASE, p.PERSON_ID, p.AAR
    """


@checked_init
@dataclass(frozen=True)
class Microdata:
    """A validated register extract exposed in DuckDB; builds panels on demand.

    Made by :func:`open_microdata`. Orchestration only: the numbers are computed by the SQL of
    the pure functions :func:`~evalkit.data.panels.area_panel_sql` and
    :func:`~evalkit.data.panels.cohort_panel_sql`.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The DuckDB connection holding the data.
    relation : str
        Name of the view of the person-year rows in ``con``.
    n_rows : int
        Number of person-year rows.
    years : tuple of int
        The years (AAR) in the data, sorted.
    """

    con: duckdb.DuckDBPyConnection
    relation: str
    n_rows: int
    years: tuple[int, ...]

    @checked
    def area_panel(self, *, unknown_education: str = "exclude") -> pd.DataFrame:
        """Area x year indicator panel (see :data:`~evalkit.data.panels.AREA_INDICATORS`).

        Parameters
        ----------
        unknown_education : {"exclude", "basic"}, default "exclude"
            How persons with missing education (HFAUDD) enter the basic-education share:
            "exclude" leaves them out of numerator and denominator; "basic" counts them as having
            only basic schooling.

        Returns
        -------
        pandas.DataFrame
            One row per (OMR_ID, AAR); as :func:`build_area_panel`.

        Raises
        ------
        ParameterError
            An unknown ``unknown_education``.
        ValidationError
            An area lying in several regions in one year.
        """
        panel = self.con.execute(area_panel_sql(self.relation, unknown_education)).df()
        if (panel["n_regions"] > 1).any():
            bad = panel.loc[panel["n_regions"] > 1, ["OMR_ID", "AAR"]].iloc[0].tolist()
            raise ValidationError(f"OMR_ID must lie in one REGION per year; (OMR_ID, AAR)={bad} has several.")
        return tidy_types(panel.drop(columns="n_regions"))

    @checked
    def cohort_panel(self, baseline_year: int, *, age_range: tuple[int, int] = (18, 64)) -> pd.DataFrame:
        """Person x year panel of the residents of ``baseline_year``, followed wherever they move.

        Person-years outside ``age_range`` are not part of the estimand and are left out by
        construction (the age window is a parameter, recorded in ``panel.attrs``).

        Parameters
        ----------
        baseline_year : int
            A whole number (``2014``; not ``"2014"``, ``2014.0`` or a bool) among the data years.
        age_range : tuple of (int, int), default (18, 64)
            (low, high) ages, inclusive, with low <= high.

        Returns
        -------
        pandas.DataFrame
            One row per person and year; as :func:`build_cohort_panel`.

        Raises
        ------
        ParameterError
            A ``baseline_year`` outside the data years or not a whole number, or a bad
            ``age_range``.
        """
        baseline_year = check_year("baseline_year", baseline_year)
        if baseline_year not in self.years:
            raise ParameterError(f"baseline_year={baseline_year} is outside the data years {self.years[0]}-{self.years[-1]}.")
        if len(age_range) != 2 or age_range[0] > age_range[1]:
            raise ParameterError(f"age_range={age_range!r} must be (low, high) with low <= high.")
        panel = tidy_types(self.con.execute(cohort_panel_sql(self.relation, baseline_year, age_range)).df())
        panel.attrs.update(baseline_year=int(baseline_year), age_range=tuple(age_range))
        return panel


def tidy_types(panel: pd.DataFrame) -> pd.DataFrame:
    """Keys as int64 when complete (in place; on frames fresh from DuckDB)."""
    for col in ("OMR_ID", "OMR_ID_BASE", "AAR", "REGION"):
        if col in panel and not panel[col].isna().any():
            panel[col] = panel[col].astype("int64")
    return panel


@checked
def open_microdata(
    source: str | Path | pd.DataFrame, *, validate: bool = True, memory_limit: str | None = None
) -> Microdata:
    """Expose register microdata in DuckDB (out of core) and check its schema.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        Person-year register microdata (``docs/data_contract.md``: PERSON_ID, AAR, FOED_AAR,
        KOEN, HERKOMST, HFAUDD, OMR_ID, REGION, BESK_FTE, UDD_FTE, UDENFOR_FTE, PERINDKIALT,
        DOMFAELDT): a file (.parquet, .csv, .sas7bdat, .xpt, .dta), a folder of such files, a data
        directory with a ``person_years/`` folder (as written by :func:`simulate`), or a
        DataFrame.
    validate : bool, default True
        Check the schema (columns, types, value ranges, unique (PERSON_ID, AAR)) with pandera,
        out of core; False skips the check for data already validated.
    memory_limit : str, optional
        DuckDB memory limit, e.g. "4GB" (DuckDB spills to disk beyond it); None: DuckDB's
        default (80 % of RAM).

    Returns
    -------
    Microdata
        The exposed extract; build panels with :meth:`Microdata.area_panel` and
        :meth:`Microdata.cohort_panel`.

    Raises
    ------
    ParameterError
        A path that does not exist or holds no microdata files, or an unsupported file type.
    ColumnError
        A required column is missing.
    ValidationError
        Data that break the schema (types, ranges, duplicate person-years).

    Examples
    --------
    >>> import evalkit as ek
    >>> path = ek.simulate("demo_data", size="small", progress=False)  # doctest: +SKIP
    >>> md = ek.open_microdata(path)  # doctest: +SKIP
    >>> areas = md.area_panel()  # doctest: +SKIP
    """
    con = io.connect(memory_limit=memory_limit)
    relation = io.register_microdata(con, source)
    if validate:
        n_rows = schemas.validate_relation(con, relation)
    else:
        n_rows = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
    years = _years(con, relation)
    return Microdata(con=con, relation=relation, n_rows=int(n_rows), years=years)


def _years(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, ...]:
    return tuple(int(y) for (y,) in con.execute(f"SELECT DISTINCT AAR FROM {relation} ORDER BY 1").fetchall())


def read_data_years(data_dir) -> tuple[int, ...]:
    """The years present in the microdata under ``data_dir`` (a cheap scan; no schema check; errors
    name ``data_dir``, the report parameter this reads)."""
    con = io.connect()
    relation = io.register_microdata(con, data_dir, param="data_dir")
    return _years(con, relation)


@checked
def build_area_panel(source, *, unknown_education: str = "exclude", validate: bool = True) -> pd.DataFrame:
    """Area x year panel of the official-style indicators from register microdata.

    The indicators of whoever lives in the area that year (a repeated cross-section; it mixes
    effects on people with sorting of who moves in and out), aggregated in DuckDB:
    see :data:`evalkit.data.panels.AREA_INDICATORS`. Same as
    ``open_microdata(source).area_panel()``.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        Person-year register microdata (``docs/data_contract.md``: PERSON_ID, AAR, FOED_AAR,
        KOEN, HERKOMST, HFAUDD, OMR_ID, REGION, BESK_FTE, UDD_FTE, UDENFOR_FTE, PERINDKIALT,
        DOMFAELDT): a file (.parquet, .csv, .sas7bdat, .xpt, .dta), a folder of such files, a data
        directory with a ``person_years/`` folder (as written by :func:`simulate`), or a
        DataFrame.
    unknown_education : {"exclude", "basic"}, default "exclude"
        How persons with missing education (HFAUDD) enter the basic-education share:
        "exclude" leaves them out of numerator and denominator; "basic" counts them as having
        only basic schooling.
    validate : bool, default True
        Check the schema (columns, types, value ranges, unique (PERSON_ID, AAR)) with pandera,
        out of core; False skips the check for data already validated.

    Returns
    -------
    pandas.DataFrame
        One row per (OMR_ID, AAR) with REGION, residents, residents_18_64, residents_15_24 and
        the indicators employment_rate, k1_share, conviction_share, basic_edu_share,
        income_rel_region, nonwestern_share and youth_emp_edu_share.

    Raises
    ------
    ParameterError
        An unknown keyword or ``unknown_education``, or a bad ``source``.
    ValidationError
        Data that break the schema, or an area lying in several regions in one year.
    """
    return open_microdata(source, validate=validate).area_panel(unknown_education=unknown_education)


@checked
def build_cohort_panel(
    source, *, baseline_year: int, age_range: tuple[int, int] = (18, 64), validate: bool = True
) -> pd.DataFrame:
    """Person x year panel of a baseline cohort, followed wherever they move.

    The residents of ``baseline_year`` followed in every year, inside or outside the area
    (intention to treat by baseline address): the estimand for effects on people rather than
    on places. Same as ``open_microdata(source).cohort_panel(baseline_year)``.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        Person-year register microdata (``docs/data_contract.md``: PERSON_ID, AAR, FOED_AAR,
        KOEN, HERKOMST, HFAUDD, OMR_ID, REGION, BESK_FTE, UDD_FTE, UDENFOR_FTE, PERINDKIALT,
        DOMFAELDT): a file (.parquet, .csv, .sas7bdat, .xpt, .dta), a folder of such files, a data
        directory with a ``person_years/`` folder (as written by :func:`simulate`), or a
        DataFrame.
    baseline_year : int
        The year whose residents form the cohort; a whole number among the data years.
    age_range : tuple of (int, int), default (18, 64)
        (low, high) ages, inclusive: persons of these ages in the baseline year, and only
        their person-years within these ages (recorded in ``panel.attrs``).
    validate : bool, default True
        Check the schema (columns, types, value ranges, unique (PERSON_ID, AAR)) with pandera,
        out of core; False skips the check for data already validated.

    Returns
    -------
    pandas.DataFrame
        One row per person and year: PERSON_ID, AAR, OMR_ID_BASE (baseline area), OMR_ID
        (current area), REGION, ALDER, KOEN, HERKOMST, BESK_FTE, UDD_FTE, UDENFOR_FTE,
        PERINDKIALT, DOMFAELDT and ``stayer`` (still in the baseline area).

    Raises
    ------
    ParameterError
        A ``baseline_year`` outside the data years or not a whole number, a bad
        ``age_range``, or a bad ``source``.
    ValidationError
        Data that break the schema.
    """
    return open_microdata(source, validate=validate).cohort_panel(baseline_year, age_range=age_range)
