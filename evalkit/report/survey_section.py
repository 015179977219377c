"""The survey section of the midterm and final reports (issue 15, part 6): tryghed and other survey
outcomes, read as repeated cross-sections, weights calibrated to the register.

Shown when the parameter ``survey_outcome`` names a survey of :data:`SURVEYS`. Numbers come from the
domain layer (:func:`evalkit.read_survey`, :func:`evalkit.register_margins`,
:func:`evalkit.calibrate_weights`, :func:`evalkit.domain.survey_did.survey_twfe`); this module holds
the pure tables (:func:`response_rates`, :func:`weight_diagnostics`, :func:`effects_table`) and the
orchestration of one fit per report (:func:`fit`). The effect uses the inference the report relies on
for the register outcome (the inference advisor's method, else the restricted wild cluster bootstrap
below 10 treated areas), on the respondent-level weighted TWFE clustered by area.

Disclosure (``shared/domain.md``): counts are of respondents (distinct persons); a response rate is
shown only for cells of at least ``min_cell`` respondents *and* nonrespondents (a rate of 0 % or
100 % over a few persons says what each did), in whole per cent; respondent totals and effective
sizes are rounded to ``round_base``; area-waves the register panel leaves out as thin are left out
here too; no area is named (treated areas are letters, as in the synthetic-control table).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import stack_level, EvalkitWarning

@dataclass(frozen=True)
class SurveySpec:
    """A survey outcome of the reports: its file in the data folder, the answer column, the cut-off
    (None: the answer itself, for a 0/1 item the share; else the share with answer >= cutoff) and the
    outcome name of its simulated truth in ``truth/area_effects.parquet``."""

    file: str
    answer: str
    cutoff: float | None
    truth: str


SURVEYS = {"tryghed": SurveySpec("tryghed_survey.parquet", "TRYG", None, "tryghed_prob")}
ARMS = ("treated", "comparison")
#: response rates per treated area (letters) up to this many treated areas, else the treated areas together
MAX_AREA_COLUMNS = 10


@dataclass(frozen=True)
class SurveyFit:
    """One survey fit of a report: calibrated and design-weighted effects, diagnostics and truth."""

    calibrated: pd.Series       # ATT row: TWFE with calibrated weights and the report's inference
    design: pd.Series           # ATT row: TWFE with design weights only (same inference)
    calibration: object         # CalibratedSurvey
    rates: pd.DataFrame         # response_rates(...)
    truth: float | None
    method: str                 # the inference method's label
    data: pd.DataFrame          # calibrated respondents with cohorts (for subgroups); never displayed
    results: dict = None        # {"calibrated": Result, "design": Result} of survey_twfe, the rows above in them
    notes: tuple = ()           # what the report left out of the survey and why (shown under the effect table)
    answer: str = ""            # the answer column of the outcome
    cutoff: float | None = None
    measure: str = "share"      # what the effect is on: "share", "share >= c" or "mean score" (measure())
    design_weights: bool = True  # False: no design-weight column mapped (equal weights: the row is unweighted)
    notes_en: tuple = ()        # the notes in English: the results JSON are the same whatever the report's language


def measure(values: pd.Series, cutoff: float | None) -> str:
    """What a survey effect is on: ``"share >= c"`` with a cut-off, ``"share"`` for a 0/1 answer
    without one, else ``"mean score"`` (the answer itself, in points on its scale) (pure)."""
    if cutoff is not None:
        return f"share >= {cutoff:g}"
    v = pd.to_numeric(values, errors="coerce").dropna()
    return "share" if v.isin([0, 1]).all() else "mean score"


def _truth_applies(values: pd.Series, cutoff: float | None) -> bool:
    """The simulated truth (the effect on the probability of a 0/1 answer = 1) is of this estimand: a 0/1
    answer taken as it is (no cut-off, or one that keeps the 1s and only them)."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    return bool(v.isin([0, 1]).all()) and (cutoff is None or 0 < cutoff <= 1)


# ------------------------------------------------------------------------------ pure tables
def area_letters(treated) -> dict:
    """{OMR_ID: "A", ...} for the treated areas in id order (areas are not named in reports)."""
    from evalkit.i18n import area_letter

    return {a: area_letter(i) for i, a in enumerate(sorted(treated))}


def response_rates(frame: pd.DataFrame, answer: str, treated: set, *, min_cell: int,
                   by_area: bool) -> pd.DataFrame:
    """Response rate per wave (rows) and area group (columns): each treated area (letters) when
    ``by_area``, else the treated areas together, and the comparison areas together. A rate is blank
    where the group's respondents or nonrespondents number 1 to ``min_cell - 1`` (pure)."""
    d = frame[frame["OMR_ID"].notna()]
    letters = area_letters(treated)
    if by_area:
        group = d["OMR_ID"].map(letters).fillna("comparison")
    else:
        group = np.where(d["OMR_ID"].isin(treated), "treated", "comparison")
    answered = d[answer].notna()
    g = pd.DataFrame({"AAR": d["AAR"].to_numpy(), "group": np.asarray(group), "r": answered.to_numpy()})
    cells = g.groupby(["AAR", "group"])["r"].agg(["size", "sum"])
    small = lambda n: (n > 0) & (n < min_cell)  # noqa: E731
    rate = (cells["sum"] / cells["size"]).where(~small(cells["sum"]) & ~small(cells["size"] - cells["sum"]))
    table = rate.unstack("group")
    order = [c for c in [*letters.values(), "treated", "comparison"] if c in table.columns]
    return table[order]


