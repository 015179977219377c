"""Report sentences written from the numbers (pure functions returning Markdown)."""
from __future__ import annotations

import math

from evalkit.report.i18n import label


def _pp(value: float, outcome: str) -> str:
    """Percentage points for shares, plain numbers otherwise."""
    if outcome.endswith(("_rate", "_share")):
        return f"{100 * value:+.2f} pp"
    return f"{value:+.3f}"


EFFECT_PHRASES = {
    "da": {"effect": "estimeret effekt på", "ci": "{level} % konfidensinterval",
           "signif": ("effekten er ikke statistisk signifikant.", "effekten er statistisk signifikant."),
           "truth": " Den simulerede sande effekt er {truth}, som ",
           "inside": ("ligger uden for intervallet.", "ligger inden for intervallet.")},
    "en": {"effect": "estimated effect on", "ci": "{level}% confidence interval",
           "signif": ("the effect is not statistically significant.", "the effect is statistically significant."),
           "truth": " The simulated true effect is {truth}, which ",
           "inside": ("lies outside the interval.", "lies inside the interval.")},
}


def effect_sentence(name: str, estimate: float, low: float, high: float, p_value: float,
                    outcome: str, *, lang: str, alpha: float, truth: float | None = None) -> str:
    """One sentence: the estimate, its confidence interval, significance and (if known) the truth."""
    words = EFFECT_PHRASES[lang]
    ci = words["ci"].format(level=round(100 * (1 - alpha)))
    text = (f"**{name}:** {words['effect']} {label(outcome, lang).lower()} {_pp(estimate, outcome)} "
            f"({ci} [{_pp(low, outcome)}; {_pp(high, outcome)}], p = {p_value:.3f}); "
            + words["signif"][int(p_value < alpha)])
    if truth is not None and not math.isnan(truth):
        text += words["truth"].format(truth=_pp(truth, outcome)) + words["inside"][int(low <= truth <= high)]
    return text


def pretrend_sentence(statistic: float, df: int, p_value: float, *, lang: str, alpha: float) -> str:
    """The joint test that all pre-period event-study coefficients are zero."""
    reject = p_value < alpha
    if lang == "da":
        verdict = ("forløbene før indsatsen afviger signifikant – fortolk effekterne varsomt."
                   if reject else "der er ikke tegn på forskellige forløb før indsatsen.")
        return f"Samlet Wald-test af førperiodens koefficienter: χ²({df}) = {statistic:.2f}, p = {p_value:.3f}; {verdict}"
    verdict = ("pre-treatment trends differ significantly – interpret the effects with care."
               if reject else "there is no sign of differing trends before the intervention.")
    return f"Joint Wald test of the pre-period coefficients: χ²({df}) = {statistic:.2f}, p = {p_value:.3f}; {verdict}"


def estimand_note(lang: str) -> str:
    """Why the area and cohort estimands differ (composition vs effect)."""
    if lang == "da":
        return ("Områdeeffekten måler ændringen blandt dem, der bor i området det enkelte år, og blander derfor "
                "effekter på personer med ændringer i, hvem der flytter ind og ud. Kohorteeffekten følger "
                "beboerne fra baseline-året, også når de flytter (intention to treat), og måler effekten på personer.")
    return ("The area effect measures change among whoever lives in the area each year, so it mixes effects on "
            "people with changes in who moves in and out. The cohort effect follows the baseline-year residents "
            "wherever they move (intention to treat) and measures the effect on people.")


def summary_line(name: str, estimate: float, low: float, high: float, outcome: str, *, lang: str,
                 truth: float | None = None) -> str:
    """A short line for the summary box: estimate [interval] (and the truth when simulated)."""
    line = f"{name}: {_pp(estimate, outcome)} [{_pp(low, outcome)}; {_pp(high, outcome)}]"
    if truth is not None and not math.isnan(truth):
        line += f" ({label('truth', lang).lower()} {_pp(truth, outcome)})"
    return line


def breakdown_sentence(breakdown: float, exceeds_grid: bool, *, lang: str) -> str:
    """What the HonestDiD breakdown value means for the conclusion."""
    if math.isnan(breakdown):
        return ("Selv uden brud på parallelle forløb (Mbar = 0) udelukker det robuste interval ikke nul."
                if lang == "da" else "Even with no violation of parallel trends (Mbar = 0) the robust interval "
                "does not exclude zero.")
    more = "mindst " if exceeds_grid and lang == "da" else ("at least " if exceeds_grid else "")
    if lang == "da":
        return (f"Breakdown-værdi: {more}Mbar = {breakdown:.2f}. Effekten er forskellig fra nul, så længe bruddet på "
                f"parallelle forløb efter start højst er {breakdown:.2f} gange det største brud før start.")
    return (f"Breakdown value: {more}Mbar = {breakdown:.2f}. The effect stays different from zero as long as the "
            f"violation of parallel trends after the start is at most {breakdown:.2f} times the largest one before.")


