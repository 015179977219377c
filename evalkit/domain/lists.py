"""The 1 December lists and the list history, decided from area indicators by regime.

almenboligloven § 61 a (udsat boligområde, ghettoområde/parallelsamfund, hårdt
ghettoområde/omdannelsesområde) and § 61 b (forebyggelsesområde); the 2010 and 2013
ghetto criteria; ``shared/domain.md``. The lists nest: omdannelse ⊂ parallelsamfund ⊂ udsat.
Hård ghetto / omdannelse needs ghetto/parallelsamfund status on each of the latest N lists
(this one included), counting lists under earlier regimes; a list year missing from the
history (not computable from the data, and not in ``prior_history``) makes the duration
unknown and the area is then not listed as hård (``duration_known`` says so).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain._common import (check_bool, check_frame, check_same_ids, check_year_column, check_years,
                                    with_plain_ids)
from evalkit.domain.indicators import AreaIndicators
from evalkit.domain.rules import ListRules, evaluate_criterion, source_years
from evalkit.domain.thresholds import LIST_TYPES, REGIMES, Thresholds, load_thresholds
from evalkit.errors import ColumnError, ParameterError, ValidationError, check_choice, closest
from evalkit.core.aliases import checked

GHETTO_TIER = ("ghettoomraade", "parallelsamfund")
HISTORY_COLUMNS = ["list_year", "regime", "OMR_ID", "category"]


@checked_init
@immutable_value
@dataclass(frozen=True)
class ListResult:
    """The 1 December lists decided by :func:`compute_lists`.

    Attributes
    ----------
    history : pandas.DataFrame
        list_year, regime, OMR_ID, category; one row per area on a list (see
        :func:`list_history`).
    status : pandas.DataFrame
        One row per area and list year: residents, criteria met, ghetto streak, whether the
        duration is known.
    criteria : pandas.DataFrame
        One row per area, list year and criterion: value, threshold, distance, margin, met,
        n_persons (how close an area was to being listed).
    params : dict
        The settings the lists were computed with (regime, rules, thresholds).
    """

    history: pd.DataFrame
    status: pd.DataFrame
    criteria: pd.DataFrame
    params: dict = field(default_factory=dict)

    def counts(self) -> pd.DataFrame:
        """Number of areas per list year (rows) and category (columns).

        Returns
        -------
        pandas.DataFrame
            Counts, with every decided list year (0 where no area was listed).
        """
        table = self.history.pivot_table(index="list_year", columns="category", values="OMR_ID",
                                         aggfunc="count", fill_value=0)
        years = sorted(self.status["list_year"].unique())
        return table.reindex(years, fill_value=0).rename_axis(columns=None)

    def _repr_html_(self) -> str:
        years = sorted(self.status["list_year"].unique())
        head = (f"<p><b>ListResult</b>: lists of 1 December {years[0]}-{years[-1]}, "
                f"{self.status['OMR_ID'].nunique()} areas; number of areas per list</p>")
        return head + self.counts().to_html()


def feasible_list_years(data_years: tuple[int, ...], thresholds: Thresholds, regime: str) -> list[int]:
    """List years whose every criterion has all its register years in the data."""
    out = []
    first_list = min(first for first, _ in thresholds.valid_years.values())
    for year in range(max(min(data_years) + 1, first_list), max(data_years) + 1):
        reg = thresholds.regime_of(year) if regime == "auto" else regime
        if not set(_needed_years(year, reg, thresholds)) - set(data_years):
            out.append(year)
    return out


def _needed_years(list_year: int, regime: str, thresholds: Thresholds) -> list[int]:
    years = set(source_years(list_year, "residents", 1))
    for c in thresholds.criteria:
        if c.regime == regime:
            years |= set(source_years(list_year, c.indicator, c.window))
    return sorted(years)


def decide_criteria_lists(criteria: pd.DataFrame, residents: pd.Series, regime: str, thresholds: Thresholds,
                          rules: ListRules) -> pd.DataFrame:
    """Pure: one list year's criteria rows -> a boolean frame (area x list type) of the criteria lists."""
    out = pd.DataFrame(index=residents.index)
    specs = [s for s in thresholds.lists if s.regime == regime and s.kind == "criteria"]
    for spec in sorted(specs, key=lambda s: s.requires is not None):
        rows = criteria.loc[criteria["category"] == spec.list_type]
        met = rows.pivot(index="OMR_ID", columns="criterion_id", values="met").reindex(residents.index).fillna(False)
        counted = [c for c in met.columns if rows.loc[rows["criterion_id"] == c, "counted"].iloc[0]]
        gates = met.drop(columns=counted).all(axis=1)
        on = gates & (met[counted].sum(axis=1) >= spec.min_count) & (residents >= spec.min_residents)
        if spec.requires:
            on &= out[spec.requires]
        if spec.list_type == "forebyggelsesomraade" and rules.forebyggelse_excludes_udsat and "udsat_boligomraade" in out:
            on &= ~out["udsat_boligomraade"]
        out[spec.list_type] = on.astype(bool)
    return out


