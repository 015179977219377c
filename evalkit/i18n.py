"""Danish and English labels for report text, tables and figures.

A bottom-layer module (it imports only :mod:`evalkit.errors`), so the domain layer can label
its tables without importing the report layer; :mod:`evalkit.report.i18n` re-exports it.
"""
from __future__ import annotations

import re

from evalkit.errors import check_choice

LANGS = ("da", "en")

LABELS: dict[str, dict[str, str]] = {
    "employment_rate": {"da": "Beskæftigelsesandel (18-64 år, fuldtidspersoner)",
                        "en": "Employment rate (ages 18-64, full-time persons)"},
    "k1_share": {"da": "Andel uden for arbejdsmarked og uddannelse (18-64 år)",
                 "en": "Share outside labour market and education (ages 18-64)"},
    "conviction_share": {"da": "Andel dømt for kriminalitet (18+ år)", "en": "Share convicted (ages 18+)"},
    "basic_edu_share": {"da": "Andel med kun grundskole (30-59 år)", "en": "Share with basic schooling only (ages 30-59)"},
    "income_rel_region": {"da": "Indkomst i forhold til regionen", "en": "Income relative to region"},
    "nonwestern_share": {"da": "Andel ikke-vestlige indvandrere og efterkommere",
                         "en": "Share non-western immigrants and descendants"},
    "youth_emp_edu_share": {"da": "Andel unge i job eller uddannelse (15-24 år, fuldtidspersoner)",
                            "en": "Young people in employment or education (ages 15-24, full-time persons)"},
    "in_emp_edu_share": {"da": "Tilflytteres andel i job eller uddannelse (18-64 år)",
                         "en": "In-movers in employment or education (ages 18-64)"},
    "in_nonwestern_share": {"da": "Andel ikke-vestlige blandt tilflyttere (18-64 år)",
                            "en": "Non-western share of in-movers (ages 18-64)"},
    "out_emp_edu_share": {"da": "Fraflytteres andel i job eller uddannelse (18-64 år, sidste år i området)",
                          "en": "Out-movers in employment or education (ages 18-64, last year in the area)"},
    "out_nonwestern_share": {"da": "Andel ikke-vestlige blandt fraflyttere (18-64 år)",
                             "en": "Non-western share of out-movers (ages 18-64)"},
    "residents": {"da": "Beboere", "en": "Residents"},
    "residents_18_64": {"da": "Beboere 18-64 år", "en": "Residents 18-64"},
    "residents_15_24": {"da": "Beboere 15-24 år", "en": "Residents 15-24"},
    "n_in_movers": {"da": "Tilflyttere 18-64 år", "en": "In-movers 18-64"},
    "n_out_movers": {"da": "Fraflyttere 18-64 år", "en": "Out-movers 18-64"},
    "fleksibel_udlejning": {"da": "Fleksibel udlejning", "en": "Flexible letting (priority to applicants in work)"},
    "n_obs": {"da": "Observationer", "en": "Observations"},
    "fremskudt_beskaeftigelse": {"da": "Fremskudt beskæftigelsesindsats", "en": "Outreach job-centre office"},
    "poa": {"da": "Problemorienteret politiarbejde (POA)", "en": "Problem-oriented policing (POA)"},
    "midterm": {"da": "Midtvejsevaluering", "en": "Midterm evaluation"},
    "final": {"da": "Endelig effektmåling", "en": "Final effect evaluation"},
    "treated": {"da": "Indsatsområder", "en": "Treated areas"},
    "comparison": {"da": "Sammenligningsområder", "en": "Comparison areas"},
    "difference": {"da": "Forskel", "en": "Difference"},
    "std_diff": {"da": "Standardiseret forskel", "en": "Standardised difference"},
    "indicator": {"da": "Indikator", "en": "Indicator"},
    "cohort": {"da": "Første indsatsår", "en": "First treated year"},
    "n_areas": {"da": "Antal områder", "en": "Number of areas"},
    "year": {"da": "År", "en": "Year"},
    "specification": {"da": "Specifikation", "en": "Specification"},
    "estimate": {"da": "Estimat", "en": "Estimate"},
    "std_error": {"da": "Standardfejl", "en": "Std. error"},
    "ci": {"da": "Konfidensinterval", "en": "Confidence interval"},
    "p_value": {"da": "p-værdi", "en": "p-value"},
    "truth": {"da": "Simuleret sand effekt", "en": "Simulated true effect"},
    "inference": {"da": "Inferens (p-værdi og interval)", "en": "Inference (p-value and interval)"},
    # event-study and HonestDiD tables
    "term": {"da": "Led", "en": "Term"},
    "event_time": {"da": "År fra start", "en": "Event time"},
    "conf_low": {"da": "Nedre", "en": "Lower"},
    "conf_high": {"da": "Øvre", "en": "Upper"},
    "statistic": {"da": "Teststørrelse", "en": "Statistic"},
    "n_treated": {"da": "Behandlede", "en": "Treated"},
    "n_control": {"da": "Kontrol", "en": "Control"},
    "method": {"da": "Metode", "en": "Method"},
    "treated_persons": {"da": "Behandlede personer", "en": "Treated persons"},
    "Mbar": {"da": "M̄ (grænse for brud)", "en": "M̄ (bound on violations)"},
    "lb": {"da": "Nedre grænse", "en": "Lower bound"},
    "ub": {"da": "Øvre grænse", "en": "Upper bound"},
    # table headers of the inference and estimand tables (evalkit.report.few_clusters, domain_sections)
    "effect_pp": {"da": "Effekt, procentpoint", "en": "Effect, percentage points"},
    "effect_points": {"da": "Effekt, point på skalaen", "en": "Effect, points on the scale"},
    "percentage_points": {"da": "procentpoint", "en": "percentage points"},
    "std_error_short": {"da": "Std.fejl", "en": "Std. error"},
    "details": {"da": "Detaljer", "en": "Details"},
    "used": {"da": "Anvendt", "en": "Used"},
    "basis": {"da": "Grundlag", "en": "Basis"},
    "estimand": {"da": "Estimand", "en": "Estimand"},
    "n_clusters": {"da": "Klynger", "en": "Clusters"},
    "truth_short": {"da": "Simuleret sand", "en": "Simulated truth"},
    "estimand_difference": {"da": "Forskel (område - kohorte)", "en": "Difference (area - cohort)"},
    "never_treated": {"da": "aldrig behandlede områder", "en": "never-treated areas"},
    "never_treated_no_other": {"da": "aldrig behandlede områder uden andre indsatser",
                               "en": "never-treated areas without other interventions"},
    "what_was_found": {"da": "Hvad blev fundet", "en": "What was found"},
    "area_estimand": {"da": "Områdeeffekt (beboere det enkelte år)", "en": "Area effect (residents each year)"},
    "cohort_estimand": {"da": "Kohorteeffekt (beboere i baseline-året, fulgt ved fraflytning)",
                        "en": "Cohort effect (baseline residents, followed when they move)"},
    # subgroup effects (evalkit.domain.subgroups)
    "subgroup": {"da": "Undergruppe", "en": "Subgroup"},
    "n_persons": {"da": "Antal personer (afrundet)", "en": "Persons (rounded)"},
    "joint_test": {"da": "Test for ens effekter", "en": "Test of equal effects"},
    "wild_bootstrap": {"da": "wild bootstrap", "en": "wild bootstrap"},
    "n_responses": {"da": "Antal besvarelser (afrundet)", "en": "Responses (rounded)"},
    "by_origin": {"da": "efter herkomst", "en": "by origin"},
    "by_sex": {"da": "efter køn", "en": "by sex"},
    "by_age_band": {"da": "efter aldersgruppe", "en": "by age band"},
    "by_education": {"da": "efter uddannelse i baseline", "en": "by education at baseline"},
    "subgroup_nonwestern": {"da": "Ikke-vestlige indvandrere og efterkommere",
                            "en": "Non-western immigrants and descendants"},
    "subgroup_other": {"da": "Øvrige", "en": "Others"},
    "subgroup_men": {"da": "Mænd", "en": "Men"},
    "subgroup_women": {"da": "Kvinder", "en": "Women"},
    "subgroup_basic": {"da": "Grundskole", "en": "Basic schooling"},
    "subgroup_upper_secondary": {"da": "Gymnasial eller erhvervsfaglig", "en": "Upper secondary or vocational"},
    "subgroup_higher": {"da": "Videregående", "en": "Higher education"},
    # survey section of the reports (evalkit.report.survey_section)
    "tryghed": {"da": "Andel der føler sig trygge (tryghedsmåling)", "en": "Share feeling safe (safety survey)"},
    "group": {"da": "Gruppe", "en": "Group"},
    "survey_weights": {"da": "Vægte", "en": "Weights"},
    "area_waves": {"da": "Område-bølger", "en": "Area-waves"},
    "respondents": {"da": "Besvarelser (afrundet)", "en": "Respondents (rounded)"},
    "n_eff_design": {"da": "Effektiv størrelse, designvægte", "en": "Effective size, design weights"},
    "deff_design": {"da": "Designeffekt, designvægte", "en": "Design effect, design weights"},
    "n_eff": {"da": "Effektiv størrelse, kalibrerede vægte", "en": "Effective size, calibrated weights"},
    "deff": {"da": "Designeffekt, kalibrerede vægte", "en": "Design effect, calibrated weights"},
    "levels_pooled": {"da": "Sammenlagte niveauer", "en": "Levels pooled"},
    "margin_age_band": {"da": "aldersgruppe", "en": "age band"},
    "margin_KOEN": {"da": "køn", "en": "sex"},
    "margin_HERKOMST": {"da": "herkomst", "en": "origin"},
    "joint_p": {"da": "p-værdi for ens effekter", "en": "p-value of equal effects"},
    # estimator warnings shown as report notes (evalkit.report.study, Callaway-Sant'Anna section)
    "small_cohorts": {"da": "Små kohorter (færre enheder end antal kovariater + 5; estimater og standardfejl "
                            "er usikre): {cohorts}",
                      "en": "Small cohorts (units < number of covariates + 5; estimates and SEs unreliable): "
                            "{cohorts}"},
    "small_cohort": {"da": "kohorte {cohort}: {n} enhed(er)", "en": "cohort {cohort}: {n} unit(s)"},
}

