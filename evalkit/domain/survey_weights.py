"""Survey design weights raked to register margins (calibration), with Kish diagnostics.

Raking (iterative proportional fitting; Deming & Stephan 1940) is a calibration estimator
(Deville & Särndal 1992, JASA 87(418)): the design weights are adjusted as little as possible so
that, in each area and wave, the weighted respondents reproduce the register's residents by each
margin (age band, sex, origin). When nonresponse depends on those variables (missing at random
given them), the calibrated estimates are consistent where the design-weighted ones are not.

The IPF itself is the maintained ``svy`` library's (``Sample.weighting.rake``, a compiled kernel);
evalkit prepares the margins, one set per area-year (margin levels are keyed by area and year, so
one raking over all cells equals raking each cell on its own), and checks the inputs. ``svy`` is
an optional dependency: ``pip install "evalkit[survey]"``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from evalkit.core.aliases import checked
from evalkit.domain.survey_margins import AGE_BANDS, POPULATION, age_band, check_age_bands
from evalkit.errors import stack_level, ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError

__all__ = ["CalibratedSurvey", "calibrate_weights", "kish", "MissingDependencyError"]

KEYS = ["OMR_ID", "AAR"]
MARGINS = ("age_band", "KOEN", "HERKOMST")
CALIBRATED = "CAL_VAEGT"
#: the level a margin is pooled into when no level of an area-wave has min_level respondents: its total
ALL = "*"


def _level(value) -> str:
    """A margin level as text: 2 (not '2.0') for a whole number."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


class MissingDependencyError(EvalkitError, ImportError):
    """An optional dependency of the called function is not installed."""


@dataclass(frozen=True, slots=True)
class Kish:
    n: int
    n_eff: float
    deff: float


def kish(w: np.ndarray) -> Kish:
    """Kish (1965) effective sample size (sum w)^2 / sum w^2 and design effect n / n_eff = 1 + CV^2(w)."""
    w = np.asarray(w, dtype=float)
    n_eff = float(w.sum() ** 2 / np.sum(w * w)) if len(w) else float("nan")
    return Kish(len(w), n_eff, len(w) / n_eff if len(w) else float("nan"))


