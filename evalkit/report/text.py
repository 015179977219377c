"""Report sentences written from the numbers (pure functions returning Markdown)."""
from __future__ import annotations

import math

from evalkit.report.i18n import label, p_equals
from evalkit.data.outcomes import is_share  # noqa: F401 (also text.is_share for study.py)


def _num(shown: str, lang: str) -> str:
    """A number formatted the English way without grouping ("0.05", "+1.80 pp") in ``lang``'s
    convention: the Danish decimal comma ("0,05", "+1,80 pp")."""
    return shown.replace(".", ",") if lang == "da" else shown


def _pp(value: float, outcome: str, lang: str = "en") -> str:
    """Percentage points for shares, plain numbers otherwise (Danish: decimal comma)."""
    if is_share(outcome):
        return _num(f"{100 * value:+.2f} pp", lang)
    return _num(f"{value:+.3f}", lang)


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


def open_ends(low: float, high: float, bounds: tuple[float, float] | None = None) -> tuple[bool, bool]:
    """Whether each end of an interval is open: infinite (a test inversion that hit its search bound)
    or beyond ``bounds``, the effects the outcome can take (for a share: a fall below 0 or a rise
    above 1 from the treated areas' baseline level)."""
    lo_b, hi_b = bounds if bounds is not None else (-math.inf, math.inf)
    return (not math.isfinite(low) or low < lo_b), (not math.isfinite(high) or high > hi_b)


def interval_text(low: float, high: float, outcome: str, *, lang: str,
                  bounds: tuple[float, float] | None = None) -> str:
    """"[low; high]", an open end written as "below/above <the outcome's bound>" (or "-inf"/"+inf")
    instead of an impossible number."""
    lo_open, hi_open = open_ends(low, high, bounds)
    lo_b, hi_b = bounds if bounds is not None else (-math.inf, math.inf)
    below, above = {"da": ("under", "over"), "en": ("below", "above")}[lang]
    lo = ((f"{below} {_pp(lo_b, outcome, lang)}" if math.isfinite(lo_b) else "-∞") if lo_open
          else _pp(low, outcome, lang))
    hi = ((f"{above} {_pp(hi_b, outcome, lang)}" if math.isfinite(hi_b) else "+∞") if hi_open
          else _pp(high, outcome, lang))
    return f"[{lo}; {hi}]"


def unbounded_note(low: float, high: float, outcome: str, *, lang: str, method: str,
                   bounds: tuple[float, float] | None = None, mde: bool = False) -> str:
    """Say so when the interval is open at an end ("" otherwise): the test cannot reject any effect
    beyond the outcome's possible range, so the data do not bound the effect on that side."""
    lo_open, hi_open = open_ends(low, high, bounds)
    if not (lo_open or hi_open):
        return ""
    lo_b, hi_b = bounds if bounds is not None else (-math.inf, math.inf)
    parts = []
    for is_open, b, side in ((lo_open, lo_b, "low"), (hi_open, hi_b, "high")):
        if not is_open:
            continue
        where = {"da": {"low": "nedad", "high": "opad"}, "en": {"low": "below", "high": "above"}}[lang][side]
        move = {"da": {"low": "det største fald", "high": "den største stigning"},
                "en": {"low": "the largest fall", "high": "the largest rise"}}[lang][side]
        lim = _pp(b, outcome, lang) if math.isfinite(b) else ""
        if lang == "da":
            parts.append(f"Intervallet er ubegrænset {where}: {method} kan ikke engang afvise en effekt på {lim}, "
                         f"{move} udfaldet kan nå fra indsatsområdernes niveau i baseline-året." if lim else
                         f"Intervallet er ubegrænset {where}: {method} afviser ingen effekt op til søgegrænsen.")
        else:
            parts.append(f"The interval is unbounded {where}: the {method} cannot reject even an effect of {lim}, "
                         f"{move} the outcome can make from the treated areas' baseline level." if lim else
                         f"The interval is unbounded {where}: the {method} rejects no effect up to its search bound.")
    tail = {"da": " Data afgrænser altså ikke effekten i den retning" + (", og MDE'en nedenfor lover mere "
                  "præcision end intervallet har." if mde else "."),
            "en": " The data do not bound the effect on that side" + (", and the MDE below promises more "
                  "precision than the interval has." if mde else ".")}[lang]
    return " ".join(parts) + tail