# the header words of Result.summary(lang) (evalkit.results.result)
SUMMARY_WORDS: dict[str, dict[str, str]] = {
    "en": {"estimator": "Estimator", "outcome": "Outcome", "clusters": "Clusters", "inference": "Inference",
           "weights": "Weights", "weights_of": "weights", "none": "none", "normal": "normal",
           "intervals": "({level}% intervals)"},
    "da": {"estimator": "Estimator", "outcome": "Udfald", "clusters": "Klynger", "inference": "Inferens",
           "weights": "Vægte", "weights_of": "vægte", "none": "ingen", "normal": "normalfordeling",
           "intervals": "({level} %-intervaller)"},
}

SECTIONS: dict[str, dict[str, str]] = {
    "design": {"da": "Design og data", "en": "Design and data"},
    "balance": {"da": "Balance i baseline-året", "en": "Baseline balance"},
    "trends": {"da": "Udvikling før og efter indsatsen", "en": "Trends before and after the intervention"},
    "pretrends": {"da": "Test for parallelle forløb før indsatsen", "en": "Pre-trend test"},
    "event_study": {"da": "Effekt over tid (event study)", "en": "Effects over time (event study)"},
    "main": {"da": "Hovedresultater", "en": "Main results"},
    "robustness": {"da": "Robusthed", "en": "Robustness"},
    "staggered": {"da": "Forskudt start: Callaway-Sant'Anna", "en": "Staggered adoption: Callaway-Sant'Anna"},
    "sensitivity": {"da": "Følsomhed over for brud på parallelle forløb (HonestDiD)",
                    "en": "Sensitivity to violations of parallel trends (HonestDiD)"},
    "few_clusters": {"da": "Inferens med få indsatsområder", "en": "Inference with few treated areas"},
    "synth": {"da": "Syntetisk kontrol", "en": "Synthetic control"},
    "conclusions": {"da": "Konklusioner", "en": "Conclusions"},
    "movers": {"da": "Blivere, tilflyttere og fraflyttere", "en": "Stayers, in-movers and out-movers"},
    "estimands": {"da": "Områdeeffekt og kohorteeffekt", "en": "Area effect and cohort effect"},
    "goals": {"da": "Målopfyldelse", "en": "Goal attainment"},
    "cost": {"da": "Pris pr. effekt", "en": "Cost per effect"},
    "survey": {"da": "Spørgeskemaundersøgelse: effekt med kalibrerede vægte",
               "en": "Survey outcome: effect with calibrated weights"},
    "subgroups": {"da": "Effekter for undergrupper", "en": "Effects by subgroup"},
}

