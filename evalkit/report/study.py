"""The report orchestrator: one object per report run; each method is one notebook cell.

Orchestration only: panels come from :mod:`evalkit.data.panels`, numbers from the
estimators, tables, figures and sentences from pure functions in this package.
Every displayed object is an aggregate (areas or >= ``min_cell`` persons).
"""
from __future__ import annotations

import dataclasses

import html
import re
import types
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.data.io import read_table
from evalkit.data.panels import open_microdata
from evalkit.domain.timing import attach_cohort, treatment_cohorts
from evalkit.errors import EvalkitWarning
from evalkit.progress import step
from evalkit.estimators import event_study, synth_plot, twfe
from evalkit.diagnostics import honest_did
from evalkit.diagnostics.design import design_check
from evalkit.estimators.combine import event_terms, post_average, pretrend_test
from evalkit.estimators.postfit import wild_combination
from evalkit.estimators.staggered import aggregate, att_gt
from evalkit.report import advising, few_clusters, figures, outputs, tables, text, truth
from evalkit.report.disclosure import SafeTable, safe_table
from evalkit.report.outputs import figure as sealed_figure
from evalkit.report.outputs import markdown, person_safe
from evalkit.seal import Sealed
from evalkit.i18n import HONEST_METHODS
from evalkit.report.i18n import label, localize_numbers, section
from evalkit.report.params import validate_params
from evalkit.report.preflight import preflight, resolve_data_dir  # noqa: F401 (re-exported)
from evalkit.report.robustness import p_draws, robustness_table, specifications
from evalkit.report import domain_sections, outcome_section, subgroup_section, survey_section


THIN_POPULATIONS = ("residents", "residents_18_64")


def without_thin_area_years(panel: pd.DataFrame, min_cell: int) -> tuple[pd.DataFrame, int]:
    """Drop area-years whose indicators rest on fewer than ``min_cell`` residents (in all, or
    in the 18-64 population of the labour-market indicators); return the panel and how many.

    Statistics Denmark's threshold applies to every shown cell, and an area-year indicator is
    a cell: over 1-4 residents a share or mean reveals persons. The report says how many
    area-years it left out (:func:`evalkit.report.text.thin_area_years_note`).
    """
    thin = pd.Series(False, index=panel.index)
    for col in THIN_POPULATIONS:
        if col in panel:
            thin |= panel[col].fillna(0) < min_cell
    return panel.loc[~thin].reset_index(drop=True), int(thin.sum())


_SMALL_COHORT = re.compile(r"cohort (-?\d+): (\d+) unit\(s\)")


def _estimator_note(message: str, lang: str) -> str:
    """An estimator warning (English, as :mod:`warnings` shows it) as a report note in ``lang``:
    the small-cohort warning of :func:`~evalkit.estimators.staggered.att_gt` from the label map
    (:mod:`evalkit.i18n`, keys "small_cohorts" and "small_cohort"); any other message with the
    language's number format."""
    if message.startswith("Small cohorts"):
        cohorts = ", ".join(label("small_cohort", lang).format(cohort=g, n=n)
                            for g, n in _SMALL_COHORT.findall(message))
        return label("small_cohorts", lang).format(cohorts=cohorts)
    return localize_numbers(message, lang)


def _grid_value(x, lang: str):
    """An M or Mbar grid point as written by hand: "0", "0,5", "1" (Danish), "0.25" (English)."""
    if not isinstance(x, (int, float, np.integer, np.floating)) or pd.isna(x):
        return x
    shown = f"{float(x):.4f}".rstrip("0").rstrip(".")
    shown = "0" if shown in ("-0", "") else shown
    return shown.replace(".", ",") if lang == "da" else shown