def weight_diagnostics(diag: pd.DataFrame, treated: set, *, min_cell: int, round_base: int) -> pd.DataFrame:
    """By arm (treated / comparison areas): respondents, Kish effective sample size (both rounded to
    ``round_base``) and design effect of the design and the calibrated weights (summed over area-waves),
    levels pooled (pure)."""
    d = diag[~diag["suppressed"]].assign(arm=lambda x: np.where(x["OMR_ID"].isin(treated), *ARMS))
    rows = []
    for arm in ARMS:
        g = d[d["arm"] == arm]
        n = float(g["respondents"].sum())
        if n < min_cell:
            continue
        def rounded(v: float) -> float:  # effective sizes too: with equal design weights n_eff = n exactly
            return float(max(round_base * int(np.floor(v / round_base + 0.5)), min_cell)) if round_base > 1 else v

        design, calibrated = float(g["n_eff_design"].sum()), float(g["n_eff"].sum())
        rows.append({"arm": arm, "area_waves": len(g), "respondents": rounded(n),
                     "n_eff_design": rounded(design), "deff_design": n / design,
                     "n_eff": rounded(calibrated), "deff": n / calibrated,
                     "levels_pooled": int(g["levels_pooled"].sum())})
    return pd.DataFrame(rows)


def truth_att(cells: pd.DataFrame, effects: pd.DataFrame | None) -> float | None:
    """The simulated true ATT the TWFE targets: the weight-sum weighted mean of the area truth over the
    treated post-start cells (``cells``: OMR_ID, AAR, w, D); None without a truth."""
    if effects is None:
        return None
    c = cells[cells["D"] == 1].merge(effects, on=["OMR_ID", "AAR"], how="left").dropna(subset=["effect"])
    return None if c.empty else float(np.average(c["effect"], weights=c["w"]))


def effects_table(fit: SurveyFit, *, lang: str) -> pd.DataFrame:
    """Calibrated and design-weighted effects with intervals, inference and the simulated truth (pure)."""
    from evalkit.report.i18n import label

    names = {"calibrated": {"da": "Kalibrerede vægte (TWFE)", "en": "Calibrated weights (TWFE)"},
             "design": {"da": "Kun designvægte (TWFE)", "en": "Design weights only (TWFE)"}}
    if not fit.design_weights:  # no design weight mapped: every respondent weighs 1
        names["design"] = {"da": "Uvægtet (TWFE; ingen designvægte)", "en": "Unweighted (TWFE; no design weights)"}
    rows = []
    for key in ("calibrated", "design"):
        t = getattr(fit, key)
        row = {label("survey_weights", lang): names[key][lang], label("estimate", lang): t["estimate"],
               label("std_error", lang): t["std_error"], label("conf_low", lang): t["conf_low"],
               label("conf_high", lang): t["conf_high"], label("p_value", lang): t["p_value"],
               label("method", lang): fit.method}
        if fit.truth is not None:
            row[label("truth", lang)] = fit.truth
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ orchestration
def _config(columns, spec: SurveySpec) -> dict:
    return {"answers": [spec.answer], "weight": "VAEGT" if "VAEGT" in columns else None,
            "origin": "HERKOMST" if "HERKOMST" in columns else None}


@dataclass(frozen=True)
class SurveySource:
    """Where the report's survey is (the ``survey`` parameter resolved): file or folder, configuration,
    answer column and cut-off."""

    path: Path
    config: object              # SurveyConfig
    answer: str
    cutoff: float | None


def _relative(data_dir: Path, value: str) -> Path:
    from evalkit.report.manifest import input_path

    return input_path(data_dir, value)


