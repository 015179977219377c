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

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitWarning

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


# ------------------------------------------------------------------------------ pure tables
def area_letters(treated) -> dict:
    """{OMR_ID: "A", ...} for the treated areas in id order (areas are not named in reports)."""
    return {a: chr(65 + i) if i < 26 else f"A{i}" for i, a in enumerate(sorted(treated))}


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


def with_report_inference(study, result, cells: pd.DataFrame) -> pd.Series:
    """The ATT row of a cell-level TWFE ``result`` with the p-value and interval of the report's method: the
    inference advisor's choice (randomization inference with its test-inversion interval, size-corrected
    CR2, a wild bootstrap, CR1-3), else the restricted wild bootstrap below 10 treated areas, else CR1."""
    from evalkit.estimators.postfit import randomization_combination
    from evalkit.report import advising

    adv, seed = study.advised, study.p["seed"]
    row = result.tidy().set_index("term").loc["ATT"].copy()
    if adv.advice is not None and adv.advice.size_corrected:
        cr2 = result.with_inference("cr2", cells).tidy().set_index("term").loc["ATT"]
        half = adv.advice.critical_value * cr2["std_error"]
        row[["std_error", "conf_low", "conf_high"]] = [cr2["std_error"], cr2["estimate"] - half, cr2["estimate"] + half]
        row["p_value"] = advising.corrected_p(cr2["estimate"] / cr2["std_error"], adv.advice.critical_value,
                                              result.alpha)
        return row
    if adv.advice is not None and adv.method == "randomization":
        ri = randomization_combination(result, cells, {"ATT": 1.0}, seed=seed, draws=advising.ADVISOR_DRAWS)
        low, high = advising.randomization_interval(row["estimate"], float(ri.observed[0]), ri.null[:, 0],
                                                    result.alpha)
        row[["p_value", "conf_low", "conf_high"]] = [float(ri.p_value[0]), low, high]
        return row
    method, options, _ = report_inference(study)
    if method is None:
        return row
    return result.with_inference(method, cells, **options).tidy().set_index("term").loc["ATT"]


def _method_label(study) -> str:
    from evalkit.report import few_clusters

    if study.advised.advice is not None:
        return study._used_label()
    return few_clusters.NAMES["cr1" if study.check.cr1_reliable else "wild"][study.p["lang"]]


def fit(study) -> SurveyFit:
    """Read, calibrate and estimate the report's survey outcome (one pass per report)."""
    from evalkit.domain.survey_did import _cells, _disclosed, survey_outcome, with_cohorts
    from evalkit.estimators.twfe import twfe
    from evalkit.domain.survey_margins import register_margins
    from evalkit.domain.survey_read import read_survey
    from evalkit.domain.survey_weights import CALIBRATED, MARGINS, calibrate_weights
    from evalkit.report import truth as truth_mod
    from evalkit.progress import step

    p, spec = study.p, SURVEYS[study.p["survey_outcome"]]
    path = Path(p["data_dir"]) / spec.file
    import pyarrow.parquet as pq

    columns = pq.read_schema(path).names if path.suffix == ".parquet" else []
    config = _config(columns, spec)
    raw = read_survey(path, config, require_weights=config["weight"] is not None)
    cohorts = study.cohorts[study.cohorts["role"] != "excluded"]
    # the report's area-waves: areas of the comparison rule, years up to the evaluation year, thin area-years
    # of the register panel left out (their margins rest on fewer than min_cell residents)
    cells = study.area[["OMR_ID", "AAR"]].astype("int64")
    raw = raw[raw["OMR_ID"].isin(cohorts["OMR_ID"])].astype({"OMR_ID": "int64"}).merge(cells, on=["OMR_ID", "AAR"])
    treated = set(cohorts.loc[cohorts["cohort"] > 0, "OMR_ID"].astype(int))
    rates = response_rates(raw, spec.answer, treated, min_cell=p["min_cell"], by_area=len(treated) <= MAX_AREA_COLUMNS)
    respondents = raw[raw[spec.answer].notna()].reset_index(drop=True)
    with step(f"survey: calibrating {len(respondents):,} respondents' weights to the register margins (svy)"):
        margins = register_margins(p["data_dir"], years=sorted(respondents["AAR"].unique()))
        variables = MARGINS if config["origin"] else ("age_band", "KOEN")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)
            cal = calibrate_weights(respondents, margins, variables=variables, min_cell=p["min_cell"])
    data = with_cohorts(cal.data, dict(zip(cohorts["OMR_ID"], cohorts["cohort"])))
    y = survey_outcome(data, spec.answer, cutoff=spec.cutoff)
    with warnings.catch_warnings():  # as survey_did: no estimate rests on an area-wave of < min_cell respondents
        warnings.simplefilter("ignore", EvalkitWarning)
        data, y, _ = _disclosed(data, y, CALIBRATED, p["min_cell"])
    method = _method_label(study)
    fits = {}
    with step(f"survey: respondent-level TWFE ({method})"), warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        for key, w in (("calibrated", CALIBRATED), ("design", "VAEGT")):
            cells = _cells(data, y, w)
            res = twfe(cells, outcome="y", unit="OMR_ID", time="AAR", treatment="D", cluster="OMR_ID", weights="w",
                       alpha=p["alpha"])
            fits[key] = with_report_inference(study, res, cells)
    cells = data.assign(w=data[CALIBRATED]).groupby(["OMR_ID", "AAR"], as_index=False).agg(w=("w", "sum"),
                                                                                          D=("D", "first"))
    true = truth_att(cells.astype({"OMR_ID": "int64"}), truth_mod.area_effects(p["data_dir"], spec.truth))
    return SurveyFit(calibrated=fits["calibrated"], design=fits["design"], calibration=cal, rates=rates,
                     truth=true, method=method, data=data)


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
    exc = study._survey_error
    if exc is not None:
        reason = _shown_reason(exc)
        return markdown({"da": f"_Spørgeskemaet kunne ikke estimeres på disse data: {reason}_",
                         "en": f"_The survey could not be estimated on these data: {reason}_"}[study.p["lang"]])
    return None


