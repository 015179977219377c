"""Words and per-model facts of :func:`evalkit.results.comparison.compare` (pure functions of a Result).

The inference label names the method the way applied papers do ("CR1 (cluster-robust)",
"WCR (Webb), 9,999 draws"), in Danish or English. Fixed effects and controls are read from the
result's ``meta`` where the estimator records them; an estimator that does not is left blank
rather than guessed.
"""
from __future__ import annotations

import math
import re

from evalkit.i18n import LABELS, format_number

#: words of the comparison table, {key: {lang: text}}
TEXT: dict[str, dict[str, str]] = {
    "estimator": {"da": "Estimator", "en": "Estimator"},
    "outcome": {"da": "Udfald", "en": "Outcome"},
    "n_obs": {"da": "Observationer", "en": "Observations"},
    "clusters": {"da": "Klynger", "en": "Clusters"},
    "inference": {"da": "Inferens", "en": "Inference"},
    "fixed_effects": {"da": "Faste effekter", "en": "Fixed effects"},
    "controls": {"da": "Kontrolvariable", "en": "Controls"},
    "weights": {"da": "Vægte", "en": "Weights"},
    "level": {"da": "Intervalniveau", "en": "Interval level"},
    "none": {"da": "ingen", "en": "none"},
    "reference": {"da": "ref.", "en": "ref."},
    "draws": {"da": "træk", "en": "draws"},
    "enumerated": {"da": "alle fortegnsmønstre", "en": "all sign patterns"},
    "fewer_than": {"da": "færre end {n}", "en": "fewer than {n}"},
    "note_se": {"da": "Standardfejl i parentes.", "en": "Standard errors in parentheses."},
    "note_ci": {"da": "{level} %-konfidensintervaller i kantede parenteser.",
                "en": "{level}% confidence intervals in brackets."},
    "note_no_se": {"da": "† {names}: ingen standardfejl efter metodens konstruktion; {level} %-konfidensintervallet "
                         "vises i stedet.",
                   "en": "† {names}: no standard error by design; the {level}% confidence interval is shown "
                         "instead."},
    "note_nothing": {"da": "{names}: hverken standardfejl eller konfidensinterval (kun punktestimater).",
                     "en": "{names}: neither a standard error nor a confidence interval (point estimates only)."},
    "note_blanked": {"da": "Tomme celler: færre end {n} personer bag estimatet (diskretionskontrol).",
                     "en": "Blank cells: fewer than {n} persons behind the estimate (disclosure control)."},
}

#: estimator name (before any " (combination)" suffix) -> shown name
ESTIMATORS: dict[str, dict[str, str] | str] = {
    "twfe": "TWFE", "did2x2": "2×2 DiD", "event_study": {"da": "Event study", "en": "Event study"},
    "sun_abraham": "Sun-Abraham", "did_imputation": "Imputation (BJS)", "sdid": "SDID", "sdid_sc": "SC (SDID)",
    "sdid_did": "DiD (SDID)", "synth": {"da": "Syntetisk kontrol", "en": "Synthetic control"},
    "conley_taber": "Conley-Taber", "ferman_pinto": "Ferman-Pinto", "bacon": "Goodman-Bacon",
    "att_gt": "Callaway-Sant'Anna",
}

#: InferenceInfo.method -> label (draws are added for resampling methods)
METHODS: dict[str, dict[str, str] | str] = {
    "cr1": {"da": "CR1 (klyngerobust)", "en": "CR1 (cluster-robust)"},
    "cr2": {"da": "CR2 (Bell-McCaffrey)", "en": "CR2 (Bell-McCaffrey)"},
    "cr3": {"da": "CR3 (jackknife)", "en": "CR3 (jackknife)"},
    "hc1": {"da": "HC1 (heteroskedasticitetsrobust)", "en": "HC1 (heteroskedasticity-robust)"},
    "wild": "WCR", "wild_webb": "WCR (Webb)", "wild_unrestricted": "WCU", "wcu": "WCU",
    "randomization": {"da": "Randomiseringsinferens", "en": "Randomization inference"},
    "analytic": {"da": "Analytisk (influensfunktion)", "en": "Analytic (influence function)"},
    "multiplier": {"da": "Multiplikator-bootstrap", "en": "Multiplier bootstrap"},
    "bjs": {"da": "BJS (konservativ)", "en": "BJS (conservative)"},
    "conley_taber": "Conley-Taber", "ferman_pinto": "Ferman-Pinto",
    "none": {"da": "ingen", "en": "none"},
}
#: methods whose p-value counts resamples (a p of 0 is shown as "< 1/(B+1)")
RESAMPLED_P = frozenset({"wild", "wild_webb", "wild_unrestricted", "wcu", "randomization", "conley_taber",
                         "ferman_pinto"})
