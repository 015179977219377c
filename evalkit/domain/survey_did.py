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

import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.core.aliases import checked
from evalkit.core.checks import check_bool, check_options
from evalkit.diagnostics.design import MIN_TREATED_FOR_CR1
from evalkit.domain.survey_margins import AGE_BANDS
from evalkit.domain.survey_read import read_survey
from evalkit.domain.survey_weights import CALIBRATED, MARGINS, CalibratedSurvey, calibrate_weights
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError, closest
from evalkit.estimators.staggered import att_gt
from evalkit.estimators.staggered._grid import plan
from evalkit.estimators.twfe import twfe
from evalkit.results import Result

__all__ = ["SurveyDiD", "survey_att_gt", "survey_did", "survey_outcome", "survey_twfe", "with_cohorts"]

COHORT, TREATED, OUTCOME = "cohort", "D", "y"


@checked
def survey_outcome(data: pd.DataFrame, answer: str, *, cutoff: float | None = None) -> pd.Series:
    """The outcome of ``answer``: with ``cutoff``, the 0/1 indicator answer >= cutoff (the estimand is a
    population *share*); without, the answer itself (a *mean score*). Missing answers stay missing.
    A cut-off outside the answer's declared scale (``data.attrs["scales"]``, set by :func:`read_survey`
    from the configuration key ``scales``) is a ParameterError
    (:func:`evalkit.domain.survey_config.check_cutoff`)."""
    if answer not in data.columns:
        raise ColumnError(f"answer={answer!r} is not a survey column; columns: {sorted(map(str, data.columns))}.")
    values = pd.to_numeric(data[answer], errors="coerce").astype(float)
    if cutoff is None:
        return values
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float, np.number)) or not np.isfinite(cutoff):
        raise ParameterError(f"cutoff={cutoff!r} must be a finite number (answers >= cutoff count as 1).")
    scale = (data.attrs.get("scales") or {}).get(answer)  # declared in the survey configuration (read_survey)
    if scale is not None:
        from evalkit.domain.survey_config import check_cutoff

        check_cutoff(SimpleNamespace(scales={answer: scale}), answer, cutoff)
    return (values >= cutoff).astype(float).where(values.notna())


@checked
def with_cohorts(data: pd.DataFrame, cohorts) -> pd.DataFrame:
    """A copy of ``data`` with ``cohort`` (first treated wave per area, 0 = never) and ``D`` (treated now).

    ``cohorts``: a mapping {area: first treated year} or a frame with columns ``OMR_ID`` and ``cohort``;
    areas not listed (or listed with 0) are never treated. A first treated year must be a whole
    number: a missing (None/NaN), fractional or negative one is an error naming the area."""
    out = data.copy()
    first = out["OMR_ID"].map(_cohort_map(cohorts))
    out[COHORT] = first.fillna(0.0).astype(float)
    out[TREATED] = ((out[COHORT] > 0) & (out["AAR"] >= out[COHORT])).astype(int)
    return out


def _cohort_map(cohorts) -> dict[int, float]:
    """{area: first treated year} (0 = never) from a mapping or a frame with ``OMR_ID`` and ``cohort``."""
    if isinstance(cohorts, pd.DataFrame):
        if not {"OMR_ID", COHORT} <= set(cohorts.columns):
            raise ColumnError(f"cohorts must have columns 'OMR_ID' and 'cohort'; got {sorted(map(str, cohorts.columns))}.")
        if cohorts["OMR_ID"].duplicated().any():
            raise ValidationError("cohorts: an area (OMR_ID) is listed twice; give one first treated year per area.")
        cohorts = dict(zip(cohorts["OMR_ID"], cohorts[COHORT]))
    if not isinstance(cohorts, Mapping):
        raise ParameterError(f"cohorts must be a mapping {{area: first treated year}} or a frame, got {type(cohorts).__name__}.")
    return _checked_cohorts(cohorts)


def _whole(value) -> bool:
    return (not isinstance(value, (bool, np.bool_)) and isinstance(value, (numbers.Real, np.number))
            and np.isfinite(value) and float(value) == int(value))