def effect_sentence(name: str, estimate: float, low: float, high: float, p_value: float,
                    outcome: str, *, lang: str, alpha: float, truth: float | None = None,
                    bounds: tuple[float, float] | None = None, draws: int | None = None) -> str:
    """One sentence: the estimate, its confidence interval, significance and (if known) the truth.
    ``bounds``: the effects the outcome can take; an interval end beyond them is written as open.
    ``draws``: the resamples behind a bootstrap or randomization p-value (0 is "p < 1/(draws+1)")."""
    words = EFFECT_PHRASES[lang]
    ci = words["ci"].format(level=round(100 * (1 - alpha)))
    text = (f"**{name}:** {words['effect']} {label(outcome, lang).lower()} {_pp(estimate, outcome, lang)} "
            f"({ci} {interval_text(low, high, outcome, lang=lang, bounds=bounds)}, "
            f"{p_equals(p_value, lang, draws=draws)}); "
            + words["signif"][int(p_value < alpha)])
    if truth is not None and not math.isnan(truth):
        text += words["truth"].format(truth=_pp(truth, outcome, lang)) + words["inside"][int(low <= truth <= high)]
    return text


def pretrend_sentence(statistic: float, df: int, p_value: float, *, lang: str, alpha: float) -> str:
    """The joint test that all pre-period event-study coefficients are zero."""
    reject = p_value < alpha
    if lang == "da":
        verdict = ("forløbene før indsatsen afviger signifikant – fortolk effekterne varsomt."
                   if reject else "der er ikke tegn på forskellige forløb før indsatsen.")
        return (f"Samlet Wald-test af førperiodens koefficienter: χ²({df}) = {_num(f'{statistic:.2f}', lang)}, "
                f"{p_equals(p_value, lang)}; {verdict}")
    verdict = ("pre-treatment trends differ significantly – interpret the effects with care."
               if reject else "there is no sign of differing trends before the intervention.")
    return f"Joint Wald test of the pre-period coefficients: χ²({df}) = {statistic:.2f}, {p_equals(p_value, lang)}; {verdict}"


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
                 truth: float | None = None, mde: float | None = None, mde_static: bool = False,
                 bounds: tuple[float, float] | None = None, alpha: float = 0.05, power: float = 0.8) -> str:
    """A short line for the summary box: estimate [interval], the MDE of the design when given (and
    the truth when simulated). An interval open at an end (:func:`open_ends`) is written as such and
    the MDE is then not shown as a number (it would suggest precision the interval lacks)."""
    line = f"{name}: {_pp(estimate, outcome, lang)} {interval_text(low, high, outcome, lang=lang, bounds=bounds)}"
    if mde is not None and not math.isnan(mde):
        if any(open_ends(low, high, bounds)):
            line += ", " + {"da": "intervallet er ubegrænset, så der vises ingen MDE",
                            "en": "the interval is unbounded, so no MDE is shown"}[lang]
        else:
            line += ", " + mde_short(mde, outcome, static=mde_static, lang=lang, alpha=alpha, power=power)
    if truth is not None and not math.isnan(truth):
        line += f" ({label('truth', lang).lower()} {_pp(truth, outcome, lang)})"
    return line


#: decimals of the HonestDiD breakdown value wherever a report shows it (the sentence under the
#: sensitivity table and the figure's legend, :meth:`evalkit.report.study.Study.sensitivity_figure`)
BREAKDOWN_DIGITS = 2