#: methods whose label names their draws
RESAMPLING = RESAMPLED_P | {"multiplier"}
#: estimators fitted with unit and time fixed effects (meta["unit"], meta["time"])
WITHIN = frozenset({"twfe", "event_study", "sun_abraham", "did_imputation"})


#: data-contract columns shown by a readable name in the footer of the comparison (other user columns as given)
COLUMNS: dict[str, dict[str, str]] = {
    "OMR_ID": {"da": "område", "en": "area"},
    "OMR_ID_BASE": {"da": "område i baseline-året", "en": "baseline area"},
    "OMR_ID_CUR": {"da": "aktuelt område", "en": "current area"},
    "AAR": {"da": "år", "en": "year"},
    "KOMMUNE": {"da": "kommune", "en": "municipality"},
    "KOEN": {"da": "køn", "en": "sex"},
    "HERKOMST": {"da": "herkomst", "en": "origin"},
    "residents": {"da": "beboere", "en": "residents"},
    "cohort": {"da": "kohorte", "en": "cohort"},
}
#: "employment_rate[2010]": a covariate's value in one year
_YEAR_SUFFIX = re.compile(r"^(?P<name>.+?)\[(?P<year>[^\[\]]+)\]$")


def column_label(name, lang: str) -> str:
    """A column as the comparison shows it: data-contract columns by name ("OMR_ID" -> "område" /
    "area", "AAR" -> "år" / "year"), outcome columns by their label ("employment_rate" ->
    "Beskæftigelsesandel (18-64 år, fuldtidspersoner)"), a year in brackets kept
    ("employment_rate[2010]" -> "Beskæftigelsesandel (...) [2010]"); other columns as given."""
    name = str(name)
    if name in COLUMNS:
        return COLUMNS[name][lang]
    if name in LABELS:
        return LABELS[name][lang]
    m = _YEAR_SUFFIX.match(name)
    if m and (m["name"] in COLUMNS or m["name"] in LABELS):
        return f"{column_label(m['name'], lang)} [{m['year']}]"
    return name


def column_list(text_: str | None, lang: str) -> str | None:
    """"OMR_ID, AAR" -> "område, år": each comma-separated column by :func:`column_label`."""
    if text_ is None:
        return None
    return ", ".join(column_label(part.strip(), lang) for part in str(text_).split(", "))


def text(key: str, lang: str, **fields) -> str:
    return TEXT[key][lang].format(**fields)


def _pick(entry, lang: str, default: str) -> str:
    if entry is None:
        return default
    return entry[lang] if isinstance(entry, dict) else entry


def base_estimator(result) -> str:
    return result.estimator.split(" ")[0]


#: words in an estimator's name after its base name (" (combination)") and Callaway-Sant'Anna's aggregations
ESTIMATOR_WORDS: dict[str, dict[str, str]] = {
    "combination": {"da": "kombination", "en": "combination"},
    "simple": {"da": "simpel", "en": "simple"},
    "group": {"da": "pr. kohorte", "en": "group"},
    "dynamic": {"da": "dynamisk", "en": "dynamic"},
    "calendar": {"da": "kalenderår", "en": "calendar"},
}
#: estimators that take no covariates: their "Controls" cell says "none" (not blank)
NO_COVARIATES = frozenset({"did2x2", "event_study", "sun_abraham", "did_imputation", "conley_taber",
                           "ferman_pinto", "bacon"})
#: result terms shown under another name in Danish (terms=None; terms the user names are shown as given)
TERMS: dict[str, dict[str, str]] = {
    "ATT(post avg)": {"da": "ATT (gns. efter start)", "en": "ATT(post avg)"},
}


def _words(text: str, lang: str) -> str:
    """" (combination)" -> " (kombination)" in Danish; other text unchanged."""
    return re.sub(r"\(([^()]+)\)", lambda m: "(" + ESTIMATOR_WORDS.get(m.group(1), {}).get(lang, m.group(1)) + ")",
                  text)