def _shown_reason(exc) -> str:
    """The error's message when the disclosure check of report text lets it through (no person key, no
    small count), else only its type: the note is the one place the reason is recorded."""
    from evalkit.report.textcheck import DisclosureError, check_text

    message = f"{type(exc).__name__}: {exc}".replace("_", r"\_")  # Markdown: no italics inside
    try:
        return check_text(message, what="survey error")
    except DisclosureError:
        return f"{type(exc).__name__} (the message is withheld: it would show data)"


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
    return _estimates_safe(shown.round(0), digits=0, note=note)  # whole per cent: no exact count back


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
    note = {"da": f"Designvægte raket til registrets fordeling på {margins} i hvert område og hver bølge (svy). "
                  "Effektiv stikprøvestørrelse efter Kish, (sum w)^2 / sum w^2, summeret over område-bølger; "
                  "designeffekt = besvarelser / effektiv størrelse. Antal besvarelser er afrundet.",
            "en": f"Design weights raked to the register's distribution by {margins} in each area and wave (svy). "
                  "Kish effective sample size, (sum w)^2 / sum w^2, summed over area-waves; design effect = "
                  "respondents / effective size. Respondent counts are rounded."}[lang]
    return safe_table(d, count_cols=[names["respondents"]], index=[names["arm"]], min_cell=p["min_cell"],
                      digits=2, note=note, _trusted=True)


def effect_text(fit: SurveyFit, outcome_label: str, *, lang: str, alpha: float) -> str:
    """One sentence: the calibrated effect with its interval, the method, and the truth (pure)."""
    t = fit.calibrated
    pp = lambda v: f"{100 * v:+.1f}".replace(".", "," if lang == "da" else ".")  # noqa: E731
    level = round(100 * (1 - alpha))
    if lang == "da":
        s = (f"{outcome_label}: effekten er {pp(t['estimate'])} procentpoint ({level} %-konfidensinterval "
             f"{pp(t['conf_low'])} til {pp(t['conf_high'])}; {fit.method}), med vægte kalibreret til registret.")
        if fit.truth is not None:
            s += f" Den simulerede sande effekt er {pp(fit.truth)} procentpoint."
        return s
    s = (f"{outcome_label}: the effect is {pp(t['estimate'])} percentage points ({level} % confidence interval "
         f"{pp(t['conf_low'])} to {pp(t['conf_high'])}; {fit.method}), with weights calibrated to the register.")
    if fit.truth is not None:
        s += f" The simulated true effect is {pp(fit.truth)} percentage points."
    return s


def effect_table(study):
    """The survey effect (calibrated and design weights) with its interval and the simulated truth."""
    from evalkit.report.outputs import markdown
    from evalkit.report.tables import _estimates_safe
    from evalkit.report.i18n import label

    if _off(study):
        return markdown("")
    if _unavailable(study) is not None:
        return markdown("")  # rates_table says why
    lang, fit_ = study.p["lang"], study.survey_fit
    note = effect_text(fit_, label(study.p["survey_outcome"], lang), lang=lang, alpha=study.p["alpha"]) + " " + {
        "da": "Respondent-niveau TWFE med område- og årseffekter, vægtet, klynget på område; samme inferens som "
              "for registerudfaldet. Estimanden er effekten på andelen i områdernes befolkning (gentagne "
              "tværsnit: ændringer i, hvem der bor der, indgår).",
        "en": "Respondent-level TWFE with area and year effects, weighted, clustered by area; the same inference "
              "as for the register outcome. The estimand is the effect on the share in the areas' population "
              "(repeated cross-sections: changes in who lives there are part of it)."}[lang]
    return _estimates_safe(effects_table(fit_, lang=lang), digits=4, note=note)
