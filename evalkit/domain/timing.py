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
from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError, check_choice
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
    """Treatment timing of one intervention: one row per area, ``OMR_ID, cohort, role``.

    Cohort coding follows Callaway & Sant'Anna (2021): the cohort of an area is the first
    year it is treated (the intervention's ``start_year``); never-treated areas have cohort 0.
    Areas excluded by ``comparison`` are returned with ``role="excluded"`` so nothing
    disappears silently. Pass the table to :func:`attach_cohort`.

    Parameters
    ----------
    interventions : pandas.DataFrame
        The interventions table of the data contract: OMR_ID, intervention, start_year,
        end_year (and optionally budget_dkk), one row per area and intervention.
    areas : array_like
        Every area id in the panel (repeats are fine; whole numbers, text or categorical);
        the ids come back in its type.
    intervention : str
        The intervention whose start defines treatment (a value of the ``intervention``
        column).
    comparison : {"never_treated", "never_treated_no_other"}, default "never_treated"
        The comparison group: "never_treated" all areas never exposed to this intervention;
        "never_treated_no_other" only those that received no other intervention either (the
        others get ``role="excluded"``).

    Returns
    -------
    pandas.DataFrame
        Columns OMR_ID, cohort (first treated year, 0 never), role ("treated",
        "comparison" or "excluded"). Intervention areas missing from ``areas`` are left out
        with an :class:`~evalkit.errors.EvalkitWarning`.

    Raises
    ------
    ParameterError
        An unknown ``intervention`` or ``comparison`` (the closest is named), or an area
        listed twice for the intervention.
    ColumnError
        A required column of ``interventions`` is missing.
    ValidationError
        An interventions table that breaks the schema, or area ids of different kinds in
        ``interventions`` and ``areas``.

    References
    ----------
    Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.
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
                      f"areas, left out of the design: {show_ids(outside)}.", EvalkitWarning, stacklevel=stack_level())
    start = pd.Series(own["start_year"].to_numpy(dtype="int64"), index=own["OMR_ID"].to_numpy())
    other = set(iv.loc[iv["intervention"] != intervention, "OMR_ID"])
    cohort = pd.Series(ids).map(start).fillna(0).astype("int64").to_numpy()
    role = np.where(cohort > 0, "treated", "comparison").astype(object)
    if comparison == "never_treated_no_other":
        role[(cohort == 0) & pd.Series(ids).isin(other).to_numpy()] = "excluded"
    return pd.DataFrame({"OMR_ID": restore_ids(ids, areas), "cohort": cohort, "role": role})


@checked
def attach_cohort(panel: pd.DataFrame, cohorts: pd.DataFrame, *, area: str = "OMR_ID") -> pd.DataFrame:
    """Add the treatment timing to a panel: ``cohort``, ``treated`` (ever) and ``treat`` (D_it).

    Returns a copy of ``panel`` keeping only areas whose role is not ``excluded`` (the
    comparison rule asked for it); the time column is ``AAR``. ``treat`` is 1 from the
    cohort year on. Rows without an area, or of areas absent from ``cohorts``, are left out
    with an :class:`~evalkit.errors.EvalkitWarning` saying how many. ``panel`` is never
    modified.

    Parameters
    ----------
    panel : pandas.DataFrame
        An area-year (or person-year) panel with the area column and ``AAR``.
    cohorts : pandas.DataFrame
        ``OMR_ID, cohort, role`` from :func:`treatment_cohorts` or
        :func:`cohorts_from_history`.
    area : str, default "OMR_ID"
        The panel's area column (e.g. "OMR_ID_BASE" for a cohort panel by baseline address).

    Returns
    -------
    pandas.DataFrame
        The kept rows with cohort, treated and treat added.

    Raises
    ------
    ColumnError
        ``panel`` lacks the area column or ``AAR``.
    ValidationError
        ``panel`` already has a cohort/treated/treat column, non-whole years, a malformed
        ``cohorts`` table, or area ids of different kinds.

    Examples
    --------
    >>> import pandas as pd
    >>> import evalkit as ek
    >>> panel = pd.DataFrame({"OMR_ID": [1, 1, 2, 2], "AAR": [2019, 2020, 2019, 2020], "y": [0.5, 0.6, 0.4, 0.4]})
    >>> cohorts = pd.DataFrame({"OMR_ID": [1, 2], "cohort": [2020, 0], "role": ["treated", "comparison"]})
    >>> ek.attach_cohort(panel, cohorts)["treat"].tolist()
    [0, 1, 0, 0]
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