def ghetto_streak(ghetto_years: dict[int, set], area: int, list_year: int) -> tuple[int, bool]:
    """Consecutive lists up to ``list_year`` with ``area`` in the ghetto tier, and whether the run
    reaches back to a list year missing from the history (then it may be longer)."""
    streak, year = 0, list_year
    while year in ghetto_years and area in ghetto_years[year]:
        streak, year = streak + 1, year - 1
    return streak, year not in ghetto_years


def _regime_for(list_year: int, regime: str, thresholds: Thresholds) -> str:
    return thresholds.regime_of(list_year) if regime == "auto" else regime


def _prior_ghetto_years(prior_history: pd.DataFrame | None, ids: pd.Index) -> dict[int, set]:
    if prior_history is None:
        return {}
    check_frame(prior_history, "prior_history", allow_empty=True)
    missing = [c for c in ("list_year", "OMR_ID", "category") if c not in prior_history.columns]
    if missing:
        raise ColumnError(f"prior_history lacks column(s) {missing}; give list_year, OMR_ID, category; it has "
                          f"{[str(c) for c in prior_history.columns]}." + closest(missing[0], map(str, prior_history.columns)))
    if prior_history.empty:
        return {}
    hist = with_plain_ids(prior_history[["list_year", "OMR_ID", "category"]], "OMR_ID", "prior_history")
    if hist[["list_year", "category"]].isna().any().any():
        raise ValidationError("prior_history has missing list_year or category values; fill or drop those rows first.")
    check_year_column(hist, "list_year", "prior_history")
    check_same_ids(hist["OMR_ID"], "prior_history", pd.Series(ids), "indicators")
    out: dict[int, set] = {}
    for year, group in hist.groupby("list_year"):
        out[int(year)] = set(group.loc[group["category"].isin(GHETTO_TIER + ("ghetto",)), "OMR_ID"])
    return out