def _checked_cohorts(cohorts: Mapping) -> dict[int, float]:
    """{area: first treated year} with whole-number areas and years (0 = never treated)."""
    for area, year in cohorts.items():
        if not (_whole(area) or (isinstance(area, str) and area.strip().isdigit())):
            raise ValidationError(f"cohorts: area {area!r} is not an area id (OMR_ID, a whole number).")
        if not _whole(year) or year < 0:
            raise ValidationError(f"cohorts: area {area!r} has first treated year {year!r}; allowed: a whole "
                                  "year (e.g. 2018), or 0 / leave the area out for a comparison area.")
    return {int(k): float(v) for k, v in cohorts.items()}


def _names(outcome: pd.Series, weights: str) -> tuple[str, str]:
    """Column names of the estimation frame: the answer's and the weight's own where they are free."""
    taken = {"OMR_ID", "AAR", COHORT, TREATED}
    w = weights if isinstance(weights, str) and weights not in taken else "w"
    y = outcome.name if isinstance(outcome.name, str) and outcome.name not in taken | {w} else OUTCOME
    return y, w


def _frame(data: pd.DataFrame, outcome: pd.Series, weights: str, names: tuple[str, str] = (OUTCOME, "w")
           ) -> pd.DataFrame:
    if weights not in data.columns:
        raise ColumnError(f"weights={weights!r} is not a column; calibrate first (calibrate_weights adds "
                          f"{CALIBRATED!r}) or name the design weight 'VAEGT'.")
    lacking = [c for c in ("OMR_ID", "AAR", COHORT, TREATED) if c not in data.columns]
    if lacking:
        raise ColumnError(f"the survey data lack columns {lacking}; add the treatment timing with "
                          "with_cohorts(data, cohorts) (it adds 'cohort' and 'D').")
    y, w = names
    df = pd.DataFrame({"OMR_ID": data["OMR_ID"], "AAR": data["AAR"], COHORT: data[COHORT], TREATED: data[TREATED],
                       y: outcome, w: data[weights]})
    out = df["OMR_ID"].isna() | df[w].isna()
    if out.any():
        warnings.warn(f"{int(out.sum())} respondents without an area or a weight are left out of the estimation.",
                      EvalkitWarning, stacklevel=stack_level())
    return df[~out].astype({"OMR_ID": "int64", "AAR": "int64"})


#: inference of the survey TWFE: clustered by area (treatment is assigned by area; "hc1" ignores that)
TWFE_INFERENCE = (None, "cr1", "cr2", "cr3", "wild", "randomization")


@checked
def survey_twfe(data: pd.DataFrame, *, outcome: pd.Series, weights: str = CALIBRATED, alpha: float = 0.05,
                inference: str | None = None, inference_options=None) -> Result:
    """Respondent-level weighted TWFE  y_i = a_area + l_year + b D_area,year + e_i, clustered by area.

    Estimand: the TWFE-weighted ATT on the area-level outcome (share or mean score) - the ATT when
    adoption is not staggered or effects are homogeneous (:func:`evalkit.twfe`). Computed exactly as the
    weighted regression on area-year cells: every regressor is constant within an area-year, so the WLS
    normal equations of the respondents equal those of the cells with outcome the weighted cell mean and
    weight the cell's weight sum, and the area cluster scores sum_i w_i x_i e_i are the same. The CR1
    factor G/(G-1) (N-1)/(N-K) counts respondents (N), so points and CR1 SEs equal the respondent-level
    fit (pyfixest ``feols(weights=, vcov={"CRV1": area})``; tests compare both); the wild bootstrap and
    randomization p-values are those of the respondent-level fit too (the factor cancels). "cr2"/"cr3"
    are computed on the cells (``diagnostics["se_basis"]``). ``N`` is the respondents, the outcome and
    weights are labelled by ``outcome.name`` and ``weights``; ``diagnostics["n_cells"]`` counts cells."""
    method = inference.lower() if isinstance(inference, str) else inference
    if method not in TWFE_INFERENCE:
        raise ParameterError(f"inference={inference!r} is not available for the survey TWFE (treatment is assigned "
                             f"by area, so inference is clustered by area); choose one of {list(TWFE_INFERENCE)}."
                             + closest(str(inference), [m for m in TWFE_INFERENCE if m]))
    y, w = _names(outcome, weights)
    cells = _cells(data, outcome, weights).rename(columns={OUTCOME: y, "w": w})
    res = twfe(cells, outcome=y, unit="OMR_ID", time="AAR", treatment=TREATED, cluster="OMR_ID",
               weights=w, alpha=alpha, inference=method, inference_options=inference_options)
    used = cells[cells[y].notna() & (cells[w] > 0)]
    return _respondent_cr1(res, n=int(used["n"].sum()), n_cells=len(used))