@dataclass(frozen=True)
class CalibratedSurvey:
    """A survey with calibrated weights, from :func:`calibrate_weights`.

    Attributes
    ----------
    data : pandas.DataFrame
        A new frame with every input row and ``CAL_VAEGT`` (NaN where a row could not be
        calibrated).
    diagnostics : pandas.DataFrame
        Per area-year: respondents, register residents, Kish effective sample size and design
        effect of the design and calibrated weights, the number of margin levels pooled, and
        the largest weight adjustment. Where an area-year's respondents number below
        ``min_cell``, the count and every column it can be recomputed from (effective sizes,
        design effects, largest adjustment) are blanked (disclosure control; ``suppressed``
        flags them).
    summary : dict
        Totals over all area-years.
    margins : tuple
        The calibration margins used.
    """

    data: pd.DataFrame
    diagnostics: pd.DataFrame
    summary: dict
    margins: tuple

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the per-area-year diagnostics.

        Returns
        -------
        pandas.DataFrame
            One row per area and wave.
        """
        return self.diagnostics.copy()


def _svy():
    try:
        import svy
    except ImportError:
        raise MissingDependencyError('survey calibration needs the optional dependency svy: '
                                     'pip install "evalkit[survey]"') from None
    return svy


def _check_inputs(survey: pd.DataFrame, margins: pd.DataFrame, variables: tuple) -> pd.DataFrame:
    """Column checks; returns the margins with ``N`` as floats (a copy) or raises naming the column."""
    for what, frame, cols in (("survey", survey, KEYS + ["VAEGT", "ALDER"] + [v for v in variables if v != "age_band"]),
                              ("margins", margins, KEYS + list(variables) + [POPULATION])):
        if not isinstance(frame, pd.DataFrame):
            raise ParameterError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ColumnError(f"{what} lacks column(s) {missing} needed to calibrate by variables={list(variables)}; "
                              f"columns: {sorted(map(str, frame.columns))}.")
    if not len(margins):
        raise ValidationError("margins has no rows: calibration needs the register residents per area, wave and "
                              "margin level (register_margins); check its years= and the register files.")
    counts = pd.to_numeric(margins[POPULATION], errors="coerce")
    unread = margins[POPULATION].notna() & counts.isna()
    bad = ~np.isfinite(counts) | (counts < 0)
    if unread.any() or bad.any():
        raise ValidationError(f"margins column {POPULATION!r} must hold non-negative numbers (resident counts); "
                              f"{int(bad.sum())} rows do not" + (f" ({int(unread.sum())} cannot be read as a number)"
                                                                   if unread.any() else "") + ".")
    for col in KEYS:
        values = pd.to_numeric(margins[col], errors="coerce")
        if values.isna().any() or (values != np.round(values)).any():
            raise ValidationError(f"margins column {col!r} must hold whole numbers without nulls; "
                                  f"{int((values.isna() | (values != np.round(values))).sum())} rows do not.")
    key = [c for c in margins.columns if c != POPULATION]
    dup = margins.duplicated(key, keep=False)
    if dup.any():
        n_keys = int(margins[dup].drop_duplicates(key).shape[0])
        n_cells = int(margins[dup].drop_duplicates(KEYS).shape[0])
        raise ValidationError(f"margins: {int(dup.sum())} rows are duplicates of another row's key {key} "
                              f"({n_keys} keys, in {n_cells} area-wave(s)); each margin cell must appear once, or its "
                              "residents would be counted twice. Remove or aggregate the duplicate rows.")
    return margins.assign(**{POPULATION: counts.astype(float), "OMR_ID": margins["OMR_ID"].astype("int64"),
                             "AAR": margins["AAR"].astype("int64")})


#: survey columns calibrate_weights reads whose data-contract rules (read_survey's schema) it applies
_CONTRACT = ("AAR", "OMR_ID", "ALDER", "VAEGT")


def _check_contract(respondents: pd.DataFrame) -> None:
    """The data-contract rules of :func:`read_survey` (its pandera schema
    :func:`evalkit.domain.survey_read.survey_schema`: design weight > 0 and finite, age 0-120, wave a
    year, area numeric) on the respondent rows of the columns calibration uses (the weight only when
    present), so a frame built by hand is checked as a read one is; a :class:`ValidationError` naming
    the column and the rule else."""
    import pandera.pandas as pa

    from evalkit.data.schemas import validate_frame
    from evalkit.domain.survey_read import survey_schema
    from evalkit.domain.survey_config import SurveyConfig

    schema = survey_schema(SurveyConfig(origin=None))
    cols = {c: schema.columns[c] for c in _CONTRACT if c in respondents.columns}
    validate_frame(respondents[list(cols)], pa.DataFrameSchema(cols, strict=False, name="survey"))


def _kind(values: pd.Series) -> str:
    """"number", "text" or "other" (booleans, mixed values): what a margin column's codes are."""
    v = values.dropna()
    if ptypes.is_bool_dtype(v):
        return "other"
    if ptypes.is_numeric_dtype(v):
        return "number"
    return "text" if v.map(lambda x: isinstance(x, str)).all() else "other"


def _whole_codes(values: pd.Series) -> pd.Series | None:
    """``values`` as int64 when each is a whole number or exactly an integer's text ('1', not '01' or
    '1.0'), else None: the one canonical form that is safe for both sides."""
    v = values.dropna()
    if _kind(values) == "number":
        return values.astype("int64") if len(v) == len(values) and (v == np.round(v)).all() else None
    ok = v.map(lambda x: x.lstrip("-").isdigit() and str(int(x)) == x).all()
    return values.map(int).astype("int64") if ok and len(v) == len(values) else None