def breakdown_value(breakdown: float, lang: str) -> str:
    """The breakdown value as a report writes it: :data:`BREAKDOWN_DIGITS` decimals, Danish decimal
    comma ("1,44"; English "1.44")."""
    return _num(f"{breakdown:.{BREAKDOWN_DIGITS}f}", lang)


def breakdown_sentence(breakdown: float, exceeds_grid: bool, *, lang: str) -> str:
    """What the HonestDiD breakdown value means for the conclusion (the value as :func:`breakdown_value`)."""
    if math.isnan(breakdown):
        return ("Selv uden brud på parallelle forløb (Mbar = 0) udelukker det robuste interval ikke nul."
                if lang == "da" else "Even with no violation of parallel trends (Mbar = 0) the robust interval "
                "does not exclude zero.")
    more = "mindst " if exceeds_grid and lang == "da" else ("at least " if exceeds_grid else "")
    shown = breakdown_value(breakdown, lang)
    if lang == "da":
        return (f"Nedbrudsværdi (breakdown value): {more}Mbar = {shown}. Effekten er forskellig fra nul, så længe bruddet på "
                f"parallelle forløb efter start højst er {shown} gange det største brud før start.")
    return (f"Breakdown value: {more}Mbar = {shown}. The effect stays different from zero as long as the "
            f"violation of parallel trends after the start is at most {shown} times the largest one before.")


def design_sentence(n_treated: int, n_control: int, cr1_reliable: bool, *, lang: str, alpha: float,
                    cr1_p: float, wild_p: float | None = None, wild_ci: tuple[float, float] | None = None,
                    outcome: str = "") -> str:
    """Why the report uses the inference it uses, given the number of treated areas."""
    if lang == "da":
        text = f"Designet har {n_treated} indsatsområder og {n_control} sammenligningsområder (klynger). "
        if cr1_reliable:
            return text + "Med så mange behandlede klynger er klyngerobuste (CR1) standardfejl pålidelige og bruges."
        return (text + f"Med færre end 10 behandlede områder giver klyngerobuste (CR1) standardfejl for små "
                f"p-værdier (her {p_equals(cr1_p, lang)} for den statiske TWFE-effekt). Den restrikterede wild cluster bootstrap "
                f"giver for samme effekt {p_equals(wild_p, lang)} og {round(100 * (1 - alpha))} % konfidensinterval "
                f"[{_pp(wild_ci[0], outcome, lang)}; {_pp(wild_ci[1], outcome, lang)}]. "
                f"Rapportens gennemsnitlige effekter efter "
                f"start bruger derfor wild bootstrap-intervaller; intervallerne for de enkelte år er CR1 og for smalle.")
    text = f"The design has {n_treated} treated and {n_control} comparison areas (clusters). "
    if cr1_reliable:
        return text + "With this many treated clusters, cluster-robust (CR1) standard errors are reliable and used."
    return (text + f"With fewer than 10 treated areas, cluster-robust (CR1) standard errors over-reject "
            f"(here {p_equals(cr1_p, lang)} for the static TWFE effect). The restricted wild cluster bootstrap gives "
            f"{p_equals(wild_p, lang)} and a {round(100 * (1 - alpha))}% confidence interval "
            f"[{_pp(wild_ci[0], outcome, lang)}; {_pp(wild_ci[1], outcome, lang)}] for the same effect. "
            f"The report's post-period "
            f"average effects therefore use wild bootstrap intervals; the per-year intervals are CR1 and too narrow.")


