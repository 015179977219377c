"""Domain sections of the final report: movers vs stayers, area vs cohort estimand, goal
attainment, cost per effect. One function per notebook cell, each taking the :class:`Study`.

Orchestration only: numbers come from :mod:`evalkit.domain`; every table passes
:func:`evalkit.report.disclosure.safe_table` (person counts checked against ``min_cell``,
no identifiers) and every figure shows aggregates of many persons only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.data.io import read_table
from evalkit.domain._common import dlabel
from evalkit.domain.costs import cost_per_effect
from evalkit.domain.estimands import comparison_from_results, estimand_paragraph, stayer_share
from evalkit.domain.goals import goal_attainment, goal_chart, observed_from_panel
from evalkit.domain.movers import PERSON_INDICATORS, decompose_change
from evalkit.errors import ParameterError
from evalkit.estimators.combine import post_average
from evalkit.report import figures, text
from evalkit.report.outputs import figure as sealed_figure
from evalkit.report.outputs import markdown
from evalkit.report.preflight import check_goal_years  # noqa: F401 (re-exported)
from evalkit.report.tables import _estimates_safe
from evalkit.report.disclosure import SafeTable, safe_table
from evalkit.report.i18n import label, localize_numbers
from evalkit.results.plot import decimal_comma

PARTS = ("stayers_change", "in_movers_contribution", "out_movers_contribution", "total_change")


# ----------------------------------------------------------------- movers vs stayers
def decomposition(study):
    """Treated vs comparison areas, baseline year -> evaluation year, for the report outcome."""
    p = study.p
    if p["outcome"] not in PERSON_INDICATORS:
        raise ParameterError(f"outcome={p['outcome']!r} has no person-level definition for the decomposition; "
                             f"choose one of {list(PERSON_INDICATORS)}.")
    roles = study.cohorts[study.cohorts["role"] != "excluded"]
    groups = pd.DataFrame({"OMR_ID": roles["OMR_ID"],
                           "group": np.where(roles["cohort"] > 0, "treated", "comparison")})
    return decompose_change(study.md, p["outcome"], p["baseline_year"], p["evaluation_year"], groups=groups)


def _no_decomposition(study):
    """A note instead of the decomposition when the outcome has no person-level definition (None otherwise)."""
    if study.p["outcome"] in PERSON_INDICATORS:
        return None
    from evalkit.report.i18n import label as _label

    name = _label(study.p["outcome"], study.p["lang"]).lower()
    return markdown({"da": f"_Opdelingen i blivere, tilflyttere og fraflyttere kræver en indikator for den enkelte "
                           f"person; {name} er det ikke._",
                     "en": f"_The split into stayers, in-movers and out-movers needs a person-level indicator; "
                           f"{name} is not one._"}[study.p["lang"]])


def movers_table(study) -> SafeTable:
    if _no_decomposition(study) is not None:
        return _no_decomposition(study)
    lang, t = study.p["lang"], study.movers_decomposition.tidy()
    shown = pd.DataFrame({dlabel("group", lang): [label(g, lang) for g in t["group"]],
                          str(t["year0"].iloc[0]): t["value0"], str(t["year1"].iloc[0]): t["value1"]})
    for part in PARTS:
        shown[dlabel(part, lang)] = t[part]
    counts = {dlabel(k, lang): t[k] for k in ("n_stayers", "n_in", "n_out")}
    shown = shown.assign(**counts)
    note = {"da": "Delene summerer præcist til den samlede ændring (Melitz & Polanec 2015). Til- og fraflyttere "
                  "omfatter også personer, der bliver 18 eller 65 år, og dødsfald. Antal er personer.",
            "en": "The parts add up exactly to the total change (Melitz & Polanec 2015). In- and out-movers include "
                  "persons turning 18 or 65 and deaths. Counts are persons."}[lang]
    return safe_table(shown, count_cols=list(counts), index=[dlabel("group", lang)], min_cell=study.p["min_cell"],
                      digits=4, note=note, lang=lang, _trusted=True)


def movers_figure(study):
    from matplotlib.figure import Figure

    if _no_decomposition(study) is not None:
        return markdown("")
    lang, t = study.p["lang"], study.movers_decomposition.tidy()
    fig = Figure(figsize=(7.5, 3.8), dpi=110)
    ax = fig.add_subplot()
    width = 0.8 / len(t)
    for k, (_, row) in enumerate(t.iterrows()):
        x = np.arange(len(PARTS)) + (k - (len(t) - 1) / 2) * width
        ax.bar(x, [100 * row[c] for c in PARTS], width=width, label=label(row["group"], lang),
               color=figures.PALETTE.get(row["group"], f"C{k}"))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(PARTS)), [dlabel(c, lang) for c in PARTS], fontsize=8)
    ax.set_ylabel(label("percentage_points", lang).capitalize())
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if lang == "da":
        decimal_comma(ax)
    fig.tight_layout()
    alt = {"da": "Søjler: ændringen i indikatoren delt i blivere, tilflyttere og fraflyttere for indsats- og "
                 "sammenligningsområder.",
           "en": "Bars: the change in the indicator split into stayers, in-movers and out-movers for treated and "
                 "comparison areas."}[lang]
    return sealed_figure(fig, alt)


# ----------------------------------------------------------------- area vs cohort
def comparison(study):
    """The area and cohort post-period averages (the report's event studies) side by side."""
    truths = tuple(np.nan if t is None else t for t in (study._truth_post(study.area), study._truth_post(study.cohort)))
    return comparison_from_results(post_average(study.area_es), post_average(study.cohort_es),
                                   outcome=study.p["outcome"], estimator="event_study", truth=truths,
                                   share=stayer_share(study.cohort))


def _cohort_withheld(study):
    """The note shown instead of the area-vs-cohort comparison when too few persons are treated (or the
    outcome has no person-level definition)."""
    from evalkit.report.outcome_section import has_cohort, no_cohort_note

    if not has_cohort(study.p["outcome"]):
        return markdown(no_cohort_note(study.p["outcome"], study.p["lang"]))
    if not study._too_few("cohort"):
        return None
    return markdown(text.too_few_persons(label("cohort_estimand", study.p["lang"]), study.p["min_cell"],
                                         lang=study.p["lang"]))


def estimand_table(study):
    withheld = _cohort_withheld(study)
    if withheld is not None:
        return withheld
    lang, t = study.p["lang"], study.estimand_results.tidy()
    t = t.drop(columns=["n_obs"])
    for estimand in ("area", "cohort"):  # the interval the report relies on (wild bootstrap when CR1 is unreliable)
        avg, _ = study._post_average(estimand)
        t.loc[t["estimand"] == estimand, ["conf_low", "conf_high", "p_value"]] = [
            avg["conf_low"], avg["conf_high"], avg["p_value"]]
    if t["truth"].isna().all():
        t = t.drop(columns=["truth"])
    draws = [study.average_draws(e) if e in ("area", "cohort") else None for e in t["estimand"]]
    t["estimand"] = [{"area": label("area_estimand", lang), "cohort": label("cohort_estimand", lang)}.get(
        e, label("estimand_difference", lang)) for e in t["estimand"]]
    keys = {"estimand": "estimand", "estimate": "estimate", "std_error": "std_error_short", "conf_low": "conf_low",
            "conf_high": "conf_high", "p_value": "p_value", "n_clusters": "n_clusters", "truth": "truth_short"}
    t = t.rename(columns={col: label(key, lang) for col, key in keys.items()})
    return _estimates_safe(t, digits=4, lang=lang, draws=draws)


def estimand_text(study):
    withheld = _cohort_withheld(study)
    if withheld is not None:
        return markdown("")
    comparison = study.estimand_results
    paragraph = localize_numbers(estimand_paragraph(comparison, lang=study.p["lang"]), study.p["lang"])
    return markdown(text.estimand_magnitudes(paragraph, comparison.estimate("area"), comparison.estimate("cohort"),
                                             lang=study.p["lang"]))


# ----------------------------------------------------------------- goals
def attainment(study):
    goals = study.p["goals"]
    if not goals:
        return None
    treated = study.cohorts.loc[study.cohorts["role"] == "treated", "OMR_ID"]
    indicators = sorted({g["indicator"] for g in goals} & set(study.area.columns))
    if not indicators:
        raise ParameterError(f"no goal indicator is in the area panel; indicators: {sorted(study.area.columns)}.")
    observed = pd.concat([observed_from_panel(study.area, treated, [ind], weight=_weight(ind)) for ind in indicators],
                         ignore_index=True)
    return goal_attainment(goals, observed, as_of=study.p["goals_as_of"] or None)


def _weight(indicator: str) -> str:
    """Area weights for pooling an indicator: its age group's residents where the panel has them."""
    return "residents_18_64" if indicator in ("employment_rate", "k1_share") else "residents"


def _no_goals(lang: str):
    return markdown({"da": "_Ingen mål angivet (parameteren `goals`)._", "en": "_No goals given (parameter `goals`)._"}[lang])


def goals_table(study):
    lang, res = study.p["lang"], study.goal_results
    if res is None:
        return _no_goals(lang)
    shown = res.display(lang).rename(columns={"n_persons": label("residents", lang)})
    note = {"da": "Status: opfyldt, hvis målet er nået; før målåret på rette vej, hvis udviklingen mindst følger en "
                  "ret linje fra udgangspunktet til målet. Værdier for indsatsområderne under ét.",
            "en": "Status: achieved if the target is reached; before the target year on track if the value is at "
                  "least on the straight line from baseline to target. Values for the treated areas together."}[lang]
    return safe_table(shown, count_cols=[label("residents", lang)], index=list(shown.columns[:-1]),
                      min_cell=study.p["min_cell"], note=note, lang=lang, _trusted=True)


def goals_chart(study):
    lang, res = study.p["lang"], study.goal_results
    if res is None:
        return markdown("")  # goals_table already says that no goals were given
    alt = {"da": "Statusskema: fremdrift mod hvert mål, farvet efter status.",
           "en": "Status form: progress towards each goal, coloured by status."}[lang]
    return sealed_figure(goal_chart(res.table, lang=lang), alt)


# ----------------------------------------------------------------- cost per effect
def budget(study) -> float:
    if study.p["budget_dkk"] > 0:
        return float(study.p["budget_dkk"])
    iv = read_table(study.data_dir / "interventions.csv")
    own = iv[iv["intervention"] == study.p["intervention"]]
    if "budget_dkk" not in own or own["budget_dkk"].isna().all():
        raise ParameterError("set budget_dkk: interventions.csv has no budget_dkk for this intervention.")
    return float(own["budget_dkk"].sum())


def cost(study):
    """Cost per additional person employed (or conviction avoided) from the area post-period average."""
    p, area = study.p, study.area
    col = _weight(p["outcome"])
    n = float(area.loc[(area["AAR"] == p["evaluation_year"]) & (area["cohort"] > 0), col].sum())
    desired = "increase" if p["outcome"] == "employment_rate" else "decrease"
    unit = {"employment_rate": "employed", "conviction_share": "conviction_avoided"}.get(p["outcome"], p["outcome"])
    avg, _ = study._post_average("area")  # the interval the report relies on (WCR when CR1 is unreliable)
    return cost_per_effect(budget_dkk=budget(study), n_persons=n, effect=avg["estimate"], conf_low=avg["conf_low"],
                           conf_high=avg["conf_high"], desired=desired, alpha=p["alpha"], outcome_unit=unit), col


def _money(v: float, lang: str) -> str:
    """An amount for a table cell, grouped the English way ("1,234,567"): the table shows it in the
    report's language (:func:`evalkit.report.disclosure.safe_table`, ``lang``)."""
    if not np.isfinite(v):
        return {"da": "ubegrænset", "en": "unbounded"}[lang] if v > 0 else "–"
    return f"{v:,.0f}"


#: outcomes whose effect times the residents counts persons (employed, convicted, outside work and education)
COST_OUTCOMES = ("employment_rate", "conviction_share", "k1_share")


def cost_table(study) -> SafeTable:
    lang = study.p["lang"]
    if study.p["outcome"] not in COST_OUTCOMES:
        name = label(study.p["outcome"], lang).lower()
        return markdown({"da": f"_Pris pr. effekt beregnes for beskæftigelse, K1 og domme; for {name} tæller "
                               "effekten gange beboerne ikke personer._",
                         "en": f"_Cost per effect is computed for employment, K1 and convictions; for {name} the "
                               "effect times the residents does not count persons._"}[lang])
    res, col = cost(study)
    t = res.tidy().iloc[0]
    persons = dlabel("n_persons_18_64", lang) if col == "residents_18_64" else label("residents", lang)
    interval = f"{_money(t['cost_low'], lang)} – {_money(t['cost_high'], lang)}" \
        if t["status"] != "no_beneficial_effect" else "–"
    shown = pd.DataFrame([{dlabel("budget_dkk", lang): _money(t["budget_dkk"], lang), persons: int(t["n_persons"]),
                           dlabel("effect", lang): t["effect"], dlabel("additional", lang): f"{t['additional']:.0f}",
                           dlabel("cost_dkk", lang): _money(t["cost"], lang), dlabel("cost_interval", lang): interval}])
    note = res.sentence(lang) + {"da": " Antal beboere i indsatsområderne i evalueringsåret; budget i alt.",
                                 "en": " Residents of the treated areas in the evaluation year; total budget."}[lang]
    return safe_table(shown, count_cols=[persons], index=[], min_cell=study.p["min_cell"], digits=3, note=note,
                      lang=lang, _trusted=True)
