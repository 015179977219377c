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

from evalkit.domain._common import check_number, dlabel, frame_html, require_columns
from evalkit.errors import ParameterError, check_choice

GOAL_KEYS = ("goal", "target_group", "indicator", "baseline_year", "baseline_value", "target_year", "target_value")
DIRECTIONS = ("increase", "decrease")
STATUSES = ("achieved", "on_track", "not_on_track", "not_achieved")
COLOURS = {"achieved": "#2e7d32", "on_track": "#7cb342", "not_on_track": "#f9a825", "not_achieved": "#c62828"}
_TOL = 1e-12


def check_goal(goal: dict, i: int = 0) -> dict:
    """A validated copy of one goal (see the module docstring) with ``direction`` filled in."""
    if not isinstance(goal, dict):
        raise ParameterError(f"goals[{i}] must be a mapping with keys {list(GOAL_KEYS)}.")
    missing = [k for k in GOAL_KEYS if k not in goal]
    unknown = sorted(set(goal) - set(GOAL_KEYS) - {"direction"})
    if missing or unknown:
        raise ParameterError(f"goals[{i}] ({goal.get('goal', '?')!r}): missing keys {missing}, unknown keys "
                             f"{unknown}; allowed: {list(GOAL_KEYS) + ['direction']}.")
    g = dict(goal)
    for key in ("baseline_year", "target_year"):
        if isinstance(g[key], bool) or not isinstance(g[key], (int, np.integer)):
            raise ParameterError(f"goals[{i}] ({g['goal']!r}): {key}={g[key]!r} must be a whole year.")
    for key in ("baseline_value", "target_value"):
        g[key] = check_number(f"goals[{i}].{key}", g[key])
    if g["target_year"] <= g["baseline_year"]:
        raise ParameterError(f"goals[{i}] ({g['goal']!r}): target_year={g['target_year']} must be after "
                             f"baseline_year={g['baseline_year']}.")
    inferred = None if g["target_value"] == g["baseline_value"] else (
        "increase" if g["target_value"] > g["baseline_value"] else "decrease")
    g.setdefault("direction", inferred)
    if g["direction"] is None:
        raise ParameterError(f"goals[{i}] ({g['goal']!r}): target equals baseline; set direction to one of {list(DIRECTIONS)}.")
    check_choice(f"goals[{i}].direction", g["direction"], DIRECTIONS)
    if inferred and g["direction"] != inferred:
        raise ParameterError(f"goals[{i}] ({g['goal']!r}): direction={g['direction']!r} contradicts target "
                             f"{g['target_value']} vs baseline {g['baseline_value']}.")
    return g


def goal_status(baseline: float, target: float, observed: float, direction: str, *,
                baseline_year: int, target_year: int, year: int) -> tuple[str, float, float]:
    """(status, progress, path) of one goal observed in ``year`` (the rule in the module docstring)."""
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


@dataclass(frozen=True)
class GoalAttainment:
    """Immutable goal-attainment table (:data:`TABLE_COLUMNS`, plus ``n_persons`` when observed has it)."""

    table: pd.DataFrame
    as_of: int | None

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        return self.table.copy(deep=True)

    def display(self, lang: str = "en") -> pd.DataFrame:
        """The status form as a labelled frame (goal, target group, baseline, target, observed, status)."""
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
        """Status-form chart (matplotlib OO API); returns the Figure."""
        return goal_chart(self.table, lang=lang, ax=ax)

    def _repr_html_(self) -> str:
        return frame_html(f"Goal attainment (as of {self.as_of or 'target years'})", self.table)


def goal_attainment(goals: list[dict], observed: pd.DataFrame, *, as_of: int | None = None) -> GoalAttainment:
    """Set each goal against the observed indicator (status rule in the module docstring).

    ``observed``: tidy ``indicator, AAR, value`` (optionally ``n_persons``, the persons the value
    rests on, for disclosure control). ``as_of``: evaluation year for a midterm status; None =
    each goal at its target year, which must then lie in the data.
    """
    require_columns(observed, ["indicator", "AAR", "value"], "observed")
    if not isinstance(goals, (list, tuple)) or not goals:
        raise ParameterError("goals must be a non-empty list of goal mappings.")
    if observed.duplicated(["indicator", "AAR"]).any():
        raise ParameterError("observed has several rows for one (indicator, AAR); give one value each.")
    years = sorted(int(y) for y in observed["AAR"].unique())
    if as_of is not None and as_of not in years:
        raise ParameterError(f"as_of={as_of!r} is outside the data years {years[0]}-{years[-1]}.")
    known = sorted(observed["indicator"].unique())
    rows = []
    for i, raw in enumerate(goals):
        g = check_goal(raw, i)
        check_choice(f"goals[{i}].indicator", g["indicator"], known)
        year = _eval_year(g, as_of, years)
        hit = _lookup(observed, g, year, years)
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
    require_columns(area_panel, ["OMR_ID", "AAR", weight, *indicators], "area_panel")
    areas = set(pd.Series(list(areas)).astype("int64"))
    missing = sorted(areas - set(area_panel["OMR_ID"]))
    if missing:
        raise ParameterError(f"areas {missing[:5]} are not in the area panel.")
    sub = area_panel[area_panel["OMR_ID"].isin(areas)]
    rows = []
    for ind in indicators:
        ok = sub[sub[ind].notna()]
        grouped = ok.groupby("AAR")
        value = grouped.apply(lambda f: np.average(f[ind], weights=f[weight]), include_groups=False)
        rows.append(pd.DataFrame({"indicator": ind, "AAR": value.index.astype("int64"), "value": value.to_numpy(),
                                  "n_persons": grouped[weight].sum().to_numpy().astype("int64")}))
    return pd.concat(rows, ignore_index=True)


def goal_chart(table: pd.DataFrame, *, lang: str = "en", ax=None):
    """One row per goal: progress from baseline (0) towards the target (1), coloured by status."""
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(7.5, 0.7 * len(table) + 1.2), dpi=110)
        ax = fig.add_subplot()
    fig = ax.figure
    y = np.arange(len(table))[::-1]
    prog = table["progress"].fillna(0).clip(-0.5, 1.5)
    ax.barh(y, prog, color=[COLOURS[s] for s in table["status"]], height=0.55)
    for yi, (_, r) in zip(y, table.iterrows()):
        if r["year"] < r["target_year"] and r["target_value"] != r["baseline_value"]:
            expected = (r["path"] - r["baseline_value"]) / (r["target_value"] - r["baseline_value"])
            ax.plot([expected] * 2, [yi - 0.35, yi + 0.35], color="black", lw=1, ls=":")
        ax.text(1.55, yi, dlabel(r["status"], lang), va="center", fontsize=9, color=COLOURS[r["status"]])
    ax.axvline(0, color="#555", lw=0.8)
    ax.axvline(1, color="black", lw=1.2)
    ax.set_yticks(y, [f"{g}\n({tg})" for g, tg in zip(table["goal"], table["target_group"])], fontsize=8)
    ax.set_xlim(-0.55, 1.9)
    ax.set_xlabel({"da": "Fremdrift: 0 = udgangspunkt, 1 = målsætning (prikket: forventet nu)",
                   "en": "Progress: 0 = baseline, 1 = target (dotted: expected by now)"}[lang], fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