def term_label(term: str, lang: str) -> str:
    """A result term as a Danish or English row label ("ATT(post avg)" -> "ATT (gns. efter start)",
    synthetic control's "gap t=5" -> "forskel t=5" in Danish)."""
    if term in TERMS:
        return TERMS[term][lang]
    if lang == "da" and term.startswith("gap t="):
        return "forskel t=" + term.removeprefix("gap t=")
    return term


def estimator_label(result, lang: str) -> str:
    """"TWFE", "Event study (combination)", "Callaway-Sant'Anna (simple)", ...; Danish words in Danish
    ("Event study (kombination)", "Callaway-Sant'Anna (simpel)")."""
    name, rest = base_estimator(result), result.estimator[len(base_estimator(result)):]
    if name.startswith("cs_aggregate_"):
        kind = name.removeprefix("cs_aggregate_")
        return f"Callaway-Sant'Anna ({ESTIMATOR_WORDS.get(kind, {}).get(lang, kind)})" + _words(rest, lang)
    return _pick(ESTIMATORS.get(name), lang, name) + _words(rest, lang)


def _wild_weights(result) -> tuple[str | None, bool]:
    details = result.diagnostics.get("inference_details") or {}
    first = details.get("ATT") or next((v for v in details.values() if isinstance(v, dict)), {})
    return (first.get("weights") if isinstance(first, dict) else None,
            bool(first.get("enumerated")) if isinstance(first, dict) else False)


def _sdid_method(method: str) -> str | None:
    """"placebo (Arkhangelsky et al. 2021, Algorithm 4)" -> "placebo"."""
    head = method.split(" (Arkhangelsky", 1)
    return head[0] if len(head) == 2 else None


def inference_label(result, lang: str) -> str:
    """How the result's p-values and intervals were computed, with the draws of a resampling method."""
    info = result.inference
    method, draws = info.method, info.draws
    sdid = _sdid_method(method)
    if sdid is not None:
        name = {"placebo": {"da": "Placebo-SE (SDID)", "en": "Placebo SE (SDID)"},
                "jackknife": {"da": "Jackknife-SE (SDID)", "en": "Jackknife SE (SDID)"},
                "bootstrap": {"da": "Bootstrap-SE (SDID)", "en": "Bootstrap SE (SDID)"}}.get(sdid)
        return _with_draws(_pick(name, lang, sdid), draws if sdid != "jackknife" else None, lang)
    if method.startswith("placebo in space"):
        name = {"da": "Placebo i rummet (RMSPE-forhold)", "en": "Placebo in space (RMSPE ratio)"}[lang]
        return _with_draws(name, draws, lang, unit={"da": "placebosæt", "en": "placebo sets"}[lang])
    if method in METHODS:
        name = _pick(METHODS[method], lang, method)
        if method in ("wild", "wild_unrestricted"):
            weights, enumerated = _wild_weights(result)
            name += f" ({weights.capitalize()})" if weights else ""
            if enumerated:
                return f"{name}, {text('enumerated', lang)}"
        return _with_draws(name, draws if method in RESAMPLING else None, lang)
    own = result.meta.get("inference_label") or result.diagnostics.get("inference_label")
    return str(own) if own else method


def _with_draws(name: str, draws, lang: str, unit: str | None = None) -> str:
    if draws is None or (isinstance(draws, float) and math.isnan(draws)):
        return name
    return f"{name}, {format_number(draws, lang, digits=0)} {unit or text('draws', lang)}"


def fixed_effects(result) -> str | None:
    """"OMR_ID, AAR" for the within estimators; None where the result does not say."""
    meta = result.meta
    if base_estimator(result) in WITHIN and meta.get("unit") and meta.get("time"):
        return f"{meta['unit']}, {meta['time']}"
    return None


def controls(result, lang: str) -> str | None:
    """The covariates (or synthetic-control predictors) the result records; None where it records none."""
    meta = result.meta
    values = meta.get("covariates")
    if values is None:
        values = meta.get("predictors")
    if values is None:
        return text("none", lang) if base_estimator(result) in NO_COVARIATES else None
    values = [str(v) for v in values]
    return ", ".join(values) if values else text("none", lang)


def weights(result, lang: str) -> str | None:
    """The weight column of a weighted fit, "none" for an unweighted one; None where the result does not say."""
    if "weights" not in result.meta:
        return None
    value = result.meta["weights"]
    return text("none", lang) if value is None else str(value)
