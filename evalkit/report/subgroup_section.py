"""Subgroup effects in the reports (issue 15, parts 4 and 6): a table and a figure per outcome.

Shown when the parameter ``subgroup_by`` names a subgroup (origin, sex, age band, education at
baseline). The register outcome's effects come from :func:`evalkit.subgroup_effects` (static TWFE per
subgroup, weighted by the subgroup's residents, clustered by area, with a joint F test of equal
effects), the survey outcome's (when ``survey_outcome`` is set) from
:func:`evalkit.survey_subgroup_effects` on the calibrated respondents. Both use the areas and years of
the report and its disclosure rules: thin subgroups are pooled (ordered categories) or suppressed at
the source, with a note, and counts of persons are rounded to ``round_base``.

On simulated data the true effect per subgroup is shown beside each estimate: for register outcomes
the mean over the subgroup's person-years in treated areas after the start of observed minus
untreated-world outcome (``truth/person_counterfactual.parquet``: employment and convictions); for
the survey, the area truth averaged over the subgroup's treated cells with their weights.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitWarning, ValidationError
from evalkit.results.plot import decimal_comma

POOL_SEP = " + "


@dataclass(frozen=True)
class SubgroupFits:
    """The report's subgroup results: {"register": SubgroupEffects | None, "survey": ...}, truths and notes."""

    results: dict
    truths: dict           # {"register": {subgroup: truth}, "survey": {...}}
    skipped: dict          # {"register": reason, ...} for a source that could not be shown


# ------------------------------------------------------------------------------ pure
def with_truth(table: pd.DataFrame, truths: dict | None) -> pd.DataFrame:
    """The tidy subgroup table with a ``truth`` column (NaN where unknown; pure)."""
    out = table.copy()
    out["truth"] = [np.nan if not truths else truths.get(g, np.nan) for g in out["subgroup"]]
    return out


def cell_truth(cells: pd.DataFrame, effects: pd.DataFrame, mapping: dict) -> dict:
    """{subgroup: weight-averaged truth over its treated post-start cells} (``cells``: OMR_ID, AAR, category,
    w, D; ``effects``: OMR_ID, AAR, effect; ``mapping``: category -> shown subgroup; pure)."""
    c = cells[cells["D"] == 1].merge(effects, on=["OMR_ID", "AAR"], how="inner").dropna(subset=["effect"])
    c = c.assign(subgroup=c["category"].map(mapping)).dropna(subset=["subgroup"])
    return {g: float(np.average(x["effect"], weights=x["w"])) for g, x in c.groupby("subgroup")}


def category_mapping(shown: list[str]) -> dict:
    """category -> shown (possibly pooled) subgroup name, from names such as "50-64 + 65+"."""
    return {c: g for g in shown for c in g.split(POOL_SEP)}


# ------------------------------------------------------------------------------ orchestration
def _upto(md, year: int):
    """The microdata up to ``year`` (a DuckDB view on the same connection)."""
    view = f"evalkit_upto_{int(year)}"
    md.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {md.relation} WHERE AAR <= {int(year)}")
    return dataclasses.replace(md, relation=view, years=tuple(y for y in md.years if y <= year))