def _aligned_codes(work: pd.DataFrame, margins: pd.DataFrame, var: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Survey and margin codes of ``var`` in one type: whole numbers on one side and their text on the other
    (1 vs '1') become integers on both; other type mismatches are a :class:`ColumnError` naming the column
    and both dtypes."""
    kinds = (_kind(work[var]), _kind(margins[var]))
    if kinds[0] == kinds[1] or "other" in kinds:
        return work, margins
    survey, register = _whole_codes(work[var]), _whole_codes(margins[var])
    if survey is None or register is None:
        said = {"number": "numbers", "text": "text"}
        raise ColumnError(f"margin {var!r}: the survey column {var!r} holds {said[kinds[0]]} "
                          f"(dtype {work[var].dtype}) but the margins column {var!r} holds {said[kinds[1]]} "
                          f"(dtype {margins[var].dtype}); the codes cannot be matched. Give both the same type "
                          "and codes (e.g. KOEN as the integers 1 and 2 on both sides).")
    return work.assign(**{var: survey.to_numpy()}), margins.assign(**{var: register.to_numpy()})


def _check_coverage(work: pd.DataFrame, margins: pd.DataFrame, variables: tuple) -> None:
    reg_years = sorted(pd.unique(margins["AAR"]).tolist())
    outside = sorted(set(pd.unique(work["AAR"]).tolist()) - set(reg_years))
    if outside:
        raise ValidationError(f"survey waves {outside} (column 'AAR') are outside the register years of the margins "
                              f"{reg_years[0]}..{reg_years[-1]}: calibrate only waves the register covers.")
    cells = work[KEYS].drop_duplicates().merge(margins.groupby(KEYS, as_index=False)[POPULATION].sum(),
                                               on=KEYS, how="left")
    empty = cells[~(cells[POPULATION] > 0)]
    if len(empty):
        raise ValidationError(f"{len(empty)} survey area-waves (OMR_ID, AAR) have no register residents in the "
                              f"margins, e.g. {list(empty[KEYS].head(3).itertuples(index=False, name=None))}.")
    for var in variables:
        known = set(pd.unique(margins[var]).tolist())
        odd = sorted(map(str, set(pd.unique(work[var]).tolist()) - known))
        if odd:
            raise ValidationError(f"margin {var!r}: survey values {odd[:5]} are not register categories "
                                  f"{sorted(map(str, known))}; recode the survey (or the margins) to the same codes.")
    missing = []
    for var in variables:  # a register category, but no residents of it in this area-year's margins
        have = margins.loc[margins[POPULATION] > 0, [*KEYS, var]].drop_duplicates()
        seen = work[[*KEYS, var]].drop_duplicates().merge(have, on=[*KEYS, var], how="left", indicator=True)
        missing += [(var, *row) for row in seen.loc[seen["_merge"] == "left_only", [*KEYS, var]]
                    .itertuples(index=False, name=None)]
    if missing:
        shown = ", ".join(f"area {a}, year {y}, {var} {v!r}" for var, a, y, v in missing[:5])
        warnings.warn(f"{len(missing)} margin cell(s) missing for a category that has respondents ({shown}"
                      f"{', ...' if len(missing) > 5 else ''}): the register margins have no residents there, so "
                      "those respondents are pooled with another level of the margin (see levels_pooled); check "
                      "the margins (or recode the survey).", EvalkitWarning, stacklevel=stack_level())


def _pooling(work: pd.DataFrame, margins: pd.DataFrame, var: str, min_level: int) -> pd.DataFrame:
    """Per (area, year, level): the level it is pooled into. A level with fewer than ``min_level``
    respondents, or without residents, is pooled into the area-year's most populous level that has
    enough (thin levels make the raking equations infeasible or its weights extreme)."""
    pop = margins.groupby([*KEYS, var], as_index=False)[POPULATION].sum()
    pop = pop.merge(work[KEYS].drop_duplicates(), on=KEYS)  # the area-waves surveyed (the margins may cover more)
    resp = work.groupby([*KEYS, var]).size().rename("n").reset_index()
    both = pop.merge(resp, on=[*KEYS, var], how="outer").fillna({POPULATION: 0.0, "n": 0})
    ok = (both["n"] >= min_level) & (both[POPULATION] > 0)
    best = both[ok].sort_values(POPULATION, ascending=False).drop_duplicates(KEYS)[[*KEYS, var]]
    both = both.merge(best.rename(columns={var: "target"}), on=KEYS, how="left")
    both["target"] = [_level(t) if o or t == t else ALL  # no level has enough: the area-wave's total
                      for t, o in zip(both["target"].where(~ok, both[var]), ok)]
    return both


def _controls(work: pd.DataFrame, margins: pd.DataFrame, variables: tuple,
              min_level: int) -> tuple[pd.DataFrame, dict, pd.Series]:
    """Margin columns keyed by area|year|level on a copy of ``work``, the svy controls, pooled levels per cell."""
    controls, pooled, total = {}, [], set()
    for var in variables:
        plan = _pooling(work, margins, var, min_level)
        mapped = work[[*KEYS, var]].merge(plan[[*KEYS, var, "target"]], on=[*KEYS, var], how="left")["target"]
        col = f"_m_{var}"
        work[col] = work["OMR_ID"].astype(str) + "|" + work["AAR"].astype(str) + "|" + mapped.astype(str).to_numpy()
        plan["key"] = plan["OMR_ID"].astype(str) + "|" + plan["AAR"].astype(str) + "|" + plan["target"].astype(str)
        controls[col] = plan.groupby("key")[POPULATION].sum().astype(float).to_dict()
        pooled.append(plan[plan["target"] != plan[var].map(_level)].groupby(KEYS).size())
        total |= set(map(tuple, plan.loc[plan["target"] == ALL, KEYS].to_numpy().tolist()))
    n_pooled = pd.concat(pooled, axis=1).sum(axis=1) if pooled else pd.Series(dtype=float)
    return work, controls, n_pooled, total


def _rake(work: pd.DataFrame, controls: dict, tol: float, max_iter: int) -> np.ndarray:
    svy = _svy()
    import polars as pl

    cols = ["VAEGT", *controls]
    sample = svy.Sample(pl.from_pandas(work[cols].reset_index(drop=True)), svy.Design(wgt="VAEGT"))
    try:
        out = sample.weighting.rake(controls=controls, wgt_name="_cal", tol=tol, max_iter=max_iter)
    except svy.SvyError as exc:
        if getattr(exc, "code", "") != "CONVERGENCE_FAILED":
            raise ValidationError(f"raking to the register margins failed: {exc}") from None
        last = sample.weighting.rake(controls=controls, wgt_name="_cal", tol=tol, max_iter=max_iter,
                                     on_nonconvergence="ignore").data.get_column("_cal").to_numpy()
        raise ValidationError(_misfit_message(work, controls, last, max_iter)) from None
    return out.data.get_column("_cal").to_numpy().astype(float)


def _misfit_message(work: pd.DataFrame, controls: dict, w: np.ndarray, max_iter: int) -> str:
    """Name the area-year and margin level raking could not reach (respondents cannot carry the margins)."""
    worst = (0.0, "")
    for col, target in controls.items():
        got = pd.Series(w).groupby(work[col].to_numpy()).sum()
        err = (got / pd.Series(target) - 1).abs()
        if err.max() > worst[0]:
            worst = (float(err.max()), str(err.idxmax()))
    area, year, level = worst[1].split("|", 2)
    return (f"raking to the register margins did not converge in {max_iter} iterations: in area {area}, wave "
            f"{year}, the margin level {level!r} misses its register total by {worst[0]:.1%}. The respondents of "
            "that area-wave cannot carry all margins at once (e.g. one origin answered only in some age bands); "
            "raise min_level= to pool thin levels, or calibrate to fewer margins (variables=).")


def _suppress(diag: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Blank respondent counts (and what reveals them) below ``min_cell``; a lone blank takes the next smallest."""
    small = diag["respondents"] < min_cell
    if small.sum() == 1 and len(diag) > 1:
        small.loc[diag.loc[~small, "respondents"].idxmin()] = True
    diag["suppressed"] = small
    # all that reveals the count: n_eff = n / deff, and max_adjustment = residents / (n * design weight)
    for col in ("respondents", "n_eff_design", "deff_design", "n_eff", "deff", "max_adjustment"):
        diag[col] = diag[col].astype(float).where(~small)
    return diag


def _diagnostics(work: pd.DataFrame, pop: pd.DataFrame, n_pooled: pd.Series, min_cell: int) -> pd.DataFrame:
    rows = []
    for (area, year), g in work.groupby(KEYS, sort=True):
        d, c = kish(g["VAEGT"].to_numpy()), kish(g[CALIBRATED].to_numpy())
        rows.append({"OMR_ID": area, "AAR": year, "respondents": d.n, "n_eff_design": d.n_eff,
                     "deff_design": d.deff, "n_eff": c.n_eff, "deff": c.deff,
                     "max_adjustment": float((g[CALIBRATED] / g["VAEGT"]).max())})
    diag = pd.DataFrame(rows).merge(pop, on=KEYS, how="left")
    diag["levels_pooled"] = [int(n_pooled.get((a, y), 0)) for a, y in zip(diag["OMR_ID"], diag["AAR"])]
    return _suppress(diag, min_cell)


def _responded(data: pd.DataFrame, answer) -> tuple[pd.Series, list]:
    """Rows that answered: every one of ``answer``, or any of the frame's recorded answers, or all rows."""
    if answer is None:
        answers = [a for a in data.attrs.get("answers", []) if a in data.columns]
        if not answers:
            return pd.Series(True, index=data.index), []
        return data[answers].notna().any(axis=1), answers
    answers = [answer] if isinstance(answer, str) else list(answer) if isinstance(answer, (list, tuple)) else None
    if not answers or not all(isinstance(a, str) for a in answers):
        raise ParameterError(f"answer={answer!r} must be an answer column name or a list of them.")
    missing = [a for a in answers if a not in data.columns]
    if missing:
        raise ColumnError(f"answer={answer!r}: no survey column {missing}; columns: {sorted(map(str, data.columns))}.")
    return data[answers].notna().all(axis=1), answers


def _check_options(variables, min_cell, tol, max_iter) -> tuple:
    variables = (variables,) if isinstance(variables, str) else tuple(variables)
    if not variables or len(set(variables)) != len(variables) or not all(isinstance(v, str) for v in variables):
        raise ParameterError(f"variables={variables!r} must name distinct margin columns of the survey and of "
                             f"margins=, e.g. {MARGINS}.")
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < 3:
        raise ParameterError(f"min_cell={min_cell!r} must be an integer >= 3 (Statistics Denmark floor).")
    if not (isinstance(tol, float) and 0 < tol < 1) or isinstance(max_iter, bool) or not isinstance(max_iter, int) \
            or max_iter < 1:
        raise ParameterError(f"tol={tol!r} must be in (0, 1) and max_iter={max_iter!r} a positive integer.")
    return variables


@checked
def calibrate_weights(survey: pd.DataFrame, margins: pd.DataFrame, *, answer=None, variables=MARGINS, age_bands=AGE_BANDS,
                      min_cell: int = 5, min_level: int = 5, tol: float = 1e-8,
                      max_iter: int = 10_000) -> CalibratedSurvey:
    """Rake the design weights ``VAEGT`` of a survey to the register margins per area and wave.

    Raking (iterative proportional fitting; Deming & Stephan 1940) is a calibration estimator
    (Deville & Särndal 1992): the design weights are adjusted as little as possible so that,
    in each area and wave, the weighted respondents reproduce the register's residents by
    each margin. When nonresponse depends on those variables (missing at random given them),
    the calibrated estimates are consistent where the design-weighted ones are not. The IPF is
    the ``svy`` library's (optional: ``pip install "evalkit[survey]"``). In the simulation of
    ``tests/test_survey_simulation.py`` pooling in several area-waves per survey (400 sampled)
    left a bias of about 0.1 SE, pooling in one of eight surveys (600 sampled) none
    measurable: watch ``levels_pooled``. The inputs are not modified.

    Parameters
    ----------
    survey : pandas.DataFrame
        Canonical survey frame (:func:`read_survey`) with OMR_ID, AAR, VAEGT, ALDER and the
        other ``variables``.
    margins : pandas.DataFrame
        Residents by ``OMR_ID, AAR``, the ``variables`` and ``N`` (:func:`register_margins`):
        one row per cell (duplicated keys are an error), ``N`` non-negative numbers.
    answer : str or sequence of str, optional
        The answer(s) analysed: only rows with every one of them answered are calibrated
        (the respondents; nonresponse is corrected by the calibration). None: the rows with
        any answer of ``survey.attrs["answers"]`` (set by :func:`read_survey`), or every row
        when the frame does not list its answers. Other rows are kept with ``CAL_VAEGT`` NaN
        (counted in ``summary["nonrespondents"]`` and a warning).
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
        nonresponse is most selective. When no level of a margin has enough (an area-wave
        with few respondents), the margin is pooled to the area-wave's total: its weights
        are only scaled to its residents (a warning gives the number of such area-waves;
        ``summary["area_waves_pooled_to_total"]``).
    tol : float, default 1e-08
        Convergence tolerance of the raking, in (0, 1).
    max_iter : int, default 10000
        Maximum raking iterations.

    Returns
    -------
    CalibratedSurvey
        The survey with calibrated weights ``CAL_VAEGT`` and per-area-year diagnostics. Rows
        outside the areas (null ``OMR_ID``) or below the first age bound keep ``CAL_VAEGT``
        NaN, with a warning giving the count.

    Raises
    ------
    ParameterError
        Bad ``variables``, ``answer``, ``min_cell``, ``min_level``, ``tol``, ``max_iter`` or
        ``age_bands``, a misspelled keyword, or inputs that are not DataFrames.
    ColumnError
        A missing column (of the survey, the margins or ``answer``), or a margin whose codes
        have one type in the survey and another in the margins that cannot be matched (the
        message names both dtypes; whole numbers and their exact text, 1 and '1', are matched
        as integers).
    ValidationError
        Empty margins, duplicated margin rows, ``N`` not non-negative numbers, waves outside
        the register years, area-waves without residents, survey codes that are not register
        categories, respondents without a design weight, respondent rows that break the survey
        data contract of :func:`read_survey` (design weight not > 0, age outside 0-120, a wave
        outside 1900-2100; the message names the column and the rule), or raking that does not
        converge.
    MissingDependencyError
        The optional dependency ``svy`` is not installed.

    References
    ----------
    Deming, W. E. & Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency
    table when the expected marginal totals are known. *Annals of Mathematical Statistics*
    11(4), 427-444.
    Deville, J.-C. & Särndal, C.-E. (1992). Calibration estimators in survey sampling.
    *JASA* 87(418), 376-382.
    Kish, L. (1965). *Survey Sampling*. Wiley.
    """
    variables = _check_options(variables, min_cell, tol, max_iter)
    if isinstance(min_level, bool) or not isinstance(min_level, (int, np.integer)) or min_level < 1:
        raise ParameterError(f"min_level={min_level!r} must be a positive integer (respondents per margin level).")
    bands = check_age_bands(age_bands)
    margins = _check_inputs(survey, margins, variables)
    data = survey.copy()
    responded, answers = _responded(data, answer)
    _check_contract(data[responded])
    data["age_band"] = age_band(data["ALDER"], bands)
    inside = data["OMR_ID"].notna() & data["age_band"].notna()
    usable = inside & responded
    if (responded & ~inside).any():
        warnings.warn(f"{int((responded & ~inside).sum())} survey rows are outside the areas (OMR_ID null) "
                      f"or below age {bands[0]}: they are kept with {CALIBRATED} = NaN (not calibrated).",
                      EvalkitWarning, stacklevel=stack_level())
    if (~responded).any():
        warnings.warn(f"{int((~responded).sum())} rows without an answer to {answers} (nonrespondents) are kept with "
                      f"{CALIBRATED} = NaN: only respondents are calibrated.", EvalkitWarning, stacklevel=stack_level())
    work = data[usable].copy()
    if work["VAEGT"].isna().any() or not np.isfinite(pd.to_numeric(work["VAEGT"], errors="coerce")).all():
        raise ValidationError(f"survey column 'VAEGT' (design weight) is missing or not a finite number for "
                              f"{int((~np.isfinite(pd.to_numeric(work['VAEGT'], errors='coerce'))).sum())} respondent "
                              "rows; read the survey with read_survey (drop_incomplete=True leaves them out).")
    for col in ("OMR_ID", "AAR", "KOEN"):
        if col in work and ptypes.is_float_dtype(work[col]) and (work[col] == np.round(work[col])).all():
            work[col] = work[col].astype("int64")
    for var in variables:  # 1 vs '1': one type on both sides, or an error naming both dtypes
        work, margins = _aligned_codes(work, margins, var)
    _check_coverage(work, margins, variables)
    work, controls, n_pooled, total = _controls(work, margins, variables, min_level)
    if total:
        warnings.warn(f"{len(total)} area-wave(s) have fewer than min_level={min_level} respondents in every level of "
                      "a margin: there that margin is pooled to the area-wave's total (weights only scaled to its "
                      "residents, no correction of nonresponse by that margin); see levels_pooled.",
                      EvalkitWarning, stacklevel=stack_level())
    work[CALIBRATED] = _rake(work, controls, tol, max_iter)
    data[CALIBRATED] = np.nan
    data.loc[usable, CALIBRATED] = work[CALIBRATED].to_numpy()
    pop = margins.groupby(KEYS, as_index=False)[POPULATION].sum().rename(columns={POPULATION: "residents"})
    diag = _diagnostics(work, pop, n_pooled, min_cell)
    n_eff = float(sum(kish(g.to_numpy()).n_eff for _, g in work.groupby(KEYS)[CALIBRATED]))
    summary = {"respondents": int(len(work)), "nonrespondents": int((~responded).sum()),
               "not_calibrated": int((~usable).sum()), "area_waves_pooled_to_total": len(total),
               "n_eff": n_eff, "deff": float(len(work) / n_eff),
               "levels_pooled": int(diag["levels_pooled"].sum()), "min_cell": int(min_cell),
               "margins": list(variables)}
    return CalibratedSurvey(data=data, diagnostics=diag, summary=summary, margins=variables)