def honest_table(tidy: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The HonestDiD sensitivity table as the report shows it, from ``SensitivityResult.tidy()``
    (columns method, M or Mbar, lb, ub): headers from the label map, the interval codes by name
    ("c-lf" -> "Conditional least-favorable hybrid (C-LF)", :data:`evalkit.i18n.HONEST_METHODS`) and
    the M/Mbar grid without padding zeros ("0,5", not "0,5000"); the bounds stay numbers for the
    generic estimates table (:func:`evalkit.report.tables._estimates_safe`)."""
    out = tidy.copy()
    if "method" in out:
        out["method"] = [HONEST_METHODS[v][lang] if isinstance(v, str) and v in HONEST_METHODS else v
                         for v in out["method"]]
    for c in ("M", "Mbar"):
        if c in out:
            out[c] = pd.Series([_grid_value(x, lang) for x in tidy[c]], index=tidy.index, dtype=object)
    return out.rename(columns={c: label(c, lang) for c in out.columns})  # da/en headers (evalkit.i18n)


@dataclass(frozen=True)
class SummaryBox:
    """The report's summary box; plain text for nbval's output check, HTML for reviewers."""

    title: str
    lines: tuple[str, ...]

    def __repr__(self) -> str:
        return "\n".join([self.title, *self.lines])

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return f"<div class='evalkit-finding'><strong>{html.escape(self.title)}</strong><ul>{items}</ul></div>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return Sealed({"text/html": self._repr_html_(), "text/plain": repr(self)}, kind="summary")._repr_mimebundle_()


class Study:
    """Data, design and estimates of one evaluation report (cached per instance)."""

    def __init__(self, template: str, params: dict):
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "p", types.MappingProxyType(preflight(validate_params(params))))
        object.__setattr__(self, "notes", {})
        object.__setattr__(self, "_averages", {})
        object.__setattr__(self, "_truth", {})
        object.__setattr__(self, "data_dir", Path(self.p["data_dir"]))
        object.__setattr__(self, "md", open_microdata(self.data_dir))

    def __setattr__(self, name: str, value) -> None:
        """The parameters, data and estimates are computed, never assigned: the disclosure checks
        (thin area-years, persons behind estimates) hold only for what the Study built itself."""
        if not name.startswith("_") or hasattr(type(self), name):
            raise AttributeError(f"Study.{name} is computed from the parameters and data; make a new Study "
                                 "with other parameters instead of assigning it.")
        object.__setattr__(self, name, value)

    @classmethod
    def load(cls, template: str, **params) -> "Study":
        """Validate the parameters and open the data (one notebook cell)."""
        return cls(template, params)

    # ----------------------------------------------------------------- data
    @cached_property
    def interventions(self) -> pd.DataFrame:
        return read_table(self.data_dir / "interventions.csv")

    def cohorts_for(self, comparison: str) -> pd.DataFrame:
        """Cohort and role of every area under a comparison rule."""
        areas = read_table(self.data_dir / "areas.parquet")["OMR_ID"]
        return treatment_cohorts(self.interventions, areas, intervention=self.p["intervention"], comparison=comparison)

    @cached_property
    def cohorts(self) -> pd.DataFrame:
        return self.cohorts_for(self.p["comparison"])

    @property
    def area(self) -> pd.DataFrame:
        """The area x year panel (thin area-years left out); a copy, so the checks the Study made
        on it hold for every table and figure it draws."""
        return self._area_panel.copy()

    @cached_property
    def _area_panel(self) -> pd.DataFrame:
        with step("area x year panel (DuckDB)"):
            panel = outcome_section.area_panel(self.md, self.p["outcome"], self.p["min_cell"])
        panel = panel[panel["AAR"] <= self.p["evaluation_year"]]
        panel, self.notes["thin"] = without_thin_area_years(panel, self.p["min_cell"])
        panel = advising.with_area_weights(panel)  # every area-level fit is weighted by the area's mean residents
        return self._with_truth(attach_cohort(panel, self.cohorts), truth.area_effects(self.data_dir, self.p["outcome"]))

    @cached_property
    def cohort(self) -> pd.DataFrame:
        with step(f"baseline-cohort panel {self.p['baseline_year']} (DuckDB)"):
            panel = self.md.cohort_panel(self.p["baseline_year"])
        panel = panel[panel["AAR"] <= self.p["evaluation_year"]]
        panel = attach_cohort(panel.assign(OMR_ID_CUR=panel["OMR_ID"]).drop(columns="OMR_ID")
                              .rename(columns={"OMR_ID_BASE": "OMR_ID"}), self.cohorts)
        effect = truth.person_effects(self.data_dir, panel, self.p["outcome"])
        return panel if effect is None else panel.assign(effect=effect)

    @staticmethod
    def _with_truth(panel: pd.DataFrame, effects: pd.DataFrame | None) -> pd.DataFrame:
        if effects is None:
            return panel
        return panel.merge(effects, on=["OMR_ID", "AAR"], how="left", validate="one_to_one")

    @property
    def person_outcome(self) -> str:
        return truth.PERSON_OUTCOME.get(self.p["outcome"])

    # ------------------------------------------------------------ estimates
    def _event_study(self, panel: pd.DataFrame, outcome: str, unit: str, weights: str | None = None):
        with step(f"event study of {outcome} on {len(panel):,} rows"), warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)  # few treated areas: design_inference says so
            return event_study(panel, outcome=outcome, unit=unit, time="AAR", cohort="cohort",
                               leads=self.p["leads"], lags=self.p["lags"], cluster="OMR_ID", alpha=self.p["alpha"],
                               weights=weights)

    @cached_property
    def area_es(self):
        return self._event_study(self.area, self.p["outcome"], "OMR_ID", weights=advising.WEIGHT)

    @cached_property
    def cohort_es(self):
        return self._event_study(self.cohort, self.person_outcome, "PERSON_ID")

    @cached_property
    def cs(self):
        """Callaway & Sant'Anna ATT(g,t) on the area panel, with a clustered multiplier bootstrap."""
        with step("Callaway-Sant'Anna ATT(g,t) with 999 bootstrap draws"), warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", EvalkitWarning)
            result = att_gt(self.area, outcome=self.p["outcome"], unit="OMR_ID", time="AAR", cohort="cohort",
                            control_group="never", method="dr", cluster="OMR_ID", alpha=self.p["alpha"],
                            weights=advising.WEIGHT, bootstrap=True, draws=999, seed=self.p["seed"])
        # estimator warnings become report notes (not a stderr box with file paths)
        self.notes["cs"] = [str(w.message) for w in seen if issubclass(w.category, EvalkitWarning)]
        return result

    @cached_property
    def cs_dynamic(self):
        return aggregate(self.cs, "dynamic", min_e=-self.p["leads"], max_e=self.p["lags"], bootstrap=True,
                         seed=self.p["seed"])

    @cached_property
    def honest(self):
        """HonestDiD relative-magnitudes sensitivity of the first post-period effect (area event study)."""
        with step("HonestDiD sensitivity (relative magnitudes)"):
            return honest_did(self.area_es, method="relative_magnitudes", Mbar=[0, 0.5, 1, 1.5, 2],
                              alpha=self.p["alpha"], grid_points=400, seed=self.p["seed"])

    def _truth_post(self, panel: pd.DataFrame) -> float | None:
        """Simulated truth matching ``post_average`` of an event study on ``panel`` (None if unknown)."""
        by_e = self._truth_by_e(panel)
        return None if by_e is None else truth.truth_post_average(by_e, self.p["lags"])

    def _truth_by_e(self, panel: pd.DataFrame) -> pd.Series | None:
        if "effect" not in panel:
            return None
        if panel is not self.__dict__.get("cohort"):
            return truth.truth_by_event_time(panel, leads=self.p["leads"], lags=self.p["lags"])
        # the person panel's truth is shared by the summary, the figure, the conclusions and the
        # robustness table: grouped once (a copy each time, so no caller can change another's)
        if "cohort" not in self._truth:
            self._truth["cohort"] = truth.truth_by_event_time(panel, leads=self.p["leads"], lags=self.p["lags"])
        return self._truth["cohort"].copy()

    # ------------------------------------------------------------- displays
    def heading(self, key: str, level: int = 2) -> Sealed:
        return markdown(f"{'#' * level} {section(key, self.p['lang'])}")

    def header(self) -> Sealed:
        """The report title (the rendered HTML adds the parameter header from the run)."""
        lang = self.p["lang"]
        title = self.p["title"] or f"{label(self.template, lang)}: {label(self.p['intervention'], lang)}"
        return markdown(f"# {title}")

    def results(self) -> dict:
        """Every estimate computed so far, as results (for machine-readable export)."""
        names = {"area_es": "area_event_study", "cohort_es": "cohort_event_study", "cs": "cs_att_gt",
                 "cs_dynamic": "cs_dynamic"}
        found = {out: self.__dict__[attr] for attr, out in names.items() if attr in self.__dict__}
        # post-period averages of the event studies only: for ATT(g,t) an equal-weight mean of the
        # post cells is an estimand nobody defined (issue 12); CS's overall effect is did's "simple"
        found.update({f"{k}_post_average": post_average(found[k]) for k in ("area_event_study", "cohort_event_study")
                      if k in found})
        for estimand in ("area", "cohort"):  # the summary's p-value and interval (the chosen method)
            if f"{estimand}_event_study_post_average" in found:
                found[f"{estimand}_event_study_post_average"] = self.average_result(estimand)
        if "cs" in found:
            found["cs_simple"] = aggregate(found["cs"], "simple")
        if "static_twfe" in self.__dict__:
            found["area_twfe_static"] = self.static_twfe
        advice = self.__dict__.get("advised") and self.advised.advice
        if advice is not None and "area_twfe_static" in found:  # the advisor's table as a Result diagnostic of
            found["area_twfe_static"] = advice.attach(found["area_twfe_static"])  # the static effect it is about
        if "robustness_specs" in self.__dict__:
            found.update({f"robustness_{k}": res for k, (res, _) in self.robustness_specs.items() if res is not None})
        if self.__dict__.get("survey_fit") is not None:  # fitted (a failed fit is not cached)
            found.update(survey_section.json_results(self.survey_fit, min_cell=self.p["min_cell"],
                                                     round_base=self.p["round_base"]))
        if self.__dict__.get("subgroup_results") is not None:
            method, options, name = survey_section.report_inference(self)
            found.update(subgroup_section.json_results(self.subgroup_results, inference_label=name,
                                                       inference=subgroup_section.inference_code(method, options)))
        return found

    def save_results(self) -> None:
        """Write each result's JSON (tidy table, vcov, inference) to ``results_dir`` if set, person counts
        rounded to ``round_base`` as the report shows them (:func:`evalkit.report.outputs.rounded_counts`)."""
        if not self.p["results_dir"]:
            return None
        outputs.write_results(Path(self.p["results_dir"]), self.results(), min_cell=self.p["min_cell"],
                              round_base=self.p["round_base"])
        return None

    def design(self) -> SafeTable:
        lang = self.p["lang"]
        years = f"{int(self.area['AAR'].min())}–{int(self.area['AAR'].max())}"
        excluded = int((self.cohorts["role"] == "excluded").sum())
        note = {"da": f"År: {years}. Sammenligning: {label(self.p['comparison'], lang)}; "
                      f"{excluded} områder udeladt efter sammenligningsreglen.",
                "en": f"Years: {years}. Comparison: {label(self.p['comparison'], lang)}; "
                      f"{excluded} areas left out by the comparison rule."}[lang]
        note = " ".join(filter(None, [note, text.thin_area_years_note(self.notes.get("thin", 0), self.p["min_cell"],
                                                                       lang=lang), text.weights_sentence(lang)]))
        return tables.design_safe(self.area, self.p["baseline_year"], lang=lang, min_cell=self.p["min_cell"], note=note)

    @cached_property
    def check(self):
        """Treated and comparison clusters, and whether CR1 can be trusted (design_check); areas that start
        after the evaluation year (a midterm) have no treated year in the window and are not treated here."""
        area = self.area
        return design_check(area[area["cohort"] <= self.p["evaluation_year"]], cohort="cohort", cluster="OMR_ID")

    @property
    def n_future_treated(self) -> int:
        """Areas of the intervention whose start is after the evaluation year."""
        area = self.area
        return int(area.loc[area["cohort"] > self.p["evaluation_year"], "OMR_ID"].nunique())

    @cached_property
    def static_twfe(self):
        """The static TWFE effect on the area panel with CR1 (the few-cluster table's reference row)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)  # the few-cluster warning is this report's text
            return twfe(self.area, outcome=self.p["outcome"], unit="OMR_ID", time="AAR", treatment="treat",
                        cluster="OMR_ID", alpha=self.p["alpha"], weights=advising.WEIGHT)

    @cached_property
    def advised(self) -> advising.Advised:
        """The inference advisor on the area panel (:func:`evalkit.report.advising.advise`): each method's
        measured size and power in this design, the method the report relies on and the MDE."""
        p = self.p
        with step(f"inference advisor: {p['advisor_placebos']} placebo assignments"):
            return advising.advise(self.area, p["outcome"], alpha=p["alpha"], placebos=p["advisor_placebos"],
                                   effect=advising.power_effect(p["outcome"], p["advisor_effect"]), seed=p["seed"],
                                   lang=p["lang"])

    def _used_label(self) -> str:
        """The name of the method the report relies on (the advisor's label when it ran)."""
        adv, lang = self.advised.advice, self.p["lang"]
        if adv is not None:
            return adv.labels[adv.chosen][lang]
        return few_clusters.NAMES[few_clusters.recommended(self.check.cr1_reliable)][lang]

    def design_inference(self) -> Sealed:
        """Count treated and comparison areas and say which inference the report relies on: the
        inference advisor's choice when it ran, else the design rule (CR1 from 10 treated areas,
        the restricted wild cluster bootstrap below)."""
        p, check = self.p, self.check
        static = self.static_twfe.tidy().iloc[0]
        if self.advised.advice is not None:
            row = self.advised.row(self.advised.advice.chosen)
            return markdown(text.advised_design_sentence(
                check.n_treated_clusters, check.n_control_clusters, lang=p["lang"], cr1_p=static["p_value"],
                label_=self._used_label(), p_value=float(row["p_value"]), robustness=self.template == "final",
                draws=self.advised.advice.draws)
                + text.future_treated_sentence(self.n_future_treated, p["evaluation_year"], lang=p["lang"]))
        wild = None
        if not check.cr1_reliable:
            with step("restricted wild cluster bootstrap of the static effect"):
                wild = self.static_twfe.with_inference("wild", self.area, seed=p["seed"]).tidy().iloc[0]
        future = text.future_treated_sentence(self.n_future_treated, p["evaluation_year"], lang=p["lang"])
        return markdown(text.design_sentence(
            check.n_treated_clusters, check.n_control_clusters, check.cr1_reliable, lang=p["lang"], alpha=p["alpha"],
            cr1_p=static["p_value"], wild_p=None if wild is None else wild["p_value"],
            wild_ci=None if wild is None else (wild["conf_low"], wild["conf_high"]), outcome=p["outcome"]) + future)

    def inference_advice(self) -> SafeTable | Sealed:
        """The inference advisor's whole table (every method's measured size and power) with the
        sentence a reviewer reads, and the MDE; or why the advisor did not run."""
        lang, adv = self.p["lang"], self.advised
        if adv.advice is None:
            return markdown(text.advisor_not_used(adv.reason, self.check.n_treated_clusters, self.check.cr1_reliable,
                                                  lang=lang))
        a = adv.advice
        draws = localize_numbers(f"{a.draws:,}", lang)  # "9,999" / "9.999"
        settings = {"da": f"Frø {a.seed}, {draws} bootstrap-træk/gentildelinger pr. test.",
                    "en": f"Seed {a.seed}, {draws} bootstrap draws/re-assignments per test."}[lang]
        explain = text.advisor_table_note(a.n_placebos, self.p["advisor_placebos"], a.enumerated, self.p["alpha"],
                                          lang=lang)
        note = " ".join([text.advice_sentence(adv, self.p["outcome"], lang=lang), self._mde_text(), explain,
                         settings])
        return tables._estimates_safe(advising.display_table(a, lang), digits=4, note=note, lang=lang)

    def few_treated_pvalues(self) -> SafeTable | Sealed:
        """With 5 or fewer treated areas: the method relied on beside the synthetic DiD and the
        synthetic controls' placebo p-values."""
        lang = self.p["lang"]
        if self.check.n_treated_clusters > 5:  # the synthetic control section says why (once)
            return markdown("")
        used = few_clusters.recommended(self.check.cr1_reliable, self.advised)
        row = next(r for r in self._few_rows if r["method"] == used)
        avg, _ = self._post_average("area")
        nan = float("nan")
        chosen = {"label": self._used_label(), "static": (row.get("estimate", nan), row.get("p_value", nan)),
                  "average": (avg["estimate"], avg["p_value"])}
        table = few_clusters.few_treated_pvalues(chosen, self.sdid_fit, self.synth_fits, lang=lang,
                                                 treated=self._treated_ids)
        draws = [row.get("draws"), self.average_draws("area")] + [None] * (len(table) - 2)  # the chosen rows first
        return tables._estimates_safe(table, digits=4, note=text.few_treated_pvalues_note(lang), lang=lang,
                                      draws=draws)

    @cached_property
    def sdid_fit(self):
        with step("synthetic DiD with placebo standard errors"):
            return few_clusters.sdid_fit(self.area, self.p["outcome"], alpha=self.p["alpha"], seed=self.p["seed"])

    def balance(self) -> SafeTable:
        return tables.balance_safe(self.area, self.p["baseline_year"], lang=self.p["lang"],
                                   round_base=self.p["round_base"])

    def trends_figure(self) -> Sealed:
        lang, outcome = self.p["lang"], self.p["outcome"]
        fig = figures.trends_figure(self.area, outcome, lang=lang)
        alt = {"da": f"Gennemsnitlig {label(outcome, lang).lower()} pr. år for hver indsatskohorte og sammenligningsområderne.",
               "en": f"Mean {label(outcome, lang).lower()} by year for each treatment cohort and the comparison areas."}[lang]
        return sealed_figure(fig, alt)

    def pretrends(self) -> Sealed:
        return markdown(self._pretrend_text())

    def _shown(self, estimand: str):
        """The event study as shown: person-level rows on fewer than ``min_cell`` treated persons blanked."""
        result = self.area_es if estimand == "area" else self.cohort_es
        return person_safe(result, self.p["min_cell"])[0]

    def event_study_figure(self, estimand: str = "area") -> Sealed:
        if estimand == "cohort" and not outcome_section.has_cohort(self.p["outcome"]):
            return markdown("")  # effect_summary("cohort") says why
        result, panel = self._shown(estimand), (self.area if estimand == "area" else self.cohort)
        lang = self.p["lang"]
        fig = result.plot(lang=lang, truth=self._truth_by_e(panel), title=label(f"{estimand}_estimand", lang),
                          pp=text.is_share(self.p["outcome"]))
        fig.axes[0].set_ylabel(self._effect_axis_label(), fontsize=9)
        alt = {"da": "Event study, {what}: estimerede effekter med konfidensintervaller for hvert år før og efter "
                     "indsatsens start.",
               "en": "Event study, {what}: estimated effects with confidence intervals for each year before and "
                     "after the start."}[lang].format(what=label(f"{estimand}_estimand", lang).lower())
        return sealed_figure(fig, alt)

    def _effect_axis_label(self) -> str:
        """"Estimat: beskæftigelsesandel (...), procentpoint": a share's effects in percentage points, as the text."""
        lang, outcome = self.p["lang"], self.p["outcome"]
        shown = f"{label('estimate', lang)}: {label(outcome, lang).lower()}"
        return f"{shown}, {label('percentage_points', lang)}" if text.is_share(outcome) else shown

    def event_study_table(self, estimand: str = "area") -> SafeTable:
        """Event-study estimates; for the cohort panel ``n_treated`` counts persons and is checked."""
        lang = self.p["lang"]
        # one row per event time, without the estimator's term ("e=-4"; results/*.json keep it)
        pp = text.is_share(self.p["outcome"])  # a share's effects in percentage points, as text and figure
        table = tables.event_study_frame(self._shown(estimand).tidy(), lang, persons=estimand != "area", pp=pp)
        digits = 2 if pp else 4
        if estimand == "area":  # n_treated counts areas, not persons
            return tables._estimates_safe(table, digits=digits, lang=lang)
        table = tables.format_p_columns(table, digits, lang)
        return safe_table(table, count_cols=[label("treated_persons", lang)], index=[label("event_time", lang)],
                          min_cell=self.p["min_cell"], digits=digits, lang=lang, _trusted=True)

    def treated_persons(self, estimand: str) -> int | None:
        """Distinct treated persons behind an estimand (``None`` for the area estimand)."""
        return None if estimand == "area" else self._treated_cohort_persons

    @cached_property
    def _treated_cohort_persons(self) -> int:
        """Distinct baseline residents of treated areas (counted once; the cohort panel is large)."""
        return int(self.cohort.loc[self.cohort["cohort"] > 0, "PERSON_ID"].nunique())

    def _too_few(self, estimand: str) -> bool:
        n = self.treated_persons(estimand)
        return n is not None and n < self.p["min_cell"]

    def _post_average(self, estimand: str) -> tuple[pd.Series, float | None]:
        """Post-period average effect. Area estimand: its p-value and interval come from the inference
        advisor's choice when the advisor ran (:func:`evalkit.report.advising.post_average_inference`);
        otherwise, and for the cohort estimand, below 10 treated areas from the restricted wild cluster
        bootstrap of the average (the design check's choice)."""
        if estimand not in self._averages:
            es, panel = (self.area_es, self.area) if estimand == "area" else (self.cohort_es, self.cohort)
            avg = post_average(es).tidy().iloc[0]
            adv = self.advised if estimand == "area" else None
            if adv is not None and adv.advice is not None:  # the inference advisor's choice
                with step(f"post-period average under {adv.advice.chosen}"):
                    out = advising.post_average_inference(adv.method, adv.advice.size_corrected, es, panel,
                                                          seed=self.p["seed"],
                                                          critical_value=adv.advice.critical_value)
                avg = avg.copy()
                avg[["p_value", "conf_low", "conf_high"]] = [out["p_value"], out["conf_low"], out["conf_high"]]
                self.notes["area_interval"] = out["interval"]
            elif not self.check.cr1_reliable:
                terms = event_terms(es, post=True)
                with step(f"wild cluster bootstrap of the {estimand} post-period average"):
                    wild = wild_combination(es, panel, {t: 1 / len(terms) for t in terms}, seed=self.p["seed"])
                avg = avg.copy()
                avg[["p_value", "conf_low", "conf_high"]] = [wild.p_value, wild.ci_low, wild.ci_high]
            self._averages[estimand] = (avg, self._truth_post(panel))
        return self._averages[estimand]

    def average_result(self, estimand: str):
        """The post-period average as a one-row result carrying the headline's inference: its p-value and
        interval are those of :meth:`_post_average` (the advisor's choice, or the wild bootstrap below 10
        treated areas), and ``inference.method`` names that method, so the robustness table and
        results/*_post_average.json show the same numbers as the summary and say how they were made."""
        es = self.area_es if estimand == "area" else self.cohort_es
        res = post_average(es)
        avg, _ = self._post_average(estimand)
        row = res.tidy().iloc[0]
        if all(row[c] == avg[c] for c in ("p_value", "conf_low", "conf_high")):
            return res
        table = res.tidy()
        table.loc[table.index[0], ["p_value", "conf_low", "conf_high"]] = [avg["p_value"], avg["conf_low"],
                                                                        avg["conf_high"]]
        adv = self.advised if estimand == "area" else None
        if adv is not None and adv.advice is not None:
            method = "corrected" if adv.advice.size_corrected else advising.REPORT_METHOD[adv.method][2]
        else:
            method = "wild"
        resampled = method in ("wild", "wild_webb", "wcu", "randomization")
        info = dataclasses.replace(res.inference, method=method,
                                   seed=self.p["seed"] if resampled else res.inference.seed,
                                   draws=(advising.ADVISOR_DRAWS if method == "randomization" else 9999) if resampled
                                   else res.inference.draws)
        return res.replace(table=table, inference=info,
                           meta={**dict(res.meta), "inference_label": self._used_label() if estimand == "area"
                                 else few_clusters.NAMES["wild"]["en"]})

    def average_draws(self, estimand: str) -> int | None:
        """The resamples behind the post-period average's p-value (:meth:`average_result`), so that a
        p-value of 0 is shown as "< 1/(draws+1)"; ``None`` when the p-value is analytic."""
        from evalkit.results._compare_labels import RESAMPLED_P

        info = self.average_result(estimand).inference
        return info.draws if info.method in RESAMPLED_P and info.draws else None

    def _effect_text(self, estimand: str) -> str:
        name = label(f"{estimand}_estimand", self.p["lang"])
        if estimand == "cohort" and not outcome_section.has_cohort(self.p["outcome"]):
            return outcome_section.no_cohort_note(self.p["outcome"], self.p["lang"])
        if self._too_few(estimand):
            return text.too_few_persons(name, self.p["min_cell"], lang=self.p["lang"])
        avg, true = self._post_average(estimand)
        bounds = self.effect_bounds
        sentence = text.effect_sentence(name, avg["estimate"], avg["conf_low"], avg["conf_high"], avg["p_value"],
                                        self.p["outcome"], lang=self.p["lang"], alpha=self.p["alpha"], truth=true,
                                        bounds=bounds, draws=self.average_draws(estimand))
        used = self._used_label() if estimand == "area" else few_clusters.NAMES[
            "cr1" if self.check.cr1_reliable else "wild"][self.p["lang"]]
        note = text.unbounded_note(avg["conf_low"], avg["conf_high"], self.p["outcome"], lang=self.p["lang"],
                                   method=used[0].lower() + used[1:] if self.p["lang"] == "en" else used,
                                   bounds=bounds, mde=estimand == "area")
        if estimand != "area":
            return " ".join(filter(None, [sentence, note]))
        return " ".join(filter(None, [sentence, text.inference_used(self._used_label(), self.notes.get("area_interval"),
                                                                    lang=self.p["lang"]), note, self._mde_text()]))

    @cached_property
    def effect_bounds(self) -> tuple[float, float] | None:
        """The effects a share or rate outcome can take from the treated areas' baseline-year level b
        (resident-weighted): [-b, 1 - b] (the share cannot fall below 0 or rise above 1); None for
        other outcomes. An interval end beyond them is written as open (:func:`text.open_ends`)."""
        outcome = self.p["outcome"]
        if not text.is_share(outcome):
            return None
        area = self.area
        base = area[(area["AAR"] == self.p["baseline_year"]) & (area["cohort"] > 0)].dropna(subset=[outcome])
        if base.empty:
            return None
        w = base[advising.WEIGHT] if advising.WEIGHT in base else None
        level = float((base[outcome] * w).sum() / w.sum()) if w is not None else float(base[outcome].mean())
        return -level, 1.0 - level

    @property
    def mde(self) -> float:
        """The area estimand's minimum detectable effect (80 % power at alpha): read off the advisor's
        placebo power curve of the chosen method when it ran, else Bloom's (t(1-alpha/2) + t(0.8)) x the
        post-period average's standard error with G - 1 degrees of freedom."""
        if self.advised.advice is not None:
            return self.advised.mde
        avg, _ = self._post_average("area")
        clusters = self.check.n_treated_clusters + self.check.n_control_clusters
        return advising.bloom_mde(avg["std_error"], clusters - 1, alpha=self.p["alpha"], sign=avg["estimate"])

    def _mde_text(self) -> str:
        sentence = text.mde_sentence(self.mde, self.p["outcome"], lang=self.p["lang"], alpha=self.p["alpha"],
                                     power=advising.TARGET_POWER, method=self._used_label(),
                                     measured=self.advised.advice is not None)
        given = self.p["advisor_effect"]
        if self.advised.advice is not None and advising.against_desired(self.p["outcome"], given):
            sentence += " " + text.effect_direction_warning(given, self.p["outcome"], lang=self.p["lang"])
        return sentence

    def effect_summary(self, estimand: str = "area") -> Sealed:
        return markdown(self._effect_text(estimand))

    def _pretrend_text(self) -> str:
        test = pretrend_test(self.area_es)
        return text.pretrend_sentence(test.statistic, test.df, test.p_value, lang=self.p["lang"], alpha=self.p["alpha"])

    def summary_box(self) -> SummaryBox:
        """'What was found': the post-period average effect per estimand and the pre-trend p-value."""
        lang, lines = self.p["lang"], []
        for estimand in ("area", "cohort") if self.template == "final" else ("area",):
            if estimand == "cohort" and not outcome_section.has_cohort(self.p["outcome"]):
                continue  # the effect sections say why (outcome_section.no_cohort_note)
            if self._too_few(estimand):
                lines.append(text.too_few_persons(label(f"{estimand}_estimand", lang), self.p["min_cell"], lang=lang))
                continue
            avg, true = self._post_average(estimand)
            lines.append(text.summary_line(label(f"{estimand}_estimand", lang), avg["estimate"], avg["conf_low"],
                                           avg["conf_high"], self.p["outcome"], lang=lang, truth=true,
                                           mde=self.mde if estimand == "area" else None,
                                           mde_static=self.advised.advice is not None, bounds=self.effect_bounds,
                                           alpha=self.p["alpha"], power=advising.TARGET_POWER))
            if estimand == "area" and self.advised.advice is not None and \
                    advising.against_desired(self.p["outcome"], self.p["advisor_effect"]):
                lines[-1] += {"da": " - MDE'en har advisor_effects fortegn, som går imod den ønskede retning",
                              "en": " - the MDE has advisor_effect's sign, against the desired direction"}[lang]
        lines.append(f"{section('pretrends', lang)}: {text.p_equals(pretrend_test(self.area_es).p_value, lang)}")
        return SummaryBox(title=label("what_was_found", lang), lines=tuple(lines))

    def conclusions(self) -> Sealed:
        """Findings written from the numbers: both estimands, pre-trends, and the caveat."""
        parts = [self._effect_text("area")]
        if self.template == "final":
            parts += [self._effect_text("cohort"), text.estimand_note(self.p["lang"])]
        parts.append(self._pretrend_text())
        return markdown("\n\n".join(parts))

    def cs_event_study_figure(self) -> Sealed:
        """Callaway-Sant'Anna dynamic aggregation with pointwise intervals and sup-t bands."""
        lang = self.p["lang"]
        fig = self.cs_dynamic.plot(lang=lang, truth=self._truth_by_e(self.area),
                                   title="Callaway & Sant'Anna (2021)", pp=text.is_share(self.p["outcome"]))
        fig.axes[0].set_ylabel(self._effect_axis_label(), fontsize=9)
        alt = {"da": "Callaway-Sant'Anna: effekter efter år siden start med punktvise intervaller og simultane bånd.",
               "en": "Callaway-Sant'Anna: effects by years since start with pointwise intervals and uniform bands."}[lang]
        notes = "".join(f"<p class='evalkit-note'>{html.escape(_estimator_note(n, lang))}</p>"
                        for n in self.notes.get("cs", []))
        return outputs.html(figures.figure_html(fig, alt) + notes, kind="figure", plain=alt)

    def sensitivity(self) -> SafeTable:
        """Robust confidence intervals when post-period violations of parallel trends are at most
        Mbar times the largest pre-period violation (Rambachan & Roth 2023)."""
        note = text.breakdown_sentence(self.honest.breakdown, self.honest.breakdown_exceeds_grid, lang=self.p["lang"])
        return tables._estimates_safe(honest_table(self.honest.tidy(), self.p["lang"]), digits=4, note=note,
                                      lang=self.p["lang"])

    def sensitivity_figure(self) -> Sealed:
        lang = self.p["lang"]
        alt = {"da": "Robuste konfidensintervaller for effekten i første år efter start, for voksende Mbar.",
               "en": "Robust confidence intervals for the first-year effect as Mbar grows."}[lang]
        return sealed_figure(self.honest.plot(lang=lang, pp=text.is_share(self.p["outcome"])), alt)

    @cached_property
    def _few_rows(self) -> list[dict]:
        """The static area effect under every method of the few-cluster table (and the advisor's choice)."""
        used = few_clusters.recommended(self.check.cr1_reliable, self.advised)
        extra = used if used not in few_clusters.METHODS else None
        with step("few-cluster inference: CR2, CR3, wild bootstrap (9,999 draws), randomization (999 draws)"):
            rows = few_clusters.inference_rows(self.static_twfe, self.area, seed=self.p["seed"], lang=self.p["lang"],
                                               extra=extra, advised=self.advised)
        if self.advised.advice is not None and extra is None:
            rows = few_clusters.with_advisor_p(rows, used, self.advised, self.static_twfe, self.area,
                                               seed=self.p["seed"], lang=self.p["lang"])
        return rows

    def few_cluster_table(self, max_treated: int | None = None) -> SafeTable | Sealed:
        """The static area effect under CR1, CR2, CR3, the restricted wild bootstrap and
        randomization inference, with the method the report relies on marked (the inference
        advisor's choice when it ran, as an extra row when it is none of the five).
        ``max_treated``: show it only up to that many treated areas (the midterm report: 5)."""
        lang = self.p["lang"]
        if max_treated is not None and self.check.n_treated_clusters > max_treated:
            return markdown("")
        used = few_clusters.recommended(self.check.cr1_reliable, self.advised)
        note = text.few_cluster_note(self.check.n_treated_clusters, used, lang=lang,
                                     advised=self.advised.advice is not None)
        return tables._estimates_safe(few_clusters.inference_table(self._few_rows, used=used, lang=lang), digits=4,
                                     note=note, lang=lang, draws=few_clusters.row_draws(self._few_rows))

    @cached_property
    def synth_fits(self) -> dict:
        with step("synthetic control per treated area, with in-space placebos"):
            return few_clusters.synth_fits(self.area, self.p["outcome"], alpha=self.p["alpha"])

    @property
    def _treated_ids(self) -> list:
        """Every treated area's id (the synthetic-control tables name areas by their letter among them)."""
        return sorted(self.area.loc[self.area["cohort"] > 0, "OMR_ID"].unique())

    def synthetic_control(self) -> SafeTable | Sealed:
        """With 5 or fewer treated areas: each fitted by synthetic control, with its placebo p-value."""
        lang = self.p["lang"]
        if not self.synth_fits:
            return markdown(text.synth_not_used(self.check.n_treated_clusters, lang))
        table = few_clusters.synth_table(self.synth_fits, lang=lang, treated=self._treated_ids)
        return tables._estimates_safe(table, digits=4, note=text.synth_note(lang), lang=lang)

    def synthetic_control_figure(self) -> Sealed:
        """Placebo plot (gap of each treated area against the donors' placebo gaps)."""
        if not self.synth_fits:
            return markdown("")
        lang, parts = self.p["lang"], []
        # each figure's alt text names its area by the letter the tables use ("Område A: ...")
        alts = few_clusters.synth_figure_alts(self.synth_fits, lang=lang, treated=self._treated_ids)
        gap = {"da": "Forskel (behandlet minus syntetisk) i {}", "en": "Gap (treated minus synthetic) in {}"}[lang]
        for res, alt in zip(self.synth_fits.values(), alts):
            fig = synth_plot(res, kind="placebo", lang=lang)
            fig.axes[0].set_ylabel(gap.format(label(self.p["outcome"], lang).lower()), fontsize=9)  # the outcome's label
            parts.append(figures.figure_html(fig, alt))
        return outputs.html("".join(parts), kind="figure", plain="\n".join(alts))

    def estimand_note(self) -> Sealed:
        return markdown(text.estimand_note(self.p["lang"]))

    @cached_property
    def robustness_specs(self) -> dict:
        """Each robustness specification's result and simulated truth (computed once)."""
        with step("robustness specifications"), warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)  # few treated areas: design_inference says so
            return specifications(self)

    def robustness(self) -> SafeTable:
        return tables._estimates_safe(robustness_table(self), digits=4, lang=self.p["lang"], draws=p_draws(self))

    # ------------------------------------------- domain sections (evalkit.report.domain_sections)
    @cached_property
    def movers_decomposition(self):
        """Stayers / in-movers / out-movers decomposition (one DuckDB pass, shared by table and figure)."""
        return domain_sections.decomposition(self)

    @cached_property
    def estimand_results(self):
        return domain_sections.comparison(self)

    @cached_property
    def goal_results(self):
        return domain_sections.attainment(self)

    def movers_table(self): return domain_sections.movers_table(self)  # noqa: E704
    def movers_figure(self): return domain_sections.movers_figure(self)  # noqa: E704
    def estimand_comparison(self): return domain_sections.estimand_table(self)  # noqa: E704
    def estimand_text(self): return domain_sections.estimand_text(self)  # noqa: E704
    def goals_table(self): return domain_sections.goals_table(self)  # noqa: E704
    def goals_chart(self): return domain_sections.goals_chart(self)  # noqa: E704
    def cost_per_effect(self): return domain_sections.cost_table(self)  # noqa: E704

    # ------------------------------- survey and subgroups (evalkit.report.survey_section, subgroup_section)
    @cached_property
    def survey_fit(self):
        """The survey outcome read, calibrated to the register and estimated (once per report)."""
        return survey_section.report_fit(self)  # its warnings become the report's notes, not cell stderr

    @cached_property
    def subgroup_results(self):
        return subgroup_section.fit(self)

    def survey_heading(self): return survey_section.heading(self)  # noqa: E704
    def survey_response_rates(self): return survey_section.rates_table(self)  # noqa: E704
    def survey_weights(self): return survey_section.weights_table(self)  # noqa: E704
    def survey_effect(self): return survey_section.effect_table(self)  # noqa: E704
    def subgroup_heading(self): return subgroup_section.heading(self)  # noqa: E704
    def subgroup_table(self, source="register"): return subgroup_section.table(self, source)  # noqa: E704
    def subgroup_figure(self): return subgroup_section.figure(self)  # noqa: E704
