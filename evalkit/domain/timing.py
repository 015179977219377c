"""Interventions table -> treatment timing (cohorts) for the DiD estimators.

Cohort coding follows Callaway & Sant'Anna (2021): the cohort of an area is the
first year it is treated; never-treated areas have cohort 0. Area ids may be whole
numbers, text or categorical (:func:`evalkit.domain._common.area_ids`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.data.schemas import INTERVENTIONS, validate_frame
from evalkit.domain._common import (_plain, area_ids, check_frame, check_numeric_columns, check_same_ids, check_str,
                                    check_year_column, require_columns, restore_ids, show_ids, sorted_ids, warn_dropped)
from evalkit.domain.pools import check_cohorts
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError, check_choice
from evalkit.core.aliases import checked

COMPARISONS = {
    "never_treated": "all areas never exposed to this intervention",
    "never_treated_no_other": "never-treated areas that received no other intervention either",
}
#: the interventions schema with area ids of any kind (numbers or text; checked by area_ids) and without the
#: optional budget column (``validate_frame`` would require every schema column; it is checked below when present)
_INTERVENTIONS = INTERVENTIONS.update_column("OMR_ID", checks=[]).remove_columns(["budget_dkk"])
ADDED = ("cohort", "treated", "treat")


@checked
def treatment_cohorts(
    interventions: pd.DataFrame, areas, *, intervention: str,
    comparison: str = "never_treated",
) -> pd.DataFrame:
    """One row per area kept in the design: ``OMR_ID, cohort, role``.

    ``areas`` lists every area id in the panel (repeats are fine); the ids come back in
    its type. Areas excluded by ``comparison`` are returned with ``role="excluded"`` so
    nothing disappears silently; intervention areas missing from ``areas`` are left out
    with an :class:`~evalkit.errors.EvalkitWarning`.
    """
    check_frame(interventions, "interventions")
    validate_frame(interventions, _INTERVENTIONS)
    check_year_column(interventions, "start_year", "interventions")
    if "budget_dkk" in interventions.columns:
        check_numeric_columns(interventions, ["budget_dkk"], "interventions", low=0)
    iv = interventions.assign(OMR_ID=area_ids(interventions["OMR_ID"], "interventions column 'OMR_ID'").to_numpy())
    check_str("intervention", intervention)
    check_choice("comparison", comparison, list(COMPARISONS))
    known = sorted(iv["intervention"].unique())
    check_choice("intervention", intervention, known)
    ids_in = area_ids(areas, "areas")
    check_same_ids(iv["OMR_ID"], "interventions", ids_in, "areas")
    own = iv[iv["intervention"] == intervention]
    if own["OMR_ID"].duplicated().any():
        twice = own.loc[own["OMR_ID"].duplicated(), "OMR_ID"].iloc[0]
        raise ParameterError(f"intervention {intervention!r} lists area {_plain(twice)!r} twice; give one start per "
                             "area.")
    ids = sorted_ids(ids_in)
    outside = sorted(set(own["OMR_ID"]) - set(ids))
    if outside:
        warnings.warn(f"treatment_cohorts: intervention {intervention!r} lists {len(outside)} area(s) that are not in "
                      f"areas, left out of the design: {show_ids(outside)}.", EvalkitWarning, stacklevel=2)
    start = pd.Series(own["start_year"].to_numpy(dtype="int64"), index=own["OMR_ID"].to_numpy())
    other = set(iv.loc[iv["intervention"] != intervention, "OMR_ID"])
    cohort = pd.Series(ids).map(start).fillna(0).astype("int64").to_numpy()
    role = np.where(cohort > 0, "treated", "comparison").astype(object)
    if comparison == "never_treated_no_other":
        role[(cohort == 0) & pd.Series(ids).isin(other).to_numpy()] = "excluded"
    return pd.DataFrame({"OMR_ID": restore_ids(ids, areas), "cohort": cohort, "role": role})


@checked
def attach_cohort(panel: pd.DataFrame, cohorts: pd.DataFrame, *, area: str = "OMR_ID") -> pd.DataFrame:
    """Return a copy of ``panel`` with ``cohort``, ``treated`` (ever) and ``treat`` (D_it),
    keeping only areas whose role is not ``excluded``; the time column is ``AAR``.

    Rows of areas with role ``excluded`` are left out (the comparison rule asked for it). Rows
    without an area, or of areas absent from ``cohorts``, are left out with an
    :class:`~evalkit.errors.EvalkitWarning` saying how many. ``panel`` is never modified.
    """
    check_str("area", area)
    require_columns(panel, [area, "AAR"], "panel")
    clash = [c for c in ADDED if c in panel.columns]
    if clash:
        raise ValidationError(f"panel already has column(s) {clash}, which attach_cohort adds; drop or rename them first.")
    check_year_column(panel, "AAR", "panel")
    coh = check_cohorts(cohorts)
    no_area = panel[area].isna().to_numpy()
    ids = area_ids(panel.loc[~no_area, area], f"panel column {area!r}", allow_empty=True)
    check_same_ids(ids, "panel", coh["OMR_ID"], "cohorts")
    warn_dropped(int(no_area.sum()), len(panel), "attach_cohort", f"without an area ({area!r} missing)")
    kept_roles = coh[coh["role"] != "excluded"]
    start = pd.Series(kept_roles["cohort"].to_numpy(dtype="int64"), index=kept_roles["OMR_ID"].to_numpy())
    unknown = ~ids.isin(coh["OMR_ID"]).to_numpy()
    if unknown.any():
        areas_out = sorted(pd.unique(ids[unknown]).tolist())
        warn_dropped(int(unknown.sum()), len(panel), "attach_cohort",
                     f"of {len(areas_out)} area(s) not in cohorts (e.g. {show_ids(areas_out)})")
    keep = np.zeros(len(panel), bool)
    keep[np.flatnonzero(~no_area)] = ids.isin(start.index).to_numpy()
    out = panel.loc[keep].reset_index(drop=True)
    out["cohort"] = ids[keep[~no_area]].map(start).astype("int64").to_numpy()
    out["treated"] = (out["cohort"] > 0).astype(int)
    out["treat"] = ((out["cohort"] > 0) & (out["AAR"] >= out["cohort"])).astype(int)
    return out
