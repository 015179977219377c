"""Report sections for few treated areas: the inference table and the synthetic-control section.

Pure functions of results and area panels; :class:`~evalkit.report.study.Study` calls them.
With fewer than 10 treated areas CR1 over-rejects (MacKinnon & Webb 2017), so the table sets
CR1, CR2 (Bell-McCaffrey / Imbens-Kolesar), CR3, the restricted wild cluster bootstrap and
randomization inference side by side and marks the one the report relies on. With 5 or fewer
treated areas each is also fitted by synthetic control (Abadie, Diamond & Hainmueller 2010).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitError, EvalkitWarning
from evalkit.estimators import synth
from evalkit.i18n import LANGS, area_letter, label, p_equals
from evalkit.report.tables import P_DIGITS

METHODS = ("cr1", "cr2", "cr3", "wild", "randomization")
#: rows added when the inference advisor chooses a method the five rows do not show
EXTRA = {"wild_webb": ("wild", {"weights": "webb"}), "wcu": ("wild", {"restricted": False})}
NAMES = {
    "cr1": {"da": "CR1 (klyngerobust)", "en": "CR1 (cluster-robust)"},
    "cr2": {"da": "CR2 (Bell-McCaffrey, IK-frihedsgrader)", "en": "CR2 (Bell-McCaffrey, IK dof)"},
    "cr3": {"da": "CR3 (jackknife)", "en": "CR3 (jackknife)"},
    "wild": {"da": "Restrikteret wild cluster bootstrap", "en": "Restricted wild cluster bootstrap"},
    "wild_webb": {"da": "Restrikteret wild cluster bootstrap, Webb", "en": "Restricted wild cluster bootstrap, Webb"},
    "wcu": {"da": "Urestrikteret wild cluster bootstrap", "en": "Unrestricted wild cluster bootstrap"},
    "randomization": {"da": "Randomiseringsinferens", "en": "Randomization inference"},
    "corrected": {"da": "CR2 med niveaukorrigeret kritisk værdi", "en": "CR2 with size-corrected critical value"},
}
#: column headers (keys of the label map, evalkit.i18n.LABELS)
COLS = {lang: [label(k, lang) for k in ("method", "estimate", "std_error_short", "p_value", "conf_low", "conf_high",
                                        "details", "used")] for lang in LANGS}


def recommended(cr1_reliable: bool, advised=None) -> str:
    """The row the report relies on: the inference advisor's choice when it ran
    (:class:`evalkit.report.advising.Advised`; "corrected" for size-corrected critical values),
    else CR1 with enough treated clusters and the restricted wild bootstrap without."""
    from evalkit.report.advising import REPORT_METHOD

    if advised is not None and advised.advice is not None:
        return "corrected" if advised.advice.size_corrected else REPORT_METHOD[advised.method][2]
    return "cr1" if cr1_reliable else "wild"


def inference_rows(result, data: pd.DataFrame, *, seed: int, draws: int = 999, wild_draws: int = 9999,
                   lang: str = "en", extra: str | None = None, advised=None) -> list[dict]:
    """One row per method for the result's "ATT" term (a method that is undefined gets a reason);
    ``extra``: a row of :data:`EXTRA` or "corrected" (CR2's t against the advisor's size-corrected
    critical value, ``advised``) after the five."""
    rows = []
    for method in (*METHODS, *([extra] if extra else [])):
        if method == "corrected":
            rows.append(_corrected_row(rows, advised, lang))
            continue
        kind, options = EXTRA.get(method, (method, {}))
        try:
            res = result if kind == "cr1" else result.with_inference(
                kind, data, seed=seed, draws=wild_draws if kind == "wild" else draws, **options)
        except EvalkitError as err:
            rows.append({"method": method, "reason": str(err)})
            continue
        row = res.table.set_index("term").loc["ATT"]
        rows.append({"method": method, "estimate": row["estimate"], "std_error": row["std_error"],
                     "p_value": row["p_value"], "conf_low": row["conf_low"], "conf_high": row["conf_high"],
                     "detail": _detail(res, kind, lang), "draws": _draws(res, kind)})
    return rows


def with_advisor_p(rows: list[dict], used: str, advised, result, data: pd.DataFrame, *, seed: int,
                   lang: str) -> list[dict]:
    """The marked row carries the inference advisor's data p-value for its chosen method - the number
    of the advisor's table and the design sentence - instead of this table's own run of the same
    test with other draws (the two differ only by Monte Carlo error; the detail names both). A
    randomization row gets the interval the headline uses (:func:`evalkit.report.advising.randomization_interval`:
    the estimate +- the re-assignments' critical |t| times the standard error), instead of none."""
    from evalkit.estimators.postfit import randomization_combination
    from evalkit.report.advising import randomization_interval

    out = []
    for row in rows:
        if row["method"] != used or "reason" in row:
            out.append(row)
            continue
        adv = advised.advice
        own_draws = row.get("draws")
        row = dict(row, p_value=float(advised.row(adv.chosen)["p_value"]), draws=adv.draws)
        # this table's own p-value as the table's p-values look (evalkit.i18n.format_p: three decimals,
        # "< 1/(B+1)" for a resampling p of 0), and so as the advisor's table shows p-values
        own_p = p_equals(rows_p(rows, used), lang, digits=P_DIGITS, draws=own_draws)
        own = {"da": f"{own_p} med", "en": f"{own_p} with"}[lang]
        if used == "randomization":
            try:
                ri = randomization_combination(result, data, {"ATT": 1.0}, seed=seed, draws=999)
                low, high = randomization_interval(row["estimate"], float(ri.observed[0]), ri.null[:, 0], result.alpha)
                row.update(conf_low=low, conf_high=high)
            except EvalkitError:
                pass
            row["detail"] = {"da": f"rådgiverens test (R = {adv.draws:,}); {own} R = 999",
                             "en": f"the advisor's test (R = {adv.draws:,}); {own} R = 999"}[lang]
        else:
            row["detail"] = {"da": f"rådgiverens test ({adv.draws:,} træk); {own} {row['detail']}",
                             "en": f"the advisor's test ({adv.draws:,} draws); {own} {row['detail']}"}[lang]
        out.append(row)
    return out


def rows_p(rows: list[dict], method: str) -> float:
    return float(next(r for r in rows if r["method"] == method).get("p_value", np.nan))


def _corrected_row(rows: list[dict], advised, lang: str) -> dict:
    """CR2's estimate and standard error with the advisor's critical value c: interval est +- c se;
    the p-value is the advisor's (share of placebo |t| at least the observed |t|)."""
    cr2 = next(r for r in rows if r["method"] == "cr2")
    if "reason" in cr2:
        return {"method": "corrected", "reason": cr2["reason"]}
    c = advised.advice.critical_value
    p = float(advised.row(advised.advice.chosen)["p_value"])
    detail = {"da": f"|t| > {c:.2f} (placebo, {advised.advice.n_placebos:,})",
              "en": f"|t| > {c:.2f} (placebo, {advised.advice.n_placebos:,})"}[lang]
    return {"method": "corrected", "estimate": cr2["estimate"], "std_error": cr2["std_error"], "p_value": p,
            "conf_low": cr2["estimate"] - c * cr2["std_error"], "conf_high": cr2["estimate"] + c * cr2["std_error"],
            "detail": detail}


def _draws(res, method: str) -> int | None:
    """The resamples behind a row's p-value (wild bootstrap, randomization), else ``None``."""
    details = res.diagnostics.get("inference_details", {})
    if method == "wild":
        return int(details["ATT"]["B"])
    if method == "randomization":
        return int(details["draws"])
    return None


def row_draws(rows: list[dict]) -> list:
    """Each row's resamples behind its p-value (``None`` for analytic p-values), in table order:
    a p-value of 0 is shown as "< 1/(draws+1)" (:func:`evalkit.i18n.format_p`)."""
    return [r.get("draws") for r in rows]


def _detail(res, method: str, lang: str) -> str:
    """A row's details, numbers written the English way with grouped thousands ("B = 9,999"); a Danish
    table localizes its text cells ("B = 9.999")."""
    info, details = res.inference, res.diagnostics.get("inference_details", {})
    if method == "cr1":
        return f"t({info.df:g}), G = {info.n_clusters:,}"
    if method == "cr2":
        return f"t({details['dof']['ATT']:.1f})"
    if method == "cr3":
        return f"t({info.df:g})"
    if method == "wild":
        att = details["ATT"]
        every = {"da": " (alle)", "en": " (all)"}[lang] if att["enumerated"] else ""
        return f"B = {int(att['B']):,}{every}, {str(att['weights']).capitalize()}"
    mc = {"da": "MC-usikkerhed på p", "en": "MC s.e. of p"}[lang]
    return f"R = {int(details['draws']):,}, {mc} = {details['mc_se']['ATT']:.3f}"


def inference_table(rows: list[dict], *, used: str, lang: str) -> pd.DataFrame:
    """The displayed table (Danish or English headers)."""
    na = {"da": "ikke defineret", "en": "undefined"}[lang]
    out = [[NAMES[r["method"]][lang], r.get("estimate", np.nan), r.get("std_error", np.nan), r.get("p_value", np.nan),
            r.get("conf_low", np.nan), r.get("conf_high", np.nan), r.get("detail", f"{na}: {r.get('reason', '')}"),
            "✓" if r["method"] == used else ""] for r in rows]
    return pd.DataFrame(out, columns=COLS[lang])


# ---------------------------------------------------------------- synthetic control
def synth_fits(area: pd.DataFrame, outcome: str, *, alpha: float, max_treated: int = 5) -> dict:
    """Synthetic control for each treated area (cohort > 0) against the never-treated areas.

    Returns {area id: Result}; empty when more than ``max_treated`` areas are treated.
    Only areas observed in every year take part (treated areas or donors with a thin area-year
    left out of the report are skipped).
    """
    treated = sorted(area.loc[area["cohort"] > 0, "OMR_ID"].unique())
    if not treated or len(treated) > max_treated:
        return {}
    complete = _fully_observed(area)  # thin area-years left out of the report make some units incomplete
    donors = area[(area["cohort"] == 0) & area["OMR_ID"].isin(complete)]
    fits = {}
    for unit in (u for u in treated if u in complete):
        rows = area[area["OMR_ID"] == unit]
        data = pd.concat([rows, donors])[["OMR_ID", "AAR", "cohort", outcome]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)  # the table shows the pre-period RMSPE and the hull check
            fits[int(unit)] = synth(data, outcome=outcome, unit="OMR_ID", time="AAR", cohort="cohort", alpha=alpha,
                                    loo=False)
    return fits


def _fully_observed(area: pd.DataFrame) -> set:
    """Areas observed in every year of the panel (synthetic control needs a balanced panel)."""
    years = area["AAR"].nunique()
    counts = area.groupby("OMR_ID")["AAR"].nunique()
    return set(counts.index[counts == years])


def _letters(fits: dict, treated) -> list[str]:
    """The report's name of each fitted area: its letter among all ``treated`` areas in id order (as the
    survey tables name them), so an area skipped here does not rename the ones after it."""
    order = sorted(treated if treated is not None else fits)
    return [area_letter(order.index(a)) if a in order else "?" for a in fits]


def synth_figure_alts(fits: dict, *, lang: str, treated=None) -> list[str]:
    """The alt text of each fitted area's placebo figure, in ``fits`` order, naming the area by the
    letter the synthetic-control tables give it (:func:`_letters`; never its id)."""
    alt = {"da": "Område {}: forskel mellem indsatsområdet og dets syntetiske kontrol, med placebo-forskelle "
                 "for donorerne.",
           "en": "Area {}: gap between the treated area and its synthetic control, with the donors' placebo "
                 "gaps."}[lang]
    return [alt.format(letter) for letter in _letters(fits, treated)]


def synth_table(fits: dict, *, lang: str, treated=None) -> pd.DataFrame:
    """Per treated area: post-period mean gap, placebo p-value (RMSPE ratio), pre-period RMSPE, donors used.
    ``treated``: every treated area's id (default: the fitted ones), for the areas' letters."""
    cols = {"da": ["Område", "Gns. forskel efter start", "Placebo p-værdi", "RMSPE før start", "Donorer med vægt",
                   "Inden for donorernes konvekse hylster"],
            "en": ["Area", "Mean post-period gap", "Placebo p-value", "Pre-period RMSPE", "Donors with weight",
                   "Inside the donors' convex hull"]}[lang]
    yes_no = {"da": ("nej", "ja"), "en": ("no", "yes")}[lang]
    rows = []
    for letter, res in zip(_letters(fits, treated), fits.values()):
        att = res.table.set_index("term").loc["ATT"]
        used = sum(1 for w in res.diagnostics["weights"].values() if w > 1e-6)
        name = {"da": "område", "en": "area"}[lang]
        rows.append([f"{letter} ({name}; start {res.meta['treatment_start']})", att["estimate"],
                     att["p_value"], res.diagnostics["pre_rmspe"], used,
                     yes_no[not any(res.diagnostics["outside_hull"].values())]])
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------- synthetic DiD
def sdid_fit(area: pd.DataFrame, outcome: str, *, alpha: float, seed: int, draws: int = 50, max_treated: int = 5):
    """Synthetic DiD (Arkhangelsky et al. 2021) of the areas observed in every year, with the placebo
    standard error (their Algorithm 4: placebo assignments among the never-treated areas); None with
    more than ``max_treated`` treated areas or when no treated area is observed in every year."""
    from evalkit.estimators import sdid

    complete = area[area["OMR_ID"].isin(_fully_observed(area))]
    n_treated = area.loc[area["cohort"] > 0, "OMR_ID"].nunique()
    if not n_treated or n_treated > max_treated or not (complete["cohort"] > 0).any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        try:
            return sdid(complete[["OMR_ID", "AAR", "cohort", outcome]], outcome=outcome, unit="OMR_ID", time="AAR",
                        cohort="cohort", se="placebo", draws=draws, seed=seed, alpha=alpha)
        except EvalkitError:
            return None


PVALUE_COLS = {lang: [label(k, lang) for k in ("method", "estimate", "p_value", "basis")] for lang in LANGS}


def few_treated_pvalues(chosen: dict, sdid_result, fits: dict, *, lang: str, treated=None) -> pd.DataFrame:
    """The advisor's choice beside the synthetic DiD and the synthetic controls' placebo p-values.

    ``chosen``: {"label", "static": (estimate, p), "average": (estimate, p)} - the method the report
    relies on, for the static TWFE effect and the post-period average (the headline)."""
    basis = {"da": {"static": "statisk TWFE-effekt, vægtet", "average": "gns. efter start (rapportens hovedresultat)",
                    "sdid": "placebo-standardfejl (Algoritme 4), normal p-værdi",
                    "sc": "placebo: andel med mindst lige så stort RMSPE-forhold"},
             "en": {"static": "static TWFE effect, weighted", "average": "post-period average (the headline)",
                    "sdid": "placebo standard error (Algorithm 4), normal p-value",
                    "sc": "placebo: share with an RMSPE ratio at least as large"}}[lang]
    rows = [[chosen["label"], *chosen[k], basis[k]] for k in ("static", "average")]
    if sdid_result is not None:
        att = sdid_result.table.set_index("term").loc["ATT"]
        rows.append([{"da": "Syntetisk DiD", "en": "Synthetic DiD"}[lang], att["estimate"], att["p_value"],
                     basis["sdid"]])
    name = {"da": "Syntetisk kontrol, område", "en": "Synthetic control, area"}[lang]
    for letter, res in zip(_letters(fits, treated), fits.values()):
        att = res.table.set_index("term").loc["ATT"]
        rows.append([f"{name} {letter}", att["estimate"], att["p_value"], basis["sc"]])
    return pd.DataFrame(rows, columns=PVALUE_COLS[lang])