#: HonestDiD's interval codes (:mod:`evalkit.diagnostics.honest_did`) as a report's sensitivity table
#: shows them (:func:`evalkit.report.study.honest_table`)
HONEST_METHODS: dict[str, dict[str, str]] = {
    "c-lf": {"da": "Hybrid af betinget og mindst gunstig test (C-LF)", "en": "Conditional least-favorable hybrid (C-LF)"},
    "flci": {"da": "Interval med fast længde (FLCI)", "en": "Fixed-length confidence interval (FLCI)"},
    "conditional": {"da": "Betinget test", "en": "Conditional test"},
    "original": {"da": "Oprindeligt interval", "en": "Original interval"},
}

#: run parameter -> the name a report's parameter header shows (:mod:`evalkit.report.param_header`)
PARAMETER_NAMES: dict[str, dict[str, str]] = {
    "title": {"da": "Titel", "en": "Title"},
    "intervention": {"da": "Indsats", "en": "Intervention"},
    "outcome": {"da": "Udfald", "en": "Outcome"},
    "baseline_year": {"da": "Baseline-år", "en": "Baseline year"},
    "evaluation_year": {"da": "Evalueringsår", "en": "Evaluation year"},
    "comparison": {"da": "Sammenligningsområder", "en": "Comparison areas"},
    "leads": {"da": "År før start i event study", "en": "Event-study years before the start"},
    "lags": {"da": "År efter start i event study", "en": "Event-study years after the start"},
    "alpha": {"da": "Signifikansniveau (α)", "en": "Significance level (α)"},
    "lang": {"da": "Sprog", "en": "Language"},
    "seed": {"da": "Startværdi for tilfældige tal (seed)", "en": "Random seed"},
    "min_cell": {"da": "Mindste antal personer pr. celle", "en": "Smallest number of persons per cell"},
    "round_base": {"da": "Antal personer afrundes til multiplum af", "en": "Person counts rounded to multiples of"},
    "goals": {"da": "Mål", "en": "Goals"},
    "goals_as_of": {"da": "Mål vurderet i år", "en": "Goals assessed in"},
    "advisor_placebos": {"da": "Placebotildelinger i inferensrådgiveren",
                         "en": "Placebo assignments of the inference advisor"},
    "advisor_effect": {"da": "Effekt for inferensrådgiverens styrke",
                       "en": "Effect for the inference advisor's power"},
    "survey_outcome": {"da": "Spørgeskemaudfald", "en": "Survey outcome"},
    "survey": {"da": "Spørgeskemafil og kolonner", "en": "Survey file and columns"},
    "subgroup_by": {"da": "Undergrupper", "en": "Subgroups"},
    "budget_dkk": {"da": "Budget (kr.)", "en": "Budget (DKK)"},
}

