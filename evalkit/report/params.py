"""Declared, validated parameters of the report templates.

Papermill only *warns* about unknown parameters (see ``../shared/reporting.md``), so
every parameter file is validated here before any execution: unknown names, wrong
types and impossible values are refused with the valid options and the closest name.
Every problem of a parameter set is reported at once, in one :class:`ParameterError`
(problems separated by "; "), goals included: their keys, years, values and indicators
(:data:`GOAL_INDICATORS`, the area panel's indicators).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.data.outcomes import OUTCOMES as _ALL_OUTCOMES
from evalkit.errors import ParameterError, closest

TEMPLATES = ("midterm", "final")
INTERVENTIONS = ("fremskudt_beskaeftigelse", "poa", "fleksibel_udlejning")
LANGS = ("da", "en")
COMPARISONS = ("never_treated", "never_treated_no_other")
#: every area outcome evalkit builds (evalkit.data.outcomes.OUTCOMES): register indicators and movers' composition
OUTCOMES = tuple(_ALL_OUTCOMES)
#: survey outcomes a report can show (evalkit.report.survey_section.SURVEYS); "" = none
SURVEY_OUTCOMES = ("", "tryghed")
#: subgroups of the report outcome (evalkit.domain.subgroups.BY); "" = none
SUBGROUPS = ("", "origin", "sex", "age_band", "education")


@dataclass(frozen=True)
class Param:
    """One declared template parameter."""

    name: str
    type: type | tuple[type, ...]
    default: Any
    help: str
    choices: tuple | None = None
    bounds: tuple[float, float] | None = None


PARAMS: tuple[Param, ...] = (
    Param("title", str, "", "report title; empty = generated from the intervention"),
    Param("intervention", str, "fremskudt_beskaeftigelse", "intervention in interventions.csv", INTERVENTIONS),
    Param("outcome", str, "employment_rate", "area indicator used as the main outcome", OUTCOMES),
    Param("data_dir", str, "data/demo", "microdata directory in the layout `evalkit simulate` "
          "writes (person_years/ Parquet parts, areas.parquet, interventions.csv); relative paths are taken from the project root"),
    Param("baseline_year", int, 2014, "baseline year for balance and the cohort panel", bounds=(1990, 2100)),
    Param("evaluation_year", int, 2024, "last year of data used in this report", bounds=(1990, 2100)),
    Param("comparison", str, "never_treated", "comparison areas", COMPARISONS),
    Param("leads", int, 4, "pre-treatment event times shown in the event study", bounds=(1, 20)),
    Param("lags", int, 5, "post-treatment event times shown in the event study", bounds=(0, 20)),
    Param("alpha", float, 0.05, "significance level (1 - confidence)", bounds=(0.001, 0.5)),
    Param("lang", str, "en", "label language", LANGS),
    Param("seed", int, 2024, "seed for every random step", bounds=(0, 2**32 - 1)),
    Param("min_cell", int, 5, "disclosure threshold: smallest number of persons per shown cell", bounds=(3, 1000)),
    Param("round_base", int, 5, "every published count of persons is rounded to a multiple of this base "
          "(protects against differencing between tables; 1 = no rounding)", bounds=(1, 100)),
    Param("results_dir", str, "", "folder for machine-readable results (set by the runner; empty = none)"),
    Param("goals", list, [], "helhedsplan targets: list of {goal, target_group, indicator, baseline_year, "
          "baseline_value, target_year, target_value[, direction]} (evalkit.domain.goals)"),
    Param("goals_as_of", int, 0, "year the goals are assessed in (0 = each goal's target year)", bounds=(0, 2100)),
    Param("advisor_placebos", int, 500, "placebo assignments in which the inference advisor measures each "
          "method's size and power with few treated areas (evalkit.inference_advisor; seeded by seed)",
          bounds=(100, 20000)),
    Param("advisor_effect", float, 0.0, "effect (outcome units, e.g. 0.015 = +1.5 pp) injected into the placebos "
          "for the advisor's power; 0 = the outcome's default (evalkit.report.advising.DEFAULT_EFFECTS); a sign "
          "against the outcome's desired direction is kept but the report warns (the MDE takes this sign)",
          bounds=(-1.0, 1.0)),
    Param("survey_outcome", str, "", "survey outcome shown in its own section (repeated cross-sections, weights "
          "calibrated to the register; needs evalkit[survey]); empty = no survey section", SURVEY_OUTCOMES),
    Param("survey", dict, {}, "the survey file of survey_outcome and its column mapping: a mapping of path (a "
          ".parquet/.csv/.sas7bdat/.xpt/.dta file or a folder of them, read by read_survey through DuckDB), "
          "config (a survey configuration YAML file, the keys read_survey takes), columns (the same keys inline: "
          "respondent_id, year, area, weight, sex, age, origin -> column names; answers, files, missing_codes, "
          "scales), answer (the answer column; default TRYG) and cutoff (number: the outcome is the share with "
          "answer >= cutoff; null: the answer itself); relative paths are taken from data_dir; {} = the data "
          "folder's tryghed_survey.parquet with the simulator's names (RESP_ID, AAR, OMR_ID, KOEN, ALDER, HERKOMST, VAEGT, TRYG)"),
    Param("subgroup_by", str, "", "subgroups of the report outcome (and of the survey outcome), with a joint test "
          "of equal effects; empty = no subgroup section", SUBGROUPS),
    Param("budget_dkk", float, 0.0, "intervention budget in DKK for cost per effect (0 = sum of budget_dkk "
          "in interventions.csv)", bounds=(0.0, 1e13)),
)
BY_NAME = {p.name: p for p in PARAMS}


def defaults() -> dict[str, Any]:
    """The default value of every declared parameter."""
    return {p.name: list(p.default) if isinstance(p.default, list) else dict(p.default) if isinstance(p.default, dict)
            else p.default for p in PARAMS}


def _check_value(p: Param, value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    if p.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, p.type):
        hint = " (YAML reads yes/no/on/off as true/false: quote the text)" if isinstance(value, bool) and p.type is str else ""
        raise ParameterError(
            f"parameter {p.name!r} must be {p.type.__name__}, got {type(value).__name__} {value!r} ({p.help}){hint}."
        )
    if p.type is float and not math.isfinite(value):
        raise ParameterError(f"parameter {p.name!r}={value!r} must be a finite number.")
    if p.choices is not None and value not in p.choices:
        raise ParameterError(
            f"parameter {p.name!r}={value!r} is not allowed; choose one of {list(p.choices)}."
            + closest(str(value), p.choices)
        )
    if p.bounds is not None and not p.bounds[0] <= value <= p.bounds[1]:
        raise ParameterError(f"parameter {p.name!r}={value!r} lies outside [{p.bounds[0]}, {p.bounds[1]}].")
    return value


_MARKUP = re.compile(r"[<>`#*\[\]{}|\\$@=~^]")
FREE_TEXT_GOAL_KEYS = ("goal", "target_group")
_TOKEN = re.compile(r"[^\W_]+")


def check_free_text(name: str, value: str, *, min_cell: int, max_len: int = 160) -> str:
    """Free text that reaches the report (title, goal names): words, punctuation and years only.

    A number in a title could be a count of persons and a code could be a key, so digits are
    allowed only as years (1900-2100) in titles, and as whole numbers of at least ``min_cell``
    elsewhere; markup characters are refused (``docs/disclosure.md``).
    """
    if len(value) > max_len:
        raise ParameterError(f"parameter {name!r} has {len(value)} characters; at most {max_len} are allowed.")
    if _MARKUP.search(value):
        raise ParameterError(f"parameter {name!r} holds markup characters ({_MARKUP.search(value).group(0)!r}); "
                             "use plain words.")
    for token in _TOKEN.findall(value):
        if not any(ch.isdigit() for ch in token):
            continue
        if not token.isdigit():
            if len(token) >= 6:
                raise ParameterError(f"parameter {name!r} holds a code of letters and digits; codes can be keys, "
                                     "so free text holds words, punctuation and years only.")
            continue
        number = token
        year = len(number) == 4 and 1900 <= int(number) <= 2100
        if not year and (name == "title" or int(number) < min_cell):
            raise ParameterError(f"parameter {name!r} holds the number {number}; only years (1900-2100)"
                                 + ("" if name == "title" else f" and numbers of at least min_cell={min_cell}")
                                 + " are allowed in free text (a number could be a count of persons).")
    return value


def goal_indicators() -> tuple[str, ...]:
    """The indicators a goal can name: the area panel's indicators (:data:`evalkit.data.panels.AREA_INDICATORS`)
    but the resident count, which is not a rate a plan sets targets for."""
    from evalkit.data.panels import AREA_INDICATORS

    return tuple(k for k in AREA_INDICATORS if k != "residents")


def _message(problems: list[str]) -> str:
    """One message for every problem: the problems joined by "; " (one line)."""
    items = [p.strip().rstrip(".") for p in problems]
    head = f"{len(items)} problems in the report parameters: " if len(items) > 1 else ""
    text = head + "; ".join(items)
    return text if text.endswith("?") else text + "."  # "Did you mean 'x'?" ends the sentence


def parameter_problems(given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the full parameter set with defaults filled in, every problem found as a message).

    Values that fail their check keep their default in the returned set, so later checks
    (free text against ``min_cell``, baseline before evaluation year) still run."""
    if not isinstance(given, dict):
        return defaults(), [f"report parameters must be a mapping of name: value, got {type(given).__name__}"]
    problems: list[str] = []
    unknown = [k for k in given if k not in BY_NAME]
    for name in unknown:
        problems.append(f"unknown report parameter {name!r}.{closest(str(name), BY_NAME)}")
    if unknown:
        problems[-1] += f" Valid parameters: {sorted(BY_NAME)}"
    out = defaults()
    failed = set(unknown)
    for key, value in given.items():
        if key in unknown:
            continue
        try:
            out[key] = _check_value(BY_NAME[key], value)
        except ParameterError as exc:
            problems.append(str(exc))
            failed.add(key)
    out["goals"] = [dict(g) if isinstance(g, dict) else g for g in out["goals"]]  # never share the caller's
    problems += _goal_problems(out["goals"])
    if "survey" not in failed:
        out["survey"] = dict(out["survey"])  # never share the caller's
        problems += survey_problems(out["survey"], out["survey_outcome"])
    for name, value in _free_texts(out):
        try:
            check_free_text(name, value, min_cell=out["min_cell"])
        except ParameterError as exc:
            problems.append(str(exc))
    if not {"baseline_year", "evaluation_year"} & failed and out["baseline_year"] >= out["evaluation_year"]:
        problems.append(f"baseline_year={out['baseline_year']} must be before evaluation_year={out['evaluation_year']}")
    if out["goals_as_of"] and "goals_as_of" not in failed and not out["baseline_year"] <= out["goals_as_of"] \
            <= out["evaluation_year"]:
        problems.append(f"goals_as_of={out['goals_as_of']} must lie between baseline_year={out['baseline_year']} and "
                        f"evaluation_year={out['evaluation_year']} (or be 0: each goal's target year)")
    return out, problems