def _register_truth(study, md, res) -> dict | None:
    """Person-level truth per shown subgroup (employment, convictions), or None without a counterfactual."""
    from evalkit.domain import subgroups as sg
    from evalkit.report.truth import PERSON_OUTCOME

    p = study.p
    path = Path(p["data_dir"]) / "truth" / "person_counterfactual.parquet"
    column = f"{PERSON_OUTCOME.get(p['outcome'], '')}_0"
    if p["outcome"] not in ("employment_rate", "conviction_share") or not path.is_file():
        return None
    person = sg._person_sql(md, p["subgroup_by"], p["outcome"], sg.REGISTER_AGE_BANDS, p["baseline_year"], "exclude")
    starts = study.cohorts[study.cohorts["cohort"] > 0][["OMR_ID", "cohort"]]
    md.con.register("_evalkit_starts", starts.astype({"OMR_ID": "int64", "cohort": "int64"}))
    source = "read_parquet('" + str(path).replace("'", "''") + "')"
    try:
        df = md.con.execute(f"""SELECT p.category, avg(p.y - cf."{column}") AS truth FROM ({person}) p
            JOIN _evalkit_starts s ON s.OMR_ID = p.OMR_ID AND p.AAR >= s.cohort
            JOIN {source} cf ON cf.PERSON_ID = p.PERSON_ID AND cf.AAR = p.AAR
            WHERE p.category IS NOT NULL GROUP BY 1""").df()
        n = md.con.execute(f"""SELECT p.category, count(*) AS n FROM ({person}) p
            JOIN _evalkit_starts s ON s.OMR_ID = p.OMR_ID AND p.AAR >= s.cohort
            WHERE p.category IS NOT NULL GROUP BY 1""").df()
    finally:
        md.con.unregister("_evalkit_starts")
    df = df.merge(n, on="category")
    mapping = category_mapping(list(res.tidy()["subgroup"]))
    df["subgroup"] = df["category"].map(mapping)
    return {g: float(np.average(x["truth"], weights=x["n"])) for g, x in df.dropna(subset=["subgroup"]).groupby("subgroup")}


def _inference(study):
    from evalkit.report.survey_section import report_inference

    return report_inference(study)


def _joint_options(study, inference, options) -> dict:
    """The joint bootstrap's options: the report's wild weights and its seed, so a run is reproducible."""
    weights = options.get("weights", "rademacher") if inference == "wild" else "rademacher"
    return {"weights": weights, "seed": study.p["seed"]}