def few_cluster_note(n_treated: int, used: str, *, lang: str, advised: bool = False) -> str:
    """Why the marked row of the few-cluster table is the one the report relies on (``advised``:
    the inference advisor's choice, measured in this design)."""
    if advised:
        return {"da": "Samme statiske TWFE-effekt (områder vægtet med beboere) med flere inferensmetoder; "
                      f"kun {n_treated} behandlede områder, så inferensrådgiveren har målt hver metodes niveau og "
                      "styrke i dette design (tabellen nedenfor), og rapporten bygger på den markerede. "
                      "Randomiseringsinferens flytter indsatsens start tilfældigt mellem områderne; dens p-værdi "
                      "har en Monte Carlo-usikkerhed. Den markerede rækkes p-værdi er rådgiverens (samme test som i "
                      "rådgiverens tabel og designafsnittet); kolonnen Detaljer giver denne tabels egen kørsel med "
                      "flere træk, som kun afviger ved Monte Carlo-usikkerhed. For randomiseringsinferens er "
                      "intervallet estimatet ± gentildelingernes kritiske |t| gange standardfejlen.",
                "en": "The same static TWFE effect (areas weighted by residents) under several inference methods; "
                      f"only {n_treated} treated areas, so the inference advisor measured each method's size and "
                      "power in this design (table below) and the report relies on the marked one. Randomization "
                      "inference re-assigns the start years across areas at random; its p-value carries a Monte "
                      "Carlo error. The marked row's p-value is the advisor's (the same test as in the advisor's "
                      "table and the design section); the Details column gives this table's own run with more draws, "
                      "which differs by Monte Carlo error only. For randomization inference the interval is the "
                      "estimate ± the re-assignments' critical |t| times the standard error."}[lang]
    if lang == "da":
        why = ("mindst 10 behandlede områder: CR1 er pålidelig" if used == "cr1" else
               f"kun {n_treated} behandlede områder: CR1 giver for små p-værdier, så rapporten bygger på den "
               "restrikterede wild cluster bootstrap")
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


# ------------------------------------------------------------ the inference advisor (issue 14)
ADVICE_PHRASES = {
    "en": {"head": "Measured in {p} placebo assignments of {k} of the {g} comparison areas (start {y}; areas "
                   "weighted by their mean residents){left}, ",
           "holds": "{label} rejected {size} under no effect (nominal {nominal}) and {power} with an effect of "
                    "{effect}; the report relies on it{at}.",
           "at": ", at p ≤ {th} (its size-adjusted threshold)",
           "corrected": "no method held its size at {nominal} (the lowest measured size was {low}, {low_label}); "
                        "the report therefore uses CR2's t with the size-corrected critical value |t| > {c} "
                        "(the {q} quantile of the placebo |t|), which rejected {size} under no effect and {power} "
                        "with an effect of {effect}.",
           "rule": " A method qualifies when its measured size is not significantly above {nominal} (95% "
                   "Clopper-Pearson interval); the most powerful qualifying method is chosen.",
           "left": "; {n} comparison areas with a thin area-year left out"},
    "da": {"head": "Målt i {p} placebo-tildelinger af {k} af de {g} sammenligningsområder (start {y}; områderne "
                   "vægtet med deres gennemsnitlige antal beboere){left}: ",
           "holds": "{label} forkastede i {size} af tilfældene uden effekt (nominelt {nominal}) og i {power} med en "
                    "effekt på {effect}; rapporten bygger på den{at}.",
           "at": ", ved p ≤ {th} (dens niveaujusterede tærskel)",
           "corrected": "ingen metode holdt niveauet {nominal} (laveste målte niveau var {low}, {low_label}); "
                        "rapporten bruger derfor CR2's t med den niveaukorrigerede kritiske værdi |t| > {c} "
                        "({q}-fraktilen af placebo-|t|), som forkastede i {size} af tilfældene uden effekt og i "
                        "{power} med en effekt på {effect}.",
           "rule": " En metode kan vælges, når dens målte niveau ikke er signifikant over {nominal} (95 % "
                   "Clopper-Pearson-interval); den stærkeste af dem vælges.",
           "left": "; {n} sammenligningsområder med et tyndt område-år udeladt"},
}


def _threshold(x: float, lang: str) -> str:
    """A p-value threshold as the advisor's table shows it: at most four decimals ("0,05", "0,0086")."""
    from evalkit.inference.advice import _num as _advice_num

    return _advice_num(float(x), lang, "p")


def _pct(x: float, lang: str, digits: int = 1) -> str:
    s = _num(f"{100 * x:.{digits}f}", lang)
    return s + (" %" if lang == "da" else "%")


