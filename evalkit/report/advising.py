"""The inference advisor in the report: which method the report relies on with few treated areas.

Pure functions of the report's area panel; :class:`~evalkit.report.study.Study` calls them.

* :func:`with_area_weights` adds the analytic weight of every area-level fit: the area's mean
  number of residents over the panel's years (constant within an area, so the fixed effects keep
  their meaning and a treatment that moves residents in or out does not move the weights).
* :func:`advise` runs :func:`evalkit.inference_advisor` on the areas observed in every year, with
  those weights, and returns its advice or the reason it cannot run (several start years, a treated
  area with a thin area-year left out, too few comparison areas).
* :func:`advise` also reads the MDE off the advisor's power curve: the smallest
  injected effect that the chosen method (at the threshold it is used at, or with the size-corrected
  critical value) detects in ``power`` of the placebo assignments. It is the MDE *of this design
  and this method*, measured on the data rather than assumed (a planned design's MDE before the
  data exist is :func:`evalkit.domain.power.minimum_detectable_effect`).
* :data:`REPORT_METHOD` maps each advisor method to the report's inference call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.domain.power import interpolate_mde
from evalkit.errors import EvalkitError
from evalkit.i18n import format_p
from evalkit.inference.advice import HEADERS, InferenceAdvice
from evalkit.inference.advisor import inference_advisor

WEIGHT = "area_weight"
#: effect injected for the advisor's power when the parameter ``advisor_effect`` is 0, by outcome
#: (outcome units): +1.5 pp employment (issue 14's design), -1.5 pp K1, -0.5 pp convictions (about a
#: fifth of the 2.6 % a year in listed areas; docs/shared domain primer)
DEFAULT_EFFECTS = {"employment_rate": 0.015, "k1_share": -0.015, "conviction_share": -0.005,
                   # the other outcomes of evalkit.data.outcomes.OUTCOMES; the sign is the desired direction
                   # (letting rules: more in-movers in work or education, a broader origin mix, +3 pp in Aarhus)
                   "basic_edu_share": -0.015, "income_rel_region": 0.015, "nonwestern_share": -0.015,
                   "youth_emp_edu_share": 0.015, "in_emp_edu_share": 0.03, "in_nonwestern_share": -0.03,
                   "out_emp_edu_share": -0.015, "out_nonwestern_share": 0.015}
ADVISOR_DRAWS = 399      # bootstrap draws and re-assignments per placebo test: alpha (draws + 1) whole
TARGET_POWER = 0.8
#: advisor method -> (with_inference method, options, few-cluster table row)
REPORT_METHOD = {
    "cr1": ("cr1", {}, "cr1"), "cr2": ("cr2", {}, "cr2"), "cr3": ("cr3", {}, "cr3"),
    "wcr_rademacher": ("wild", {"weights": "rademacher"}, "wild"),
    "wcr_webb": ("wild", {"weights": "webb"}, "wild_webb"),
    "wcu": ("wild", {"weights": "rademacher", "restricted": False}, "wcu"),
    "randomization": ("randomization", {}, "randomization"),
}


def with_area_weights(panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` with :data:`WEIGHT`: each area's mean residents over the years it is observed."""
    return panel.assign(**{WEIGHT: panel.groupby("OMR_ID")["residents"].transform("mean").astype(float)})


def power_effect(outcome: str, given: float) -> float:
    """The effect the advisor injects: ``given`` (the parameter), or the outcome's default when 0."""
    return float(given) if given else DEFAULT_EFFECTS[outcome]


def against_desired(outcome: str, given: float) -> bool:
    """Whether ``advisor_effect`` points against the outcome's desired direction (the sign of its default
    in :data:`DEFAULT_EFFECTS`, e.g. a rise in ``conviction_share``): the advisor then measures power, and
    the MDE gets the sign, of an effect the intervention is meant to avoid. The report keeps the given
    sign (the analyst may mean it) and says so (:func:`evalkit.report.text.effect_direction_warning`)."""
    default = DEFAULT_EFFECTS.get(outcome)
    return bool(given) and default is not None and (given > 0) != (default > 0)


def complete_areas(area: pd.DataFrame) -> pd.DataFrame:
    """The areas observed in every year of the panel (the advisor needs a balanced panel)."""
    counts = area.groupby("OMR_ID")["AAR"].transform("nunique")
    return area[counts == area["AAR"].nunique()]


