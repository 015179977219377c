"""The robustness table of the final report: one effect, several specifications."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit import seal
from evalkit.domain.timing import attach_cohort
from evalkit.errors import EvalkitError
from evalkit.estimators import did2x2, did_imputation, sun_abraham, twfe
from evalkit.estimators.combine import lincom, post_average
from evalkit.estimators.staggered import aggregate
from evalkit.report import truth
from evalkit.report.advising import WEIGHT
from evalkit.report.few_clusters import NAMES
from evalkit.report.i18n import label
from evalkit.results import compare

SPEC_NAMES = {
    "cs_area": {"da": "Callaway-Sant'Anna, område, simpel ATT", "en": "Callaway-Sant'Anna, area, simple ATT"},
    "sa_area": {"da": "Sun-Abraham, område, gns. efter start", "en": "Sun-Abraham, area, post average"},
    "imputation_area": {"da": "Imputation (BJS), område, ATT", "en": "Imputation (BJS), area, ATT"},
    "es_area": {"da": "Event study, område, gns. efter start", "en": "Event study, area, post average"},
    "twfe_area": {"da": "TWFE, område, statisk", "en": "TWFE, area, static"},
    "twfe_area_clean": {"da": "TWFE, område, uden andre indsatser i kontrol",
                        "en": "TWFE, area, comparison without other interventions"},
    "did_2x2": {"da": "2×2 DiD, baseline vs. evalueringsår", "en": "2×2 DiD, baseline vs evaluation year"},
    "es_cohort": {"da": "Event study, kohorte, gns. efter start", "en": "Event study, cohort, post average"},
    "twfe_cohort": {"da": "TWFE, kohorte, statisk", "en": "TWFE, cohort, static"},
}


def _twfe(panel: pd.DataFrame, outcome: str, unit: str, alpha: float, weights: str | None = None):
    return twfe(panel, outcome=outcome, unit=unit, time="AAR", treatment="treat", cluster="OMR_ID", alpha=alpha,
                weights=weights)


def _two_by_two(study) -> tuple[object, float]:
    p, area = study.p, study.area
    keep = area["AAR"].isin([p["baseline_year"], p["evaluation_year"]])
    keep &= (area["cohort"] == 0) | ((area["cohort"] > p["baseline_year"]) & (area["cohort"] <= p["evaluation_year"]))
    sample = area[keep].assign(post=lambda d: (d["AAR"] == p["evaluation_year"]).astype(int))
    result = did2x2(sample, outcome=p["outcome"], treatment="treated", post="post", cluster="OMR_ID", alpha=p["alpha"],
                    weights=WEIGHT)
    # its rows are area-years: counts of areas, not persons (did2x2 takes no unit; rounding and the
    # person-row rules go by meta["unit"], evalkit.privacy.person_unit)
    result = result.replace(meta={**dict(result.meta or {}), "unit": "OMR_ID"})
    true = np.nan
    if "effect" in sample:
        treated_post = sample[(sample["treated"] == 1) & (sample["post"] == 1) & sample["effect"].notna()]
        true = float(np.average(treated_post["effect"], weights=treated_post[WEIGHT])) if len(treated_post) else np.nan
    return result, true


def _clean_comparison(study) -> pd.DataFrame:
    base = study.area.drop(columns=["cohort", "treated", "treat"])
    return attach_cohort(base, study.cohorts_for("never_treated_no_other"))


def _truth_att(panel: pd.DataFrame) -> float:
    return truth.truth_att(panel) if "effect" in panel else np.nan


def _heterogeneity_robust(study) -> dict[str, tuple[object, float]]:
    """CS, Sun-Abraham and imputation on the area panel (robust to staggered, heterogeneous effects)."""
    p, area = study.p, study.area
    keys = dict(outcome=p["outcome"], unit="OMR_ID", time="AAR", cohort="cohort", cluster="OMR_ID", alpha=p["alpha"],
                weights=WEIGHT)
    sa = sun_abraham(area, leads=p["leads"], lags=p["lags"], **keys)
    imputed = did_imputation(area, **keys)
    return {
        "cs_area": (_overall(aggregate(study.cs, "simple")), _truth_att(area)),
        "sa_area": (post_average(sa), _nan_if_none(study._truth_post(area))),
        "imputation_area": (_overall(imputed), _truth_att(area)),
    }


def _nan_if_none(value: float | None) -> float:
    return np.nan if value is None else value


def _overall(result):
    """The overall-ATT row of an aggregated or imputation result, as a one-row result."""
    terms = result.tidy()["term"].tolist()
    term = "ATT" if "ATT" in terms else terms[-1]
    return lincom(result, {term: 1.0}, term=term, estimand=result.estimand)


def _spec_makers(study) -> dict:
    """How to compute each specification: a function returning (result, simulated truth)."""
    p = study.p
    makers = {
        "es_area": lambda: (study.average_result("area"), _nan_if_none(study._truth_post(study.area))),
        "heterogeneity_robust": lambda: _heterogeneity_robust(study),
        "twfe_area": lambda: (_twfe(study.area, p["outcome"], "OMR_ID", p["alpha"], WEIGHT), _truth_att(study.area)),
        "twfe_area_clean": lambda: _clean_twfe(study),
        "did_2x2": lambda: _two_by_two(study),
    }
    if study.person_outcome is not None and not study._too_few("cohort"):  # person-level specifications need
        # a person-level outcome and min_cell treated persons
        makers["es_cohort"] = lambda: (study.average_result("cohort"), _nan_if_none(study._truth_post(study.cohort)))
        makers["twfe_cohort"] = lambda: (_twfe(study.cohort, study.person_outcome, "PERSON_ID", p["alpha"]),
                                         _truth_att(study.cohort))
    return makers


def _clean_twfe(study):
    clean = _clean_comparison(study)
    return _twfe(clean, study.p["outcome"], "OMR_ID", study.p["alpha"], WEIGHT), _truth_att(clean)


def specifications(study) -> dict[str, tuple[object, float]]:
    """Each specification's result (one row of interest) and its simulated truth (NaN if unknown).

    A specification the data cannot identify (e.g. the 2x2 design when thin baseline area-years
    were left out) gets ``(None, nan)`` and shows as undefined, instead of failing the report.
    """
    out = {}
    for key, make in _spec_makers(study).items():
        try:
            value = make()
        except EvalkitError:
            value = {"cs_area": (None, np.nan), "sa_area": (None, np.nan), "imputation_area": (None, np.nan)} \
                if key == "heterogeneity_robust" else (None, np.nan)
        out.update(value if key == "heterogeneity_robust" else {key: value})
    return out


#: an estimator's own inference method -> its name in the robustness table's Inference column
_INFERENCE = {"bjs": {"da": "BJS (konservativ)", "en": "BJS (conservative)"}, "cr1": "CR1", "cr2": "CR2",
              "cr3": "CR3", "hc1": "HC1", "analytic": {"da": "analytisk", "en": "analytic"},
              "multiplier": {"da": "multiplikator-bootstrap", "en": "multiplier bootstrap"}}


def inference_name(study, key: str, result) -> str:
    """How a row's p-value and interval were computed: the report's chosen method for the post-period
    averages (the headline quantity), else the estimator's own inference (CR1 mostly)."""
    lang = study.p["lang"]
    if result is None:
        return "–"
    if key == "es_area" and result.meta.get("inference_label"):
        return study._used_label()
    method = result.inference.method
    if method in NAMES and method not in _INFERENCE:
        return NAMES[method][lang]
    name = _INFERENCE.get(method, method)
    return name[lang] if isinstance(name, dict) else str(name)