def advice_sentence(advised, outcome: str, *, lang: str) -> str:
    """The advisor's measured size and power of the method the report relies on, for a reviewer."""
    adv, words = advised.advice, ADVICE_PHRASES[lang]
    table = adv.table.set_index("method")
    row = table.loc[adv.chosen]
    left = words["left"].format(n=advised.left_out) if advised.left_out else ""
    head = words["head"].format(p=adv.n_placebos, k=adv.n_treated, g=adv.n_comparison, y=adv.first_year, left=left)
    common = dict(size=_pct(row["size"], lang), power=_pct(row["power"], lang, 0), nominal=_pct(adv.alpha, lang, 0),
                  effect=_pp(adv.effect, outcome, lang))
    if adv.size_corrected:
        plain = table.drop(index=adv.chosen)
        low = plain["size"].idxmin()
        body = words["corrected"].format(low=_pct(plain.loc[low, "size"], lang), low_label=adv.labels[low][lang],
                                         c=_num(f"{adv.critical_value:.2f}", lang), q=_pct(1 - adv.alpha, lang, 0),
                                         **common)
    else:
        at = "" if row["threshold"] >= adv.alpha else words["at"].format(th=_threshold(row["threshold"], lang))
        body = words["holds"].format(label=adv.labels[adv.chosen][lang], at=at, **common)
    return head + body + words["rule"].format(nominal=_pct(adv.alpha, lang, 0))


def advisor_table_note(n_placebos: int, drawn: int, enumerated: bool, alpha: float, *, lang: str) -> str:
    """What the advisor table's counts and threshold column mean."""
    a, pct = _num(f"{alpha:g}", lang), _num(f"{100 * alpha:g}", lang)
    if lang == "da":
        count = (f"Alle {n_placebos} mulige placebotildelinger er brugt. " if enumerated else
                 f"Placebotildelingerne er trukket tilfældigt, og hvert sæt af områder tælles én gang: {n_placebos} "
                 f"forskellige af {drawn} trukne. ")
        return (count + f"»Afviser når p ≤« er den p-værdi-grænse, metoden bruges med: {a}, når dens målte niveau "
                f"højst er {a}; ellers en niveaukorrigeret, lavere grænse (den største, der i placeboerne afviser i "
                f"højst {pct} % af tilfældene), og styrken er målt ved den grænse. 0 betyder, at metoden kun "
                "afviser, når intet bootstrap-træk er så ekstremt som data.")
    count = (f"All {n_placebos} possible placebo assignments are used. " if enumerated else
             f"Placebo assignments are drawn at random and each distinct set of areas is counted once: {n_placebos} "
             f"distinct of {drawn} drawn. ")
    return (count + f"\"Rejects when p ≤\" is the p-value threshold the method is used at: {a} when its measured "
            f"size is at most {a}; otherwise a lower, size-adjusted threshold (the largest that rejects in at most "
            f"{pct}% of the placebos), and its power is measured at that threshold. 0 means it rejects "
            "only when no bootstrap draw is as extreme as the data.")


def mde_short(mde: float, outcome: str, *, static: bool, lang: str, alpha: float = 0.05,
              power: float = 0.8) -> str:
    """"MDE for the static effect (80% power, alpha 0.05): ..." for the summary box (``static``: the
    advisor's MDE, of the static TWFE effect, not of the post-period average printed beside it)."""
    beyond = {"da": "over det simulerede", "en": "beyond the simulated"}[lang]
    value = _pp(mde, outcome, lang) if math.isfinite(mde) else beyond
    pw, a = f"{100 * power:.0f}" + (" %" if lang == "da" else "%"), _num(f"{alpha:g}", lang)
    what = ({"da": f" for den statiske effekt ({pw} styrke, alfa {a})",
             "en": f" for the static effect ({pw} power, alpha {a})"} if static else
            {"da": f" for gennemsnittet efter start ({pw} styrke, alfa {a})",
             "en": f" for the post-period average ({pw} power, alpha {a})"})[lang]
    return f"MDE{what}: {value}"


