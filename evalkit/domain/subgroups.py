"""Subgroup effects (issue 15, part 4): the TWFE effect per subgroup and a joint test of equal effects.

Estimand
--------
For a subgroup g (non-western immigrants and descendants vs others, sex, age band, education at
baseline), the outcome of an area-year is the mean over the subgroup's members living in the area
that year: a repeated cross-section of the subgroup, as the area panel is for all residents
(``shared/domain.md``, "composition vs effect": it mixes effects on people with sorting). The effect
of subgroup g is the static TWFE coefficient b_g of

    y_{a,t,g} = alpha_{a,g} + lambda_{t,g} + b_g D_{a,t} + e_{a,t,g}

weighted by the subgroup's residents of the cell (register outcomes) or its survey weight sum
(survey outcomes; the respondent-level weighted TWFE of :func:`evalkit.domain.survey_did.survey_twfe`,
which is exactly the weighted regression on cells). b_g is the ATT for the subgroup under parallel
trends *within the subgroup* when adoption is not staggered or effects are homogeneous over time
(:func:`evalkit.twfe`; Goodman-Bacon 2021 for the staggered caveat). Each b_g is fitted by
:func:`evalkit.twfe` (CR1 by area unless ``inference`` asks for a few-treated method).

Joint test of equal effects
---------------------------
Stacked TWFE with area x subgroup and year x subgroup effects, clustered by area, Wald test of the
k - 1 contrasts b_g - b_1 (:mod:`evalkit.domain.subgroup_joint`): by default (``joint="wild"``) the
wild cluster restricted bootstrap of the Wald statistic (Roodman et al. 2019), which keeps its size
where the F test over-rejects with few treated areas; ``joint="f"`` gives F against F(k - 1, G - 1).

Disclosure control (Statistics Denmark, ``shared/domain.md``; threshold ``min_cell``, default 5,
floor 3; counts are of distinct, unweighted persons or respondents)
---------------------------------------------------------------------------------------------------
1. **Cells.** Every area x year x subgroup cell an estimate rests on must hold >= ``min_cell``
   persons; smaller cells are dropped at the source (never estimated on, never shown), and counted
   in the notes.
2. **Subgroups.** A subgroup is *thin* when, in some year, its treated areas or its comparison areas
   together hold fewer than ``min_cell`` persons in the cells that survive rule 1 (the treated-area x
   year cells of domain.md; it also catches a subgroup whose estimate would rest on no treated cell).
   A thin subgroup is **pooled** with its neighbour when the categories are ordered (age bands,
   education: the adjacent category with fewer persons; repeated until none is thin) and
   **suppressed** when they are not (origin, sex: pooling the one into the other would leave no
   comparison): its row stays with blank numbers and a note. ``thin=`` chooses another policy.
3. **Counts shown.** ``n`` is the number of distinct persons (respondents) in the used cells, rounded
   to the nearest multiple of ``round_base`` (default 5, the report runs' default; half up, never below
   ``min_cell``) so that subgroup counts cannot be differenced against other tables (secondary
   suppression); blank for a suppressed subgroup. Survey subgroups are parts of a published total
   (the respondents of the survey effect): when the total minus the shown counts would leave 1 to
   ``min_cell - 1`` respondents (cells dropped by rule 1), the smallest shown counts are blanked too
   (:func:`evalkit.privacy.complementary_parts`), with a note. In a report run the run's ``min_cell``
   and ``round_base`` are the least that apply (:mod:`evalkit.seal`).
If no subgroup survives, a :class:`~evalkit.errors.ValidationError` names ``min_cell``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.core.aliases import checked
from evalkit.data.composition import check_min_cell
from evalkit.data.panels import EMP_EDU, Microdata, open_microdata, tidy_types
from evalkit.domain import subgroup_joint
from evalkit.domain._subgroup_docs import shared_parameters
from evalkit.domain.subgroup_result import COLUMNS, POOL_SEP, SubgroupEffects
from evalkit.domain.subgroup_joint import joint_equality_test
from evalkit import seal
from evalkit.privacy import complementary_parts, rounded_count
from evalkit.domain.survey_did import COHORT, with_cohorts
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError, check_choice, closest
from evalkit.estimators.twfe import twfe

__all__ = ["BY", "COLUMNS", "REGISTER_OUTCOMES", "SubgroupEffects", "joint_equality_test", "register_subgroup_cells",
           "subgroup_effects"]

#: by -> (ordered categories?, register columns needed, survey columns needed)
BY: dict[str, tuple[bool, tuple[str, ...], tuple[str, ...]]] = {
    "origin": (False, ("HERKOMST",), ("HERKOMST",)),
    "sex": (False, ("KOEN",), ("KOEN",)),
    "age_band": (True, ("FOED_AAR",), ("ALDER",)),
    "education": (True, ("HFAUDD",), ("HFAUDD",)),
}
ORIGIN_GROUPS = ("nonwestern", "other")
SEX_GROUPS = {1: "men", 2: "women"}
#: education at baseline: HFAUDD -> ordered category
EDU_GROUPS = {"grundskole": "basic", "gymnasial": "upper_secondary", "erhvervsfaglig": "upper_secondary",
              "videregaaende": "higher"}
EDU_ORDER = ("basic", "upper_secondary", "higher")
#: register outcome -> (person-level SQL expression, age window); means as in evalkit.data.panels
REGISTER_OUTCOMES: dict[str, tuple[str, tuple[int, int]]] = {
    "employment_rate": ("BESK_FTE", (18, 64)),
    "k1_share": ("UDENFOR_FTE", (18, 64)),
    "conviction_share": ("DOMFAELDT", (18, 200)),
    "youth_emp_edu_share": (EMP_EDU, (15, 24)),
}
REGISTER_AGE_BANDS = (18, 30, 50, 65)
THIN = ("auto", "pool", "suppress")
_AGE = "(AAR - FOED_AAR)"


# ----------------------------------------------------------------------------------------- checks
def _check_by(by) -> str:
    if not isinstance(by, str) or by not in BY:
        raise ParameterError(f"by={by!r} is not a subgroup evalkit defines; choose one of {list(BY)}."
                             + closest(str(by), list(BY)))
    return by


def _check_bands(age_bands) -> tuple[int, ...]:
    try:
        edges = tuple(int(a) for a in age_bands)
    except (TypeError, ValueError):
        edges = ()
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
        raise ParameterError(f"age_bands={age_bands!r} must be at least two increasing ages >= 0, e.g. "
                             f"{REGISTER_AGE_BANDS} (bands [18, 30), [30, 50), [50, 65)).")
    return edges


def _band_labels(edges: tuple[int, ...], open_top: bool) -> list[str]:
    out = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:])]
    return out + [f"{edges[-1]}+"] if open_top else out


def _band_sql(age: str, edges: tuple[int, ...], open_top: bool) -> str:
    labels = _band_labels(edges, open_top)
    whens = [f"WHEN {age} >= {a} AND {age} < {b} THEN '{lab}'" for a, b, lab in zip(edges, edges[1:], labels)]
    if open_top:
        whens.append(f"WHEN {age} >= {edges[-1]} THEN '{labels[-1]}'")
    return "CASE " + " ".join(whens) + " END"


def _cohort_frame(cohorts) -> dict:
    """{area: first treated year} (checked as :func:`with_cohorts` does)."""
    with_cohorts(pd.DataFrame({"OMR_ID": pd.Series([], dtype="int64"), "AAR": pd.Series([], dtype="int64")}),
                 cohorts)  # its checks and errors, on no rows
    if isinstance(cohorts, pd.DataFrame):
        cohorts = dict(zip(cohorts["OMR_ID"], cohorts[COHORT]))
    out = {int(k): float(v) for k, v in cohorts.items() if float(v) > 0}
    if not out:
        raise ParameterError("cohorts lists no treated area (first treated year > 0); give {area: first treated "
                             "year} for the treated areas.")
    return out


# ----------------------------------------------------------------------------------- register cells
@checked
def register_subgroup_cells(md: Microdata, *, outcome: str, by: str, age_bands=REGISTER_AGE_BANDS,
                            baseline_year: int | None = None, unknown_education: str = "exclude"
                            ) -> pd.DataFrame:
    """Area x year x subgroup cells from register microdata (DuckDB; unsuppressed, so internal).

    Columns ``OMR_ID, AAR, category, n`` (distinct persons of the outcome's population) and ``y`` (their
    mean outcome). Categories: origin ``nonwestern`` (HERKOMST = 'ikke_vestlig', NW of domain.md) vs
    ``other``; sex ``men``/``women``; age band in the year (``age_bands`` edges, the last band open, within
    the outcome's age window; ages below the first edge are left out); education at baseline: a person's HFAUDD in their latest year <= ``baseline_year`` (default
    the first data year; for persons who arrive later, their first year), as ``basic`` /
    ``upper_secondary`` / ``higher``; unknown education is left out (``unknown_education="exclude"``) or
    counted as basic (``"basic"``, the 2013 rule).
    """
    check_choice("unknown_education", unknown_education, ["exclude", "basic"])
    columns = {row[0] for row in md.con.execute(f"DESCRIBE {md.relation}").fetchall()}
    _require(columns, BY[by][1], by, "the register microdata")
    person = _person_sql(md, by, outcome, age_bands, baseline_year, unknown_education)
    sql = f"""SELECT OMR_ID, AAR, category, count(DISTINCT PERSON_ID) AS n, avg(y) AS y
              FROM ({person}) p WHERE category IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    return tidy_types(md.con.execute(sql).df())


def _require(columns, needed, by: str, what: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ColumnError(f"by={by!r} needs column(s) {missing}, which {what} lack(s); available: "
                          f"{sorted(map(str, columns))}." + closest(missing[0], [str(c) for c in columns]))


# -------------------------------------------------------------------------------------- disclosure
def _categories(by: str, cells: pd.DataFrame, age_bands, open_top: bool) -> list[str]:
    if by == "origin":
        order = list(ORIGIN_GROUPS)
    elif by == "sex":
        order = list(SEX_GROUPS.values())
    elif by == "age_band":
        order = _band_labels(_check_bands(age_bands), open_top)
    else:
        order = list(EDU_ORDER)
    return [c for c in order if c in set(cells["category"])]


def _pool_cells(cells: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """Cells re-aggregated to the groups of ``mapping`` (category -> group): n summed, y the n-weighted
    mean (each person is in one category of an area-year), weight ``w`` summed."""
    c = cells.assign(subgroup=cells["category"].map(mapping))
    c = c[c["subgroup"].notna()].assign(wy=lambda d: d["w"] * d["y"])
    out = c.groupby(["OMR_ID", "AAR", "subgroup"], as_index=False).agg(n=("n", "sum"), w=("w", "sum"),
                                                                         wy=("wy", "sum"))
    return out.assign(y=out["wy"] / out["w"]).drop(columns="wy")


def _thin_groups(pooled: pd.DataFrame, treated: set, min_cell: int) -> dict[str, int]:
    """{group: smallest treated- or comparison-area total over years} for the thin groups (rule 2)."""
    kept = pooled[pooled["n"] >= min_cell]
    arm = np.where(kept["OMR_ID"].isin(treated), "treated", "comparison")
    totals = kept.assign(arm=arm).groupby(["subgroup", "arm", "AAR"])["n"].sum()
    years = sorted(pooled["AAR"].unique())
    out = {}
    for g in pooled["subgroup"].unique():
        smallest = min(int(totals.get((g, a, y), 0)) for a in ("treated", "comparison") for y in years)
        if smallest < min_cell:
            out[g] = smallest
    return out


def disclose(cells: pd.DataFrame, order: list[str], *, treated: set, min_cell: int, pool: bool
             ) -> tuple[pd.DataFrame, dict[str, str], list[str], list[str]]:
    """Apply the disclosure rules of the module docstring (pure).

    Returns (cells of the estimable groups with >= ``min_cell`` persons, mapping category -> group,
    suppressed groups, notes)."""
    groups = [[c] for c in order]
    notes: list[str] = []
    suppressed: list[str] = []

    def mapping() -> dict[str, str]:
        return {c: POOL_SEP.join(g) for g in groups for c in g}

    while True:
        pooled = _pool_cells(cells, mapping())
        thin = _thin_groups(pooled, treated, min_cell)
        if not thin or not pool or len(groups) == 1:
            break
        name = min(thin, key=lambda k: (thin[k], k))
        i = next(i for i, g in enumerate(groups) if POOL_SEP.join(g) == name)
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
        size = pooled.groupby("subgroup")["n"].sum()
        j = min(neighbours, key=lambda j: (size.get(POOL_SEP.join(groups[j]), 0), j))
        lo, hi = sorted((i, j))
        notes.append(f"subgroup {name!r} has fewer than {min_cell} persons in the treated or comparison areas "
                     f"in some year; pooled with {'+'.join(groups[j])!r}.")
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    if thin:
        for g in sorted(thin):
            suppressed.append(g)
            notes.append(f"subgroup {g!r} has fewer than {min_cell} persons in the treated or comparison areas "
                         "in some year; suppressed at the source (no estimate shown).")
    small = (pooled["n"] < min_cell) & ~pooled["subgroup"].isin(suppressed)
    if small.any():
        notes.append(f"{int(small.sum())} area-year-subgroup cell(s) with fewer than {min_cell} persons were "
                     "left out at the source.")
    used = pooled[(pooled["n"] >= min_cell) & ~pooled["subgroup"].isin(suppressed)]
    return used.reset_index(drop=True), mapping(), suppressed, notes


_rounded = rounded_count  # the tables' rule (evalkit.privacy.rounded_count)


def _check_disclosure(min_cell, round_base) -> tuple[int, int]:
    """``min_cell`` and ``round_base`` checked; in a report run never weaker than the run's."""
    min_cell = check_min_cell(min_cell)
    if isinstance(round_base, bool) or not isinstance(round_base, (int, np.integer)) or round_base < 1:
        raise ParameterError(f"round_base={round_base!r} must be a whole number >= 1 (1 shows exact counts).")
    if seal.in_report_run():
        min_cell, round_base = max(min_cell, seal.run_min_cell()), max(int(round_base), seal.run_round_base() or 1)
    return min_cell, int(round_base)


def _finish(used: pd.DataFrame, order: list[str], suppressed: list[str], persons: dict, notes: list[str], *,
            fit_one, by: str, outcome: str, source: str, alpha: float, min_cell: int, round_base: int,
            estimand: str, joint: tuple[str, str | None, object, object], total: float | None = None) -> SubgroupEffects:
    """The table, the joint test and the notes. ``total``: the persons of a total published elsewhere (the
    survey's respondents) of whom the shown subgroups are a part; subgroup counts that would let a
    small remainder (cells left out at the source) be found by subtraction are blanked too."""
    shown = [g for g in dict.fromkeys(used["subgroup"]) if g not in suppressed]
    shown = sorted(shown, key=lambda g: order.index(g.split(POOL_SEP)[0]))
    if not shown:
        raise ValidationError(f"every subgroup of by={by!r} is suppressed under min_cell={min_cell}: no subgroup "
                              f"has {min_cell} or more persons in the treated and comparison areas each year. "
                              "Lower min_cell (floor 3), use coarser age_bands, or another by.")
    hidden = 0.0 if total is None else total - sum(persons.get(g, 0.0) for g in shown)
    blank = set(complementary_parts({g: persons.get(g, np.nan) for g in shown}, hidden, min_cell))
    if blank:
        notes = [*notes, "the count of subgroup(s) " + ", ".join(sorted(blank)) + " is not shown: with the "
                         "published total it would give away the persons of the cells dropped for disclosure "
                         "(secondary suppression)."]
    rows = []
    for g in shown:
        res = fit_one(used[used["subgroup"] == g])
        t = res.table.set_index("term").loc["ATT"]
        rows.append({"subgroup": g, "estimate": t["estimate"], "std_error": t["std_error"],
                     "conf_low": t["conf_low"], "conf_high": t["conf_high"],
                     "n": np.nan if g in blank else _rounded(persons.get(g, np.nan), min_cell, round_base)})
    for g in suppressed:
        rows.append({"subgroup": g, "estimate": np.nan, "std_error": np.nan, "conf_low": np.nan,
                     "conf_high": np.nan, "n": np.nan})
    table = pd.DataFrame(rows, columns=COLUMNS)
    test, notes = _joint(used, shown, notes, joint)
    return SubgroupEffects(table=table, joint=test, by=by, outcome=outcome, source=source, alpha=alpha,
                           min_cell=min_cell, notes=tuple(notes), estimand=estimand)


JOINT_KEYS = ("statistic", "df", "df_denom", "p_value", "p_value_f", "n_clusters", "method", "draws",
              "boot_weights", "seed")


def _joint(used: pd.DataFrame, shown: list[str], notes: list[str], joint) -> tuple[dict, list[str]]:
    """The joint test of the shown subgroups by the method ``joint`` asks for, and its notes."""
    method, inference, joint_options, inference_options = joint
    n_treated = int(used.loc[used["D"] == 1, "OMR_ID"].nunique())
    opts = subgroup_joint.options(joint_options, inference, inference_options) if method == "wild" else {}
    test = joint_equality_test(used, shown, method=method, **opts)
    if len(shown) < 2:
        notes = [*notes, "fewer than two subgroups can be shown: no joint test."]
    elif method == "wild":
        notes = [*notes, f"joint test: wild cluster restricted bootstrap of the Wald statistic ({int(test['draws']):,} "
                         f"{str(test['boot_weights']).capitalize()} draws by area; {n_treated} treated areas): the CR1 F test "
                         "over-rejects when few areas are treated (MacKinnon & Webb 2017)."]
    elif n_treated < subgroup_joint.FEW_TREATED:
        notes = [*notes, f"only {n_treated} treated areas: the joint test's CR1 F test over-rejects with few "
                         "treated clusters (MacKinnon & Webb 2017); read its p-value with care."]
    return {k: test.get(k) for k in JOINT_KEYS}, notes


ESTIMAND = ("per subgroup: static TWFE ATT of the subgroup's area-year mean (repeated cross-section), "
            "weighted by the subgroup's persons in the cell; joint test: stacked TWFE with area x subgroup and "
            "year x subgroup effects, clustered by area, Wald test of equal effects (F, or its wild cluster "
            "restricted bootstrap with few treated areas)")


# ------------------------------------------------------------------------------------- public API
@checked
@shared_parameters(unit='persons')
def subgroup_effects(source, cohorts, *, outcome: str = "employment_rate", by: str = "origin",
                     min_cell: int = 5, thin: str = "auto", round_base: int = 5, age_bands=REGISTER_AGE_BANDS,
                     baseline_year: int | None = None, unknown_education: str = "exclude", alpha: float = 0.05,
                     inference: str | None = None, inference_options=None, areas=None,
                     validate: bool = True, joint: str = "wild", joint_options=None) -> SubgroupEffects:
    """Effects per subgroup of a register outcome, with a joint test of equal effects.

    For a subgroup g (origin, sex, age band, education at baseline) the area-year outcome is the
    mean over the subgroup's members living in the area that year, and its effect is the static
    TWFE coefficient b_g, weighted by the subgroup's residents and clustered by area (via
    :func:`twfe`): the ATT for the subgroup under parallel trends *within the subgroup* when
    adoption is not staggered or effects are homogeneous (Goodman-Bacon 2021). Equal effects
    are tested from the stacked, fully interacted regression clustered by area: the wild cluster
    restricted bootstrap of its Wald statistic W (default), or F = W / (k - 1) against
    F(k - 1, G - 1) (``joint``). Disclosure control (Statistics Denmark) drops small cells, pools
    or suppresses thin subgroups and rounds the counts shown.

    Parameters
    ----------
    source : Microdata, str, pathlib.Path or pandas.DataFrame
        A :class:`Microdata`, a data folder or a person-year DataFrame.
    {{cohorts}}
    outcome : {"employment_rate", "k1_share", "conviction_share", "youth_emp_edu_share"}, default "employment_rate"
        A register outcome of :data:`REGISTER_OUTCOMES` (with its age window).
    by : {"origin", "sex", "age_band", "education"}, default "origin"
        The subgroups: "origin" non-western immigrants and descendants vs others; "sex";
        "age_band" with ``age_bands`` edges; "education" at ``baseline_year``.
    {{min_cell}}
    {{thin}}
    {{round_base}}
    age_bands : sequence of int, default (18, 30, 50, 65)
        Lower edges of the age bands for ``by="age_band"`` (the last band open).
    baseline_year : int, optional
        Year whose education defines the subgroup for ``by="education"`` (a data year); None:
        the year before the first start, or the first data year.
    unknown_education : {"exclude", "basic"}, default "exclude"
        For ``by="education"``: unknown education is left out, or counted as basic.
    {{alpha}}
    {{inference}}
    {{areas}}
    validate : bool, default True
        Check the microdata's schema when ``source`` is not a :class:`Microdata`.
    {{joint}}

    Returns
    -------
    {{returns}}

    Raises
    ------
    ParameterError
        An unknown ``outcome``, ``by`` or ``thin``, a bad ``min_cell``/``round_base``, a bad
        ``source`` or ``baseline_year``.
    ValidationError
        No subgroup survives the disclosure rules (``min_cell`` is named), no treated area of
        ``cohorts`` is in the data (the message names them and areas the data have; some
        missing: a warning, and they are left out), or data that fail
        the checks.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics* 225(2), 254-277.
    Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
    *Journal of Human Resources* 50(2), 317-372, sec. VI.
    """
    by = _check_by(by)
    subgroup_joint.check(joint, joint_options)
    if not isinstance(outcome, str) or outcome not in REGISTER_OUTCOMES:
        raise ParameterError(f"outcome={outcome!r} has no subgroup definition; choose one of "
                             f"{list(REGISTER_OUTCOMES)}." + closest(str(outcome), list(REGISTER_OUTCOMES)))
    min_cell, round_base = _check_disclosure(min_cell, round_base)
    check_choice("thin", thin, THIN)
    if not isinstance(source, (Microdata, str, Path, pd.DataFrame)):
        raise ParameterError(f"source must be a Microdata, a data folder or a person-year DataFrame, "
                             f"got {type(source).__name__}.")
    if isinstance(source, pd.DataFrame):
        _require(source.columns, BY[by][1], by, "source")
    treated_first = _cohort_frame(cohorts)
    md = source if isinstance(source, Microdata) else open_microdata(source, validate=validate)
    if baseline_year is None:  # the year before the first start, or the first data year
        baseline_year = max(int(min(treated_first.values())) - 1, md.years[0])
    elif isinstance(baseline_year, bool) or not isinstance(baseline_year, (int, np.integer)) \
            or int(baseline_year) not in md.years:
        raise ParameterError(f"baseline_year={baseline_year!r} must be one of the data years "
                             f"{md.years[0]}-{md.years[-1]}.")
    cells = register_subgroup_cells(md, outcome=outcome, by=by, age_bands=age_bands, baseline_year=baseline_year,
                                    unknown_education=unknown_education)
    _check_treated_present(cells, treated_first, "the register data")
    cells = _in_areas(cells, areas).assign(w=lambda c: c["n"].astype(float))
    order = _categories(by, cells, age_bands, open_top=True)
    pool = BY[by][0] if thin == "auto" else thin == "pool"
    used, mapping, suppressed, notes = disclose(cells, order, treated=set(treated_first), min_cell=min_cell,
                                                pool=pool)
    used = _treat(used, treated_first)
    persons = _register_persons(md, outcome, by, used, mapping, cells, age_bands, baseline_year, unknown_education)

    def fit_one(panel):
        return twfe(panel, outcome="y", unit="OMR_ID", time="AAR", treatment="D", cluster="OMR_ID", weights="w",
                    alpha=alpha, inference=inference, inference_options=inference_options)

    return _finish(used, order, suppressed, persons, notes, fit_one=fit_one, by=by, outcome=outcome,
                   source="register", alpha=alpha, min_cell=min_cell, round_base=round_base, estimand=ESTIMAND,
                   joint=(joint, inference, joint_options, inference_options))


def _some(values, k: int = 8) -> str:
    """Up to ``k`` values of a sorted list, with " ..." and the total when there are more."""
    values = sorted(values)
    return f"{values[:k]}" + (f" ... ({len(values)} in all)" if len(values) > k else "")


def _check_treated_present(cells: pd.DataFrame, treated_first: dict, where: str) -> None:
    """A treated area of ``cohorts`` that has no person (respondent) in the data is not a disclosure problem:
    none in the data is a ValidationError naming the areas and (a few of) the areas the data have; some
    missing is a warning (they are left out)."""
    present = {int(a) for a in pd.unique(cells["OMR_ID"])}
    absent = sorted(set(treated_first) - present)
    if not absent:
        return
    message = (f"cohorts names treated area(s) {_some(absent, 5)} that are not in {where} (no row with that "
               f"OMR_ID); the areas in the data are {_some(present)}.")
    if len(absent) == len(treated_first):
        raise ValidationError(message + " No treated area is in the data, so nothing can be estimated: check the "
                              "area ids (OMR_ID) of cohorts against the data.")
    warnings.warn(message + " They are left out.", EvalkitWarning, stacklevel=stack_level())


def _in_areas(cells: pd.DataFrame, areas) -> pd.DataFrame:
    if areas is None:
        return cells
    if isinstance(areas, (str, bytes)) or not hasattr(areas, "__iter__"):
        raise ParameterError(f"areas={areas!r} must be a list of area ids (OMR_ID) or None (every area).")
    keep = {int(a) for a in areas}
    unknown = sorted(keep - set(cells["OMR_ID"].astype(int)))
    if unknown:
        raise ParameterError(f"areas lists {_some(unknown, 5)} that are not areas of the data (OMR_ID); the areas in "
                             f"the data are {_some(set(cells['OMR_ID'].astype(int)))}.")
    return cells[cells["OMR_ID"].isin(keep)].reset_index(drop=True)


def _treat(cells: pd.DataFrame, first: dict) -> pd.DataFrame:
    start = cells["OMR_ID"].map(first)
    return cells.assign(D=(start.notna() & (cells["AAR"] >= start.fillna(np.inf))).astype(int))


def _register_persons(md, outcome, by, used, mapping, cells, age_bands, baseline_year, unknown_education) -> dict:
    """Distinct persons per shown group over its used cells (a second DuckDB pass over the kept cells)."""
    keep = used[["OMR_ID", "AAR", "subgroup"]]
    cat = cells[["OMR_ID", "AAR", "category"]].assign(subgroup=cells["category"].map(mapping))
    cat = cat.merge(keep, on=["OMR_ID", "AAR", "subgroup"])[["OMR_ID", "AAR", "category", "subgroup"]]
    md.con.register("_evalkit_subgroup_cells", cat)
    try:
        person = _person_sql(md, by, outcome, age_bands, baseline_year, unknown_education)
        df = md.con.execute(f"""SELECT c.subgroup, count(DISTINCT p.PERSON_ID) AS n FROM ({person}) p
                                JOIN _evalkit_subgroup_cells c USING (OMR_ID, AAR, category) GROUP BY 1""").df()
    finally:
        md.con.unregister("_evalkit_subgroup_cells")
    return dict(zip(df["subgroup"], df["n"].astype(float)))


def _person_sql(md, by, outcome, age_bands, baseline_year, unknown_education) -> str:
    """SQL: PERSON_ID, OMR_ID, AAR, category, y for the outcome's population (one row per person-year)."""
    expr, (lo, hi) = REGISTER_OUTCOMES[outcome]
    join = ""
    if by == "origin":
        cat = f"CASE WHEN HERKOMST = 'ikke_vestlig' THEN '{ORIGIN_GROUPS[0]}' ELSE '{ORIGIN_GROUPS[1]}' END"
    elif by == "sex":
        cat = "CASE KOEN " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in SEX_GROUPS.items()) + " END"
    elif by == "age_band":
        cat = _band_sql(_AGE, _check_bands(age_bands), open_top=True)
    else:
        base = int(baseline_year) if baseline_year is not None else min(md.years)
        cat = "CASE e.edu " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in EDU_GROUPS.items())
        cat += " ELSE NULL END" if unknown_education == "exclude" else " ELSE 'basic' END"
        join = f"""JOIN (SELECT PERSON_ID, CASE WHEN count(*) FILTER (AAR <= {base}) > 0
                                THEN arg_max(HFAUDD, AAR) FILTER (AAR <= {base}) ELSE arg_min(HFAUDD, AAR) END AS edu
                        FROM {md.relation} GROUP BY PERSON_ID) e USING (PERSON_ID)"""
    return f"""SELECT PERSON_ID, OMR_ID, AAR, {cat} AS category, CAST({expr} AS DOUBLE) AS y
               FROM {md.relation} {join}
               WHERE OMR_ID IS NOT NULL AND {_AGE} BETWEEN {lo} AND {hi}"""