def validate_params(given: dict[str, Any]) -> dict[str, Any]:
    """Return the full parameter set (defaults filled in) or raise one :class:`ParameterError`
    naming every problem (unknown names with the closest valid one, wrong types, values out of
    range, goals with missing or unknown keys, wrong types or unknown indicators)."""
    out, problems = parameter_problems(given)
    if problems:
        raise ParameterError(_message(problems))
    return out


#: keys of the ``survey`` parameter and what each holds
SURVEY_KEYS = {
    "path": "the survey file or folder (.parquet, .csv, .sas7bdat, .xpt, .dta); relative to data_dir",
    "config": "a survey configuration YAML file (keys of read_survey's config); relative to data_dir",
    "columns": "survey configuration keys inline: respondent_id, year, area, weight, sex, age, origin -> column "
               "names (weight/origin may be null), answers, files, missing_codes, scales",
    "answer": "the answer column that gives the outcome (default: the survey outcome's, TRYG for tryghed)",
    "cutoff": "a number: the outcome is the share with answer >= cutoff; null: the answer itself (a 0/1 item's "
              "share, else the mean score)",
}


def survey_problems(survey: dict, survey_outcome: str = "") -> list[str]:
    """The problems of the ``survey`` parameter that need no data: unknown keys (with the allowed keys and
    the closest), values of the wrong type, and column mappings the survey configuration refuses (unknown
    configuration keys, a name that is not text). The file itself is checked in the preflight."""
    problems = []
    for key in survey:
        if key not in SURVEY_KEYS:
            problems.append(f"parameter 'survey' has an unknown key {key!r}; allowed keys: {list(SURVEY_KEYS)}."
                            + closest(str(key), SURVEY_KEYS))
    for key in ("path", "config", "answer"):
        value = survey.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append(f"parameter 'survey.{key}' must be text ({SURVEY_KEYS[key]}), got {value!r}")
    cutoff = survey.get("cutoff")
    if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, (int, float))
                               or not math.isfinite(cutoff)):
        problems.append(f"parameter 'survey.cutoff' must be a number or null ({SURVEY_KEYS['cutoff']}), got {cutoff!r}")
    columns = survey.get("columns")
    if columns is not None:
        if not isinstance(columns, dict):
            problems.append(f"parameter 'survey.columns' must be a mapping of survey configuration key: column name "
                            f"({SURVEY_KEYS['columns']}), got {type(columns).__name__}")
        else:
            from evalkit.domain.survey_config import SurveyConfig

            answer = survey.get("answer")
            mapping = dict(columns) if "answers" in columns or not isinstance(answer, str) else \
                {**columns, "answers": [answer]}
            try:
                SurveyConfig.from_mapping(mapping)
            except ParameterError as exc:
                problems.append(f"parameter 'survey.columns': {exc}")
    if survey and not survey_outcome:
        problems.append("parameter 'survey' is set but survey_outcome is empty; set survey_outcome (one of "
                        f"{[s for s in SURVEY_OUTCOMES if s]}) to show the survey, or leave survey out")
    return problems