def mde_sentence(mde: float, outcome: str, *, lang: str, alpha: float, power: float, method: str,
                 measured: bool) -> str:
    """The minimum detectable effect printed next to the estimate. ``measured``: the advisor's, read
    off its placebo power curve of the static TWFE effect under the chosen method; else Bloom's
    (1995) (t(1-alpha/2) + t(power)) x the standard error of the post-period average."""
    if not math.isfinite(mde):
        value = {"en": "larger than the largest simulated effect",
                 "da": "større end den største simulerede effekt"}[lang]
    else:
        value = _pp(mde, outcome, lang)
    if lang == "da":
        how = ("af den statiske TWFE-effekt, målt i placebo-tildelingerne" if measured else
               "af gennemsnittet efter start: (t(1 − α/2) + t(styrke)) × standardfejl")
        return (f"Mindste påviselige effekt (MDE) for dette design: {value} ({_pct(power, lang, 0)} styrke ved "
                f"{_pct(alpha, lang, 0)} niveau med {method}, {how}).")
    how = ("of the static TWFE effect, measured in the placebo assignments" if measured else
           "of the post-period average: (t(1 − α/2) + t(power)) × standard error")
    return (f"Minimum detectable effect (MDE) of this design: {value} ({_pct(power, lang, 0)} power at the "
            f"{_pct(alpha, lang, 0)} level with {method}, {how}).")


def advisor_not_used(reason: str, n_treated: int, cr1_reliable: bool, *, lang: str) -> str:
    """Why the report does not run the inference advisor, and what it relies on instead."""
    why = {"staggered": {"en": "the treated areas start in different years, and the advisor calibrates one common "
                               "start", "da": "indsatsområderne starter i forskellige år, og rådgiveren kalibrerer "
                                              "én fælles start"},
           "incomplete_treated": {"en": "a treated area has a thin area-year left out, and the advisor needs every "
                                        "area in every year", "da": "et indsatsområde har et tyndt område-år udeladt, "
                                        "og rådgiveren kræver alle områder i alle år"}}
    text = why.get(reason, {}).get(lang, reason.rstrip("."))
    used = {"en": ("cluster-robust (CR1) standard errors" if cr1_reliable else
                   "the restricted wild cluster bootstrap"),
            "da": ("klyngerobuste (CR1) standardfejl" if cr1_reliable else
                   "den restrikterede wild cluster bootstrap")}[lang]
    if lang == "da":
        return (f"Inferensrådgiveren (målt niveau og styrke pr. metode) er ikke kørt: {text}. Med {n_treated} "
                f"indsatsområder bygger rapporten på {used}.")
    return (f"The inference advisor (measured size and power of each method) did not run: {text}. With {n_treated} "
            f"treated areas the report relies on {used}.")


def weights_sentence(lang: str) -> str:
    """How the area-level estimates are weighted."""
    if lang == "da":
        return ("Områdeniveauets estimater (TWFE, event study, Callaway-Sant'Anna, Sun-Abraham, imputation, 2x2 og "
                "inferensrådgiveren) vægter hvert område med dets gennemsnitlige antal beboere over årene, så de "
                "måler effekten for den gennemsnitlige beboer; en fast vægt pr. område flytter sig ikke, når "
                "indsatsen ændrer, hvem der bor der. Syntetisk kontrol og syntetisk DiD er uvægtede.")
    return ("Area-level estimates (TWFE, event study, Callaway-Sant'Anna, Sun-Abraham, imputation, 2x2 and the "
            "inference advisor) weight each area by its mean number of residents over the years, so they measure "
            "the effect for the average resident; one fixed weight per area does not move when the intervention "
            "changes who lives there. Synthetic control and synthetic DiD are unweighted.")


