"""Who moves in and who moves out: in-mover and out-mover composition per area and year (DuckDB).

Letting rules (fleksibel / kombineret udlejning, ``shared/domain.md``) change *who moves in*;
their stated aim is "a broader resident composition", measured on the in-movers, not on
who lives there. Definitions, for area A and year t (both years in the data):

* **in-movers** of (A, t): persons aged 18-64 in year t with ``OMR_ID = A`` in year t whose
  row of year t-1 has another area, no area, or is missing (arrivals from abroad or from
  outside the extract). Their status is that of year t, their first year in the area.
* **out-movers** of (A, t): persons aged 18-64 in year t-1 with ``OMR_ID = A`` in year t-1
  whose row of year t has another area or no area. Deaths and emigrations (no row in t)
  are not moves. Their status is that of year t-1, their last year in the area.
* ``*_emp_edu_share``: mean of ``min(BESK_FTE + UDD_FTE, 1)``, employment or education in
  full-time persons: the complement of K1 (almenboligloven § 61 a, stk. 1, nr. 1; from 2018
  counted in full-time persons). ``*_nonwestern_share``: share non-western immigrants and
  descendants (HERKOMST = 'ikke_vestlig'; NW in ``shared/domain.md``).

In the first data year (or after a gap) the previous year is unknown: counts and shares
are missing there. Disclosure control at the source (Statistics Denmark, ``shared/domain.md``):
a group of 1 to ``min_cell - 1`` persons has its count and shares blanked and its
``*_suppressed`` flag set; the row stays. The in-mover count is not a margin of the area
panel (births, deaths and ageing break ``residents_t = residents_t-1 - out + in``), so a
blank cannot be recovered by subtraction.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data.panels import EMP_EDU, tidy_types
from evalkit.errors import ParameterError

COMPOSITION_COLUMNS = ["n_in_movers", "in_emp_edu_share", "in_nonwestern_share", "in_movers_suppressed",
                       "n_out_movers", "out_emp_edu_share", "out_nonwestern_share", "out_movers_suppressed"]
SIDES = {"in": ("n_in_movers", "in_emp_edu_share", "in_nonwestern_share", "in_movers_suppressed"),
         "out": ("n_out_movers", "out_emp_edu_share", "out_nonwestern_share", "out_movers_suppressed")}
MIN_CELL_FLOOR = 3


def composition_sql(relation: str) -> str:
    """SQL: one row per area-year with the in- and out-movers' counts and shares (unsuppressed)."""
    age = "(AAR - FOED_AAR)"
    return f"""
    WITH p AS (SELECT PERSON_ID, AAR, OMR_ID, {age} AS age, {EMP_EDU} AS emp_edu,
                      CASE WHEN HERKOMST = 'ikke_vestlig' THEN 1.0 ELSE 0.0 END AS nw FROM {relation}),
    years AS (SELECT DISTINCT AAR FROM p),
    cells AS (SELECT DISTINCT OMR_ID, AAR, AAR - 1 IN (SELECT AAR FROM years) AS has_prev
              FROM p WHERE OMR_ID IS NOT NULL),
    ins AS (
      SELECT c.OMR_ID, c.AAR, count(DISTINCT c.PERSON_ID) AS n, avg(c.emp_edu) AS emp_edu, avg(c.nw) AS nw
      FROM p c LEFT JOIN p b ON b.PERSON_ID = c.PERSON_ID AND b.AAR = c.AAR - 1
      WHERE c.OMR_ID IS NOT NULL AND c.age BETWEEN 18 AND 64 AND b.OMR_ID IS DISTINCT FROM c.OMR_ID
      GROUP BY 1, 2),
    outs AS (
      SELECT b.OMR_ID, b.AAR + 1 AS AAR, count(DISTINCT b.PERSON_ID) AS n, avg(b.emp_edu) AS emp_edu,
             avg(b.nw) AS nw
      FROM p b JOIN p c ON c.PERSON_ID = b.PERSON_ID AND c.AAR = b.AAR + 1
      WHERE b.OMR_ID IS NOT NULL AND b.age BETWEEN 18 AND 64 AND c.OMR_ID IS DISTINCT FROM b.OMR_ID
      GROUP BY 1, 2),
    keys AS (SELECT OMR_ID, AAR, has_prev FROM cells
             UNION ALL SELECT o.OMR_ID, o.AAR, TRUE FROM outs o ANTI JOIN cells c USING (OMR_ID, AAR))
    SELECT k.OMR_ID, k.AAR,
      CASE WHEN k.has_prev THEN coalesce(i.n, 0) END AS n_in_movers,
      CASE WHEN k.has_prev THEN i.emp_edu END AS in_emp_edu_share,
      CASE WHEN k.has_prev THEN i.nw END AS in_nonwestern_share,
      CASE WHEN k.has_prev THEN coalesce(o.n, 0) END AS n_out_movers,
      o.emp_edu AS out_emp_edu_share, o.nw AS out_nonwestern_share
    FROM keys k LEFT JOIN ins i USING (OMR_ID, AAR) LEFT JOIN outs o USING (OMR_ID, AAR)
    ORDER BY k.OMR_ID, k.AAR
    """


def check_min_cell(min_cell) -> int:
    """The disclosure threshold: a whole number >= 3 (Statistics Denmark's floor; practice is 5)."""
    if isinstance(min_cell, (bool, np.bool_)) or not isinstance(min_cell, (int, np.integer)) \
            or min_cell < MIN_CELL_FLOOR:
        raise ParameterError(f"min_cell={min_cell!r} must be a whole number >= {MIN_CELL_FLOOR} "
                             "(Statistics Denmark's floor; common practice is 5).")
    return int(min_cell)


def suppress_small(frame: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """A copy of ``frame`` with mover groups of 1 to ``min_cell - 1`` persons blanked and flagged (pure)."""
    min_cell = check_min_cell(min_cell)
    out = frame.copy()
    for n_col, *shares, flag in SIDES.values():
        n = out[n_col].astype("float64")
        small = (n > 0) & (n < min_cell)
        out[flag] = small.to_numpy()
        out[n_col] = n.where(~small)
        for col in shares:
            out[col] = out[col].astype("float64").where(~small)
    return out[["OMR_ID", "AAR", *COMPOSITION_COLUMNS]]


def mover_composition(md, *, min_cell: int = 5) -> pd.DataFrame:
    """In- and out-mover composition per area-year of a :class:`~evalkit.data.panels.Microdata`,
    small groups suppressed at the source (see the module docstring)."""
    min_cell = check_min_cell(min_cell)
    raw = tidy_types(md.con.execute(composition_sql(md.relation)).df())
    return suppress_small(raw, min_cell)