def design_sentence(n_treated: int, n_control: int, cr1_reliable: bool, *, lang: str, alpha: float,
                    cr1_p: float, wild_p: float | None = None, wild_ci: tuple[float, float] | None = None,
                    outcome: str = "") -> str:
    """Why the report uses the inference it uses, given the number of treated areas."""
    if lang == "da":
        text = f"Designet har {n_treated} indsatsområder og {n_control} sammenligningsområder (klynger). "
        if cr1_reliable:
            return text + "Med så mange behandlede klynger er klyngerobuste (CR1) standardfejl pålidelige og bruges."
        return (text + f"Med færre end 10 behandlede områder giver klyngerobuste (CR1) standardfejl for små "
                f"p-værdier (her p = {cr1_p:.3f} for den statiske TWFE-effekt). Den begrænsede wild cluster bootstrap "
                f"giver for samme effekt p = {wild_p:.3f} og {round(100 * (1 - alpha))} % konfidensinterval "
                f"[{_pp(wild_ci[0], outcome)}; {_pp(wild_ci[1], outcome)}]. Rapportens gennemsnitlige effekter efter "
                f"start bruger derfor wild bootstrap-intervaller; intervallerne for de enkelte år er CR1 og for smalle.")
    text = f"The design has {n_treated} treated and {n_control} comparison areas (clusters). "
    if cr1_reliable:
        return text + "With this many treated clusters, cluster-robust (CR1) standard errors are reliable and used."
    return (text + f"With fewer than 10 treated areas, cluster-robust (CR1) standard errors over-reject "
            f"(here p = {cr1_p:.3f} for the static TWFE effect). The restricted wild cluster bootstrap gives "
            f"p = {wild_p:.3f} and a {round(100 * (1 - alpha))}% confidence interval "
            f"[{_pp(wild_ci[0], outcome)}; {_pp(wild_ci[1], outcome)}] for the same effect. The report's post-period "
            f"average effects therefore use wild bootstrap intervals; the per-year intervals are CR1 and too narrow.")


def few_cluster_note(n_treated: int, used: str, *, lang: str) -> str:
    """Why the marked row of the few-cluster table is the one the report relies on."""
    if lang == "da":
        why = ("mindst 10 behandlede områder: CR1 er pålidelig" if used == "cr1" else
               f"kun {n_treated} behandlede områder: CR1 giver for små p-værdier, så rapporten bygger på den "
               "begrænsede wild cluster bootstrap")
        return (f"Samme statiske TWFE-effekt med fem inferensmetoder; {why}. Randomiseringsinferens flytter "
                "indsatsens start tilfældigt mellem områderne; dens p-værdi har en Monte Carlo-usikkerhed."
                + _conservative_wild(n_treated, used, lang))
    why = ("at least 10 treated areas: CR1 is reliable" if used == "cr1" else
           f"only {n_treated} treated areas: CR1 over-rejects, so the report relies on the restricted wild "
           "cluster bootstrap")
    return (f"The same static TWFE effect under five inference methods; {why}. Randomization inference "
            "re-assigns the start years across areas at random; its p-value carries a Monte Carlo error."
            + _conservative_wild(n_treated, used, lang))


def _conservative_wild(n_treated: int, used: str, lang: str) -> str:
    """With very few treated clusters the WCR errs on the safe side (MacKinnon & Webb 2018,
    Econometrics Journal 21(2)): it rejects a true null too rarely, so its intervals are wide."""
    if used != "wild" or n_treated > 5:
        return ""
    return {"da": f" Med kun {n_treated} behandlede områder er wild bootstrap-testen konservativ: den forkaster "
                  "en sand nulhypotese sjældnere end signifikansniveauet, så intervallerne er snarere for brede "
                  "end for smalle.",
            "en": f" With only {n_treated} treated areas the wild bootstrap test is conservative: it rejects a true "
                  "null less often than the nominal level, so its intervals err on the wide side."}[lang]


def synth_not_used(n_treated: int, lang: str) -> str:
    if n_treated <= 5:  # few enough, but no treated area is observed in every year
        return {"da": "Syntetisk kontrol kræver, at området er observeret hvert år; intet indsatsområde er det her "
                      "(område-år med for få beboere er udeladt).",
                "en": "Synthetic control needs an area observed in every year; no treated area is here "
                      "(area-years with too few residents are left out)."}[lang]
    return {"da": f"Syntetisk kontrol bruges ved højst 5 indsatsområder; her er der {n_treated}.",
            "en": f"Synthetic control is used with at most 5 treated areas; here there are {n_treated}."}[lang]


def synth_note(lang: str) -> str:
    return {"da": "Hvert indsatsområde sammenlignes med en vægtet kombination af sammenligningsområder "
                  "(Abadie, Diamond & Hainmueller 2010). Placebo-p-værdien er andelen af områder, hvis "
                  "RMSPE-forhold efter/før start er mindst lige så stort.",
            "en": "Each treated area is compared with a weighted combination of comparison areas "
                  "(Abadie, Diamond & Hainmueller 2010). The placebo p-value is the share of areas whose "
                  "post/pre RMSPE ratio is at least as large."}[lang]


def too_few_persons(name: str, min_cell: int, *, lang: str) -> str:
    """Why an estimand is not shown: it rests on fewer treated persons than the threshold."""
    if lang == "da":
        return (f"**{name}:** vises ikke, fordi den bygger på færre end {min_cell} behandlede personer "
                "(diskretionering).")
    return f"**{name}:** not shown, because it rests on fewer than {min_cell} treated persons (disclosure control)."


def thin_area_years_note(n: int, min_cell: int, *, lang: str) -> str:
    """Which area-years the report leaves out because too few residents stand behind them."""
    if not n:
        return ""
    if lang == "da":
        return (f"{n} område-år med færre end {min_cell} beboere (i alt eller 18-64 år) er udeladt af alle "
                "tabeller, figurer og estimater (diskretionering).")
    return (f"{n} area-years with fewer than {min_cell} residents (in all or aged 18-64) are left out of every "
            "table, figure and estimate (disclosure control).")
