"""The official area indicators K1-K4 and NW per area and year, from register microdata.

Definitions follow almenboligloven § 61 a, stk. 1 and § 61 b and ``shared/domain.md``:

* **K1** share of residents 18-64 outside both labour market and education, in two forms:
  ``k1_fte`` (full-time persons, the rule from 2018: 3 months outside counts 0.25) and
  ``k1_headcount`` (earlier regimes: a person counts 1 when more than
  ``k1_headcount_cutoff`` of the year was spent outside; evalkit's documented choice);
* **K2** share of residents 18+ convicted (penal code, weapons act, drugs act) in the year;
  the national share (all persons 18+ in the register) is in :attr:`AreaIndicators.national`;
* **K3** share of residents 30-59 with only grundskole, with unknown education counted as
  basic (``k3_unknown_basic``, the 2013 rule), left out (``k3_unknown_excluded``) or counted
  as not basic (``k3_unknown_not_basic``);
* **K4** mean gross income of taxpayers 15-64 not in education (``UDD_FTE`` below
  ``in_education_cutoff``) relative to the same group in the area's region (``k4``);
* **NW** share of residents who are non-western immigrants or descendants (``nw``), from the
  ``origin`` values or from OPR_LAND and IE_TYPE (:mod:`evalkit.domain.origin`).

Ages are ``AAR - FOED_AAR``. Every share comes with the number of persons in its
denominator (``n_*``) so reports can suppress small cells. The averaging windows and the
list-year mapping belong to the rule engine (:mod:`evalkit.domain.rules`).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain._common import (_plain, check_frame, check_number, check_numeric_columns, check_positive_int,
                                    check_year_column, with_plain_ids)
from evalkit.domain.origin import nonwestern_sql, origin_unknown_sql
from evalkit.domain.register import RegisterConfig, load_register_config
from evalkit.domain.register_files import open_register, read_areas
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError, closest
from evalkit.core.aliases import checked

AREA_COLUMNS = [
    "OMR_ID", "AAR", "REGION", "residents", "n_18_64", "k1_fte", "k1_headcount", "n_18plus", "k2",
    "n_30_59", "n_30_59_known", "k3_unknown_basic", "k3_unknown_excluded", "k3_unknown_not_basic",
    "n_taxpayers_15_64", "income_mean", "region_income_mean", "k4", "nw",
]
NATIONAL_COLUMNS = ["AAR", "n_18plus", "conviction_share", "n_persons", "n_without_region"]
REGIONAL_COLUMNS = ["REGION", "AAR", "n_taxpayers_15_64", "income_mean"]


_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def check_engine_options(memory_limit, threads) -> None:
    """DuckDB options: ``memory_limit`` such as ``"6GB"`` or ``"500MB"`` (or None), ``threads`` >= 1 (or None)."""
    if memory_limit is not None and (not isinstance(memory_limit, str) or not _MEMORY.match(memory_limit)):
        raise ParameterError(f"memory_limit={memory_limit!r} must be an amount with a unit, e.g. '6GB' or '500MB'.")
    if threads is not None:
        check_positive_int("threads", threads, minimum=1, maximum=1024)


def _in_values(expr: str, values: tuple) -> str:
    """SQL test that ``expr`` is one of ``values`` (numbers compared as numbers)."""
    if not values:
        return "FALSE"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return f"TRY_CAST({expr} AS DOUBLE) IN ({', '.join(repr(float(v)) for v in values)})"
    quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
    return f"CAST({expr} AS VARCHAR) IN ({quoted})"


def _taxpayer(in_education_cutoff: float) -> str:
    return (f"age BETWEEN 15 AND 64 AND PERINDKIALT IS NOT NULL "
            f"AND coalesce(UDD_FTE, 0) < {float(in_education_cutoff)!r}")


def area_sql(relation: str, config: RegisterConfig, *, in_education_cutoff: float, k1_headcount_cutoff: float) -> str:
    """SQL: one row per (area, year) with the counts and shares behind K1-K4 and NW."""
    basic = _in_values("HFAUDD", config.basic_education_values)
    unknown = f"(HFAUDD IS NULL OR {_in_values('HFAUDD', config.unknown_education_values)})"
    convicted = "CASE WHEN coalesce(DOMFAELDT, 0) > 0 THEN 1.0 ELSE 0.0 END"
    return f"""
    WITH p AS (SELECT *, AAR - FOED_AAR AS age FROM {relation} WHERE OMR_ID IS NOT NULL)
    SELECT OMR_ID, AAR, count(*) AS n_rows, count(DISTINCT PERSON_ID) AS residents,
      count(DISTINCT REGION) AS n_regions, min(REGION) AS person_region,
      count(*) FILTER (REGION IS NULL) AS n_no_region,
      count(UDENFOR_FTE) FILTER (age BETWEEN 18 AND 64) AS n_18_64,
      count(*) FILTER (age BETWEEN 18 AND 64 AND UDENFOR_FTE IS NULL) AS n_18_64_no_status,
      avg(UDENFOR_FTE) FILTER (age BETWEEN 18 AND 64) AS k1_fte,
      avg(CASE WHEN UDENFOR_FTE > {float(k1_headcount_cutoff)!r} THEN 1.0 ELSE 0.0 END)
        FILTER (age BETWEEN 18 AND 64 AND UDENFOR_FTE IS NOT NULL) AS k1_headcount,
      count(*) FILTER (age >= 18) AS n_18plus,
      avg({convicted}) FILTER (age >= 18) AS k2,
      count(*) FILTER (age BETWEEN 30 AND 59) AS n_30_59,
      count(*) FILTER (age BETWEEN 30 AND 59 AND {basic} AND NOT {unknown}) AS n_basic_30_59,
      count(*) FILTER (age BETWEEN 30 AND 59 AND {unknown}) AS n_unknown_30_59,
      count(*) FILTER ({_taxpayer(in_education_cutoff)}) AS n_taxpayers_15_64,
      avg(PERINDKIALT) FILTER ({_taxpayer(in_education_cutoff)}) AS income_mean,
      avg(CASE WHEN {nonwestern_sql(config, _in_values)} THEN 1.0 ELSE 0.0 END) AS nw,
      count(*) FILTER ({origin_unknown_sql(config)}) AS n_origin_unknown
    FROM p GROUP BY OMR_ID, AAR ORDER BY OMR_ID, AAR
    """


def reference_sql(relation: str, *, in_education_cutoff: float) -> str:
    """SQL: national conviction share per year and regional income per (region, year), one scan."""
    return f"""
    WITH p AS (SELECT AAR, REGION, AAR - FOED_AAR AS age, PERINDKIALT, UDD_FTE, DOMFAELDT FROM {relation})
    SELECT AAR, REGION, GROUPING(REGION) AS is_national, count(*) AS n_persons,
      count(*) FILTER (REGION IS NULL) AS n_without_region,
      count(*) FILTER (age >= 18) AS n_18plus,
      avg(CASE WHEN coalesce(DOMFAELDT, 0) > 0 THEN 1.0 ELSE 0.0 END) FILTER (age >= 18) AS conviction_share,
      count(*) FILTER ({_taxpayer(in_education_cutoff)}) AS n_taxpayers_15_64,
      avg(PERINDKIALT) FILTER ({_taxpayer(in_education_cutoff)}) AS income_mean
    FROM p GROUP BY GROUPING SETS ((AAR, REGION), (AAR)) ORDER BY AAR, REGION
    """


def area_regions(raw: pd.DataFrame, areas: pd.DataFrame | None) -> pd.Series:
    """Region per area-year row: from the areas table when given, else from the residents."""
    if areas is not None:
        table = areas.dropna(subset=["REGION"]).drop_duplicates("OMR_ID").set_index("OMR_ID")["REGION"]
        region = raw["OMR_ID"].map(table)
        where = "has no REGION in the areas table (configuration keys areas_file, area, region)"
    else:
        if (raw["n_regions"] > 1).any():
            bad = raw.loc[raw["n_regions"] > 1, ["OMR_ID", "AAR"]].iloc[0].tolist()
            raise ValidationError(f"an area must lie in one region per year; (OMR_ID, AAR)={bad} has residents "
                                  "in several regions. Give an areas table (configuration key areas_file).")
        region = raw["person_region"].where(raw["n_no_region"] == 0)
        where = "has residents without a region (configuration key region)"
    if region.isna().any():
        bad = sorted(raw.loc[region.isna(), "OMR_ID"].unique().tolist())
        raise ValidationError(f"area(s) {bad[:10]} without a region: OMR_ID {bad[0]} {where}. "
                              "K4 compares an area's income with its region, so every area needs one.")
    return region.astype("int64")


def assemble(raw: pd.DataFrame, refs: pd.DataFrame, areas: pd.DataFrame | None) -> tuple[pd.DataFrame, ...]:
    """Pure: the aggregated SQL rows -> (area_years, regional, national) tidy frames."""
    dup = raw["n_rows"] != raw["residents"]
    if dup.any():
        bad = raw.loc[dup, ["OMR_ID", "AAR"]].iloc[0].tolist()
        raise ValidationError(f"a person occurs more than once in (OMR_ID, AAR)={bad}; "
                              "(person_id, year) must be unique in the register.")
    out = raw.copy()
    out["REGION"] = area_regions(raw, areas)
    known = out["n_30_59"] - out["n_unknown_30_59"]
    out["n_30_59_known"] = known
    out["k3_unknown_basic"] = (out["n_basic_30_59"] + out["n_unknown_30_59"]) / out["n_30_59"].replace(0, np.nan)
    out["k3_unknown_excluded"] = out["n_basic_30_59"] / known.replace(0, np.nan)
    out["k3_unknown_not_basic"] = out["n_basic_30_59"] / out["n_30_59"].replace(0, np.nan)
    regional = refs.loc[refs["is_national"] == 0].dropna(subset=["REGION"])[REGIONAL_COLUMNS]
    regional = regional.astype({"REGION": "int64", "AAR": "int64"}).reset_index(drop=True)
    reg = regional.rename(columns={"income_mean": "region_income_mean"})[["REGION", "AAR", "region_income_mean"]]
    out = out.merge(reg, on=["REGION", "AAR"], how="left", validate="many_to_one")
    out["k4"] = out["income_mean"] / out["region_income_mean"]
    national = refs.loc[refs["is_national"] == 1, NATIONAL_COLUMNS].astype({"AAR": "int64"}).reset_index(drop=True)
    area_years = out[AREA_COLUMNS].astype({"OMR_ID": "int64", "AAR": "int64"})
    return area_years.sort_values(["OMR_ID", "AAR"], ignore_index=True), regional, national


def warn_gaps(raw: pd.DataFrame) -> None:
    """Warn when area residents are left out of K1 (no labour-market status) or have no country of origin."""
    no_status, unknown = int(raw["n_18_64_no_status"].sum()), int(raw["n_origin_unknown"].sum())
    if no_status:
        warnings.warn(f"{no_status} area person-years aged 18-64 have no labour-market status (outside_fte null, "
                      "e.g. no RAS/AKM row) and are left out of K1 and its denominator n_18_64.",
                      EvalkitWarning, stacklevel=stack_level())
    if unknown:
        warnings.warn(f"{unknown} area person-years are immigrants or descendants (IE_TYPE 2, 3) without a "
                      "country of origin (OPR_LAND null); NW counts them as not non-western.",
                      EvalkitWarning, stacklevel=stack_level())


@checked_init
@immutable_value
@dataclass(frozen=True)
class AreaIndicators:
    """K1-K4 and NW per area and year, with the national and regional references.

    Made by :func:`area_indicators`, or from stored frames by :meth:`from_frames`; the input
    of :func:`compute_lists`.

    Attributes
    ----------
    area_years : pandas.DataFrame
        One row per area and year with :data:`AREA_COLUMNS` (indicators and their
        denominators ``n_*``).
    national : pandas.DataFrame
        The national conviction share per year (K2 reference).
    regional : pandas.DataFrame
        The regional income per region and year (K4 reference).
    params : dict
        The settings the indicators were computed with (cutoffs, configuration).
    """

    area_years: pd.DataFrame
    national: pd.DataFrame
    regional: pd.DataFrame
    params: dict = field(default_factory=dict)

    @classmethod
    def from_frames(cls, area_years: pd.DataFrame, national: pd.DataFrame,
                    regional: pd.DataFrame | None = None, params: dict | None = None) -> AreaIndicators:
        """Wrap hand-made or stored frames as :class:`AreaIndicators`.

        The frames are copied and checked: columns, one row per area and year, whole years,
        numeric finite indicator columns; area ids as whole numbers or text.

        Parameters
        ----------
        area_years : pandas.DataFrame
            One row per (OMR_ID, AAR) with at least OMR_ID, AAR and residents, and indicator
            columns of :data:`AREA_COLUMNS`.
        national : pandas.DataFrame
            One row per year (AAR) with conviction_share in [0, 1].
        regional : pandas.DataFrame, optional
            Regional income per REGION and AAR; None: empty.
        params : dict, optional
            Settings to record; None: empty.

        Returns
        -------
        AreaIndicators
            The wrapped frames.

        Raises
        ------
        ColumnError
            A required column is missing.
        ParameterError
            ``params`` that is not a dict, or frames that are not DataFrames.
        ValidationError
            Duplicate (OMR_ID, AAR) or national years, non-whole years, or non-numeric or
            out-of-range indicator values.
        """
        for frame, cols, what in ((area_years, ["OMR_ID", "AAR", "residents"], "area_years"),
                                  (national, ["AAR", "conviction_share"], "national")):
            check_frame(frame, what)
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise ColumnError(f"{what} lacks column(s) {missing}; see evalkit.domain.indicators.AREA_COLUMNS."
                                  + closest(missing[0], [str(c) for c in frame.columns]))
            check_year_column(frame, "AAR", what)
        if regional is not None:
            check_frame(regional, "regional", allow_empty=True)
        if params is not None and not isinstance(params, dict):
            raise ParameterError(f"params must be a dict or None, got {type(params).__name__}.")
        area_years = with_plain_ids(area_years, "OMR_ID", "area_years")
        if area_years.duplicated(["OMR_ID", "AAR"]).any():
            bad = area_years.loc[area_years.duplicated(["OMR_ID", "AAR"]), ["OMR_ID", "AAR"]].iloc[0].tolist()
            raise ValidationError(f"area_years must hold one row per (OMR_ID, AAR); {bad} occurs twice.")
        if national.duplicated(["AAR"]).any():
            raise ValidationError("national must hold one row per year (AAR); "
                                  f"{_plain(national.loc[national.duplicated(['AAR']), 'AAR'].iloc[0])!r} occurs twice.")
        numeric = [c for c in AREA_COLUMNS if c in area_years.columns and c not in ("OMR_ID", "AAR", "REGION")]
        check_numeric_columns(area_years, numeric, "area_years")
        check_numeric_columns(area_years, ["residents"], "area_years", allow_missing=False, low=0)
        check_numeric_columns(national, ["conviction_share"], "national", low=0, high=1)
        regional = regional if regional is not None else pd.DataFrame(columns=REGIONAL_COLUMNS)
        return cls(area_years.copy(), national.copy(), regional.copy(), dict(params or {}))

    @property
    def years(self) -> tuple[int, ...]:
        """The years (AAR) in the indicators, sorted.
        """
        return tuple(sorted(int(y) for y in self.area_years["AAR"].unique()))

    def _repr_html_(self) -> str:
        head = (f"<p><b>AreaIndicators</b>: {self.area_years['OMR_ID'].nunique()} areas, "
                f"years {self.years[0]}-{self.years[-1]}; area aggregates with denominators n_*</p>")
        cols = ["AAR", "residents", "k1_fte", "k2", "k3_unknown_basic", "k4", "nw"]
        cols = [c for c in cols if c in self.area_years]
        return head + self.area_years[cols].groupby("AAR").mean().round(3).to_html()


@checked
def area_indicators(
    data: str | Path, *, config: RegisterConfig | dict | str | Path | None = None,
    in_education_cutoff: float = 0.5, k1_headcount_cutoff: float = 0.5,
    memory_limit: str | None = None, threads: int | None = None,
) -> AreaIndicators:
    """The official area indicators K1-K4 and NW for every area and year, from register files.

    Computed in DuckDB, out of core (nothing is loaded person by person into pandas), with the
    definitions of almenboligloven § 61 a, stk. 1 and § 61 b: K1 share of residents 18-64
    outside labour market and education (full-time persons and headcount), K2 share of
    residents 18+ convicted, K3 share of residents 30-59 with only basic schooling, K4 mean
    gross income relative to the region, NW share of non-western immigrants and descendants.
    Every share comes with its denominator (``n_*``) for small-cell suppression. The input of
    :func:`compute_lists`.

    Parameters
    ----------
    data : str or pathlib.Path
        Folder (or file) of the register files.
    config : RegisterConfig, dict, str or pathlib.Path, optional
        Maps register variables to columns: a :class:`RegisterConfig`, a dict or a YAML file
        (see :func:`load_register_config`). None: the simulator's names.
    in_education_cutoff : float, default 0.5
        A person counts as in education (left out of K4) when ``UDD_FTE`` is at least this
        share of the year; in [0, 1].
    k1_headcount_cutoff : float, default 0.5
        A person counts as outside (K1 headcount, the rule before 2018) when ``UDENFOR_FTE``
        exceeds this share of the year; in [0, 1] (evalkit's documented choice).
    memory_limit : str, optional
        DuckDB memory limit such as "4GB" (DuckDB spills to disk beyond it); None: DuckDB's
        default.
    threads : int, optional
        DuckDB worker threads; None: DuckDB's default (all cores).

    Returns
    -------
    AreaIndicators
        The indicators per area and year with the national (K2) and regional (K4) references.

    Raises
    ------
    ParameterError
        A ``data`` that is not a path, cutoffs outside [0, 1], a malformed ``memory_limit``
        or ``threads``, or a bad ``config``.
    ValidationError
        Register files that cannot be read, or no person-year with an area.

    References
    ----------
    Lov om almene boliger m.v. (almenboligloven), § 61 a and § 61 b.
    """
    if not isinstance(data, (str, Path)) or not str(data):
        raise ParameterError(f"data={data!r} must be a folder or file path (str or Path).")
    for name, value in (("in_education_cutoff", in_education_cutoff), ("k1_headcount_cutoff", k1_headcount_cutoff)):
        check_number(name, value, low=0.0, high=1.0)
    check_engine_options(memory_limit, threads)
    config = load_register_config(config)
    try:
        con, relation = open_register(data, config, memory_limit=memory_limit, threads=threads)
        try:
            raw = con.execute(area_sql(relation, config, in_education_cutoff=in_education_cutoff,
                                       k1_headcount_cutoff=k1_headcount_cutoff)).df()
            refs = con.execute(reference_sql(relation, in_education_cutoff=in_education_cutoff)).df()
        finally:
            con.close()
    except duckdb.Error as exc:  # unreadable files, text in a numeric column: the data, not evalkit
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(f"the register files under data={str(data)!r} cannot be read: {first} "
                              "(check the files and the register configuration).") from None
    if raw.empty:
        raise ValidationError(f"no person-year in {str(data)!r} has an area ({config.area!r} is null everywhere).")
    warn_gaps(raw)
    area_years, regional, national = assemble(raw, refs, read_areas(data, config))
    params = {"in_education_cutoff": in_education_cutoff, "k1_headcount_cutoff": k1_headcount_cutoff,
              "source": str(data)}
    return AreaIndicators(area_years, national, regional, params)