def _respondent_cr1(res: Result, *, n: int, n_cells: int) -> Result:
    """``res`` (fitted on cells) with the CR1 factor (N-1)/(N-K) counting the ``n`` respondents."""
    k = 1 + int(res.diagnostics["n_periods"])  # ATT + year effects; the area effects nest in the clusters
    method = res.inference.method
    diag = {**dict(res.diagnostics), "n_cells": n_cells, "n_respondents": n,
            "se_basis": "area-year cells" if method in ("cr2", "cr3") else "respondents"}
    if method in ("cr2", "cr3") or n - k <= 0 or n_cells - k <= 0:
        return res.replace(n_obs=n, diagnostics=diag)
    c = float(np.sqrt(((n - 1) / (n - k)) / ((n_cells - 1) / (n_cells - k))))
    table = res.tidy()
    table["std_error"] *= c
    table["statistic"] /= c
    if method == "cr1":  # the p-values and intervals of the other methods do not depend on the factor
        crit = stats.t.ppf(1 - res.alpha / 2, res.inference.df)
        table["p_value"] = 2 * stats.t.sf(table["statistic"].abs(), res.inference.df)
        table["conf_low"] = table["estimate"] - crit * table["std_error"]
        table["conf_high"] = table["estimate"] + crit * table["std_error"]
    return res.replace(table=table, vcov=res.vcov * c ** 2, n_obs=n, diagnostics=diag)


def _cells(data: pd.DataFrame, outcome: pd.Series, weights: str) -> pd.DataFrame:
    """Area-year cells: ``y`` the weighted mean answer, ``w`` the weight sum, ``D``, ``n`` respondents."""
    df = _frame(data, outcome, weights)
    missing = df[OUTCOME].isna()
    if missing.any():
        warnings.warn(f"{int(missing.sum())} respondents without an answer (outcome missing) are left out of "
                      "the estimation.", EvalkitWarning, stacklevel=stack_level())
    df = df[~missing]
    df = df.assign(wy=df["w"] * df[OUTCOME])
    cells = df.groupby(["OMR_ID", "AAR"], as_index=False).agg(w=("w", "sum"), wy=("wy", "sum"), D=(TREATED, "first"),
                                                             n=("w", "size"))
    return cells.assign(y=cells["wy"] / cells["w"]).drop(columns="wy")


#: inference of the survey ATT(g,t) and the options each takes (as in :meth:`Result.with_inference`)
ATT_GT_INFERENCE = {None: (), "analytic": (), "multiplier": ("seed", "draws", "progress"),
                    "randomization": ("seed", "draws", "statistic", "terms", "progress")}


def survey_att_gt(data: pd.DataFrame, *, outcome: pd.Series, weights: str = CALIBRATED, control_group: str = "never",
                  method: str = "dr", alpha: float = 0.05, inference: str | None = None, inference_options=None,
                  **kwargs) -> Result:
    """Callaway & Sant'Anna (2021) ATT(g,t) on repeated cross-sections (``att_gt(panel=False)``): every
    respondent is a unit, the survey weights are the sampling weights, influence functions are summed by
    area (clustered at the assignment level). Estimand: ATT(g,t) of the area-level outcome (share or mean
    score) for the areas first treated in g, in wave t; aggregate with :func:`evalkit.aggregate`.

    ``inference``: None/"analytic" (area-clustered influence-function SEs), "multiplier" (the multiplier
    bootstrap, options ``seed``, ``draws``, ``progress``) or "randomization" (re-assigning the cohorts
    across areas, options of :meth:`Result.with_inference`). Below 10 treated areas the analytic and
    multiplier SEs over-reject: a warning names the alternative."""
    inference, opts = _att_gt_inference(inference, inference_options)
    names = _names(outcome, weights)
    df = _frame(data, outcome, weights, names)
    boot = {"bootstrap": True, **opts} if inference == "multiplier" else {}
    res = att_gt(df, outcome=names[0], unit=None, time="AAR", cohort=COHORT, cluster="OMR_ID", weights=names[1],
                 panel=False, control_group=control_group, method=method, alpha=alpha, **boot, **kwargs)
    if inference == "randomization":
        res = res.with_inference("randomization", df, **opts)
    res = _cell_counts(res, df[df[names[0]].notna()])
    _warn_att_gt(res, int(df.loc[df[COHORT] > 0, "OMR_ID"].nunique()))
    return res