@dataclass(frozen=True)
class Advised:
    """The advice (None when the advisor cannot run, with ``reason``), its MDE and the areas it left out."""

    advice: InferenceAdvice | None
    reason: str = ""
    mde: float = float("nan")
    left_out: int = 0

    @property
    def method(self) -> str | None:
        """The chosen advisor method without the "_corrected" suffix (None without advice)."""
        return None if self.advice is None else self.advice.chosen.removesuffix("_corrected")

    def row(self, name: str) -> pd.Series:
        return self.advice.table.set_index("method").loc[name]


def advise(area: pd.DataFrame, outcome: str, *, alpha: float, effect: float, placebos: int, seed: int,
           lang: str) -> Advised:
    """Run the advisor on the complete areas of ``area`` (weighted by :data:`WEIGHT`); never raises an
    :class:`~evalkit.errors.EvalkitError`: a design it cannot calibrate comes back with the reason."""
    panel = complete_areas(area)
    treated = set(area.loc[area["cohort"] > 0, "OMR_ID"])
    if not treated <= set(panel["OMR_ID"]):
        return Advised(None, reason="incomplete_treated")
    if area.loc[area["cohort"] > 0, "cohort"].nunique() > 1:
        return Advised(None, reason="staggered")
    opts = dict(outcome=outcome, unit="OMR_ID", time="AAR", treatment="treat", weights=WEIGHT, alpha=alpha,
                placebos=placebos, draws=ADVISOR_DRAWS, seed=seed, lang=lang)
    try:
        advice = inference_advisor(panel, effect=effect, **opts)
    except EvalkitError as err:
        return Advised(None, reason=str(err))
    base = advice.chosen.removesuffix("_corrected")
    measured = float(advice.table.loc[advice.table["chosen"], "power"].iloc[0])
    curve = power_curve(panel, base, effects=_grid(effect, measured, opts["alpha"]), **opts)
    curve = pd.concat([pd.DataFrame([{"effect": abs(effect), "power": measured}]), curve], ignore_index=True)
    left_out = area["OMR_ID"].nunique() - panel["OMR_ID"].nunique()
    return Advised(advice, mde=_mde(curve, effect), left_out=left_out)


def _grid(effect: float, power: float, alpha: float) -> np.ndarray:
    """Three effects (with the sign of ``effect``) around the normal-approximation MDE implied by the
    power measured at ``effect``: |effect| (z(1-alpha/2) + z(0.8)) / (z(1-alpha/2) + z(power))."""
    z = stats.norm.ppf(1 - alpha / 2)
    at = stats.norm.ppf(min(max(power, 0.02), 0.98))
    guess = abs(effect) * (z + stats.norm.ppf(TARGET_POWER)) / max(z + at, 0.25)
    return math.copysign(1.0, effect) * guess * np.array([0.8, 1.0, 1.25])


def power_curve(panel: pd.DataFrame, method: str, *, effects, **opts) -> pd.DataFrame:
    """Power of ``method`` (alone, as chosen: at its threshold or size-corrected) for each effect.

    Same seed, so the same placebo assignments and draws at every effect (a smooth curve); while
    the target power is not reached the effect doubles (at most 4 times)."""
    rows, effects = [], list(effects)
    for _ in range(5):
        for e in effects:
            advice = inference_advisor(panel, effect=float(e), methods=[method], corrected_by=method, **opts)
            rows.append({"effect": abs(float(e)), "power": float(advice.table.loc[advice.table["chosen"], "power"]
                                                                .iloc[0])})
        if max(r["power"] for r in rows) >= TARGET_POWER:
            break
        effects = [2 * effects[-1]]
    return pd.DataFrame(rows)


def _mde(curve: pd.DataFrame, effect: float) -> float:
    mde = interpolate_mde(curve, TARGET_POWER)
    return math.copysign(mde, effect) if math.isfinite(mde) else float("inf")


def display_table(advice: InferenceAdvice, lang: str) -> pd.DataFrame:
    """The advisor's table as the report shows it (:meth:`InferenceAdvice.display_table`, all text) with
    its data p-values as every p-value of the report's tables looks (:func:`evalkit.i18n.format_p` with
    :data:`evalkit.report.tables.P_DIGITS` decimals, "< 1/(draws+1)" for a resampling p of 0): the
    randomization test's smallest attainable p, 1/400 with 399 re-assignments, is "0.003" here as in
    the few-cluster table, not "0.0025"."""
    from evalkit.report.tables import P_DIGITS

    table = advice.display_table(lang)
    column = HEADERS[lang]["p_value"]
    table[column] = [format_p(p, lang, digits=P_DIGITS, draws=advice.draws) for p in advice.table["p_value"]]
    return table


