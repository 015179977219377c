"""The simulated truth for the estimation sample (only for simulated data with ``truth/``).

The simulator records the treated-world minus untreated-world outcome of every area-year
and person-year (common random numbers), so the true effect can be averaged over exactly
the observations an estimator uses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.report.advising import WEIGHT as AREA_WEIGHT

PERSON_OUTCOME = {"employment_rate": "BESK_FTE", "conviction_share": "DOMFAELDT", "k1_share": "UDENFOR_FTE"}


def area_effects(data_dir: str | Path, outcome: str) -> pd.DataFrame | None:
    """``OMR_ID, AAR, effect`` for an area indicator, or None when no truth is recorded."""
    path = Path(data_dir) / "truth" / "area_effects.parquet"
    if not path.is_file():
        return None
    effects = pd.read_parquet(path)
    effects = effects[effects["outcome"] == outcome]
    return None if effects.empty else effects[["OMR_ID", "AAR", "effect"]].reset_index(drop=True)


def person_effects(data_dir: str | Path, panel: pd.DataFrame, outcome: str) -> pd.Series | None:
    """Observed minus untreated-world outcome per row of a person panel (aligned to ``panel``); None
    when the simulation recorded no untreated-world value of the outcome (the file has no
    ``<column>_0``: e.g. the simulator keeps employment and convictions, not K1 status)."""
    path = Path(data_dir) / "truth" / "person_counterfactual.parquet"
    column = PERSON_OUTCOME.get(outcome)
    if column is None or not path.is_file() or f"{column}_0" not in _columns(path):
        return None
    untreated = _counterfactual(path, panel, f"{column}_0")
    observed = panel[column].reset_index(drop=True)
    return pd.Series((observed - untreated).to_numpy(), index=panel.index, name="effect")


def _columns(path: Path) -> list[str]:
    """The column names of a parquet file (its schema only; no rows are read)."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).names


def _counterfactual(path: Path, panel: pd.DataFrame, column: str) -> pd.Series:
    """``column`` of the counterfactual file for each row of ``panel`` (matched on PERSON_ID and
    AAR; NaN where the file has no row), on a RangeIndex in the panel's row order.

    A left join done in DuckDB: the file (every person-year of the simulation, millions of
    rows with text keys) is never read into pandas. As pandas' ``validate="one_to_one"`` did,
    a key occurring twice in the panel, or a panel row matching two rows of the file, is an
    error; missing matches give NaN with pandas' dtype rules (int columns become float64).
    """
    from evalkit.data.io import connect

    n = len(panel)
    keys = panel[["PERSON_ID", "AAR"]].reset_index(drop=True).assign(row_=np.arange(n, dtype=np.int64))
    source = "read_parquet('" + str(path).replace("'", "''") + "')"
    con = connect()
    try:
        con.register("_evalkit_panel_keys", keys)
        (repeated,) = con.execute("SELECT count(*) - count(DISTINCT (PERSON_ID, AAR)) FROM _evalkit_panel_keys"
                                  ).fetchone()
        if repeated:
            raise pd.errors.MergeError("Merge keys are not unique in left dataset; not a one-to-one merge")
        found = con.execute(f'SELECT k.row_, cf."{column}" AS value FROM _evalkit_panel_keys k '
                            f"JOIN {source} cf USING (PERSON_ID, AAR)").df()
    finally:
        con.close()
    rows = found["row_"].to_numpy()
    if rows.size and np.bincount(rows, minlength=n).max() > 1:
        raise pd.errors.MergeError("Merge keys are not unique in right dataset; not a one-to-one merge")
    values = pd.Series(found["value"].to_numpy(), index=rows)
    if rows.size == n:  # every row matched: the file's dtype, as in the merge
        return values.sort_index().reset_index(drop=True)
    return values.reindex(pd.RangeIndex(n))


def binned_event_time(cohort: pd.Series, time: pd.Series, leads: int, lags: int) -> pd.Series:
    """Event time of treated rows, binned at -leads and lags as in the event-study design."""
    return (time - cohort).clip(lower=-leads, upper=lags).where(cohort > 0)


def truth_by_event_time(frame: pd.DataFrame, *, leads: int, lags: int) -> pd.Series:
    """Mean true effect of treated rows by (binned) event time; needs ``cohort, AAR, effect``."""
    e = binned_event_time(frame["cohort"], frame["AAR"], leads, lags)
    if AREA_WEIGHT in frame:  # the area estimates weight areas by residents: so does their truth
        w = frame[AREA_WEIGHT].where(frame["effect"].notna())
        return ((frame["effect"] * w).groupby(e).sum(min_count=1) / w.groupby(e).sum()).rename("truth")
    return frame["effect"].groupby(e).mean().rename("truth")


def truth_att(frame: pd.DataFrame) -> float:
    """Mean true effect over treated post-period rows (the ATT a static TWFE targets)."""
    post = (frame["cohort"] > 0) & (frame["AAR"] >= frame["cohort"])
    if AREA_WEIGHT in frame:  # residents-weighted, as the area estimates
        rows = frame.loc[post & frame["effect"].notna()]
        return float(np.average(rows["effect"], weights=rows[AREA_WEIGHT])) if len(rows) else float("nan")
    return float(frame.loc[post, "effect"].mean())


def truth_post_average(by_event_time: pd.Series, lags: int) -> float:
    """Equal-weight mean of the truth over event times 0..lags (matches ``post_average``)."""
    return float(by_event_time.loc[[e for e in range(lags + 1) if e in by_event_time.index]].mean())