#: what an empty or zero value of a run parameter means, as the parameter header shows it (plain
#: language for a reviewer: no file or column names)
PARAMETER_DEFAULTS: dict[str, dict[str, str]] = {
    "title": {"da": "dannet ud fra indsatsen", "en": "from the intervention"},
    "goals": {"da": "ingen", "en": "none"},
    "goals_as_of": {"da": "hvert måls målår", "en": "each goal's target year"},
    "advisor_effect": {"da": "udfaldets standardeffekt", "en": "the outcome's default effect"},
    "survey_outcome": {"da": "intet", "en": "none"},
    "survey": {"da": "standard (datamappens tryghedsmåling)", "en": "default (the data folder's safety survey)"},
    "subgroup_by": {"da": "ingen", "en": "none"},
    "budget_dkk": {"da": "samlet budget for indsatsen", "en": "total budget of the intervention"},
}
#: the report language as the parameter header names it, by the header's language
LANGUAGE_NAMES: dict[str, dict[str, str]] = {"da": {"da": "dansk", "en": "Danish"},
                                             "en": {"da": "engelsk", "en": "English"}}
#: the words of a goal's line in the parameter header
GOAL_WORDS: dict[str, dict[str, str]] = {"da": {"from": "fra", "to": "til", "group": "målgruppe"},
                                         "en": {"from": "from", "to": "to", "group": "target group"}}