def _one_list(list_year: int, regime: str, ind: AreaIndicators, thresholds: Thresholds, rules: ListRules,
              areas: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    crit = pd.concat([evaluate_criterion(c, list_year, ind.area_years, ind.national, areas, rules)
                      for c in thresholds.criteria if c.regime == regime], ignore_index=True)
    now = ind.area_years.loc[ind.area_years["AAR"] == list_year].set_index("OMR_ID")["residents"]
    residents = now.reindex(areas).fillna(0).astype("int64")
    on = decide_criteria_lists(crit, residents, regime, thresholds, rules)
    status = on.copy()
    status.insert(0, "residents", residents)
    for list_type, rows in crit.groupby("category"):
        status[f"n_met_{list_type}"] = rows.groupby("OMR_ID")["met"].sum().reindex(areas).astype("int64")
    return status.rename_axis("OMR_ID").reset_index(), crit


@checked
def compute_lists(
    indicators: AreaIndicators, *, list_years: list[int] | None = None, regime: str = "auto",
    rules: ListRules | None = None, thresholds: Thresholds | str | None = None,
    prior_history: pd.DataFrame | None = None,
) -> ListResult:
    """Decide the 1 December lists (udsat, ghetto/parallelsamfund, hård/omdannelse, forebyggelse) from area indicators.

    Applies the criteria of almenboligloven § 61 a and § 61 b (and the 2010 and 2013 ghetto
    criteria) year by year. The lists nest: omdannelse ⊂ parallelsamfund ⊂ udsat. Hård ghetto /
    omdannelse needs ghetto/parallelsamfund status on each of the latest N lists (this one
    included), counting lists under earlier regimes; a list year missing from the history
    makes the duration unknown and the area is then not listed as hård (``duration_known``).
    The list history is the treatment timing of :func:`cohorts_from_history`.

    Parameters
    ----------
    indicators : AreaIndicators
        From :func:`area_indicators` or :meth:`AreaIndicators.from_frames`.
    list_years : list of int, optional
        The list years to decide; None: every year the data allow (all register years of
        every criterion present).
    regime : {"auto", "2010", "2013", "2018", "2021"}, default "auto"
        "auto" applies the regime in force each year (2010: 2010-2012, 2013: 2013-2017,
        2018: 2018-2020, 2021: from 2021); a regime name applies its rules to every year
        (e.g. to ask which areas today's rules would have listed in 2015).
    rules : ListRules, optional
        The open choices of the rules (K1 basis, unknown education, hård durations,
        tolerance); None: ``ListRules()`` defaults.
    thresholds : Thresholds, str or pathlib.Path, optional
        The criteria's thresholds by regime and year: a :class:`Thresholds`, a CSV path in
        the packaged layout, or None for the packaged thresholds (:func:`load_thresholds`).
    prior_history : pandas.DataFrame, optional
        Published lists before the data (list_year, OMR_ID, category), which count towards
        the hård ghetto / omdannelse duration. None: no prior lists.

    Returns
    -------
    ListResult
        The list history, each area's status and every criterion's value against its
        threshold.

    Raises
    ------
    ParameterError
        ``indicators`` not an :class:`AreaIndicators`, an unknown ``regime``, ``rules`` or
        ``thresholds`` of the wrong type, or list years the data cannot support.
    ValidationError
        A malformed ``prior_history``.

    References
    ----------
    Lov om almene boliger m.v. (almenboligloven), § 61 a and § 61 b.
    """
    if not isinstance(indicators, AreaIndicators):
        raise ParameterError(f"indicators must be an AreaIndicators (from evalkit.area_indicators or "
                             f"AreaIndicators.from_frames), got {type(indicators).__name__}.")
    check_choice("regime", regime, ["auto", *REGIMES])
    if rules is not None and not isinstance(rules, ListRules):
        raise ParameterError(f"rules must be a ListRules(...) or None, got {type(rules).__name__}.")
    rules = rules or ListRules()
    if thresholds is not None and not isinstance(thresholds, (Thresholds, str, Path)):
        raise ParameterError(f"thresholds must be a Thresholds, a CSV path or None, got {type(thresholds).__name__}.")
    thresholds = thresholds if isinstance(thresholds, Thresholds) else load_thresholds(thresholds)
    if list_years is not None:
        list_years = check_years("list_years", list_years)
    years = _check_years(list_years, indicators.years, thresholds, regime)
    areas = pd.Index(sorted(indicators.area_years["OMR_ID"].unique()), name="OMR_ID")
    ghetto_years = _prior_ghetto_years(prior_history, areas)
    statuses, criteria = [], []
    for year in years:
        reg = _regime_for(year, regime, thresholds)
        status, crit = _one_list(year, reg, indicators, thresholds, rules, areas)
        tier = [c for c in GHETTO_TIER if c in status]
        ghetto_years[year] = set(status.loc[status[tier].any(axis=1), "OMR_ID"]) if tier else set()
        status = _add_duration(status, year, reg, thresholds, rules, ghetto_years)
        status.insert(0, "regime", reg)
        status.insert(0, "list_year", year)
        statuses.append(status)
        criteria.append(crit)
    status = _tidy_status(pd.concat(statuses, ignore_index=True))
    params = {"regime": regime, "rules": rules.as_dict(), "list_years": years, **indicators.params}
    return ListResult(history_from_status(status), status, pd.concat(criteria, ignore_index=True), params)


def _add_duration(status: pd.DataFrame, year: int, regime: str, thresholds: Thresholds, rules: ListRules,
                  ghetto_years: dict[int, set]) -> pd.DataFrame:
    status = status.copy()
    streaks = [ghetto_streak(ghetto_years, a, year) for a in status["OMR_ID"]]
    status["ghetto_streak"] = np.array([s for s, _ in streaks], dtype="int64")
    for spec in (s for s in thresholds.lists if s.regime == regime and s.kind == "duration"):
        need = rules.hard_years(regime)
        known = np.array([s >= need or not open_ for s, open_ in streaks])
        status[spec.list_type] = status["ghetto_streak"].to_numpy() >= need
        status["duration_known"] = known
    return status


def _tidy_status(status: pd.DataFrame) -> pd.DataFrame:
    """Nullable dtypes: a category or count that does not exist under a year's regime is <NA>."""
    for col in status.columns:
        if col in LIST_TYPES or col == "duration_known":
            status[col] = status[col].astype("boolean")
        elif col.startswith("n_met_"):
            status[col] = status[col].astype("Int64")
    return status


def history_from_status(status: pd.DataFrame) -> pd.DataFrame:
    """Pure: long list history (list_year, regime, OMR_ID, category) from the status table."""
    present = [c for c in ("udsat_boligomraade", "ghettoomraade", "parallelsamfund", "haardt_ghettoomraade",
                           "omdannelsesomraade", "forebyggelsesomraade") if c in status]
    long = status.melt(id_vars=["list_year", "regime", "OMR_ID"], value_vars=present, var_name="category")
    long = long.loc[long["value"].fillna(False).astype(bool), HISTORY_COLUMNS]
    return long.sort_values(["list_year", "OMR_ID", "category"], ignore_index=True)


def _check_years(list_years, data_years: tuple[int, ...], thresholds: Thresholds, regime: str) -> list[int]:
    feasible = feasible_list_years(data_years, thresholds, regime)
    if list_years is None:
        if not feasible:
            raise ValidationError(f"the data years {data_years[0]}-{data_years[-1]} allow no list year.")
        return feasible
    years = sorted({int(y) for y in list_years})
    for year in years:
        if year not in feasible:
            reg = _regime_for(year, regime, thresholds)
            raise ParameterError(
                f"list year {year} ({reg} regime) needs register years {_needed_years(year, reg, thresholds)}, "
                f"but the data hold {data_years[0]}-{data_years[-1]}; list years possible: {feasible}.")
    return years


@checked
def list_history(result: ListResult, *, wide: bool = False) -> pd.DataFrame:
    """The list history of :func:`compute_lists`, long or as an areas x list years table.

    Parameters
    ----------
    result : ListResult
        The result of :func:`compute_lists`.
    wide : bool, default False
        False: long, one row per area on a list (list_year, regime, OMR_ID, category).
        True: areas x list years holding the innermost category (omdannelse/hård before
        parallelsamfund/ghetto before udsat before forebyggelse).

    Returns
    -------
    pandas.DataFrame
        The history (a copy).

    Raises
    ------
    ParameterError
        A ``result`` that is not a :class:`ListResult`, or a non-bool ``wide``.
    """
    if not isinstance(result, ListResult):
        raise ParameterError(f"result must be the ListResult of evalkit.compute_lists, got {type(result).__name__}.")
    if not check_bool("wide", wide):
        return result.history.copy()
    rank = {"haardt_ghettoomraade": 0, "omdannelsesomraade": 0, "ghettoomraade": 1, "parallelsamfund": 1,
            "udsat_boligomraade": 2, "forebyggelsesomraade": 3}
    top = result.history.assign(_rank=result.history["category"].map(rank)).sort_values("_rank")
    top = top.drop_duplicates(["list_year", "OMR_ID"])
    return top.pivot(index="OMR_ID", columns="list_year", values="category").sort_index()