def survey_source(params, *, check_columns: bool = False) -> SurveySource:
    """The survey file and column mapping of the report parameters ``survey`` and ``survey_outcome``.

    Parameters
    ----------
    params : mapping
        Validated report parameters with an absolute ``data_dir`` (after the preflight) and a
        ``survey_outcome``.
    check_columns : bool, default False
        Also check that every mapped column is in the file(s): only their column names are read
        (Parquet and CSV through DuckDB, SAS and Stata from their header by pyreadstat).

    Returns
    -------
    SurveySource
        With ``survey: {}`` the data folder's survey of the outcome (``tryghed_survey.parquet``)
        with the simulator's names (a design weight ``VAEGT`` and origin ``HERKOMST`` when the
        file has them); else ``survey.path`` (relative to ``data_dir``) read with
        ``survey.config`` (a YAML file) updated by ``survey.columns``, the answer
        ``survey.answer`` (default the outcome's) and ``survey.cutoff``.

    Raises
    ------
    ParameterError
        The file, folder or configuration file does not exist, has an unsupported suffix or
        holds no survey files, the configuration is invalid, or ``survey.cutoff`` is outside the
        answer's declared scale (``scales``: ``low < cutoff <= high``); the message names the
        parameter (``survey.path``, ``survey.config``, ``survey.columns``, ``survey.cutoff``) and
        what is allowed.
    ColumnError
        A mapped column is not in the file (with ``check_columns``); the message names the
        parameter ``survey.columns`` and the configuration key to set.
    """
    from evalkit.data import io
    from evalkit.domain.register import read_yaml
    from evalkit.domain.survey_config import SurveyConfig, check_cutoff
    from evalkit.domain.survey_read import _check_columns
    from evalkit.errors import ColumnError, ParameterError

    spec, given = SURVEYS[params["survey_outcome"]], dict(params.get("survey") or {})
    data_dir = Path(params["data_dir"])
    answer = given.get("answer") or spec.answer
    cutoff = given["cutoff"] if "cutoff" in given else spec.cutoff
    if not given.get("path"):
        path = data_dir / spec.file
        if not path.is_file():
            raise ParameterError(f"survey_outcome={params['survey_outcome']!r} needs the survey file {path.name} in "
                                 f"data_dir={str(data_dir)!r} (docs/data_contract.md, Surveys), or the parameter "
                                 "survey: {path: ..., columns: ...} naming your survey file; it is not there.")
        if not given.get("config") and not given.get("columns"):
            import pyarrow.parquet as pq

            config = SurveyConfig.from_mapping({**_config(pq.read_schema(path).names, spec), "answers": [answer]})
            return SurveySource(path=path, config=config, answer=answer, cutoff=cutoff)
    else:
        path = _relative(data_dir, given["path"])
        if not path.exists():
            raise ParameterError(f"parameter survey.path={given['path']!r} does not exist (looked for {str(path)!r}; "
                                 "a relative path is taken from data_dir). Allowed: a survey file with a suffix in "
                                 f"{io.SUPPORTED}, or a folder of such files.")
        if path.is_file() and path.suffix.lower() not in io.SUPPORTED:
            raise ParameterError(f"parameter survey.path={given['path']!r} has the suffix {path.suffix!r}; allowed: "
                                 f"{io.SUPPORTED} (read through DuckDB), or a folder of such files.")
    mapping = {}
    if given.get("config"):
        loaded = read_yaml(_relative(data_dir, given["config"]), "parameter survey.config")
        if not isinstance(loaded, (dict, type(None))):
            raise ParameterError(f"parameter survey.config={given['config']!r} must hold a YAML mapping of survey "
                                 "configuration key: column name.")
        mapping.update(loaded or {})
    mapping.update(given.get("columns") or {})
    answers = list(mapping.get("answers") or [])
    answers = [answers] if isinstance(answers, str) else answers
    mapping["answers"] = answers + [answer] if answer not in answers else answers
    try:
        config = SurveyConfig.from_mapping(mapping)
    except ParameterError as exc:
        raise ParameterError(f"parameter survey (columns / config): {exc}") from None
    check_cutoff(config, answer, cutoff, param="parameter survey.cutoff")
    if check_columns:
        try:
            _check_columns(path, config)
        except ColumnError as exc:
            raise ColumnError(f"parameter survey.columns: {exc}") from None
        except ParameterError as exc:
            raise ParameterError(f"parameter survey.path: {exc}") from None
    return SurveySource(path=path, config=config, answer=answer, cutoff=cutoff)


def report_inference(study) -> tuple[str | None, dict, str]:
    """(twfe inference, options, label) the report relies on for its register outcome; a method without its
    own interval (randomization inference, size-corrected critical values) maps to CR2 here (subgroups)."""
    from evalkit.report import advising, few_clusters

    seed, adv, lang = study.p["seed"], study.advised, study.p["lang"]
    if adv.advice is not None:
        method, options, _ = advising.REPORT_METHOD[adv.method]
        if adv.advice.size_corrected or method == "randomization":
            return "cr2", {}, "CR2"
        return (None if method == "cr1" else method), ({**options, "seed": seed} if method == "wild"
                                                        else dict(options)), study._used_label()
    if study.check.cr1_reliable:
        return None, {}, few_clusters.NAMES["cr1"][lang]
    return "wild", {"seed": seed}, few_clusters.NAMES["wild"][lang]