def _cell_counts(res: Result, df: pd.DataFrame) -> Result:
    """``n_treated``/``n_control`` of every ATT(g,t) cell: the respondents it rests on (cohort g, and the
    comparison group, in wave t and the cell's base wave) instead of att_gt's counts over all waves."""
    m, times = res.meta, np.sort(df["AAR"].unique())
    groups = np.sort(res.table["group"].dropna().unique())
    base = {(g, int(times[ti])): int(times[bi]) for g, ti, bi, _ in plan(times, groups, m["base_period"],
                                                                          m["anticipation"])}
    n = df.groupby([COHORT, "AAR"]).size()
    cohort, wave = n.index.get_level_values(0).to_numpy(), n.index.get_level_values(1).to_numpy()
    table = res.tidy()
    for i, row in table.iterrows():
        g, t = row["group"], int(row["time"])
        waves = np.isin(wave, [t, base.get((g, t), t)])
        late = (cohort > max(t, base.get((g, t), t)) + m["anticipation"]) & (cohort != g)
        control = (cohort == 0) | (late if m["control_group"] == "notyet" else False)
        table.loc[i, ["n_treated", "n_control"]] = [n[waves & (cohort == g)].sum(), n[waves & control].sum()]
    return res.replace(table=table, diagnostics={**dict(res.diagnostics), "counts": "n_treated/n_control: respondents "
                       "of the cohort and of the comparison group in the cell's wave and its base wave"})


def _att_gt_inference(inference, options) -> tuple[str | None, dict]:
    method = inference.lower() if isinstance(inference, str) else inference
    if method not in ATT_GT_INFERENCE:
        raise ParameterError(f"inference={inference!r} is not available for att_gt; choose one of "
                             f"{list(ATT_GT_INFERENCE)}." + closest(str(inference), [m for m in ATT_GT_INFERENCE if m]))
    allowed = ATT_GT_INFERENCE[method]
    if options and isinstance(options, Mapping) and not allowed:
        raise ParameterError(f"inference_options={options!r} are not used by att_gt with inference={inference!r}; "
                             "pass inference='multiplier' or 'randomization', or drop them.")
    return method, check_options("inference_options", options, allowed)


def _warn_att_gt(res: Result, n_treated: int) -> None:
    """Warn about few treated areas (analytic/multiplier SEs) and about cells without a standard error."""
    if res.inference.method in ("analytic", "multiplier") and n_treated < MIN_TREATED_FOR_CR1:
        warnings.warn(f"Only {n_treated} treated area(s): the area-clustered {res.inference.method} standard errors "
                      "of att_gt over-reject with fewer than 10 treated clusters (MacKinnon & Webb 2017). Use "
                      "inference='randomization'.", EvalkitWarning, stacklevel=stack_level())
    t = res.table
    nan = ~t["reference"].astype(bool) & t["estimate"].notna() & t["std_error"].isna()
    if nan.any():
        warnings.warn(f"{int(nan.sum())} of {int((~t['reference'].astype(bool)).sum())} ATT(g,t) cell(s) have no "
                      "standard error (NaN): the area-summed influence functions are zero, as with a single treated "
                      "or a single comparison area; at least two areas on each side are needed.",
                      EvalkitWarning, stacklevel=stack_level())


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
        The weights column used, the source, ``min_cell`` and ``notes`` (what the disclosure
        rule and the checks of the cohorts left out).
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


