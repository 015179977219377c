"""Difference-in-differences on repeated cross-sections of survey respondents (issue 15, part 3).

Respondents are new people every wave, so the estimand is the *area-level* ATT: the change, in the
treated areas' resident population (as calibrated to the register), of the outcome caused by the
intervention - the repeated-cross-section estimand of Callaway & Sant'Anna (2021, J. Econometrics
225(2), sec. 2 and 4) and Sant'Anna & Zhao (2020, J. Econometrics 219(1), sec. 3.2); it mixes effects
on people with changes in who lives there (shared/domain.md, "composition vs effect").

Two outcomes per answer (:func:`survey_outcome`):

* a *share*: 1{answer >= cutoff}; the estimand is the effect on the population share at or above
  the cut-off (e.g. "feels safe" = Likert 4-5), in probability units;
* a *mean score*: the answer itself; the effect on the population mean of the score, which treats
  the Likert steps as equally spaced (an interval-scale assumption the share does not need).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from evalkit.domain.survey_margins import AGE_BANDS
from evalkit.domain.survey_read import read_survey
from evalkit.domain.survey_weights import CALIBRATED, MARGINS, CalibratedSurvey, calibrate_weights
from evalkit.errors import ColumnError, EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators.staggered import att_gt
from evalkit.estimators.twfe import twfe
from evalkit.results import Result

__all__ = ["SurveyDiD", "survey_att_gt", "survey_did", "survey_outcome", "survey_twfe", "with_cohorts"]

COHORT, TREATED, OUTCOME = "cohort", "D", "y"


def survey_outcome(data: pd.DataFrame, answer: str, *, cutoff: float | None = None) -> pd.Series:
    """The outcome of ``answer``: with ``cutoff``, the 0/1 indicator answer >= cutoff (the estimand is a
    population *share*); without, the answer itself (a *mean score*). Missing answers stay missing."""
    if answer not in data.columns:
        raise ColumnError(f"answer={answer!r} is not a survey column; columns: {sorted(map(str, data.columns))}.")
    values = pd.to_numeric(data[answer], errors="coerce").astype(float)
    if cutoff is None:
        return values
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float, np.number)) or not np.isfinite(cutoff):
        raise ParameterError(f"cutoff={cutoff!r} must be a finite number (answers >= cutoff count as 1).")
    return (values >= cutoff).astype(float).where(values.notna())


def with_cohorts(data: pd.DataFrame, cohorts) -> pd.DataFrame:
    """A copy of ``data`` with ``cohort`` (first treated wave per area, 0 = never) and ``D`` (treated now).

    ``cohorts``: a mapping {area: first treated year} or a frame with columns ``OMR_ID`` and ``cohort``;
    areas not listed are never treated."""
    if isinstance(cohorts, pd.DataFrame):
        if not {"OMR_ID", COHORT} <= set(cohorts.columns):
            raise ColumnError(f"cohorts must have columns 'OMR_ID' and 'cohort'; got {sorted(map(str, cohorts.columns))}.")
        if cohorts["OMR_ID"].duplicated().any():
            raise ValidationError("cohorts: an area (OMR_ID) is listed twice; give one first treated year per area.")
        cohorts = dict(zip(cohorts["OMR_ID"], cohorts[COHORT]))
    if not isinstance(cohorts, dict):
        raise ParameterError(f"cohorts must be a mapping {{area: first treated year}} or a frame, got {type(cohorts).__name__}.")
    out = data.copy()
    first = out["OMR_ID"].map({int(k): float(v) for k, v in cohorts.items()})
    out[COHORT] = first.fillna(0.0).astype(float)
    out[TREATED] = ((out[COHORT] > 0) & (out["AAR"] >= out[COHORT])).astype(int)
    return out


def _frame(data: pd.DataFrame, outcome: pd.Series, weights: str) -> pd.DataFrame:
    if weights not in data.columns:
        raise ColumnError(f"weights={weights!r} is not a column; calibrate first (calibrate_weights adds "
                          f"{CALIBRATED!r}) or name the design weight 'VAEGT'.")
    df = pd.DataFrame({"OMR_ID": data["OMR_ID"], "AAR": data["AAR"], COHORT: data[COHORT], TREATED: data[TREATED],
                       OUTCOME: outcome, "w": data[weights]})
    out = df["OMR_ID"].isna() | df["w"].isna()
    if out.any():
        warnings.warn(f"{int(out.sum())} respondents without an area or a weight are left out of the estimation.",
                      EvalkitWarning, stacklevel=3)
    return df[~out].astype({"OMR_ID": "int64", "AAR": "int64"})


def survey_twfe(data: pd.DataFrame, *, outcome: pd.Series, weights: str = CALIBRATED, alpha: float = 0.05,
                inference: str | None = None, inference_options=None) -> Result:
    """Respondent-level weighted TWFE  y_i = a_area + l_year + b D_area,year + e_i, clustered by area.

    Estimand: the TWFE-weighted ATT on the area-level outcome (share or mean score) - the ATT when
    adoption is not staggered or effects are homogeneous (:func:`evalkit.twfe`). Computed exactly as the
    weighted regression on area-year cells: every regressor is constant within an area-year, so the WLS
    normal equations of the respondents equal those of the cells with outcome the weighted cell mean and
    weight the cell's weight sum, and the area cluster scores sum_i w_i x_i e_i are the same; the points are
    identical to the respondent-level fit (tests compare with pyfixest ``feols(weights=)``), the CR1 factor
    (N-1)/(N-K) counts cells. Every few-treated ``inference`` of :func:`evalkit.twfe` applies."""
    cells = _cells(data, outcome, weights)
    return twfe(cells, outcome=OUTCOME, unit="OMR_ID", time="AAR", treatment=TREATED, cluster="OMR_ID",
                weights="w", alpha=alpha, inference=inference, inference_options=inference_options)


def _cells(data: pd.DataFrame, outcome: pd.Series, weights: str) -> pd.DataFrame:
    df = _frame(data, outcome, weights)
    missing = df[OUTCOME].isna()
    if missing.any():
        warnings.warn(f"{int(missing.sum())} respondents without an answer (outcome missing) are left out of "
                      "the estimation.", EvalkitWarning, stacklevel=3)
    df = df[~missing]
    df = df.assign(wy=df["w"] * df[OUTCOME])
    cells = df.groupby(["OMR_ID", "AAR"], as_index=False).agg(w=("w", "sum"), wy=("wy", "sum"), D=(TREATED, "first"))
    return cells.assign(y=cells["wy"] / cells["w"]).drop(columns="wy")


def survey_att_gt(data: pd.DataFrame, *, outcome: pd.Series, weights: str = CALIBRATED, control_group: str = "never",
                  method: str = "dr", alpha: float = 0.05, **kwargs) -> Result:
    """Callaway & Sant'Anna (2021) ATT(g,t) on repeated cross-sections (``att_gt(panel=False)``): every
    respondent is a unit, the survey weights are the sampling weights, influence functions are summed by
    area (clustered at the assignment level). Estimand: ATT(g,t) of the area-level outcome (share or mean
    score) for the areas first treated in g, in wave t; aggregate with :func:`evalkit.aggregate`."""
    df = _frame(data, outcome, weights)
    return att_gt(df, outcome=OUTCOME, unit=None, time="AAR", cohort=COHORT, cluster="OMR_ID", weights="w",
                  panel=False, control_group=control_group, method=method, alpha=alpha, **kwargs)


@dataclass(frozen=True)
class SurveyDiD:
    """What :func:`survey_did` returns: the fitted results by estimator, the calibration, and the call.

    Attributes
    ----------
    results : mapping
        Estimator name ("twfe", "att_gt") -> immutable :class:`Result` (a read-only mapping).
    calibration : CalibratedSurvey or None
        The calibration (None with ``calibrate=False``).
    answer : str
        The answer column of the outcome.
    cutoff : float or None
        The cut-off of a share outcome (None: a mean score).
    meta : dict
        The weights column used and the source.
    """

    results: MappingProxyType
    calibration: CalibratedSurvey | None
    answer: str
    cutoff: float | None
    meta: dict = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """One table: the results' tidy tables stacked, with an ``estimator`` column.

        Returns
        -------
        pandas.DataFrame
            The rows of every result.
        """
        return pd.concat([r.tidy().assign(estimator=name) for name, r in self.results.items()], ignore_index=True)


_ESTIMATORS = {"twfe": survey_twfe, "att_gt": survey_att_gt}


def survey_did(survey, margins: pd.DataFrame | None, cohorts, *, answer: str, cutoff: float | None = None,
               survey_config=None, require_weights: bool = True, calibrate: bool = True, variables=MARGINS,
               age_bands=AGE_BANDS, estimators=("twfe", "att_gt"), min_cell: int = 5, min_level: int = 5,
               alpha: float = 0.05, inference: str | None = None, inference_options=None) -> SurveyDiD:
    """Survey DiD: read -> calibrate to the register -> estimate, on repeated cross-sections of respondents.

    Respondents are new people every wave, so the estimand is the *area-level* ATT: the change,
    in the treated areas' resident population (as calibrated to the register), of the outcome
    caused by the intervention - the repeated-cross-section estimand of Callaway & Sant'Anna
    (2021, sec. 2 and 4) and Sant'Anna & Zhao (2020, sec. 3.2). It mixes effects on people with
    changes in who lives there.

    Parameters
    ----------
    survey : str, pathlib.Path or pandas.DataFrame
        A survey file, folder or frame, read by :func:`read_survey` with ``survey_config`` and
        ``require_weights``.
    margins : pandas.DataFrame or None
        Register residents per area-year (:func:`register_margins`); may be None with
        ``calibrate=False``.
    cohorts : dict or pandas.DataFrame
        First treated wave per area: a mapping {area: first treated year} or a frame with
        ``OMR_ID`` and ``cohort``; areas not listed are never treated.
    answer : str
        The answer column that gives the outcome.
    cutoff : float, optional
        With a cutoff, the outcome is the 0/1 indicator answer >= cutoff and the estimand is
        the effect on the population *share* at or above it (e.g. "feels safe" = Likert 4-5);
        None: the answer itself, a *mean score* (treating Likert steps as equally spaced).
    survey_config : SurveyConfig, dict, str or pathlib.Path, optional
        Where the survey variables are (see :func:`read_survey`); None: the simulator's names.
    require_weights : bool, default True
        The survey must carry a design weight (see :func:`read_survey`).
    calibrate : bool, default True
        Rake the design weights to ``margins`` (:func:`calibrate_weights`) and estimate with
        the calibrated weights; False: the design weights ``VAEGT``.
    variables : str or sequence of str, default ("age_band", "KOEN", "HERKOMST")
        The margins raked one-way within each area-year (distinct column names of the survey
        and the margins; "age_band" is derived from ``ALDER`` with ``age_bands``).
    age_bands : sequence of int, default (15, 30, 45, 65)
        Lower bounds of the age bands (as in :func:`register_margins`); respondents younger
        than the first bound are not calibrated.
    min_cell : int, default 5
        Disclosure threshold (>= 3): respondent counts and effective sizes below it are
        blanked in the diagnostics.
    min_level : int, default 5
        A margin level with fewer respondents (or no residents) in an area-year is pooled with
        the area-year's most populous level of that margin that has enough (counted in
        ``levels_pooled``). Pooling gives up the calibration of that level, which is where
        nonresponse is most selective.
    estimators : str or sequence of str, default ("twfe", "att_gt")
        "twfe": respondent-level weighted TWFE clustered by area (``inference`` applies to
        it); "att_gt": Callaway & Sant'Anna ATT(g,t) on repeated cross-sections
        (``att_gt(panel=False)``), influence functions summed by area.
    alpha : float, default 0.05
        Intervals have level 1 - alpha.
    inference : str, optional
        Inference of the "twfe" fit, as in :func:`twfe` (e.g. "wild" with few treated areas).
    inference_options : mapping, optional
        Options of the post-fit ``inference`` method, as in :func:`twfe`.

    Returns
    -------
    SurveyDiD
        The results by estimator, the calibration and the call.

    Raises
    ------
    ParameterError
        An unknown estimator, ``calibrate=True`` without ``margins``, a bad ``cutoff``,
        ``cohorts`` of the wrong type, or a bad option of the steps.
    ColumnError
        A missing column (the answer, a weight).
    ValidationError
        Data that fail the checks of :func:`read_survey`, :func:`calibrate_weights` or the
        estimators.

    References
    ----------
    Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.
    Sant'Anna, P. H. C. & Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. *Journal of Econometrics* 219(1), 101-122.
    Deville, J.-C. & Särndal, C.-E. (1992). Calibration estimators in survey sampling.
    *JASA* 87(418), 376-382.
    """
    names = (estimators,) if isinstance(estimators, str) else tuple(estimators)
    bad = [e for e in names if e not in _ESTIMATORS]
    if bad or not names:
        raise ParameterError(f"estimators={estimators!r}: choose from {list(_ESTIMATORS)}.")
    data = read_survey(survey, survey_config, require_weights=require_weights)
    if answer in data.columns and data[answer].isna().any():  # sampled persons who did not answer
        warnings.warn(f"{int(data[answer].isna().sum())} rows without an answer to {answer!r} (nonrespondents) are "
                      "left out before calibration: the weights are calibrated on the respondents.",
                      EvalkitWarning, stacklevel=2)
        data = data[data[answer].notna()].reset_index(drop=True)
    calibration = None
    if calibrate:
        if margins is None:
            raise ParameterError("calibrate=True needs margins= (register residents per area-year; register_margins).")
        calibration = calibrate_weights(data, margins, variables=variables, age_bands=age_bands,
                                        min_cell=min_cell, min_level=min_level)
        data = calibration.data
    weights = CALIBRATED if calibrate else "VAEGT"
    data = with_cohorts(data, cohorts)
    y = survey_outcome(data, answer, cutoff=cutoff)
    results = {}
    for name in names:
        extra = {"inference": inference, "inference_options": inference_options} if name == "twfe" else {}
        results[name] = _ESTIMATORS[name](data, outcome=y, weights=weights, alpha=alpha, **extra)
    results = MappingProxyType(results)
    meta = {"weights": weights, "source": str(survey) if isinstance(survey, (str, Path)) else "DataFrame"}
    return SurveyDiD(results=results, calibration=calibration, answer=answer, cutoff=cutoff, meta=meta)