def _register(study):
    from evalkit.domain.subgroups import REGISTER_OUTCOMES, subgroup_effects

    p = study.p
    if p["outcome"] not in REGISTER_OUTCOMES:
        return None, None, "no_definition"
    cohorts = study.cohorts[study.cohorts["role"] != "excluded"]
    md = _upto(study.md, p["evaluation_year"])
    inference, options, _ = _inference(study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = subgroup_effects(md, cohorts[["OMR_ID", "cohort"]], outcome=p["outcome"], by=p["subgroup_by"],
                               min_cell=p["min_cell"], round_base=p["round_base"], alpha=p["alpha"],
                               baseline_year=p["baseline_year"], inference=inference,
                               inference_options=options or None, areas=list(cohorts["OMR_ID"]),
                               joint_options=_joint_options(study, inference, options))
    return res, _register_truth(study, md, res), None


def _survey(study):
    from evalkit.domain.survey_subgroups import survey_subgroup_effects
    from evalkit.domain.survey_weights import CALIBRATED
    from evalkit.report import truth as truth_mod
    from evalkit.report.survey_section import SURVEYS

    p = study.p
    if not p["survey_outcome"]:
        return None, None, None
    if p["subgroup_by"] == "education":
        return None, None, "no_survey_education"
    spec, fit = SURVEYS[p["survey_outcome"]], study.survey_fit
    from evalkit.domain.subgroups import BY

    needed = BY[p["subgroup_by"]][2]
    if any(c not in fit.data.columns or fit.data[c].isna().all() for c in needed):
        return None, None, "no_survey_column"  # e.g. survey.columns maps origin to null
    cohorts = study.cohorts[study.cohorts["role"] != "excluded"]
    inference, options, _ = _inference(study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = survey_subgroup_effects(fit.data.drop(columns=["cohort", "D"]), cohorts[["OMR_ID", "cohort"]],
                                      answer=fit.answer, cutoff=fit.cutoff, by=p["subgroup_by"], weights=CALIBRATED,
                                      min_cell=p["min_cell"], round_base=p["round_base"], alpha=p["alpha"],
                                      inference=inference, inference_options=options or None,
                                      joint_options=_joint_options(study, inference, options))
    effects = truth_mod.area_effects(p["data_dir"], spec.truth)
    if effects is None or fit.truth is None:  # no truth, or not of this estimand (a mean score, a Likert cut-off)
        return res, None, None
    from evalkit.domain.survey_subgroups import _survey_category
    from evalkit.domain.survey_margins import AGE_BANDS

    d = fit.data.dropna(subset=[CALIBRATED, fit.answer])
    cells = d.assign(category=_survey_category(d, p["subgroup_by"], AGE_BANDS), w=d[CALIBRATED]).groupby(
        ["OMR_ID", "AAR", "category"], as_index=False).agg(w=("w", "sum"), D=("D", "first"))
    truths = cell_truth(cells.astype({"OMR_ID": "int64"}), effects,
                        category_mapping(list(res.tidy()["subgroup"])))
    return res, truths, None


def _survey_unavailable(study) -> bool:
    from evalkit.report.survey_section import _unavailable

    return _unavailable(study) is not None


def fit(study) -> SubgroupFits | None:
    """The report's subgroup effects (None when ``subgroup_by`` is empty)."""
    from evalkit.progress import step

    if not study.p["subgroup_by"]:
        return None
    results, truths, skipped = {}, {}, {}
    for source, make in (("register", _register), ("survey", _survey)):
        if source == "survey" and study.p["survey_outcome"] and _survey_unavailable(study):
            skipped[source] = "survey_failed"
            continue
        with step(f"subgroup effects by {study.p['subgroup_by']} ({source})"):
            try:
                res, tr, why = make(study)
            except ValidationError:  # every subgroup suppressed under min_cell (the library says so)
                res, tr, why = None, None, "all_suppressed"
        if res is not None:
            results[source], truths[source] = res, tr
        elif why:
            skipped[source] = why
    return SubgroupFits(results=results, truths=truths, skipped=skipped)


def inference_code(method: str | None, options: dict) -> str:
    """The subgroup intervals' inference as a stable code, whatever the report language (pure): ``cr1``,
    ``cr2``, ``cr3``, ``wild_restricted``, ``wild_restricted_webb`` or ``wild_unrestricted``."""
    if method != "wild":
        return method or "cr1"
    if options.get("restricted", True) is False:
        return "wild_unrestricted"
    return "wild_restricted_webb" if options.get("weights") == "webb" else "wild_restricted"


def json_results(fits: SubgroupFits | None, *, inference: str, inference_label: str | None = None) -> dict:
    """The subgroup effects for the report's results folder (``results/subgroups_<source>.json``).

    Parameters
    ----------
    fits : SubgroupFits or None
        The report's subgroup results.
    inference : str
        The intervals' inference as a stable code (:func:`inference_code`).
    inference_label : str, optional
        Its name in the report's language (``inference_label`` in the JSON).

    Returns
    -------
    dict
        {"subgroups_register": payload, "subgroups_survey": payload} for the sources shown: the
        shown table (counts already rounded, suppressed subgroups blank), the joint test, the
        disclosure notes and the simulated truth where known; JSON-ready (NaN as None).
    """
    if fits is None:
        return {}

    def clean(v):
        if isinstance(v, (float, np.floating)):
            return None if not np.isfinite(v) else float(v)
        if isinstance(v, (np.integer,)):
            return int(v)
        return v

    out = {}
    for source, res in fits.results.items():
        table = with_truth(res.tidy(), fits.truths.get(source))
        if not fits.truths.get(source):
            table = table.drop(columns="truth")
        out[f"subgroups_{source}"] = {
            "estimator": "subgroup_effects", "source": source, "by": res.by, "outcome": res.outcome,
            "estimand": res.estimand, "alpha": res.alpha, "min_cell": res.min_cell, "inference": inference,
            "inference_label": inference_label,
            "table": [{k: clean(v) for k, v in row.items()} for row in table.to_dict("records")],
            "joint_test": {k: clean(v) for k, v in res.joint_test().items()},
            "notes": [str(n) for n in res.notes]}
    return out


# ------------------------------------------------------------------------------ notebook cells
SOURCES = ("register", "survey")


def heading(study):
    from evalkit.report.outputs import markdown

    return markdown("") if not study.p["subgroup_by"] else study.heading("subgroups")


def _outcome_name(study, source: str, lang: str) -> str:
    from evalkit.report.i18n import label

    if source == "survey" and study.__dict__.get("survey_fit") is not None:  # a mean score is not a share
        from evalkit.report.survey_section import outcome_label

        return outcome_label(study.survey_fit, study.p["survey_outcome"], lang)
    return label(study.p["outcome"] if source == "register" else study.p["survey_outcome"], lang)


def notes_text(notes, min_cell: int, lang: str) -> str:
    """The disclosure and inference notes of a SubgroupEffects, in ``lang`` (pure)."""
    if lang == "en":
        return " ".join(str(n)[0].upper() + str(n)[1:] for n in notes)
    out = []
    for n in notes:
        n = str(n)
        if "pooled with" in n:
            out.append(f"En undergruppe havde færre end {min_cell} personer i indsats- eller sammenligningsområderne "
                       "et år og er lagt sammen med sin nabogruppe.")
        elif "suppressed" in n:
            out.append(f"En undergruppe havde færre end {min_cell} personer i indsats- eller sammenligningsområderne "
                       "et år og er undertrykt (intet estimat vises).")
        elif "left out at the source" in n:
            out.append(f"Område-år-undergruppe-celler med færre end {min_cell} personer er udeladt.")
        elif "secondary suppression" in n:
            out.append("Antallet for en eller flere undergrupper vises ikke: sammen med det offentliggjorte total ville "
                       "det afsløre de personer, der er udeladt ved kilden (sekundær diskretionering).")
        elif "wild cluster restricted bootstrap" in n:
            out.append("Den fælles test bruger wild cluster bootstrap (restrikteret, vægte trukket pr. område) af "
                       "Wald-statistikken, fordi CR1 F-testen forkaster for ofte med få indsatsområder.")
        elif "treated areas" in n:
            out.append("Med få indsatsområder giver den fælles CR1 F-test for ofte forkastelse; læs dens p-værdi "
                       "med forsigtighed.")
        elif "no joint test" in n:
            out.append("Færre end to undergrupper kan vises: ingen fælles test.")
    return " ".join(out)


_WHAT = {"origin": {"da": "herkomst", "en": "origin"}, "sex": {"da": "køn", "en": "sex"},
         "age_band": {"da": "alder", "en": "age"}, "education": {"da": "uddannelse", "en": "education"}}


def _skipped_text(why: str, study, lang: str) -> str:
    name = _outcome_name(study, "register", lang).lower()
    what = _WHAT.get(study.p["subgroup_by"], {"da": str(study.p["subgroup_by"]), "en": str(study.p["subgroup_by"])})
    by_da, by_en = what["da"], what["en"]
    return {"no_definition": {"da": f"_Undergrupper vises ikke for {name}: udfaldet er ikke defineret for den "
                                    "enkelte person._",
                              "en": f"_Subgroups are not shown for {name}: the outcome is not defined per person._"},
            "no_survey_column": {"da": f"_Spørgeskemaet har ikke {by_da}: ingen undergrupper for det._",
                                 "en": f"_The survey does not record {by_en}: no subgroups for it._"},
            "no_survey_education": {"da": "_Spørgeskemaet har ikke uddannelse: ingen undergrupper for det._",
                                    "en": "_The survey does not record education: no subgroups for it._"},
            "survey_failed": {"da": "_Spørgeskemaet kunne ikke estimeres: ingen undergrupper for det._",
                              "en": "_The survey could not be estimated: no subgroups for it._"},
            "all_suppressed": {"da": "_Alle undergrupper har færre end min_cell personer i indsats- eller "
                                     "sammenligningsområderne et år: ingen vises._",
                               "en": "_Every subgroup has fewer than min_cell persons in the treated or comparison "
                                     "areas in some year: none is shown._"}}[why][lang]


def table(study, source: str = "register"):
    """The subgroup table of the register (or survey) outcome with the joint test and the truth."""
    from evalkit.report.disclosure import safe_table
    from evalkit.report.i18n import label
    from evalkit.report.outputs import markdown

    fits, lang = study.subgroup_results, study.p["lang"]
    if fits is None or source not in fits.results:
        why = None if fits is None else fits.skipped.get(source)
        return markdown(_skipped_text(why, study, lang) if why else "")
    res = fits.results[source]
    shown = res.display(lang)
    truths = fits.truths.get(source)
    if truths:
        shown.insert(4, label("truth", lang), with_truth(res.tidy(), truths)["truth"].to_numpy())
    test = _joint_text(res.joint_test(), lang)
    by = label("by_" + res.by, lang)
    head = f"{_outcome_name(study, source, lang)}, {by}. {test}"
    used = {"da": f"Intervaller: {_inference(study)[2]}, klynget på område.",
            "en": f"Intervals: {_inference(study)[2]}, clustered by area."}[lang]
    note = " ".join(filter(None, [head, used, notes_text(res.notes, res.min_cell, lang)]))
    return safe_table(shown, count_cols=[label(res.count_label, lang)], index=[label("subgroup", lang)],
                      min_cell=study.p["min_cell"], digits=4, note=note, lang=lang, _trusted=True)


def _joint_text(j: dict, lang: str) -> str:
    """"Test of equal effects: F(q, G-1) = x, p = y." (pure); with the bootstrap the p-value is the wild
    bootstrap's, named so, and a resampling p of 0 reads "< 1/(B+1)"."""
    from evalkit.report.i18n import label, localize_numbers, p_equals

    if not (j["df"] and np.isfinite(j["statistic"])):
        return label("joint_test", lang) + ": -."
    f = f"F({j['df']}, {j['df_denom']}) = {localize_numbers(format(j['statistic'], '.2f'), lang)}"
    if j.get("method") == "wild":
        return (f"{label('joint_test', lang)}: {f}, {label('wild_bootstrap', lang)} "
                f"{p_equals(j['p_value'], lang, draws=j['draws'])}.")
    return f"{label('joint_test', lang)}: {f}, {p_equals(j['p_value'], lang)}."


def figure(study):
    """Estimates per subgroup with their intervals (and the simulated truth), one panel per outcome."""
    from matplotlib.figure import Figure

    from evalkit.report.i18n import label
    from evalkit.report.outputs import figure as sealed_figure
    from evalkit.report.outputs import markdown

    fits, lang = study.subgroup_results, study.p["lang"]
    if fits is None or not fits.results:
        return markdown("")
    fig = Figure(figsize=(7.5, 1.2 + 0.9 * sum(len(r.tidy()) for r in fits.results.values())), dpi=110,
                 layout="constrained")
    axes = fig.subplots(len(fits.results), 1, squeeze=False)[:, 0]
    for ax, (source, res) in zip(axes, fits.results.items()):
        t = with_truth(res.tidy(), fits.truths.get(source)).dropna(subset=["estimate"])
        score = source == "survey" and getattr(study.__dict__.get("survey_fit"), "measure", "share") == "mean score"
        scale = 1 if score else 100  # a mean score in points on its scale, a share in percentage points
        names = res.display(lang).set_index(res.tidy()["subgroup"])[label("subgroup", lang)]
        y = np.arange(len(t))[::-1]
        ax.errorbar(scale * t["estimate"], y, xerr=[scale * (t["estimate"] - t["conf_low"]),
                                                    scale * (t["conf_high"] - t["estimate"])],
                    fmt="o", color="C0", capsize=3, label=label("estimate", lang))
        if t["truth"].notna().any():
            ax.plot(scale * t["truth"], y, "x", color="C3", label=label("truth", lang))
        ax.axvline(0, color="black", lw=0.8)
        if lang == "da":
            decimal_comma(ax)
        ax.set_yticks(y, [names[g] for g in t["subgroup"]], fontsize=8)
        ax.set_title(_outcome_name(study, source, lang), fontsize=9)
        ax.set_xlabel(label("effect_points" if score else "effect_pp", lang), fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    # one legend for all panels, below them: inside a panel "best" could sit on the zero line or a marker
    shown = {name: h for ax in axes for h, name in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(shown.values()), list(shown), loc="outside lower center", ncol=len(shown), frameon=False,
               fontsize=7)
    alt = {"da": "Effekt for hver undergruppe med konfidensinterval (og den simulerede sande effekt).",
           "en": "Effect for each subgroup with its confidence interval (and the simulated true effect)."}[lang]
    return sealed_figure(fig, alt)
