"""Interventions table -> treatment timing (cohorts) for the DiD estimators.

Cohort coding follows Callaway & Sant'Anna (2021): the cohort of an area is the
first year it is treated; never-treated areas have cohort 0.
"""
from __future__ import annotations

import pandas as pd

from evalkit.data.schemas import INTERVENTIONS, validate_frame
from evalkit.errors import ParameterError, check_choice

COMPARISONS = {
    "never_treated": "all areas never exposed to this intervention",
    "never_treated_no_other": "never-treated areas that received no other intervention either",
}


def treatment_cohorts(
    interventions: pd.DataFrame, areas: pd.Series | list, *, intervention: str,
    comparison: str = "never_treated",
) -> pd.DataFrame:
    """One row per area kept in the design: ``OMR_ID, cohort, role``.

    ``areas`` lists every area id in the panel. Areas excluded by ``comparison``
    are returned with ``role="excluded"`` so nothing disappears silently.
    """
    validate_frame(interventions, INTERVENTIONS)
    check_choice("comparison", comparison, list(COMPARISONS))
    known = sorted(interventions["intervention"].unique())
    check_choice("intervention", intervention, known)
    own = interventions[interventions["intervention"] == intervention]
    if own["OMR_ID"].duplicated().any():
        raise ParameterError(f"intervention {intervention!r} lists an area twice; give one start per area.")
    start = own.set_index("OMR_ID")["start_year"].astype(int)
    other = set(interventions.loc[interventions["intervention"] != intervention, "OMR_ID"])
    out = pd.DataFrame({"OMR_ID": pd.Series(areas).drop_duplicates().sort_values().to_numpy()})
    out["cohort"] = out["OMR_ID"].map(start).fillna(0).astype(int)
    out["role"] = "comparison"
    out.loc[out["cohort"] > 0, "role"] = "treated"
    if comparison == "never_treated_no_other":
        out.loc[(out["cohort"] == 0) & out["OMR_ID"].isin(other), "role"] = "excluded"
    return out


def attach_cohort(panel: pd.DataFrame, cohorts: pd.DataFrame, *, area: str = "OMR_ID") -> pd.DataFrame:
    """Return a copy of ``panel`` with ``cohort``, ``treated`` (ever) and ``treat`` (D_it),
    keeping only areas whose role is not ``excluded``; the time column is ``AAR``."""
    keep = cohorts.loc[cohorts["role"] != "excluded", ["OMR_ID", "cohort"]].rename(columns={"OMR_ID": area})
    out = panel.merge(keep, on=area, how="inner", validate="many_to_one")
    out["treated"] = (out["cohort"] > 0).astype(int)
    out["treat"] = ((out["cohort"] > 0) & (out["AAR"] >= out["cohort"])).astype(int)
    return out
