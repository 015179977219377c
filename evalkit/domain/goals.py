"""Goal attainment (målopfyldelse): a helhedsplan's targets against observed indicators.

A goal is a mapping with the keys of :data:`GOAL_KEYS` (``direction`` optional):

| key | meaning |
|---|---|
| ``goal`` | short name of the goal |
| ``target_group`` | who the goal concerns, e.g. "residents 18-64" |
| ``indicator`` | indicator name in the observed table, e.g. ``"employment_rate"`` |
| ``baseline_year``, ``baseline_value`` | the plan's starting point |
| ``target_year``, ``target_value`` | what the plan promises, by when |
| ``direction`` | ``"increase"`` or ``"decrease"``; inferred from target vs baseline, required when equal |

Status rule (``d`` = +1 for increase, -1 for decrease; comparisons allow 1e-12 of rounding):

* evaluated at the target year (``as_of`` is None or >= ``target_year``): the value observed
  in ``target_year`` is **achieved** if ``d (observed - target) >= 0``, else **not_achieved**;
* evaluated before the target year (``as_of < target_year``, a midterm status) at the value
  observed in ``as_of``: **achieved** if the target is already reached; **on_track** if
  ``d (observed - path) >= 0``, where ``path`` is the straight line from the baseline value in
  the baseline year to the target value in the target year; else **not_on_track**.

``progress`` = (observed - baseline) / (target - baseline): 0 at the baseline, 1 at the target
(NaN when target equals baseline).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain._common import (YEARS, _plain, area_ids, check_names, check_number, check_numeric_columns,
                                    check_same_ids, check_str, check_unique, check_year, check_year_column, dlabel,
                                    frame_html, require_columns, show_ids, warn_dropped, with_plain_ids)
from evalkit.errors import ParameterError, ValidationError, check_choice, closest
from evalkit.core.aliases import checked

GOAL_KEYS = ("goal", "target_group", "indicator", "baseline_year", "baseline_value", "target_year", "target_value")
DIRECTIONS = ("increase", "decrease")
STATUSES = ("achieved", "on_track", "not_on_track", "not_achieved")
COLOURS = {"achieved": "#2e7d32", "on_track": "#7cb342", "not_on_track": "#f9a825", "not_achieved": "#c62828"}
_TOL = 1e-12


def goal_problems(goal, i: int = 0, indicators=None) -> list[str]:
    """Every problem of one goal (the module docstring's keys, types and order of years), as messages;
    with ``indicators``, an indicator outside them is a problem too (naming the closest). Empty: valid."""
    if not isinstance(goal, dict):
        return [f"goals[{i}] must be a mapping with keys {list(GOAL_KEYS)}, got {type(goal).__name__} {goal!r}"]
    name = goal.get("goal", "?")
    where = f"goals[{i}] ({name!r})"
    problems = []
    missing = [k for k in GOAL_KEYS if k not in goal]
    unknown = sorted(str(k) for k in set(goal) - set(GOAL_KEYS) - {"direction"})
    if missing or unknown:
        hint = "".join(closest(u, [*GOAL_KEYS, "direction"]) for u in unknown[:1])
        parts = ([f"missing keys {missing}"] if missing else []) + ([f"unknown keys {unknown}"] if unknown else [])
        problems.append(f"{where}: {', '.join(parts)}; allowed: {list(GOAL_KEYS) + ['direction']}.{hint}".rstrip("."))
    for key in ("goal", "target_group"):
        if key in goal and (not isinstance(goal[key], str) or not goal[key].strip()):
            problems.append(f"{where}: {key}={goal[key]!r} must be non-empty text")
    if "indicator" in goal:
        ind = goal["indicator"]
        if not isinstance(ind, str) or not ind:
            problems.append(f"{where}: indicator={ind!r} must be an indicator name (text)")
        elif indicators is not None and ind not in indicators:
            problems.append(f"{where}: indicator={ind!r} is not a known indicator; choose one of "
                            f"{sorted(indicators)}.{closest(ind, indicators)}".rstrip("."))
    years = {}
    for key in ("baseline_year", "target_year"):
        if key in goal:
            value = goal[key]
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                problems.append(f"{where}: {key}={_plain(value)!r} must be a whole year (a year as a whole number), "
                                f"got {type(value).__name__}")
            elif not YEARS[0] <= value <= YEARS[1]:
                problems.append(f"{where}: {key}={value!r} must be a year in {YEARS[0]}-{YEARS[1]}")
            else:
                years[key] = int(value)
    values = {}
    for key in ("baseline_value", "target_value"):
        if key in goal:
            try:
                values[key] = check_number(key, goal[key])
            except ParameterError as exc:
                problems.append(f"{where}: {str(exc).rstrip('.')}")
    if len(years) == 2 and years["target_year"] <= years["baseline_year"]:
        problems.append(f"{where}: target_year={years['target_year']} must be after "
                        f"baseline_year={years['baseline_year']}")
    if "direction" in goal and goal["direction"] not in DIRECTIONS:
        problems.append(f"{where}: direction={goal['direction']!r} is not allowed; choose one of {list(DIRECTIONS)}."
                        f"{closest(str(goal['direction']), DIRECTIONS)}".rstrip("."))
    elif len(values) == 2:
        inferred = None if values["target_value"] == values["baseline_value"] else (
            "increase" if values["target_value"] > values["baseline_value"] else "decrease")
        direction = goal.get("direction", inferred)
        if direction is None:
            problems.append(f"{where}: target equals baseline; set direction to one of {list(DIRECTIONS)}")
        elif inferred and direction != inferred:
            problems.append(f"{where}: direction={direction!r} contradicts target {values['target_value']} vs "
                            f"baseline {values['baseline_value']}")
    return problems


def check_goal(goal: dict, i: int = 0, indicators=None) -> dict:
    """A validated copy of one goal (see the module docstring) with ``direction`` filled in; every
    problem of the goal is named in one :class:`ParameterError`."""
    problems = goal_problems(goal, i, indicators)
    if problems:
        raise ParameterError("; ".join(problems) + ".")
    g = dict(goal)
    g["baseline_year"], g["target_year"] = int(g["baseline_year"]), int(g["target_year"])
    g["baseline_value"], g["target_value"] = float(g["baseline_value"]), float(g["target_value"])
    if "direction" not in g:
        g["direction"] = "increase" if g["target_value"] > g["baseline_value"] else "decrease"
    return g


def goal_status(baseline: float, target: float, observed: float, direction: str, *,
                baseline_year: int, target_year: int, year: int) -> tuple[str, float, float]:
    """(status, progress, path) of one goal observed in ``year`` (the rule in the module docstring)."""
    baseline, target, observed = (check_number(n, v) for n, v in
                                  (("baseline", baseline), ("target", target), ("observed", observed)))
    check_choice("direction", direction, DIRECTIONS)
    baseline_year, target_year, year = (check_year(n, v) for n, v in
                                        (("baseline_year", baseline_year), ("target_year", target_year), ("year", year)))
    if target_year <= baseline_year:
        raise ParameterError(f"target_year={target_year} must be after baseline_year={baseline_year}.")
    d = 1.0 if direction == "increase" else -1.0
    progress = (observed - baseline) / (target - baseline) if target != baseline else np.nan
    path = baseline + (target - baseline) * min(1.0, (year - baseline_year) / (target_year - baseline_year))
    if d * (observed - target) >= -_TOL:
        return "achieved", progress, path
    if year >= target_year:
        return "not_achieved", progress, path
    return ("on_track" if d * (observed - path) >= -_TOL else "not_on_track"), progress, path


def _lookup(observed: pd.DataFrame, g: dict, year: int, years: list[int]) -> pd.Series:
    hit = observed[(observed["indicator"] == g["indicator"]) & (observed["AAR"] == year)]
    if hit.empty:
        raise ParameterError(f"goal {g['goal']!r}: no observed {g['indicator']!r} in {year}; "
                             f"the data years are {years[0]}-{years[-1]}.")
    return hit.iloc[0]


def _eval_year(g: dict, as_of: int | None, years: list[int]) -> int:
    year = g["target_year"] if as_of is None or as_of >= g["target_year"] else as_of
    if year not in years:
        raise ParameterError(f"goal {g['goal']!r}: target_year={g['target_year']} is outside the data years "
                             f"{years[0]}-{years[-1]}; evaluate it earlier with as_of=<a data year>.")
    if year < g["baseline_year"]:
        raise ParameterError(f"goal {g['goal']!r}: as_of={as_of} is before its baseline_year={g['baseline_year']}.")
    return year


TABLE_COLUMNS = ["goal", "target_group", "indicator", "direction", "baseline_year", "baseline_value",
                 "target_year", "target_value", "year", "observed", "path", "progress", "status"]


@checked_init
@immutable_value
@dataclass(frozen=True)
class GoalAttainment:
    """Goal-attainment table from :func:`goal_attainment`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per goal with :data:`TABLE_COLUMNS` (goal, target_group, indicator,
        direction, baseline and target, evaluation year, observed, path, progress, status),
        plus ``n_persons`` when ``observed`` has it.
    as_of : int or None
        The evaluation year of a midterm status; None: each goal at its target year.
    """

    table: pd.DataFrame
    as_of: int | None

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the goal table.

        Returns
        -------
        pandas.DataFrame
            One row per goal.
        """
        return self.table.copy(deep=True)

    def display(self, lang: str = "en") -> pd.DataFrame:
        """The status form as a labelled frame (goal, target group, baseline, target, observed, status).

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of headers, indicator names and statuses.

        Returns
        -------
        pandas.DataFrame
            One row per goal, values formatted as text.
        """
        t = self.table
        out = pd.DataFrame({dlabel("goal", lang): t["goal"], dlabel("target_group", lang): t["target_group"],
                            dlabel("indicator", lang): [dlabel(i, lang) for i in t["indicator"]],
                            dlabel("baseline", lang): [f"{v:.3f} ({y})" for v, y in zip(t["baseline_value"], t["baseline_year"])],
                            dlabel("target", lang): [f"{v:.3f} ({y})" for v, y in zip(t["target_value"], t["target_year"])],
                            dlabel("observed", lang): [f"{v:.3f} ({y})" for v, y in zip(t["observed"], t["year"])],
                            dlabel("status", lang): [dlabel(s, lang) for s in t["status"]]})
        if "n_persons" in t:
            out["n_persons"] = t["n_persons"].to_numpy()
        return out

    def plot(self, *, lang: str = "en", ax=None):
        """Status-form chart: each goal's progress from baseline (0) towards the target (1), coloured by status.

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of labels and legend.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; None creates a new figure.

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn on.
        """
        return goal_chart(self.table, lang=lang, ax=ax)

    def _repr_html_(self) -> str:
        return frame_html(f"Goal attainment (as of {self.as_of or 'target years'})", self.table)


@checked
def goal_attainment(goals: list[dict], observed: pd.DataFrame, *, as_of: int | None = None) -> GoalAttainment:
    """Set a helhedsplan's goals (målopfyldelse) against the observed indicators.

    Status rule (d = +1 for increase, -1 for decrease): evaluated at the target year (``as_of``
    None or >= target_year), a goal is **achieved** if d (observed - target) >= 0, else
    **not_achieved**; evaluated before it (a midterm status at ``as_of``), **achieved** if the
    target is already reached, **on_track** if d (observed - path) >= 0, where path is the
    straight line from the baseline value in the baseline year to the target value in the
    target year, else **not_on_track**. ``progress`` = (observed - baseline) / (target -
    baseline). Goal attainment describes, it does not estimate an effect: a goal can be met
    without the plan causing it.

    Parameters
    ----------
    goals : list of dict
        One mapping per goal with the keys ``goal`` (short name), ``target_group`` (e.g.
        "residents 18-64"), ``indicator`` (an indicator of ``observed``), ``baseline_year``,
        ``baseline_value``, ``target_year``, ``target_value`` and optionally ``direction``
        ("increase" or "decrease"; inferred from target vs baseline, required when equal).
    observed : pandas.DataFrame
        Tidy ``indicator, AAR, value`` with one row per indicator and year (optionally
        ``n_persons``, the persons the value rests on, for disclosure control).
    as_of : int, optional
        Evaluation year for a midterm status, among the data years; None: each goal at its
        target year, which must then lie in the data.

    Returns
    -------
    GoalAttainment
        One row per goal with the observed value, path, progress and status.

    Raises
    ------
    ParameterError
        An empty ``goals``, a goal with missing or invalid keys (all problems listed), an
        unknown indicator, several rows for one (indicator, AAR), or ``as_of`` outside the data
        years.
    ColumnError
        ``observed`` lacks indicator, AAR or value.
    ValidationError
        A missing observed value in the evaluation year.

    Examples
    --------
    >>> import pandas as pd
    >>> import evalkit as ek
    >>> observed = pd.DataFrame({"indicator": "employment_rate", "AAR": [2018, 2021, 2024],
    ...                          "value": [0.40, 0.44, 0.47]})
    >>> goals = [{"goal": "Jobs", "target_group": "residents 18-64", "indicator": "employment_rate",
    ...           "baseline_year": 2018, "baseline_value": 0.40, "target_year": 2030, "target_value": 0.50}]
    >>> ek.goal_attainment(goals, observed, as_of=2024).tidy()["status"].tolist()
    ['on_track']
    """
    require_columns(observed, ["indicator", "AAR", "value"], "observed")
    if not isinstance(goals, (list, tuple)) or not goals:
        raise ParameterError("goals must be a non-empty list of goal mappings.")
    check_year_column(observed, "AAR", "observed")
    check_numeric_columns(observed, ["value"], "observed")
    if "n_persons" in observed:
        check_numeric_columns(observed, ["n_persons"], "observed", low=0)
    if observed.duplicated(["indicator", "AAR"]).any():
        raise ParameterError("observed has several rows for one (indicator, AAR); give one value each.")
    as_of = check_year("as_of", as_of, allow_none=True)
    years = sorted(int(y) for y in observed["AAR"].unique())
    if as_of is not None and as_of not in years:
        raise ParameterError(f"as_of={as_of!r} is outside the data years {years[0]}-{years[-1]}.")
    known = sorted(str(k) for k in observed["indicator"].unique())
    problems = [p for i, raw in enumerate(goals) for p in goal_problems(raw, i, known)]
    if problems:
        raise ParameterError("; ".join(problems) + ".")
    rows = []
    for i, raw in enumerate(goals):
        g = check_goal(raw, i)
        year = _eval_year(g, as_of, years)
        hit = _lookup(observed, g, year, years)
        if pd.isna(hit["value"]):
            raise ValidationError(f"goal {g['goal']!r}: the observed {g['indicator']!r} in {year} is missing.")
        status, progress, path = goal_status(g["baseline_value"], g["target_value"], float(hit["value"]),
                                             g["direction"], baseline_year=g["baseline_year"],
                                             target_year=g["target_year"], year=year)
        row = {k: g[k] for k in TABLE_COLUMNS if k in g} | {"year": year, "observed": float(hit["value"]),
                                                             "path": path, "progress": progress, "status": status}
        if "n_persons" in observed:
            row["n_persons"] = hit["n_persons"]
        rows.append(row)
    cols = TABLE_COLUMNS + (["n_persons"] if "n_persons" in observed else [])
    return GoalAttainment(table=pd.DataFrame(rows, columns=cols), as_of=as_of)


def observed_from_panel(area_panel: pd.DataFrame, areas, indicators: list[str], *,
                        weight: str = "residents_18_64") -> pd.DataFrame:
    """Observed indicators of a group of areas by year, weighting areas by ``weight``.

    Returns ``indicator, AAR, value, n_persons`` (n_persons = the summed weight column, a count
    of residents). Areas listed but absent from the panel raise.
    """
    indicators = check_names("indicators", indicators)
    check_str("weight", weight)
    require_columns(area_panel, ["OMR_ID", "AAR", weight, *indicators], "area_panel")
    check_year_column(area_panel, "AAR", "area_panel")
    check_numeric_columns(area_panel, indicators, "area_panel")
    check_numeric_columns(area_panel, [weight], "area_panel", low=0)
    panel = with_plain_ids(area_panel[["OMR_ID", "AAR", weight, *indicators]], "OMR_ID", "area_panel")
    check_unique(panel, ["OMR_ID", "AAR"], "area_panel")
    wanted = area_ids(areas, "areas")
    check_same_ids(wanted, "areas", panel["OMR_ID"], "area_panel")
    missing = sorted(set(wanted) - set(panel["OMR_ID"]))
    if missing:
        raise ParameterError(f"areas {show_ids(missing)} are not in the area panel.")
    sub = panel[panel["OMR_ID"].isin(set(wanted))]
    rows = []
    for ind in indicators:
        ok = sub[sub[ind].notna() & sub[weight].notna()]
        warn_dropped(len(sub) - len(ok), len(sub), "observed_from_panel",
                     f"of the areas whose {ind!r} or weight {weight!r} is missing")
        empty = ok.groupby("AAR")[weight].sum()
        if (empty <= 0).any():
            raise ValidationError(f"the areas' weights {weight!r} sum to 0 in {int(empty[empty <= 0].index[0])}; "
                                  f"{ind!r} cannot be averaged there.")
        grouped = ok.groupby("AAR")
        value = grouped.apply(lambda f, ind=ind: np.average(f[ind], weights=f[weight]), include_groups=False)
        rows.append(pd.DataFrame({"indicator": ind, "AAR": value.index.astype("int64"), "value": value.to_numpy(),
                                  "n_persons": grouped[weight].sum().to_numpy().astype("int64")}))
    return pd.concat(rows, ignore_index=True)


def goal_chart(table: pd.DataFrame, *, lang: str = "en", ax=None):
    """One row per goal: progress from baseline (0) towards the target (1), coloured by status."""
    from evalkit.results.figure import new_figure

    check_choice("lang", lang, ("da", "en"))
    require_columns(table, ["goal", "target_group", "status", "progress", "year", "target_year", "path",
                            "baseline_value", "target_value"], "table")
    bad = sorted({str(x) for x in table["status"] if x not in STATUSES})
    if bad:
        raise ValidationError(f"table column 'status' holds {bad}; statuses are {list(STATUSES)}.")
    if ax is None:
        fig = new_figure(figsize=(7.5, 0.7 * len(table) + 1.2), dpi=110)
        ax = fig.add_subplot()
    fig = ax.figure
    y = np.arange(len(table))[::-1]
    prog = table["progress"].fillna(0).clip(-0.5, 1.5)
    ax.barh(y, prog, color=[COLOURS[s] for s in table["status"]], height=0.55)
    dotted = False
    for yi, (_, r) in zip(y, table.iterrows()):
        if r["year"] < r["target_year"] and r["target_value"] != r["baseline_value"]:
            expected = (r["path"] - r["baseline_value"]) / (r["target_value"] - r["baseline_value"])
            ax.plot([expected] * 2, [yi - 0.35, yi + 0.35], color="black", lw=1, ls=":")
            dotted = True
        ax.text(1.55, yi, dlabel(r["status"], lang), va="center", fontsize=9, color=COLOURS[r["status"]])
    ax.axvline(0, color="#555", lw=0.8)
    ax.axvline(1, color="black", lw=1.2)
    ax.set_yticks(y, [f"{g}\n({tg})" for g, tg in zip(table["goal"], table["target_group"])], fontsize=8)
    ax.set_xlim(-0.55, 1.9)
    expected_now = {"da": " (prikket: forventet nu)", "en": " (dotted: expected by now)"}[lang] if dotted else ""
    ax.set_xlabel({"da": "Fremdrift: 0 = udgangspunkt, 1 = målsætning", "en": "Progress: 0 = baseline, 1 = target"}[lang]
                  + expected_now, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if lang == "da":
        from evalkit.results.plot import decimal_comma
        decimal_comma(ax)
    fig.tight_layout()
    return fig
