"""The run parameters as a report's header shows them: readable names and values in the report's language.

:func:`header_parameters` turns the run's parameters (the manifest's ``parameters``) into
``{shown name: shown value}``: Danish names with ``lang: da`` (from :data:`evalkit.i18n.PARAMETER_NAMES`,
where every label map lives; a zero or empty value as :data:`evalkit.i18n.PARAMETER_DEFAULTS` says), codes
as their labels ("fremskudt_beskaeftigelse" -> "Fremskudt beskæftigelsesindsats"), numbers in the
language's convention ("0,05"; years never grouped), and the goals as one readable line per goal
instead of a Python list of dicts. ``data_dir`` and ``results_dir`` (local paths) are left out.

The report template (``templates/evalkit/index.html.j2``) shows a list value as a bulleted list;
:func:`evalkit.report.runner.render_html` puts the header into the notebook's metadata.
"""
from __future__ import annotations

from evalkit.i18n import (GOAL_WORDS, LABELS, LANGS, LANGUAGE_NAMES, PARAMETER_DEFAULTS, PARAMETER_NAMES, format_number,
                          label)
from evalkit.errors import check_choice

#: parameters never shown (local paths)
HIDDEN = ("data_dir", "results_dir")

_YEARS = ("baseline_year", "evaluation_year", "goals_as_of", "seed")


def _number(value, lang: str, *, whole: bool = False) -> str:
    if isinstance(value, bool):
        return str(value)
    if whole or (isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1)):
        return format_number(value, lang, digits=0)
    return format_number(value, lang, digits=6).rstrip("0").rstrip(",.")


def _coded(value: str, lang: str) -> str:
    """A code shown as its label when the label map has one ("employment_rate" -> its Danish name)."""
    return label(value, lang) if value in LABELS else value


def _goal(goal, lang: str) -> str:
    """One goal as a line: "<goal>: <indicator> from 0,322 (2014) to 0,4 (2024); target group: <group>"."""
    if not isinstance(goal, dict):
        return str(goal)
    words = GOAL_WORDS[lang]
    text = str(goal.get("goal") or "")
    indicator = goal.get("indicator")
    if indicator:
        text += (": " if text else "") + _coded(str(indicator), lang)
    for key, word in (("baseline", "from"), ("target", "to")):
        value, year = goal.get(f"{key}_value"), goal.get(f"{key}_year")
        if value is not None:
            text += f" {words[word]} {_number(value, lang)}" + (f" ({year})" if year is not None else "")
    if goal.get("target_group"):
        text += f"; {words['group']}: {goal['target_group']}"
    return text


def _value(key: str, value, lang: str):
    """The shown value: text, or a list of texts (shown as a bulleted list)."""
    if key in PARAMETER_DEFAULTS and value in ("", 0, 0.0, None, [], {}) and not isinstance(value, bool):
        return PARAMETER_DEFAULTS[key][lang]
    if key == "goals" and isinstance(value, list):
        return [_goal(g, lang) for g in value]
    if key == "lang" and value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value][lang]
    if key == "subgroup_by" and isinstance(value, str) and f"by_{value}" in LABELS:
        return label(f"by_{value}", lang)
    if key in ("intervention", "outcome", "comparison", "survey_outcome") and isinstance(value, str):
        shown = _coded(value, lang)
        return shown[:1].upper() + shown[1:]
    if key == "survey" and isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    if key == "budget_dkk" and isinstance(value, (int, float)):
        return format_number(value, lang, digits=0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if key in _YEARS else _number(value, lang)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return value if isinstance(value, str) else str(value)


def header_parameters(parameters: dict, lang: str | None = None) -> dict:
    """The run parameters as the report's header shows them.

    Parameters
    ----------
    parameters : dict
        The run's parameters (the manifest's ``parameters``), raw values as read from the YAML file.
    lang : {"da", "en"}, optional
        Language of names and values; None: the parameters' own ``lang`` (English when absent).

    Returns
    -------
    dict
        Shown name -> shown value (text, or a list of texts for the goals and the survey mapping),
        in the parameters' order, without ``data_dir`` and ``results_dir``. A name without an entry
        in :data:`PARAMETER_NAMES` is shown as it is.
    """
    lang = lang or (parameters.get("lang") if parameters.get("lang") in LANGS else "en")
    check_choice("lang", lang, LANGS)
    shown = {}
    for key, value in parameters.items():
        if key in HIDDEN:
            continue
        name = PARAMETER_NAMES.get(key, {}).get(lang, key)
        shown[name] = _value(key, value, lang) if key in PARAMETER_NAMES else value
    return shown


__all__ = ["HIDDEN", "PARAMETER_NAMES", "header_parameters"]