def format_p(p, lang: str = "en", *, digits: int = 3, comma: bool | None = None, draws: int | None = None) -> str:
    """A p-value as shown in reports: ``digits`` decimals, "< 0.001" below 0.001 (never "0.000" or
    "9.18e-06"), "1" for 1 and "> 0.999" for what would round to it (never "1.000", a thousand in
    Danish), and for a resampling p-value of exactly 0 with ``draws`` resamples "< 1/(B+1)" written
    as a decimal (no draw was as extreme). ``comma``: Danish decimal comma ("< 0,001");
    ``None`` (default): the language's convention (a comma in Danish, a point in English).
    "–" for a missing or non-finite value."""
    check_choice("lang", lang, LANGS)
    comma = lang == "da" if comma is None else comma
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "–"
    if p != p or p in (float("inf"), float("-inf")):
        return "–"
    if p <= 0 and draws:
        floor = 1.0 / (draws + 1)
        out = "< 0.001" if floor < 0.001 else f"< {floor:.{max(digits, 4)}f}".rstrip("0")
    elif p < 0.001:
        out = "< 0.001"
    elif p >= 1:  # e.g. a placebo p when the treated unit ranks last: "1", never "1.000" (in Danish a thousand)
        out = "1"
    elif p >= 1 - 0.5 * 10 ** -digits:  # would round to 1.000
        out = f"> {1 - 10 ** -digits:.{digits}f}"
    else:
        out = f"{p:.{digits}f}"
    return out.replace(".", ",") if comma else out


def format_number(x, lang: str = "en", *, digits: int = 3) -> str:
    """A number with ``digits`` decimals and grouped thousands: "1,234.568" in English,
    "1.234,568" in Danish (the Danish convention: decimal comma, dot as thousands separator).
    "–" for a missing value; "∞" / "-∞" for infinite ones."""
    check_choice("lang", lang, LANGS)
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "–"
    if x != x:
        return "–"
    if x in (float("inf"), float("-inf")):
        return "∞" if x > 0 else "-∞"
    out = f"{x:,.{digits}f}"
    if out.lstrip("-").strip("0.,") == "":  # -0.000 is 0.000
        out = out.lstrip("-")
    return out.translate(str.maketrans(",.", ".,")) if lang == "da" else out


def p_equals(p, lang: str = "en", *, digits: int = 3, comma: bool | None = None, draws: int | None = None) -> str:
    """"p = 0.048", or "p < 0.001" below 0.001 (for sentences); Danish "p = 0,048" unless ``comma=False``;
    a resampling p-value of 0 with ``draws`` resamples "p < 1/(B+1)" (:func:`format_p`)."""
    shown = format_p(p, lang, digits=digits, comma=comma, draws=draws)
    return f"p {shown}" if shown.startswith(("<", ">")) else f"p = {shown}"