# ------------------------------------------------------------ the headline inference
def post_average_inference(method: str, corrected: bool, es, panel: pd.DataFrame, *, seed: int,
                           critical_value: float = float("nan"), draws: int = ADVISOR_DRAWS) -> dict:
    """p-value and interval of the event study's post-period average under the advisor's ``method``.

    CR1/CR2/CR3: the linear combination under that variance (CR2 with its Imbens-Kolesar dof);
    the wild bootstraps: :func:`evalkit.estimators.postfit.wild_combination`; randomization
    inference: :func:`evalkit.estimators.postfit.randomization_combination` with the interval of
    :func:`randomization_interval`; size-corrected: CR2's t against the advisor's critical
    value (estimate +- c se), with the p-value of that test's t under the normal reference scaled so
    that p = alpha at |t| = c (:func:`corrected_p`)."""
    from evalkit.estimators.combine import event_terms, post_average
    from evalkit.estimators.postfit import randomization_combination, wild_combination

    terms = event_terms(es, post=True)
    weights = {t: 1 / len(terms) for t in terms}
    name, options, _ = REPORT_METHOD[method]
    if corrected or name in ("cr1", "cr2", "cr3", "randomization"):
        analytic = "cr2" if corrected or name == "randomization" else name
        res = es if analytic == es.inference.method else es.with_inference(analytic, panel)
        row = post_average(res).tidy().iloc[0]
        out = {"p_value": row["p_value"], "conf_low": row["conf_low"], "conf_high": row["conf_high"],
               "interval": analytic}
        if corrected:
            half = critical_value * row["std_error"]
            out.update(conf_low=row["estimate"] - half, conf_high=row["estimate"] + half,
                       p_value=corrected_p(row["estimate"] / row["std_error"], critical_value, es.alpha))
        if name == "randomization" and not corrected:
            ri = randomization_combination(es, panel, weights, seed=seed, draws=draws)
            low, high = randomization_interval(row["estimate"], float(ri.observed[0]), ri.null[:, 0], es.alpha)
            out.update(p_value=float(ri.p_value[0]), conf_low=low, conf_high=high, interval="randomization")
        return out
    wild = wild_combination(es, panel, weights, seed=seed, boot_weights=options["weights"],
                            restricted=options.get("restricted", True))
    return {"p_value": wild.p_value, "conf_low": wild.ci_low, "conf_high": wild.ci_high, "interval": method}


def randomization_interval(estimate: float, t_obs: float, null: np.ndarray, alpha: float) -> tuple[float, float]:
    """estimate +- q se, with q the 1 - alpha quantile of the re-assignments' |t| and se = |estimate / t|
    (the studentised statistic's own scale): the interval of effects whose t the randomization
    distribution would not reject. It excludes 0 exactly when |t| > q, the randomization test at
    zero; elsewhere it treats that distribution as the same for every constant effect, the usual
    approximation for a studentised statistic (Wu & Ding 2021). NaN when t is 0 or undefined."""
    finite = np.abs(np.asarray(null, float))
    finite = np.where(np.isfinite(finite), finite, np.inf)
    if not (math.isfinite(t_obs) and t_obs != 0) or not len(finite):
        return float("nan"), float("nan")
    q = float(np.quantile(finite, 1 - alpha, method="higher"))
    half = q * abs(estimate / t_obs)
    return estimate - half, estimate + half


def bloom_mde(se: float, df: float, *, alpha: float, power: float = TARGET_POWER, sign: float = 1.0) -> float:
    """Bloom's (1995) minimum detectable effect (t(1 - alpha/2, df) + t(power, df)) x se, with the sign of
    ``sign`` (the estimate's): the report's MDE when the advisor did not run."""
    if not (math.isfinite(se) and se > 0 and df >= 1):
        return float("nan")
    mde = (stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se
    return math.copysign(float(mde), sign if math.isfinite(sign) and sign != 0 else 1.0)


def corrected_p(t: float, critical_value: float, alpha: float) -> float:
    """A p-value for the size-corrected test |t| > c: the normal p-value of t rescaled so that
    |t| = c gives exactly alpha (monotone in |t|; p <= alpha exactly when the test rejects)."""
    z_alpha = stats.norm.ppf(1 - alpha / 2)
    return float(2 * stats.norm.sf(abs(t) * z_alpha / critical_value))


__all__ = ["ADVISOR_DRAWS", "Advised", "DEFAULT_EFFECTS", "REPORT_METHOD", "TARGET_POWER", "WEIGHT", "advise",
           "against_desired", "bloom_mde", "complete_areas", "corrected_p", "display_table", "post_average_inference",
           "power_curve", "power_effect", "randomization_interval", "with_area_weights"]