def _free_texts(out: dict[str, Any]):
    yield "title", out["title"]
    for i, goal in enumerate(out["goals"]):
        if isinstance(goal, dict):
            for key, value in goal.items():
                if key in FREE_TEXT_GOAL_KEYS and isinstance(value, str):
                    yield f"goals[{i}].{key}", value


def _goal_problems(goals: list) -> list[str]:
    """Each goal's keys, years, values and indicator (the data-dependent checks run in the report's preflight)."""
    from evalkit.domain.goals import goal_problems

    indicators = goal_indicators()
    return [p for i, goal in enumerate(goals) for p in goal_problems(goal, i, indicators)]


def _check_goals(goals: list) -> None:
    problems = _goal_problems(goals)
    if problems:
        raise ParameterError(_message(problems))


def load_params(path: str | Path) -> dict[str, Any]:
    """Read a YAML parameter file and validate it (dates are kept as ISO strings); every problem
    of the file is named in one :class:`ParameterError`."""
    from evalkit.domain.register import read_yaml

    if not isinstance(path, (str, Path)) or not str(path):
        raise ParameterError(f"the parameter file must be a path, got {path!r}.")
    path = Path(path)
    raw = read_yaml(path, "parameter file")
    if raw is None or raw == {}:  # a wrong or truncated file must not render a report from the defaults
        raise ParameterError(f"parameter file {str(path)!r} is empty; it must set at least the report's data "
                             "and outcome (see `evalkit report params`).")
    if not isinstance(raw, dict):
        raise ParameterError(f"parameter file {str(path)!r} must hold a mapping of name: value.")
    try:
        return validate_params(raw)
    except ParameterError as exc:
        raise ParameterError(f"parameter file {str(path)!r}: {exc}") from None


def describe() -> str:
    """Human-readable documentation of the declared parameters."""
    rows = []
    for p in PARAMS:
        allowed = (f"; one of {list(p.choices)}" if p.choices else
                   f"; from {p.bounds[0]} to {p.bounds[1]}" if p.bounds else "")
        rows.append(f"{p.name:16} {p.type.__name__:5} default {p.default!r:28} {p.help}{allowed}")
    return "\n".join(rows)