def survey_effect(study, data: pd.DataFrame, outcome: pd.Series, weights: str):
    """The library's :func:`evalkit.domain.survey_did.survey_twfe` with the report's inference.

    The inference is the one the report relies on for its register outcome: the inference
    advisor's choice (randomization inference with its test-inversion interval, size-corrected
    CR2, a wild bootstrap, CR1-3), else the restricted wild bootstrap below 10 treated areas,
    else CR1 - each as ``survey_twfe`` computes it (respondent-level CR1 factor included).

    Parameters
    ----------
    study : Study
        The report (its parameters, inference advisor and design check).
    data : pandas.DataFrame
        Respondents with ``OMR_ID, AAR, cohort, D`` and the weights (as ``survey_twfe`` takes).
    outcome : pandas.Series
        The outcome of each respondent (:func:`survey_outcome`).
    weights : str
        The weight column.

    Returns
    -------
    Result
        The fit, its ATT row carrying the report's p-value and interval (a size-corrected or
        randomization interval replaces the CR2 / CR1 one; ``diagnostics["report_inference"]``
        says which as a stable code (:func:`method_code`), ``"report_inference_label"`` as the
        report names it in its language).
    """
    from evalkit.domain.survey_did import _cells, _names, survey_twfe
    from evalkit.estimators.postfit import randomization_combination
    from evalkit.report import advising

    adv, seed, alpha = study.advised, study.p["seed"], study.p["alpha"]
    label, code = _method_label(study), method_code(study)
    if adv.advice is not None and adv.advice.size_corrected:
        res = survey_twfe(data, outcome=outcome, weights=weights, alpha=alpha, inference="cr2")
        table = res.tidy()
        i = table.index[table["term"] == "ATT"][0]
        est, se = table.at[i, "estimate"], table.at[i, "std_error"]
        half = adv.advice.critical_value * se
        table.loc[i, ["conf_low", "conf_high", "p_value"]] = [
            est - half, est + half, advising.corrected_p(est / se, adv.advice.critical_value, res.alpha)]
    elif adv.advice is not None and adv.method == "randomization":
        res = survey_twfe(data, outcome=outcome, weights=weights, alpha=alpha)
        y, w = _names(outcome, weights)
        cells = _cells(data, outcome, weights).rename(columns={"y": y, "w": w})
        table = res.tidy()
        i = table.index[table["term"] == "ATT"][0]
        ri = randomization_combination(res, cells, {"ATT": 1.0}, seed=seed, draws=advising.ADVISOR_DRAWS)
        low, high = advising.randomization_interval(table.at[i, "estimate"], float(ri.observed[0]), ri.null[:, 0],
                                                    res.alpha)
        table.loc[i, ["p_value", "conf_low", "conf_high"]] = [float(ri.p_value[0]), low, high]
    else:
        method, options, _ = report_inference(study)
        res = survey_twfe(data, outcome=outcome, weights=weights, alpha=alpha, inference=method,
                          inference_options=options or None)
        table = res.tidy()
    return res.replace(table=table, diagnostics={**dict(res.diagnostics), "report_inference": code,
                                                 "report_inference_label": label})


def _method_label(study) -> str:
    from evalkit.report import few_clusters

    if study.advised.advice is not None:
        return study._used_label()
    return few_clusters.NAMES["cr1" if study.check.cr1_reliable else "wild"][study.p["lang"]]


#: the report's inference as a language-independent code (the results JSON), by few_clusters.NAMES key
METHOD_CODES = {"cr1": "cr1", "cr2": "cr2", "cr3": "cr3", "wild": "wild_restricted",
                "wild_webb": "wild_restricted_webb", "wcu": "wild_unrestricted", "randomization": "randomization"}


def method_code(study) -> str:
    """The inference the survey effect relies on as a stable code (the label of :func:`_method_label`
    is in the report's language): ``cr1``, ``cr2``, ``cr3``, ``wild_restricted``,
    ``wild_restricted_webb``, ``wild_unrestricted``, ``randomization``, or ``cr2_size_corrected``."""
    from evalkit.report import advising

    adv = study.advised.advice
    if adv is None:
        return METHOD_CODES["cr1" if study.check.cr1_reliable else "wild"]
    if adv.size_corrected:
        return "cr2_size_corrected"
    return METHOD_CODES[advising.REPORT_METHOD[study.advised.method][2]]


def _att(result) -> pd.Series:
    return result.tidy().set_index("term").loc["ATT"]


def wave_notes(waves, *, evaluation_year: int, register_years, lang: str) -> list[str]:
    """Notes on survey waves the report does not use: after ``evaluation_year``, or in no register year
    (no register margins to calibrate to, no area panel); empty when every wave is used (pure).

    Parameters
    ----------
    waves : iterable of int
        The survey's waves.
    evaluation_year : int
        The report's last year.
    register_years : iterable of int
        The years of the register data.
    lang : {"da", "en"}
        Language of the notes.

    Returns
    -------
    list of str
        One note per reason, naming the waves.
    """
    waves, years = sorted({int(w) for w in waves}), {int(y) for y in register_years}
    later = [w for w in waves if w > evaluation_year]
    outside = [w for w in waves if w <= evaluation_year and w not in years]
    notes = []
    if later:
        notes.append({"da": f"Spørgeskemabølger efter evalueringsåret {evaluation_year} ({later}) indgår ikke.",
                      "en": f"Survey waves after the evaluation year {evaluation_year} ({later}) are not used."}[lang])
    if outside:
        span = f"{min(years)}-{max(years)}" if years else "-"
        notes.append({"da": f"Spørgeskemabølger uden for registrets år {span} ({outside}) indgår ikke: der er "
                            "ingen registerfordeling at kalibrere til.",
                      "en": f"Survey waves outside the register years {span} ({outside}) are not used: there is no "
                            "register distribution to calibrate them to."}[lang])
    return notes


