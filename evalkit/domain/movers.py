"""Movers vs stayers: an area's change in an indicator split into stayers, in-movers and out-movers.

The accounting identity
-----------------------
Let the indicator be a mean over the persons of an area's population (e.g. the
employment rate = mean full-time employment of residents 18-64). Between year ``t0`` and
``t1`` the population splits into three groups:

* **stayers** S: in the area's population in both years (same area both years);
* **out-movers** O: in the population in ``t0`` only;
* **in-movers** I: in the population in ``t1`` only.

With group means ``y_S0, y_S1, y_O0, y_I1`` and the shares ``o0 = N_O / N_0`` (out-movers'
share of the ``t0`` population) and ``i1 = N_I / N_1`` (in-movers' share of the ``t1``
population), the change ``Y_1 - Y_0`` is **exactly**

    Y_1 - Y_0 = (y_S1 - y_S0)            stayers' change
              + i1 (y_I1 - y_S1)          in-movers' contribution
              - o0 (y_O0 - y_S0)          out-movers' contribution

because ``Y_0 = (1 - o0) y_S0 + o0 y_O0`` and ``Y_1 = (1 - i1) y_S1 + i1 y_I1``. This is
the entry/exit decomposition of Melitz & Polanec (2015), "Dynamic Olley-Pakes productivity
decomposition with entry and exit", *RAND Journal of Economics* 46(2), 362-375 (eq. 5),
with persons in place of firms and equal weights (so their within-survivor covariance
term is zero). In-movers raise the rate when they differ from the stayers at ``t1``;
out-movers raise it when they were below the stayers at ``t0``.

"Moving" here means entering or leaving the indicator's population in the area: besides
moves it includes deaths, leaving the data and ageing into or out of the age window; the
counts of those who aged in or out are reported separately (``n_in_aged``, ``n_out_aged``).
A person who moves between two areas of the same pooled group is an out-mover of the one
and an in-mover of the other (stayer means same area both years).
The numbers are computed in DuckDB from person-year microdata.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain._common import (_plain, check_frame, check_numeric_columns, check_year, frame_html, id_kind,
                                    require_columns, with_plain_ids)
from evalkit.errors import ParameterError, ValidationError, check_choice
from evalkit.core.aliases import checked

#: indicator -> (person-level SQL expression, age window) matching ``AREA_INDICATORS``.
PERSON_INDICATORS: dict[str, tuple[str, tuple[int, int]]] = {
    "employment_rate": ("BESK_FTE", (18, 64)),
    "k1_share": ("UDENFOR_FTE", (18, 64)),
    "conviction_share": ("DOMFAELDT", (18, 200)),
    "nonwestern_share": ("CASE WHEN HERKOMST = 'ikke_vestlig' THEN 1.0 ELSE 0.0 END", (0, 200)),
}
GROUPS = ("stayers", "in_movers", "out_movers")
PART_COLUMNS = ["group", "year0", "year1", "value0", "value1", "total_change", "stayers_change",
                "in_movers_contribution", "out_movers_contribution", "n0", "n1", "n_stayers",
                "n_in", "n_out", "n_in_aged", "n_out_aged", "share_stayers0", "share_in1", "share_out0",
                "mean_stayers0", "mean_stayers1", "mean_in1", "mean_out0"]


def decomposition_sql(relation: str, indicator: str, year0: int, year1: int, groups: str | None) -> str:
    """SQL: per group, counts and means of stayers, in-movers and out-movers (see module docstring).

    ``groups`` is a relation ``(OMR_ID, grp)`` mapping areas to pooled groups, or None (group = area).
    """
    expr, (lo, hi) = PERSON_INDICATORS[indicator]
    age = "(AAR - FOED_AAR)"
    grp = "g.grp" if groups else "CAST(p.OMR_ID AS VARCHAR)"
    join = f"JOIN {groups} g ON g.OMR_ID = p.OMR_ID" if groups else ""
    pop = f"""SELECT p.PERSON_ID, p.OMR_ID, {grp} AS grp, CAST({expr} AS DOUBLE) AS y,
              {age} AS age FROM {relation} p {join}
              WHERE p.OMR_ID IS NOT NULL AND p.AAR = {{year}} AND {age} BETWEEN {lo} AND {hi}"""
    return f"""
    WITH a AS ({pop.format(year=int(year0))}), b AS ({pop.format(year=int(year1))}),
    j AS (
      SELECT coalesce(a.grp, b.grp) AS grp, a.PERSON_ID IS NOT NULL AS in0, b.PERSON_ID IS NOT NULL AS in1,
             a.y AS y0, b.y AS y1, a.age AS age0, b.age AS age1
      FROM a FULL OUTER JOIN b ON a.PERSON_ID = b.PERSON_ID AND a.OMR_ID = b.OMR_ID
    )
    SELECT grp AS "group",
      count(*) FILTER (in0) AS n0, count(*) FILTER (in1) AS n1,
      count(*) FILTER (in0 AND in1) AS n_stayers, count(*) FILTER (in1 AND NOT in0) AS n_in,
      count(*) FILTER (in0 AND NOT in1) AS n_out,
      count(*) FILTER (in1 AND NOT in0 AND age1 - {int(year1) - int(year0)} < {lo}) AS n_in_aged,
      count(*) FILTER (in0 AND NOT in1 AND age0 + {int(year1) - int(year0)} > {hi}) AS n_out_aged,
      avg(y0) FILTER (in0) AS value0, avg(y1) FILTER (in1) AS value1,
      avg(y0) FILTER (in0 AND in1) AS mean_stayers0, avg(y1) FILTER (in0 AND in1) AS mean_stayers1,
      avg(y1) FILTER (in1 AND NOT in0) AS mean_in1, avg(y0) FILTER (in0 AND NOT in1) AS mean_out0
    FROM j GROUP BY 1 ORDER BY 1
    """


def decomposition_parts(counts: pd.DataFrame) -> pd.DataFrame:
    """Apply the identity to group counts and means (pure; one row per group).

    Groups without stayers cannot be split (the stayers' change is undefined): their parts
    are NaN, the total change is kept, and nothing is dropped.
    """
    need = ["group", "year0", "year1", "n0", "n1", "n_stayers", "n_in", "n_out", "n_in_aged", "n_out_aged", "value0",
            "value1", "mean_stayers0", "mean_stayers1", "mean_in1", "mean_out0"]
    require_columns(counts, need, "counts", allow_empty=True)
    check_numeric_columns(counts, [c for c in need if c.startswith("n")], "counts", allow_missing=False, low=0)
    check_numeric_columns(counts, [c for c in need if c.startswith(("value", "mean"))], "counts")
    c = counts.copy()
    c["share_stayers0"] = c["n_stayers"] / c["n0"]
    c["share_in1"] = c["n_in"] / c["n1"]
    c["share_out0"] = c["n_out"] / c["n0"]
    c["total_change"] = c["value1"] - c["value0"]
    c["stayers_change"] = c["mean_stayers1"] - c["mean_stayers0"]
    c["in_movers_contribution"] = np.where(c["n_in"] > 0, c["share_in1"] * (c["mean_in1"] - c["mean_stayers1"]), 0.0)
    c["out_movers_contribution"] = np.where(c["n_out"] > 0, -c["share_out0"] * (c["mean_out0"] - c["mean_stayers0"]), 0.0)
    none = c["n_stayers"] == 0
    c.loc[none, ["stayers_change", "in_movers_contribution", "out_movers_contribution"]] = np.nan
    return c[PART_COLUMNS].reset_index(drop=True)


@checked_init
@immutable_value
@dataclass(frozen=True)
class Decomposition:
    """Movers/stayers decomposition from :func:`decompose_change`.

    Person counts are raw (use :func:`evalkit.report.domain_sections` helpers, which pass
    :func:`evalkit.report.disclosure.safe_table`, to show them).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per area or group with :data:`PART_COLUMNS` (levels value0/value1,
        total_change, stayers_change, in_movers_contribution, out_movers_contribution and the
        counts).
    indicator : str
        The decomposed indicator.
    year0 : int
        The first year.
    year1 : int
        The second year.
    """

    table: pd.DataFrame
    indicator: str
    year0: int
    year1: int

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the table (one row per area or group).

        Returns
        -------
        pandas.DataFrame
            The columns of :data:`PART_COLUMNS`.
        """
        return self.table.copy(deep=True)

    def long(self) -> pd.DataFrame:
        """The decomposition in long format: the three parts and the total per group.

        Returns
        -------
        pandas.DataFrame
            Columns group, part (stayers_change, in_movers_contribution,
            out_movers_contribution, total_change) and value.
        """
        parts = ["stayers_change", "in_movers_contribution", "out_movers_contribution", "total_change"]
        return self.table.melt(id_vars="group", value_vars=parts, var_name="part", value_name="value")

    def _repr_html_(self) -> str:
        return frame_html(f"Movers/stayers decomposition of {self.indicator}, {self.year0}-{self.year1}",
                          self.table)


def _check(md, indicator: str, year0, year1) -> tuple[int, int]:
    check_choice("indicator", indicator, list(PERSON_INDICATORS))
    year0, year1 = check_year("year0", year0), check_year("year1", year1)
    for name, year in (("year0", year0), ("year1", year1)):
        if year not in md.years:
            raise ParameterError(f"{name}={year!r} is outside the data years {md.years[0]}-{md.years[-1]}.")
    if year0 >= year1:
        raise ParameterError(f"year0={year0} must be before year1={year1}.")
    return year0, year1


def _data_ids_are_text(md) -> bool:
    """Whether the microdata hold area ids as text (the data contract has numbers)."""
    described = {row[0]: row[1] for row in md.con.execute(f"DESCRIBE SELECT OMR_ID FROM {md.relation}").fetchall()}
    return str(described.get("OMR_ID", "")).upper() == "VARCHAR"


def _check_groups(groups, text_ids: bool) -> pd.DataFrame:
    """``OMR_ID, group`` with one group per area, ids of the microdata's kind; groups as text."""
    require_columns(groups, ["OMR_ID", "group"], "groups")
    out = with_plain_ids(groups[["OMR_ID", "group"]], "OMR_ID", "groups")
    if out["OMR_ID"].duplicated().any():
        raise ParameterError("groups lists an area twice; give each OMR_ID one group.")
    if out["group"].isna().any():
        raise ValidationError(f"groups has {int(out['group'].isna().sum())} area(s) without a group; "
                              "give every listed area a group (or leave the area out).")
    if (id_kind(out["OMR_ID"]) == "text") != text_ids:
        data_kind = "text" if text_ids else "number"
        raise ValidationError(f"groups holds {id_kind(out['OMR_ID'])} area ids (e.g. {_plain(out['OMR_ID'].iloc[0])!r}) "
                              f"but the microdata hold {data_kind} ids; give area ids of the microdata's type.")
    return out.rename(columns={"group": "grp"}).astype({"grp": "str"})


@checked
def decompose_change(source, indicator: str, year0: int, year1: int, *,
                     groups: pd.DataFrame | None = None) -> Decomposition:
    """Split each area's (or pooled group's) change in an indicator into stayers, in-movers and out-movers.

    Y_1 - Y_0 = (y_S1 - y_S0) + i1 (y_I1 - y_S1) - o0 (y_O0 - y_S0): the stayers' change, the
    in-movers' contribution and the out-movers' contribution, with i1 the in-movers' share of
    the ``year1`` population and o0 the out-movers' share of the ``year0`` population (the
    entry/exit decomposition of Melitz & Polanec 2015, with persons in place of firms). The
    parts add up to ``total_change`` exactly (up to float rounding). It tells how much of an
    area's change is composition (who lives there) rather than change in the same persons.
    "Moving" includes deaths, leaving the data and ageing into or out of the age window
    (reported separately as ``n_in_aged``/``n_out_aged``). Computed in DuckDB.

    Parameters
    ----------
    source : Microdata, str, pathlib.Path or pandas.DataFrame
        A :class:`Microdata`, a data folder or a person-year DataFrame
        (``docs/data_contract.md`` columns).
    indicator : {"employment_rate", "k1_share", "conviction_share", "nonwestern_share"}
        The indicator, a mean over the area's population (ages 18-64, 18-64, 18+ and all,
        respectively).
    year0 : int
        The first year, among the data years.
    year1 : int
        The second year, after ``year0``.
    groups : pandas.DataFrame, optional
        ``OMR_ID, group`` table pooling areas (e.g. treated vs comparison); areas not in it are
        left out of the pools. None: one row per area.

    Returns
    -------
    Decomposition
        One row per area or group with the levels, the three parts, the total and the counts.

    Raises
    ------
    ParameterError
        A bad ``source``, an unknown ``indicator``, years outside the data or ``year0 >=
        year1``, or an area listed twice in ``groups``.
    ValidationError
        Areas in ``groups`` without a group, or area ids of another kind than the data's.

    References
    ----------
    Melitz, M. J. & Polanec, S. (2015). Dynamic Olley-Pakes productivity decomposition with
    entry and exit. *RAND Journal of Economics* 46(2), 362-375.
    """
    from evalkit.data.panels import Microdata, open_microdata

    if not isinstance(source, (Microdata, str, Path, pd.DataFrame)):
        raise ParameterError(f"source must be a Microdata, a data folder or a person-year DataFrame, "
                             f"got {type(source).__name__}.")
    if isinstance(source, pd.DataFrame):
        check_frame(source, "source")
    check_choice("indicator", indicator, list(PERSON_INDICATORS))
    check_year("year0", year0), check_year("year1", year1)
    md = source if isinstance(source, Microdata) else open_microdata(source)
    year0, year1 = _check(md, indicator, year0, year1)
    text_ids = _data_ids_are_text(md)
    rel = None
    if groups is not None:
        frame = _check_groups(groups, text_ids)
        rel = "_evalkit_groups"
        md.con.register(rel, frame)
    try:
        counts = md.con.execute(decomposition_sql(md.relation, indicator, year0, year1, rel)).df()
    finally:
        if rel:
            md.con.unregister(rel)
    if groups is None:
        counts["group"] = counts["group"].astype("str" if text_ids else "int64")
        counts = counts.sort_values("group")
    counts["year0"], counts["year1"] = year0, year1
    return Decomposition(table=decomposition_parts(counts), indicator=indicator, year0=year0, year1=year1)