def _ci_text(row, bounds) -> str:
    """"[low, high]"; an end beyond the effects the outcome can take (``bounds``, e.g. below -b for a share
    at baseline level b) or infinite is written "< -b" / "> 1 - b" instead of an impossible number."""
    lo_b, hi_b = bounds if bounds is not None else (-np.inf, np.inf)
    low, high = row["conf_low"], row["conf_high"]
    lo = f"< {lo_b:.4f}" if (not np.isfinite(low) or low < lo_b) and np.isfinite(lo_b) else f"{low:.4f}"
    hi = f"> {hi_b:.4f}" if (not np.isfinite(high) or high > hi_b) and np.isfinite(hi_b) else f"{high:.4f}"
    return f"[{lo}, {hi}]"


def compared(specs: dict) -> pd.DataFrame:
    """The specifications' effects side by side (:func:`evalkit.compare`): its long table, one row per
    defined specification (indexed by its key), the first term of each result (its one effect) as the
    row "effect"; empty when no specification is defined."""
    defined = {key: result for key, (result, _) in specs.items() if result is not None}
    if not defined:
        return pd.DataFrame()
    terms = {result.tidy()["term"].iloc[0]: "effect" for result in defined.values()}
    return compare(defined, terms=terms).tidy().set_index("model")


def p_draws(study) -> list:
    """Per row of :func:`robustness_table`: the resamples behind its p-value (``None`` for an analytic
    one), so a bootstrap or randomization p-value of 0 is shown as "< 1/(draws+1)"."""
    from evalkit.results._compare_labels import RESAMPLED_P

    return [result.inference.draws if result is not None and result.inference.method in RESAMPLED_P else None
            for result, _ in study.robustness_specs.values()]


def _shown_n_obs(study, result) -> str:
    """A specification's observations as the report shows them: a person-level result's rounded to the
    run's ``round_base`` as its results file has it (:func:`evalkit.report.outputs.rounded_counts`), ".."
    below ``min_cell``; areas exact."""
    from evalkit.report.outputs import rounded_counts

    base = study.p.get("round_base")
    if base:
        min_cell = study.p.get("min_cell") or seal.run_min_cell()
        shown = rounded_counts(result, min_cell=min_cell, round_base=base)
        if shown is not result and shown.n_obs == 0 and result.n_obs:
            return ".."
        result = shown
    return f"{int(result.n_obs):,}"


def robustness_table(study) -> pd.DataFrame:
    """One row per specification: estimate, std. error, CI, p-value, the inference behind them, N and
    truth (if simulated); the numbers come from :func:`compared`."""
    lang, rows = study.p["lang"], []
    undefined = {"da": "ikke defineret for disse data", "en": "undefined for these data"}[lang]
    effects = compared(study.robustness_specs)
    for key, (result, true) in study.robustness_specs.items():
        row = effects.loc[key] if result is not None else pd.Series(dtype="float64")
        rows.append({label("specification", lang): SPEC_NAMES[key][lang], label("estimate", lang): row.get("estimate"),
                     label("std_error", lang): row.get("std_error"),
                     label("ci", lang): _ci_text(row, study.effect_bounds) if result else undefined,
                     label("p_value", lang): row.get("p_value"),
                     label("inference", lang): inference_name(study, key, result),
                     label("n_obs", lang): _shown_n_obs(study, result) if result else "–", label("truth", lang): true})
    table = pd.DataFrame(rows)
    if table[label("truth", lang)].isna().all():
        table = table.drop(columns=label("truth", lang))
    return table