def advised_design_sentence(n_treated: int, n_control: int, *, lang: str, cr1_p: float, label_: str,
                            p_value: float, robustness: bool = True, draws: int | None = None) -> str:
    """The design sentence when the report relies on the inference advisor's choice; it names exactly
    which numbers use that choice (``robustness``: the report has the robustness table; ``draws``: the
    advisor's resamples per test, so a p-value of 0 reads "p < 1/(draws+1)")."""
    shown_p = p_equals(p_value, lang, draws=draws)
    if not robustness:
        if lang == "da":
            return (f"Designet har {n_treated} indsatsområder og {n_control} sammenligningsområder (klynger). Med "
                    f"færre end 10 behandlede områder giver klyngerobuste (CR1) standardfejl typisk for små p-værdier "
                    f"(her {p_equals(cr1_p, lang)} for den statiske TWFE-effekt). Rapporten har derfor målt hver "
                    f"metodes niveau og styrke i netop dette design (inferensrådgiverens tabel) og bygger på {label_} "
                    f"({shown_p} for samme effekt, målt af rådgiveren); også områdeeffektens "
                    "gennemsnit efter start (opsummeringen og konklusionen) bruger denne metode. Intervallerne for de "
                    "enkelte år er CR1 og for smalle.")
        return (f"The design has {n_treated} treated and {n_control} comparison areas (clusters). With fewer than 10 "
                f"treated areas, cluster-robust (CR1) standard errors tend to over-reject (here {p_equals(cr1_p, lang)} "
                f"for the static TWFE effect). The report therefore measured each method's size and power in this "
                f"very design (the inference advisor's table) and relies on {label_} ({shown_p} for "
                "the same effect, as the advisor measured it); the area effect's post-period average (the summary and "
                "the conclusions) uses it too. The per-year intervals are CR1 and too narrow.")
    if lang == "da":
        return (f"Designet har {n_treated} indsatsområder og {n_control} sammenligningsområder (klynger). Med færre "
                f"end 10 behandlede områder giver klyngerobuste (CR1) standardfejl typisk for små p-værdier (her "
                f"{p_equals(cr1_p, lang)} for den statiske TWFE-effekt). Rapporten har derfor målt hver metodes niveau og "
                f"styrke i netop dette design (inferensrådgiverens tabel) og bygger på {label_} ("
                f"{shown_p} for samme effekt, målt af rådgiveren); også områdeeffektens gennemsnit "
                "efter start (opsummeringen, konklusionen og robusthedstabellens event study-række) bruger denne "
                "metode. Robusthedstabellens øvrige rækker og intervallerne for de enkelte år er CR1 (kolonnen "
                "Inferens siger det), og de sidste er for smalle.")
    return (f"The design has {n_treated} treated and {n_control} comparison areas (clusters). With fewer than 10 "
            f"treated areas, cluster-robust (CR1) standard errors tend to over-reject (here {p_equals(cr1_p, lang)} for the "
            f"static TWFE effect). The report therefore measured each method's size and power in this very design "
            f"(the inference advisor's table) and relies on {label_} ({shown_p} for the same effect, as the advisor measured it); the area "
            "effect's post-period average (the summary, the conclusions and the robustness table's event-study row) "
            "uses it too. The robustness table's other rows and the per-year intervals are CR1 (its Inference "
            "column says so), and the per-year intervals are too narrow.")


def inference_used(label_: str, interval: str | None, *, lang: str) -> str:
    """Which inference the area estimand's p-value and interval come from."""
    ri = interval == "randomization"
    if lang == "da":
        return (f"p-værdi og interval: {label_}" + (" (intervallet: estimatet ± randomiseringsfordelingens "
                                                     "kritiske |t| gange standardfejlen)" if ri else "") + ".")
    return (f"p-value and interval: {label_}" + (" (the interval: the estimate ± the randomization distribution's "
                                                  "critical |t| times the standard error)" if ri else "") + ".")