@checked
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
        ``answer`` is read whether or not the configuration's ``answers`` list it (it is
        added to them; with None it is the only answer read).
    require_weights : bool, default True
        The survey must carry a design weight (see :func:`read_survey`).
    calibrate : bool, default True
        Rake the design weights to ``margins`` (:func:`calibrate_weights`) and estimate with
        the calibrated weights; False: the design weights ``VAEGT``. Must be True or False.
    variables : str or sequence of str, default ("age_band", "KOEN", "HERKOMST")
        The margins raked one-way within each area-year (distinct column names of the survey
        and the margins; "age_band" is derived from ``ALDER`` with ``age_bands``).
    age_bands : sequence of int, default (15, 30, 45, 65)
        Lower bounds of the age bands (as in :func:`register_margins`); respondents younger
        than the first bound are not calibrated.
    min_cell : int, default 5
        Disclosure threshold (>= 3): an area-wave with fewer respondents (with an area, a
        weight and an answer) is left out of every estimator at the source, with a warning and
        a note (``meta["notes"]``, ``diagnostics["disclosure"]`` of each result), so no
        published estimate rests on fewer; respondent counts and effective sizes below it are
        blanked in the calibration diagnostics. Areas treated from their first wave (no
        pre-period) are left out of every estimator with a warning too.
    min_level : int, default 5
        A margin level with fewer respondents (or no residents) in an area-year is pooled with
        the area-year's most populous level of that margin that has enough (counted in
        ``levels_pooled``). Pooling gives up the calibration of that level, which is where
        nonresponse is most selective.
    estimators : str or sequence of str, default ("twfe", "att_gt")
        "twfe": respondent-level weighted TWFE clustered by area (:func:`survey_twfe`; N =
        respondents, CR1 as the respondent-level fit); "att_gt": Callaway & Sant'Anna ATT(g,t)
        on repeated cross-sections (:func:`survey_att_gt`), influence functions summed by
        area; ``n_treated``/``n_control`` count the respondents of each cell.
    alpha : float, default 0.05
        Intervals have level 1 - alpha.
    inference : str or mapping, optional
        One method for every estimator, or a mapping {estimator: method}. "twfe": None/"cr1",
        "cr2", "cr3", "wild", "randomization"; "att_gt": None/"analytic", "multiplier",
        "randomization". A method an estimator does not have is a ParameterError (e.g.
        ``inference={"twfe": "wild"}`` with both estimators). With fewer than 10 treated areas
        the default (CR1 / analytic) errors warn.
    inference_options : mapping, optional
        Options of the resampling methods (keys of :meth:`Result.with_inference`, e.g.
        ``{"seed": 1, "draws": 9999}``), given to every estimator whose method uses them; an
        unknown key names the closest valid one.

    Returns
    -------
    SurveyDiD
        The results by estimator, the calibration and the call.

    Raises
    ------
    ParameterError
        An unknown keyword or estimator, ``calibrate=True`` without ``margins``, a non-bool
        ``calibrate``/``require_weights``, a bad ``min_cell``, ``cutoff`` (also one outside the
        answer's declared scale, configuration key ``scales``), ``inference`` or
        ``inference_options``, ``cohorts`` of the wrong type, or a bad option of the steps.
    ColumnError
        A missing column (the answer, a weight).
    ValidationError
        No respondents; a first treated year that is missing or not a whole number (the area
        is named); no treated area-wave left after the disclosure rule (treated areas not in the
        survey and first treated years after its last wave are named); data that fail the
        checks of :func:`read_survey`, :func:`calibrate_weights` or the estimators.

    References
    ----------
    Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.
    Sant'Anna, P. H. C. & Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. *Journal of Econometrics* 219(1), 101-122.
    Deville, J.-C. & Särndal, C.-E. (1992). Calibration estimators in survey sampling.
    *JASA* 87(418), 376-382.
    """
    names = _check_estimators(estimators)
    calibrate, require_weights = check_bool("calibrate", calibrate), check_bool("require_weights", require_weights)
    min_cell = _check_min_cell(min_cell)
    methods = _methods(inference, inference_options, names)
    config = _with_answer(survey_config, answer)
    if isinstance(answer, str):  # a cut-off outside the declared scale, before anything is read
        from evalkit.domain.survey_config import check_cutoff

        check_cutoff(config, answer, cutoff)
    data = _respondents(read_survey(survey, config, require_weights=require_weights), answer)
    calibration = None
    if calibrate:
        if margins is None:
            raise ParameterError("calibrate=True needs margins= (register residents per area-year; register_margins).")
        calibration = calibrate_weights(data, margins, variables=variables, age_bands=age_bands,
                                        min_cell=min_cell, min_level=min_level)
        data = calibration.data
    weights = CALIBRATED if calibrate else "VAEGT"
    data = with_cohorts(data, cohorts)
    y = survey_outcome(data, answer, cutoff=cutoff).rename(answer if cutoff is None else f"{answer} >= {cutoff:g}")
    data, y, notes = _disclosed(data, y, weights, min_cell, cohorts)
    disclosure = {"min_cell": min_cell, "notes": tuple(notes)}
    results = {name: _fit(name, data, y, weights, alpha, methods[name], inference_options, disclosure)
               for name in names}
    meta = {"weights": weights, "source": str(survey) if isinstance(survey, (str, Path)) else "DataFrame",
            "min_cell": min_cell, "notes": tuple(notes)}
    return SurveyDiD(results=MappingProxyType(results), calibration=calibration, answer=answer, cutoff=cutoff,
                     meta=meta)


def _fit(name, data, y, weights, alpha, method, options, disclosure) -> Result:
    res = _ESTIMATORS[name](data, outcome=y, weights=weights, alpha=alpha, inference=method,
                            inference_options=options if method not in _DEFAULTS else None)
    return res.replace(diagnostics={**dict(res.diagnostics), "disclosure": disclosure})


#: methods that take no inference_options (the estimators' own analytic errors)
_DEFAULTS = (None, "cr1", "analytic")
_METHODS = {"twfe": TWFE_INFERENCE, "att_gt": tuple(ATT_GT_INFERENCE)}


def _check_estimators(estimators) -> tuple[str, ...]:
    names = (estimators,) if isinstance(estimators, str) else tuple(estimators) \
        if isinstance(estimators, (list, tuple)) else ()
    bad = [e for e in names if e not in _ESTIMATORS]
    if bad or not names or len(set(names)) < len(names):
        raise ParameterError(f"estimators={estimators!r}: choose one or more (once each) of {list(_ESTIMATORS)}."
                             + (closest(str(bad[0]), list(_ESTIMATORS)) if bad else ""))
    return names


def _check_min_cell(min_cell) -> int:
    if isinstance(min_cell, (bool, np.bool_)) or not isinstance(min_cell, (int, np.integer)) or min_cell < 3:
        raise ParameterError(f"min_cell={min_cell!r} must be a whole number >= 3 (the disclosure threshold: the "
                             "fewest respondents an area-wave cell may hold to enter the estimates).")
    return int(min_cell)


def _methods(inference, options, names: tuple[str, ...]) -> dict:
    """{estimator: inference method}: ``inference`` a method for every estimator or a mapping by estimator."""
    given = dict(inference) if isinstance(inference, Mapping) else dict.fromkeys(names, inference)
    extra = sorted(set(map(str, given)) - set(names))
    if extra:
        raise ParameterError(f"inference names estimator(s) {extra} that are not fitted; estimators={list(names)}.")
    out = {}
    for name in names:
        m = given.get(name)
        m = m.lower() if isinstance(m, str) else m
        if m not in _METHODS[name]:
            raise ParameterError(f"inference={m!r} is not available for estimator {name!r}; choose one of "
                                 f"{list(_METHODS[name])}, or pass a mapping such as inference={{'twfe': 'wild'}}."
                                 + closest(str(m), [x for x in _METHODS[name] if x]))
        out[name] = m
    if options and all(m in _DEFAULTS for m in out.values()):
        raise ParameterError(f"inference_options={options!r} are only used with a resampling or small-sample "
                             "inference: twfe 'cr2', 'cr3', 'wild', 'randomization'; att_gt 'multiplier', "
                             "'randomization'.")
    return out


def _with_answer(survey_config, answer):
    """The survey configuration with ``answer`` among its answers (as the report reads it): added to the
    configuration's answers, or the only answer when no configuration is given (not the default TRYG)."""
    from dataclasses import replace

    from evalkit.domain.survey_config import load_survey_config

    config = load_survey_config(survey_config)
    if not isinstance(answer, str) or not answer or answer in config.answers:
        return config
    return replace(config, answers=(*config.answers, answer) if survey_config is not None else (answer,))


def _respondents(data: pd.DataFrame, answer: str) -> pd.DataFrame:
    """The rows with an answer (nonrespondents left out with a warning); none is an error."""
    survey_outcome(data.head(0), answer)  # a missing answer column names it
    if data[answer].isna().any():  # sampled persons who did not answer
        warnings.warn(f"{int(data[answer].isna().sum())} rows without an answer to {answer!r} (nonrespondents) are "
                      "left out before calibration: the weights are calibrated on the respondents.",
                      EvalkitWarning, stacklevel=stack_level())
        data = data[data[answer].notna()].reset_index(drop=True)
    if data.empty:
        raise ValidationError(f"no respondents: the survey has no row with an answer to answer={answer!r}.")
    return data


def _untreatable(data: pd.DataFrame, cohorts) -> str:
    """Why listed treated areas cannot enter: areas not in the survey and first treated years after its last
    wave (first few of each, with the survey's areas and waves; areas and years only, no respondent data)."""
    if cohorts is None:
        return ""
    treated = {a: int(y) for a, y in _cohort_map(cohorts).items() if y > 0}
    areas = sorted(int(a) for a in pd.unique(data["OMR_ID"].dropna()))
    waves = sorted(int(w) for w in pd.unique(data["AAR"].dropna()))
    if not waves:
        return ""
    absent = sorted(a for a in treated if a not in set(areas))
    late = sorted((a, y) for a, y in treated.items() if a in set(areas) and y > waves[-1])
    parts = []
    if absent:
        parts.append(f"treated area(s) {absent[:5]}" + (f" ... ({len(absent)} in all)" if len(absent) > 5 else "")
                     + " are not in the survey")
    if late:
        parts.append(f"treated area(s) start after the survey's last wave {waves[-1]}: "
                     + ", ".join(f"area {a} in {y}" for a, y in late[:5]) + (" ..." if len(late) > 5 else ""))
    if not parts:
        return ""
    shown = f"{areas[:10]}{' ...' if len(areas) > 10 else ''}" if len(areas) else "none"
    return (" " + "; ".join(parts) + f" (the survey has {len(areas)} areas, e.g. {shown}, and waves "
            f"{waves[0]}..{waves[-1]}); check cohorts= (area ids and first treated years).")


def _disclosed(data: pd.DataFrame, y: pd.Series, weights: str, min_cell: int, cohorts=None):
    """Leave out, with a warning, area-waves with fewer than ``min_cell`` respondents (disclosure: no
    published estimate may rest on fewer) and areas treated from their first wave (no pre-period)."""
    notes = []
    usable = data["OMR_ID"].notna() & y.notna() & (data[weights].notna() if weights in data else True)
    key = data["OMR_ID"].astype("float").astype(str) + "|" + data["AAR"].astype(str)
    n = key[usable].value_counts()
    thin = key.map(n).fillna(0).lt(min_cell) & data["OMR_ID"].notna()
    if thin.any():
        areas = sorted(int(a) for a in data.loc[thin, "OMR_ID"].unique())
        notes.append(f"{int(key[thin].nunique())} area-wave cell(s) with fewer than {min_cell} respondents (areas "
                     f"{areas[:10]}{' ...' if len(areas) > 10 else ''}) were left out at the source: no estimate "
                     f"may rest on fewer than min_cell={min_cell} respondents.")
    first = data[usable & ~thin].groupby("OMR_ID")["AAR"].min()
    early = data["OMR_ID"].map(first).ge(data[COHORT]) & (data[COHORT] > 0)
    if early.any():
        areas = sorted(int(a) for a in data.loc[early, "OMR_ID"].unique())
        notes.append(f"areas {areas} are treated from their first wave (no wave before treatment with at least "
                     f"min_cell={min_cell} respondents to compare with) and are left out of every estimator.")
    for note in notes:
        warnings.warn(note, EvalkitWarning, stacklevel=stack_level())
    keep = ~(thin | early)
    if not (keep & usable & (data[TREATED] == 1)).any():
        raise ValidationError(f"no treated area-wave with at least min_cell={min_cell} respondents and a wave "
                              "before treatment; nothing can be estimated (see the warnings)."
                              + _untreatable(data, cohorts))
    return data[keep], y[keep], notes
