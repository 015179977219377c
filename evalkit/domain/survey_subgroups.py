"""Subgroup effects of a survey outcome (issue 15, parts 3-4): repeated cross-sections of respondents.

Per subgroup the respondent-level weighted TWFE of :func:`evalkit.domain.survey_did.survey_twfe`;
the joint test of equal effects and the disclosure rules (counted in unweighted respondents) as for
register outcomes (:mod:`evalkit.domain.subgroups`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.core.aliases import checked
from evalkit.domain import subgroup_joint
from evalkit.data.schemas import HFAUDD_LEVELS
from evalkit.domain.subgroups import (BY, EDU_GROUPS, ESTIMAND, ORIGIN_GROUPS, SEX_GROUPS, THIN, _band_labels, _categories,
                                      _check_bands, _check_by, _check_disclosure, _check_treated_present, _cohort_frame,
                                      _finish, _in_areas, _require, _treat, disclose)
from evalkit.domain._subgroup_docs import shared_parameters
from evalkit.domain.subgroup_result import SubgroupEffects
from evalkit.domain.survey_did import survey_outcome, survey_twfe, with_cohorts
from evalkit.domain.survey_margins import AGE_BANDS as SURVEY_AGE_BANDS
from evalkit.domain.survey_weights import CALIBRATED
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError, check_choice

__all__ = ["survey_subgroup_effects"]


@checked
@shared_parameters(unit='respondents')
def survey_subgroup_effects(data: pd.DataFrame, cohorts, *, answer: str, cutoff: float | None = None,
                            by: str = "origin", weights: str = CALIBRATED, min_cell: int = 5, thin: str = "auto",
                            round_base: int = 5, age_bands=SURVEY_AGE_BANDS, alpha: float = 0.05,
                            inference: str | None = None, inference_options=None, areas=None, joint: str = "wild",
                            joint_options=None) -> SubgroupEffects:
    """Effects per subgroup of a survey outcome (repeated cross-sections of respondents), with a joint test.

    Per subgroup: the respondent-level weighted TWFE of
    :func:`evalkit.domain.survey_did.survey_twfe` on the subgroup's respondents (area and year
    effects, survey ``weights``, clustered by area); estimand: the TWFE ATT on the subgroup's
    population share (``cutoff``) or mean score. Joint test of equal effects as in
    :func:`subgroup_effects`. Disclosure rules count unweighted respondents.

    Parameters
    ----------
    data : pandas.DataFrame
        Respondent rows (:func:`read_survey`, or ``calibration.data`` of
        :func:`calibrate_weights` for calibrated weights) with ``OMR_ID, AAR``, the answer,
        the weights and the subgroup column (HERKOMST for origin, KOEN for sex, ALDER for
        age_band, HFAUDD at baseline, linked from the register, for education).
    {{cohorts}}
    answer : str
        The answer column that gives the outcome.
    cutoff : float, optional
        With a cutoff the outcome is the share with answer >= cutoff; None: the mean score.
    by : {"origin", "sex", "age_band", "education"}, default "origin"
        The subgroups.
    weights : str, default "CAL_VAEGT"
        The weight column: the calibrated weights, or "VAEGT" for the design weights.
    {{min_cell}}
    {{thin}}
    {{round_base}}
    age_bands : sequence of int, default (15, 30, 45, 65)
        Lower edges of the age bands for ``by="age_band"`` (the last band open).
    {{alpha}}
    {{inference}}
    {{areas}}
    {{joint}}

    Returns
    -------
    {{returns}}

    Raises
    ------
    ParameterError
        An unknown ``by`` or ``thin``, a bad ``min_cell``/``round_base`` or ``cutoff``.
    ColumnError
        A missing column (answer, weights, subgroup column).
    ValidationError
        No subgroup survives the disclosure rules, or no treated area of ``cohorts`` has a
        respondent in ``data`` (the message names them and areas the data have; some missing:
        a warning, and they are left out).
    """
    by = _check_by(by)
    subgroup_joint.check(joint, joint_options)
    min_cell, round_base = _check_disclosure(min_cell, round_base)
    check_choice("thin", thin, THIN)
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a DataFrame of survey respondents, got {type(data).__name__}.")
    _require(data.columns, ("OMR_ID", "AAR", *BY[by][2]), by, "the survey data")
    if weights not in data.columns:
        raise ColumnError(f"weights={weights!r} is not a survey column; calibrate first (calibrate_weights adds "
                          f"{CALIBRATED!r}) or name the design weight 'VAEGT'.")
    treated_first = _cohort_frame(cohorts)
    d = with_cohorts(data, treated_first)
    d["category"] = _survey_category(d, by, age_bands)
    y = survey_outcome(d, answer, cutoff=cutoff)
    keep = d["category"].notna() & y.notna() & d[weights].notna() & d["OMR_ID"].notna()
    if (~keep).any():
        warnings.warn(f"{int((~keep).sum())} respondents without a subgroup, answer, weight or area are left out.",
                      EvalkitWarning, stacklevel=stack_level())
    counted = y.notna() & d[weights].notna() & d["OMR_ID"].notna()  # the respondents a published total counts
    if areas is not None:
        counted &= d["OMR_ID"].isin(list(areas))
    d, y = d[keep].copy(), y[keep]
    d["_y"], d["_w"] = y.to_numpy(float), d[weights].astype(float)
    d["_wy"] = d["_w"] * d["_y"]
    cells = d.groupby(["OMR_ID", "AAR", "category"], as_index=False).agg(n=("_y", "size"), w=("_w", "sum"),
                                                                         wy=("_wy", "sum"))
    cells = cells.assign(y=cells["wy"] / cells["w"]).drop(columns="wy").astype({"OMR_ID": "int64", "AAR": "int64"})
    _check_treated_present(cells, treated_first, "the survey data")
    cells = _in_areas(cells, areas)
    order = _categories(by, cells, age_bands, open_top=True)
    pool = BY[by][0] if thin == "auto" else thin == "pool"
    used, mapping, suppressed, notes = disclose(cells, order, treated=set(treated_first), min_cell=min_cell,
                                                pool=pool)
    used = _treat(used, treated_first)
    persons = used.groupby("subgroup")["n"].sum().astype(float).to_dict()  # respondents: one row each wave
    d["subgroup"] = d["category"].map(mapping)
    d = d.merge(used[["OMR_ID", "AAR", "subgroup"]], on=["OMR_ID", "AAR", "subgroup"])

    def fit_one(panel):
        g = panel["subgroup"].iloc[0]
        rows = d[d["subgroup"] == g]
        return survey_twfe(rows, outcome=rows["_y"], weights="_w", alpha=alpha, inference=inference,
                           inference_options=inference_options)

    outcome = answer if cutoff is None else f"{answer} >= {cutoff:g}"
    estimand = ESTIMAND.replace("persons in the cell", "survey weight sum in the cell (respondent-level WLS)")
    return _finish(used, order, suppressed, persons, notes, fit_one=fit_one, by=by, outcome=outcome,
                   source="survey", alpha=alpha, min_cell=min_cell, round_base=round_base, estimand=estimand,
                   joint=(joint, inference, joint_options, inference_options), total=float(counted.sum()))


def _survey_category(d: pd.DataFrame, by: str, age_bands) -> pd.Series:
    if by == "origin":
        bad = ~d["HERKOMST"].isin(["dansk", "vestlig", "ikke_vestlig"]) & d["HERKOMST"].notna()
        if bad.any():
            raise ValidationError(f"HERKOMST holds {sorted(map(str, d.loc[bad, 'HERKOMST'].unique()))[:3]}; "
                                  "allowed: ['dansk', 'vestlig', 'ikke_vestlig'].")
        cat = np.where(d["HERKOMST"] == "ikke_vestlig", ORIGIN_GROUPS[0], ORIGIN_GROUPS[1])
        return pd.Series(cat, index=d.index).where(d["HERKOMST"].notna())
    if by == "sex":
        return pd.to_numeric(d["KOEN"], errors="coerce").map(SEX_GROUPS)
    if by == "age_band":
        edges = _check_bands(age_bands)
        labels = _band_labels(edges, open_top=True)
        return pd.Series(pd.cut(pd.to_numeric(d["ALDER"], errors="coerce"), [*edges, np.inf], right=False,
                                labels=labels), index=d.index).astype(object)
    bad = ~d["HFAUDD"].isin(HFAUDD_LEVELS) & d["HFAUDD"].notna()
    if bad.any():
        raise ValidationError(f"HFAUDD holds {sorted(map(str, d.loc[bad, 'HFAUDD'].unique()))[:3]}; allowed: "
                              f"{HFAUDD_LEVELS} (missing = unknown, left out).")
    return d["HFAUDD"].map(EDU_GROUPS)