def few_treated_pvalues_note(lang: str) -> str:
    if lang == "da":
        return ("Metoden rapporten bygger på, ved siden af syntetisk DiD (Arkhangelsky m.fl. 2021) og syntetisk "
                "kontrol for hvert indsatsområde (Abadie, Diamond & Hainmueller 2010). De tre bygger på forskellige "
                "antagelser; stemmer de overens, er konklusionen mere robust.")
    return ("The method the report relies on, beside synthetic DiD (Arkhangelsky et al. 2021) and synthetic control "
            "for each treated area (Abadie, Diamond & Hainmueller 2010). The three rest on different assumptions; "
            "when they agree, the conclusion is more robust.")


def estimand_magnitudes(paragraph: str, area: float, cohort: float, *, lang: str) -> str:
    """The estimand paragraph (:func:`evalkit.domain.estimands.estimand_paragraph`) with its comparison
    made by magnitude: "larger"/"smaller" on signed numbers read wrongly for harmful outcomes (-1.38 pp
    is not "smaller" than -0.94 pp in the sense a reader takes); and dilution pulls the cohort effect
    toward zero, not "below" the area effect. Rewritten here because the domain layer is not the
    report's to change; the numbers are the paragraph's own."""
    if not (math.isfinite(area) and math.isfinite(cohort)):
        return paragraph
    if lang == "da":
        if area * cohort < 0:
            word = "af modsat fortegn"
        else:
            word = "større i absolut værdi" if abs(area) > abs(cohort) else "tættere på nul"
        for old in ("områdeeffekten er større (", "områdeeffekten er mindre ("):
            paragraph = paragraph.replace(old, f"områdeeffekten er {word} (")
        return paragraph.replace("ligger normalt under områdeeffekten", "ligger normalt tættere på nul end "
                                 "områdeeffekten")
    if area * cohort < 0:
        word = "of the opposite sign"
    else:
        word = "larger in absolute value" if abs(area) > abs(cohort) else "closer to zero"
    for old in ("the area effect is larger (", "the area effect is smaller ("):
        paragraph = paragraph.replace(old, f"the area effect is {word} (")
    return paragraph.replace("normally lies below the area effect", "normally lies closer to zero than the area effect")


def effect_direction_warning(given: float, outcome: str, *, lang: str) -> str:
    """The warning when ``advisor_effect`` points against the outcome's desired direction
    (:func:`evalkit.report.advising.against_desired`)."""
    name = label(outcome, lang).lower()
    if lang == "da":
        way, want = ("stigning", "et fald") if given > 0 else ("fald", "en stigning")
        return (f"Bemærk: advisor_effect = {_pp(given, outcome, lang)} er en {way}, men den ønskede effekt på "
                f"{name} er {want}. Rådgiverens styrke og MDE'en gælder en effekt i den uønskede retning (MDE'en "
                "har advisor_effects fortegn); angiv advisor_effect med det ønskede fortegn, eller 0 for "
                "udfaldets standard.")
    way, want = ("an increase", "a decrease") if given > 0 else ("a decrease", "an increase")
    return (f"Note: advisor_effect = {_pp(given, outcome, lang)} is {way}, but the desired effect on {name} is "
            f"{want}. The advisor's power and the MDE are for an effect in the undesired direction (the MDE takes "
            "advisor_effect's sign); give advisor_effect the desired sign, or 0 for the outcome's default.")


def future_treated_sentence(n_future: int, evaluation_year: int, *, lang: str) -> str:
    """Areas of the intervention that start after the evaluation year (a midterm): not treated in the
    window, so they are not counted as treated areas; the event study's years before the start use them."""
    if not n_future:
        return ""
    if lang == "da":
        return (f" Yderligere {n_future} områder starter indsatsen efter {evaluation_year}: de er ikke behandlede i "
                "evalueringsperioden og tælles ikke som indsatsområder; de indgår kun i event study'ens år før start.")
    return (f" A further {n_future} areas start the intervention after {evaluation_year}: they are not treated in the "
            "evaluation window and are not counted as treated areas; they enter only the event study's years before "
            "the start.")
