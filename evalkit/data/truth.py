"""Reading the true effects that :func:`evalkit.data.simulate.simulate` records.

- :func:`load_truth`: truth/truth.json (parameters, mean area effects by event time).
- :func:`area_truth`: the area-level estimand (repeated cross-section of residents),
  mean over an intervention's treated areas by event time.
- :func:`cohort_truth`: the cohort estimand (intention to treat): baseline residents of
  the treated areas followed wherever they move, observed minus untreated-world outcome.
"""
from __future__ import annotations

import json
from pathlib import Path

from evalkit.data.io import connect
import pandas as pd

from evalkit.core.checks import check_year
from evalkit.data._sim_params import LETTING, OUTREACH, POA
from evalkit.data._sim_truth import ALL_OUTCOMES
from evalkit.errors import ParameterError, check_choice

__all__ = ["load_truth", "area_truth", "cohort_truth", "INTERVENTIONS", "OUTCOMES"]
INTERVENTIONS = (OUTREACH, POA, LETTING)
#: every area outcome with a recorded truth: the area panel's (evalkit.data.outcomes.OUTCOMES) and tryghed
OUTCOMES = ALL_OUTCOMES
_PERSON_OUTCOMES = {"employment_rate": ("BESK_FTE", "BESK_FTE_0"),
                    "conviction_share": ("DOMFAELDT", "DOMFAELDT_0")}


def _dir(data_dir) -> Path:
    path = Path(data_dir)
    if not (path / "truth" / "truth.json").is_file():
        raise ParameterError(f"data_dir={str(path)!r} holds no truth/truth.json; is it a simulate output?")
    return path


def load_truth(data_dir) -> dict:
    """The content of truth/truth.json."""
    return json.loads((_dir(data_dir) / "truth" / "truth.json").read_text())


def _starts(path: Path, intervention: str) -> pd.DataFrame:
    iv = pd.read_csv(path / "interventions.csv")
    return iv.loc[iv["intervention"] == intervention, ["OMR_ID", "start_year"]]


def area_truth(data_dir, intervention: str, outcome: str) -> pd.DataFrame:
    """Mean area-level truth over the intervention's treated areas, by event time.

    Columns: event_time, n_areas, y_treated_world, y_untreated_world, effect (area-years
    without a value, e.g. movers in the first data year, are left out of the means).
    """
    check_choice("intervention", intervention, INTERVENTIONS)
    check_choice("outcome", outcome, OUTCOMES)
    path = _dir(data_dir)
    eff = pd.read_parquet(path / "truth" / "area_effects.parquet")
    eff = eff[(eff["outcome"] == outcome) & eff["effect"].notna()].merge(_starts(path, intervention), on="OMR_ID")
    eff["event_time"] = eff["AAR"].astype("int64") - eff["start_year"].astype("int64")
    out = eff.groupby("event_time", sort=True).agg(
        n_areas=("OMR_ID", "nunique"), y_treated_world=("y_treated_world", "mean"),
        y_untreated_world=("y_untreated_world", "mean"), effect=("effect", "mean"))
    return out.reset_index()


def _check_age_range(age_range) -> tuple[int, int]:
    try:
        lo, hi = (int(a) for a in age_range)
    except (TypeError, ValueError):
        raise ParameterError(f"age_range={age_range!r} must be a pair of integers (low, high).") from None
    if lo > hi or lo < 0:
        raise ParameterError(f"age_range={age_range!r} must satisfy 0 <= low <= high.")
    return lo, hi


def cohort_truth(data_dir, baseline_year: int, intervention: str, outcome: str,
                 age_range=(18, 64), by: str = "event_time") -> pd.DataFrame:
    """Cohort truth: residents of the treated areas in ``baseline_year`` followed over time.

    The cohort is everyone living in one of the intervention's areas in
    ``baseline_year`` and aged within ``age_range`` then. In each later (or earlier)
    year, members aged within ``age_range`` that year and present in both worlds
    contribute observed (treated-world) minus untreated-world outcome, wherever they
    live. Event time is the year minus the start year of the member's baseline area.
    Columns: event_time or AAR, n_persons, y_treated_world, y_untreated_world, effect.
    """
    check_choice("intervention", intervention, INTERVENTIONS)
    check_choice("outcome", outcome, list(_PERSON_OUTCOMES))
    check_choice("by", by, ["event_time", "AAR"])
    baseline_year = check_year("baseline_year", baseline_year)
    lo, hi = _check_age_range(age_range)
    path = _dir(data_dir)
    y1, y0 = _PERSON_OUTCOMES[outcome]
    group = "p.AAR - c.start_year" if by == "event_time" else "p.AAR"
    con = connect()
    try:
        con.register("starts", _starts(path, intervention))
        sql = f"""
        WITH py AS (SELECT * FROM read_parquet('{(path / 'person_years' / '*.parquet').as_posix()}')),
        cohort AS (
            SELECT py.PERSON_ID, s.start_year FROM py JOIN starts s ON py.OMR_ID = s.OMR_ID
            WHERE py.AAR = {int(baseline_year)} AND py.AAR - py.FOED_AAR BETWEEN {lo} AND {hi})
        SELECT {group} AS {by}, count(DISTINCT p.PERSON_ID) AS n_persons,
               avg(p.{y1}::DOUBLE) AS y_treated_world, avg(cf.{y0}::DOUBLE) AS y_untreated_world,
               avg(p.{y1}::DOUBLE - cf.{y0}::DOUBLE) AS effect
        FROM cohort c
        JOIN py p ON p.PERSON_ID = c.PERSON_ID
        JOIN read_parquet('{(path / 'truth' / 'person_counterfactual.parquet').as_posix()}') cf
          ON cf.PERSON_ID = p.PERSON_ID AND cf.AAR = p.AAR
        WHERE p.AAR - p.FOED_AAR BETWEEN {lo} AND {hi}
        GROUP BY 1 ORDER BY 1"""
        out = con.execute(sql).df()
    finally:
        con.close()
    if out.empty:
        raise ParameterError(f"baseline_year={baseline_year!r} gives an empty cohort for {intervention!r}.")
    out[by] = out[by].astype("int64")
    out["n_persons"] = out["n_persons"].astype("int64")
    return out