def fit(study) -> SurveyFit:
    """Read, calibrate and estimate the report's survey outcome (one pass per report).

    Parameters
    ----------
    study : Study
        The report.

    Returns
    -------
    SurveyFit
        The effects of :func:`survey_effect` (calibrated and design weights), diagnostics,
        truth, and notes on what was left out (waves after the evaluation year or outside the
        register years are left out with a note and an :class:`EvalkitWarning`).
    """
    from evalkit.data.panels import read_data_years
    from evalkit.domain.survey_did import _disclosed, survey_outcome, with_cohorts
    from evalkit.domain.survey_margins import register_margins
    from evalkit.domain.survey_read import read_survey
    from evalkit.domain.survey_weights import CALIBRATED, MARGINS, calibrate_weights
    from evalkit.report import truth as truth_mod
    from evalkit.progress import step

    p, spec = study.p, SURVEYS[study.p["survey_outcome"]]
    source = survey_source(p)
    config = source.config
    with warnings.catch_warnings(record=True) as seen:  # the reader's warnings become notes of the report
        warnings.simplefilter("always", EvalkitWarning)
        raw = read_survey(source.path, config, require_weights=config.weight is not None)
    years = read_data_years(p["data_dir"])
    evalkit_seen = [w for w in seen if issubclass(w.category, EvalkitWarning)]
    notes = {lang: [*_warning_notes(seen if lang == p["lang"] else evalkit_seen, lang=lang),
                    *wave_notes(raw["AAR"].unique(), evaluation_year=p["evaluation_year"], register_years=years,
                                lang=lang)] for lang in dict.fromkeys((p["lang"], "en"))}  # report's, and English
    for note in wave_notes(raw["AAR"].unique(), evaluation_year=p["evaluation_year"], register_years=years,
                           lang="en"):  # the run log says it too
        warnings.warn(note, EvalkitWarning, stacklevel=stack_level())
    cohorts = study.cohorts[study.cohorts["role"] != "excluded"]
    # the report's area-waves: areas of the comparison rule, years up to the evaluation year, thin area-years
    # of the register panel left out (their margins rest on fewer than min_cell residents)
    cells = study.area[["OMR_ID", "AAR"]].astype("int64")
    raw = raw[raw["OMR_ID"].isin(cohorts["OMR_ID"])].astype({"OMR_ID": "int64"}).merge(cells, on=["OMR_ID", "AAR"])
    treated = set(cohorts.loc[cohorts["cohort"] > 0, "OMR_ID"].astype(int))
    rates = response_rates(raw, source.answer, treated, min_cell=p["min_cell"],
                           by_area=len(treated) <= MAX_AREA_COLUMNS)
    respondents = raw[raw[source.answer].notna()].reset_index(drop=True)
    with step(f"survey: calibrating {len(respondents):,} respondents' weights to the register margins (svy)"):
        margins = register_margins(p["data_dir"], years=sorted(respondents["AAR"].unique()))
        variables = MARGINS if config.origin else ("age_band", "KOEN")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", EvalkitWarning)
            cal = calibrate_weights(respondents, margins, variables=variables, min_cell=p["min_cell"])
    if any(_MISSING_MARGIN in str(w.message) for w in seen):  # no area named in the report
        _note(notes, {"da": "For nogle område-bølger mangler registrets fordeling en kategori, som har besvarelser; "
                            "de besvarelser er kalibreret sammen med en anden kategori af samme margin.",
                      "en": "In some area-waves the register margins lack a category that has respondents; those "
                            "respondents are calibrated together with another level of the margin."})
    data = with_cohorts(cal.data, dict(zip(cohorts["OMR_ID"], cohorts["cohort"])))
    y = survey_outcome(data, source.answer, cutoff=source.cutoff)
    with warnings.catch_warnings():  # as survey_did: no estimate rests on an area-wave of < min_cell respondents
        warnings.simplefilter("ignore", EvalkitWarning)
        data, y, _ = _disclosed(data, y, CALIBRATED, p["min_cell"])
    method = _method_label(study)
    results = {}
    with step(f"survey: respondent-level TWFE ({method})"), warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        for key, w in (("calibrated", CALIBRATED), ("design", "VAEGT")):
            results[key] = survey_effect(study, data, y, w)
    cells = data.assign(w=data[CALIBRATED]).groupby(["OMR_ID", "AAR"], as_index=False).agg(w=("w", "sum"),
                                                                                          D=("D", "first"))
    true = (truth_att(cells.astype({"OMR_ID": "int64"}), truth_mod.area_effects(p["data_dir"], spec.truth))
            if _truth_applies(data[source.answer], source.cutoff) else None)  # a truth only of its own estimand
    if config.weight is None:
        _note(notes, {"da": "Spørgeskemaet har ingen designvægte (weight: null): rækken 'Uvægtet' giver hver "
                            "besvarelse samme vægt, og kalibreringen rejser fra lige vægte.",
                      "en": "The survey has no design weights (weight: null): the 'Unweighted' row weighs every "
                            "respondent equally, and the calibration starts from equal weights."})
    return SurveyFit(calibrated=_att(results["calibrated"]), design=_att(results["design"]), calibration=cal,
                     rates=rates, truth=true, method=method, data=data, results=results,
                     notes=tuple(notes[p["lang"]]), notes_en=tuple(notes["en"]),
                     answer=source.answer, cutoff=source.cutoff, measure=measure(data[source.answer], source.cutoff),
                     design_weights=config.weight is not None)