# an English-formatted number: grouped thousands ("1,744.360", "12,000") or a decimal ("0.048", "-3.10"),
# not part of a word or code ("K1", "v1.2"), a version ("3.11.2") or a longer number; "0,048" is
# never read as grouped thousands (it is a Danish decimal already)
_EN_NUMBER = re.compile(r"(?<![\w.,])([1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)(?!\w|[.,]\d)")


def localize_numbers(text: str, lang: str) -> str:
    """``text`` with its English-formatted numbers written in ``lang``'s convention.

    For report text that the library wrote with English number formats (``f"{x:.2f}"``): in
    Danish "0.048" becomes "0,048" and "1,744.360" becomes "1.744,360"; whole numbers without
    grouping (years such as "2024", counts such as "999"), codes ("K1"), versions ("3.11.2"),
    Danish decimals below one ("p = 0,048") and everything in English are left as they are.
    Apply it once, to text written the English way: "1,500" is read as fifteen hundred.

    Parameters
    ----------
    text : str
        The text, numbers written the English way.
    lang : str
        "da" or "en".

    Returns
    -------
    str
        The text with Danish decimal commas and thousands dots when ``lang`` is "da".
    """
    check_choice("lang", lang, LANGS)
    if lang != "da" or not text:
        return text
    swap = str.maketrans(",.", ".,")
    return _EN_NUMBER.sub(lambda m: m.group(1).translate(swap), text)


def area_letter(i: int) -> str:
    """The name reports give the i-th treated area (0-based, in id order): "A" to "Z", then "A26", ...
    (areas are not named in reports)."""
    return chr(65 + i) if 0 <= i < 26 else f"A{i}"


def label(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang`` (falls back to the key itself)."""
    check_choice("lang", lang, LANGS)
    return LABELS.get(key, {}).get(lang, key)


def section(key: str, lang: str) -> str:
    """Section heading text."""
    check_choice("lang", lang, LANGS)
    check_choice("section", key, list(SECTIONS))
    return SECTIONS[key][lang]

#: the disclosure preview widget (evalkit.report.widgets): control labels, row status, summary and notes;
#: ``{min_cell}``, ``{base}``, ``{shown}``, ``{primary}``, ``{secondary}`` and ``{marker}`` are filled in
WIDGET_LABELS: dict[str, dict[str, str]] = {
    "min_cell": {"da": "Mindst antal personer pr. celle", "en": "Minimum persons per cell"},
    "round_base": {"da": "Afrund antal til multiplum af", "en": "Round counts to multiples of"},
    "shown": {"da": "vist", "en": "shown"},
    "primary": {"da": "undertrykt (n < {min_cell})", "en": "suppressed (n < {min_cell})"},
    "secondary": {"da": "undertrykt (sekundær)", "en": "suppressed (secondary)"},
    "summary": {"da": "{shown} rækker vist, {primary} undertrykt (n < {min_cell}), {secondary} undertrykt "
                      "(sekundær); {rounding}.",
                "en": "{shown} rows shown, {primary} suppressed (n < {min_cell}), {secondary} suppressed "
                      "(secondary); {rounding}."},
    "rounded": {"da": "antal afrundet til multiplum af {base}", "en": "counts rounded to multiples of {base}"},
    "unrounded": {"da": "antal ikke afrundet", "en": "counts not rounded"},
    "footnote": {"da": "{marker}: undertrykt (færre end {min_cell} personer, eller for at beskytte en sådan celle "
                       "mod at blive fundet ved at trække fra totalen).",
                 "en": "{marker}: suppressed (fewer than {min_cell} persons, or protecting such a cell against "
                       "recovery by subtraction from the total)."},
    "note": {"da": "Forhåndsvisning i din egen kernel, ikke en frigivelse: en rapport viser tabeller gennem "
                   "safe_table eller tabulate.",
             "en": "A preview in your own kernel, not a release: a report shows tables through safe_table or "
                   "tabulate."},
    # the header of the column disclosure_preview adds ("status" is English; Statistics Denmark calls the
    # suppression of cells "diskretionering")
    "status": {"da": "diskretionering", "en": "status"},
}