def _note(notes: dict, texts: dict) -> None:
    """Append a note ({"da": ..., "en": ...}) to each language's list in ``notes``."""
    for lang, listed in notes.items():
        listed.append(texts[lang])


_MISSING_MARGIN = "margin cell(s) missing for a category that has respondents"


def _warning_notes(seen, *, lang: str) -> list[str]:
    """Notes of the report for the :class:`EvalkitWarning` s in ``seen`` (other warnings are warned again):
    the message when the disclosure check of report text lets it through, else that it is withheld."""
    from evalkit.report.textcheck import DisclosureError, check_text

    notes = []
    for w in seen:
        if not issubclass(w.category, EvalkitWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        message = str(w.message)
        unread = re.match(r"the survey has a column (.+?) that is not read \(configuration key (\w+): null\)", message)
        if unread:  # the reader's own words carry "= 1", a small number to the text check
            column, key = unread.groups()
            message = {"da": f"kolonnen {column} læses ikke ({key}: null i survey.columns); sæt {key}: "
                             f"{column.strip(chr(39))} for at bruge den.",
                       "en": f"the column {column} is not read ({key}: null in survey.columns); set {key}: "
                             f"{column.strip(chr(39))} to use it."}[lang]
        try:
            message = check_text(message, what="survey note")
        except DisclosureError:
            message = {"da": "(en advarsel om data er tilbageholdt: den ville vise data)",
                       "en": "(a warning about the data is withheld: it would show data)"}[lang]
        note = {"da": f"Spørgeskemaet: {message}", "en": f"Survey: {message}"}[lang]
        if note not in notes:
            notes.append(note)
    return notes


def report_fit(study) -> SurveyFit:
    """:func:`fit` as a report cell runs it: its warnings go to the run's console log, not the cell.

    The report states them as notes under the effect table (:attr:`SurveyFit.notes`); an
    :class:`EvalkitWarning` on the cell's stderr would withhold the report's outputs.

    Parameters
    ----------
    study : Study
        The report.

    Returns
    -------
    SurveyFit
        As :func:`fit`. Warnings that are not an :class:`EvalkitWarning` are warned again.
    """
    from evalkit import progress

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", EvalkitWarning)
        result = fit(study)
    log = progress.logger("survey")
    for w in seen:
        if issubclass(w.category, EvalkitWarning):
            log(f"note: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def _rounded_count(n, *, min_cell: int, round_base: int):
    """A count of respondents as the tables show it: None below ``min_cell``, else rounded to ``round_base``."""
    from evalkit.privacy import rounded_count  # the tables' rule, one place

    if n is None or not np.isfinite(n) or n < min_cell:
        return None
    return int(rounded_count(n, min_cell, round_base))


def json_results(fit: SurveyFit, *, min_cell: int, round_base: int) -> dict:
    """The survey effects for the report's results folder (``results/survey_twfe_*.json``).

    Parameters
    ----------
    fit : SurveyFit
        The report's survey fit.
    min_cell : int
        Disclosure threshold: a respondent count below it is withheld (null).
    round_base : int
        Respondent counts are rounded to a multiple of it, as in the tables.

    Returns
    -------
    dict
        {"survey_twfe_calibrated": Result, "survey_twfe_design": Result}: the tables the report
        shows (area-level rows; the ATT row carries the report's inference), with the respondent
        counts (``n_obs``, ``diagnostics["n_respondents"]``) rounded and the weight sum (a sum of
        register residents) left out. No respondent rows. Every field is the same in a Danish and
        an English report except ``diagnostics["report_inference_label"]`` (the method as the report
        names it); ``report_inference`` is a code (:func:`method_code`) and ``notes`` are in English.
        ``inference.method`` is that code too (the method the p-value and interval come from);
        the standard error is the fit's, named by ``diagnostics["std_error_method"]`` (CR1 under
        randomization inference or a wild bootstrap, CR2 when size-corrected).
    """
    import dataclasses

    from evalkit.results.result import NO_COVARIANCE

    out = {}
    for key, res in (fit.results or {}).items():
        diag = {k: v for k, v in dict(res.diagnostics).items() if k != "sum_weights"}
        n = _rounded_count(res.n_obs, min_cell=min_cell, round_base=round_base)
        diag["n_respondents"] = n
        diag["counts"] = (f"respondent counts rounded to a multiple of {round_base} (null below {min_cell}); "
                          "n_treated / n_control count areas")
        diag["notes"] = list(fit.notes_en)  # English whatever the report's language (machine fields: one language)
        diag["answer"], diag["cutoff"], diag["measure"] = fit.answer, fit.cutoff, fit.measure
        diag["design_weights"] = fit.design_weights
        inference = res.inference
        code = diag.get("report_inference")
        if code:  # the p-value and interval are the report's inference; the standard error stays the fit's
            diag["std_error_method"] = "cr1" if res.inference.method in NO_COVARIANCE else res.inference.method
            inference = dataclasses.replace(res.inference, method=str(code))
        out[f"survey_twfe_{key}"] = res.replace(n_obs=n or 0, diagnostics=diag, inference=inference)
    return out


# ------------------------------------------------------------------------------ notebook cells
def _off(study) -> bool:
    return not study.p["survey_outcome"]


def _unavailable(study):
    """A note instead of the survey tables when the survey cannot be fitted (None when it can)."""
    from evalkit.errors import EvalkitError
    from evalkit.report.outputs import markdown

    if "_survey_error" not in study.__dict__:  # fitted (or failed) once per report
        try:
            study.survey_fit
            study._survey_error = None
        except EvalkitError as exc:
            study._survey_error = exc
            _record_failure(exc)
    exc = study._survey_error
    if exc is not None:
        reason = _shown_reason(exc)
        return markdown({"da": f"_Spørgeskemaet kunne ikke estimeres på disse data: {reason}_",
                         "en": f"_The survey could not be estimated on these data: {reason}_"}[study.p["lang"]])
    return None


def _reason(exc) -> str:
    """The error's message when the disclosure check of report text lets it through (no person key, no
    small count), else only its type."""
    from evalkit.report.textcheck import DisclosureError, check_text

    try:
        return check_text(f"{type(exc).__name__}: {exc}", what="survey error")
    except DisclosureError:
        return f"{type(exc).__name__} (the message is withheld: it would show data)"


def _shown_reason(exc) -> str:
    """:func:`_reason` for the report's note (Markdown: no italics inside)."""
    return _reason(exc).replace("_", r"\_")


def _record_failure(exc) -> None:
    """Tell the runner the requested survey section could not be estimated: the run then ends
    ``needs_review`` with the reason in its log and manifest (:func:`evalkit.report.sections_failed.record_section_failure`)."""
    from evalkit.report.sections_failed import SECTIONS_FILE, record_section_failure

    full, reason = f"{type(exc).__name__}: {exc}", _reason(exc)
    if reason != full:
        reason += f"; the full message is in {SECTIONS_FILE} in the run's restricted folder"
    record_section_failure("survey", reason, detail=full)


def heading(study):
    from evalkit.report.outputs import markdown

    return markdown("") if _off(study) else study.heading("survey")


def _group_label(col: str, lang: str) -> str:
    from evalkit.report.i18n import label

    if col in ARMS:
        return label(col, lang)
    return {"da": f"Område {col}", "en": f"Area {col}"}[lang]


def rates_table(study):
    """Response rates by wave and area group (disclosure-safe)."""
    from evalkit.report.outputs import markdown
    from evalkit.report.tables import _estimates_safe
    from evalkit.report.i18n import label

    if _off(study):
        return markdown("")
    if _unavailable(study) is not None:
        return _unavailable(study)
    lang, rates = study.p["lang"], study.survey_fit.rates
    shown = (100 * rates).rename(columns=lambda c: _group_label(c, lang)).reset_index()
    shown = shown.rename(columns={"AAR": label("year", lang)})
    shown[label("year", lang)] = shown[label("year", lang)].astype(str)
    note = {"da": "Svarprocent (besvarede af udtrukne) pr. bølge. Indsatsområder er anonymiseret med bogstaver; "
                  f"en svarprocent vises kun, hvor mindst {study.p['min_cell']} svarede og mindst "
                  f"{study.p['min_cell']} ikke svarede (eller ingen).",
            "en": "Response rate (respondents per sampled person), in per cent, by wave. Treated areas are "
                  f"anonymised with letters; a rate is shown only where at least {study.p['min_cell']} answered "
                  f"and at least {study.p['min_cell']} did not (or none)."}[lang]
    return _estimates_safe(shown.round(0), digits=0, note=note, lang=lang)  # whole per cent: no exact count back


def weights_table(study):
    """Calibrated-weight diagnostics: effective sample size and design effect, design vs calibrated."""
    from evalkit.report.disclosure import safe_table
    from evalkit.report.outputs import markdown
    from evalkit.report.i18n import label

    if _off(study):
        return markdown("")
    if _unavailable(study) is not None:
        return markdown("")  # rates_table says why
    lang, p, cal = study.p["lang"], study.p, study.survey_fit.calibration
    treated = set(study.cohorts.loc[study.cohorts["cohort"] > 0, "OMR_ID"].astype(int))
    d = weight_diagnostics(cal.diagnostics, treated, min_cell=p["min_cell"], round_base=p["round_base"])
    names = {"arm": label("group", lang), "area_waves": label("area_waves", lang),
             "respondents": label("respondents", lang), "n_eff_design": label("n_eff_design", lang),
             "deff_design": label("deff_design", lang), "n_eff": label("n_eff", lang), "deff": label("deff", lang),
             "levels_pooled": label("levels_pooled", lang)}
    d = d.assign(arm=[label(a, lang) for a in d["arm"]]).rename(columns=names)
    margins = ", ".join(label(f"margin_{m}", lang) for m in cal.margins)
    raked = ({"da": "Designvægte kalibreret (raking)", "en": "Design weights raked"} if study.survey_fit.design_weights else
             {"da": "Lige startvægte (spørgeskemaet har ingen designvægte) kalibreret (raking)",
              "en": "Equal starting weights (the survey has no design weights) raked"})[lang]
    note = {"da": f"{raked} til registrets fordeling på {margins} i hvert område og hver bølge (svy). "
                  "Effektiv stikprøvestørrelse efter Kish, (sum w)^2 / sum w^2, summeret over område-bølger; "
                  "designeffekt = besvarelser / effektiv størrelse. Antal besvarelser er afrundet.",
            "en": f"{raked} to the register's distribution by {margins} in each area and wave (svy). "
                  "Kish effective sample size, (sum w)^2 / sum w^2, summed over area-waves; design effect = "
                  "respondents / effective size. Respondent counts are rounded."}[lang]
    return safe_table(d, count_cols=[names["respondents"]], index=[names["arm"]], min_cell=p["min_cell"],
                      digits=2, note=note, lang=lang, _trusted=True)


def outcome_label(fit: SurveyFit, outcome: str, lang: str) -> str:
    """The survey outcome's name as the report states it: the outcome's label for the share it is
    defined as (``"share"``), else what the measure is (a share at or above a cut-off, a mean score) (pure)."""
    from evalkit.report.i18n import label

    if fit.measure == "share":
        return label(outcome, lang)
    survey = {"da": "tryghedsmåling", "en": "safety survey"}[lang] if outcome == "tryghed" else outcome
    if fit.measure == "mean score":
        return {"da": f"Gennemsnitsscore for {fit.answer} ({survey})",
                "en": f"Mean score of {fit.answer} ({survey})"}[lang]
    return {"da": f"Andel med {fit.answer} >= {fit.cutoff:g} ({survey})",
            "en": f"Share with {fit.answer} >= {fit.cutoff:g} ({survey})"}[lang]


def effect_text(fit: SurveyFit, outcome_label: str, *, lang: str, alpha: float) -> str:
    """One sentence: the calibrated effect with its interval, the method, and the truth (pure)."""
    t = fit.calibrated
    level = round(100 * (1 - alpha))
    if fit.measure == "mean score":  # the answer itself: points on its scale, not percentage points
        pp = lambda v: f"{v:+.2f}".replace(".", "," if lang == "da" else ".")  # noqa: E731
        unit = {"da": f"point på skalaen for {fit.answer} (gennemsnitsscore)",
                "en": f"points on the {fit.answer} scale (mean score)"}[lang]
    else:
        pp = lambda v: f"{100 * v:+.1f}".replace(".", "," if lang == "da" else ".")  # noqa: E731
        unit = {"da": "procentpoint", "en": "percentage points"}[lang]
        if fit.cutoff is not None:
            unit += {"da": f" (andel med {fit.answer} >= {fit.cutoff:g})",
                     "en": f" (share with {fit.answer} >= {fit.cutoff:g})"}[lang]
    if lang == "da":
        s = (f"{outcome_label}: effekten er {pp(t['estimate'])} {unit} ({level} %-konfidensinterval "
             f"{pp(t['conf_low'])} til {pp(t['conf_high'])}; {fit.method}), med vægte kalibreret til registret.")
        if fit.truth is not None:
            s += f" Den simulerede sande effekt er {pp(fit.truth)} procentpoint."
        return s
    s = (f"{outcome_label}: the effect is {pp(t['estimate'])} {unit} ({level}% confidence interval "
         f"{pp(t['conf_low'])} to {pp(t['conf_high'])}; {fit.method}), with weights calibrated to the register.")
    if fit.truth is not None:
        s += f" The simulated true effect is {pp(fit.truth)} percentage points."
    return s


def effect_table(study):
    """The survey effect (calibrated and design weights) with its interval and the simulated truth."""
    from evalkit.report.outputs import markdown
    from evalkit.report.tables import _estimates_safe

    if _off(study):
        return markdown("")
    if _unavailable(study) is not None:
        return markdown("")  # rates_table says why
    lang, fit_ = study.p["lang"], study.survey_fit
    note = effect_text(fit_, outcome_label(fit_, study.p["survey_outcome"], lang), lang=lang,
                       alpha=study.p["alpha"]) + " " + {
        "da": "Respondent-niveau TWFE med område- og årseffekter, vægtet, klynget på område; samme inferens som "
              "for registerudfaldet. Estimanden er effekten på andelen i områdernes befolkning (gentagne "
              "tværsnit: ændringer i, hvem der bor der, indgår).".replace(
                  "andelen", "gennemsnitsscoren" if fit_.measure == "mean score" else "andelen"),
        "en": "Respondent-level TWFE with area and year effects, weighted, clustered by area; the same inference "
              "as for the register outcome. The estimand is the effect on the share in the areas' population "
              "(repeated cross-sections: changes in who lives there are part of it).".replace(
                  "the share", "the mean score" if fit_.measure == "mean score" else "the share")}[lang]
    note = " ".join([note, *fit_.notes])  # waves the report leaves out
    from evalkit.report.advising import ADVISOR_DRAWS

    adv = study.advised.advice
    ri = adv is not None and not adv.size_corrected and study.advised.method == "randomization"  # survey_effect's RI
    return _estimates_safe(effects_table(fit_, lang=lang), digits=4, note=note, lang=lang,
                           draws=ADVISOR_DRAWS if ri else None)
