"""evalkit: evaluation of interventions in Danish vulnerable housing areas.

Data -> panel -> estimator -> result -> report. See README.md.

``import evalkit`` is cheap: the public names below are loaded on first use (PEP 562), so a
notebook or the CLI pays for statsmodels, linearmodels, DuckDB and pandera only when it uses
what needs them.
"""
from __future__ import annotations

import importlib
from typing import Any

from evalkit._version import __version__
from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError

#: public name -> module that defines it (layers, bottom to top: core, data, results,
#: inference, diagnostics, estimators, domain, report)
_LAZY: dict[str, str] = {
    **dict.fromkeys(["Microdata", "build_area_panel", "build_cohort_panel", "open_microdata", "outcome_panel",
                     "simulate"], "evalkit.data"),
    **dict.fromkeys(["Comparison", "Result", "compare"], "evalkit.results"),
    **dict.fromkeys(["cr2_dof", "cr2_vcov", "cr3_vcov", "wild_cluster_bootstrap"], "evalkit.inference"),
    **dict.fromkeys(["inference_advisor"], "evalkit.inference.advisor"),
    **dict.fromkeys(["SensitivityResult", "honest_did", "honest_did_arrays"], "evalkit.diagnostics"),
    **dict.fromkeys(["bacon", "bacon_plot", "did2x2", "did_imputation", "event_study", "sdid", "sdid_plot",
                     "sun_abraham", "synth", "synth_plot", "twfe"], "evalkit.estimators"),
    **dict.fromkeys(["post_average", "pretrend_test", "wald_test"], "evalkit.estimators.combine"),
    **dict.fromkeys(["conley_taber", "ferman_pinto"], "evalkit.estimators.few_treated"),
    **dict.fromkeys(["aggregate", "att_gt"], "evalkit.estimators.staggered"),
    **dict.fromkeys(["AreaIndicators", "ListResult", "ListRules", "RegisterConfig", "area_indicators",
                     "attach_cohort", "cohort_design_panel", "cohorts_from_history", "compare_estimands",
                     "compute_lists", "cost_per_effect", "decompose_change", "estimand_paragraph",
                     "goal_attainment", "list_history", "load_register_config", "load_thresholds", "match_areas",
                     "minimum_detectable_effect", "plan", "restrict_pool", "simulate_power", "treatment_cohorts"],
                    "evalkit.domain"),
    **dict.fromkeys(["SurveyConfig"], "evalkit.domain.survey_config"),
    **dict.fromkeys(["read_survey"], "evalkit.domain.survey_read"),
    **dict.fromkeys(["register_margins"], "evalkit.domain.survey_margins"),
    **dict.fromkeys(["calibrate_weights"], "evalkit.domain.survey_weights"),
    **dict.fromkeys(["survey_did"], "evalkit.domain.survey_did"),
    **dict.fromkeys(["SubgroupEffects", "subgroup_effects"], "evalkit.domain.subgroups"),
    "survey_subgroup_effects": "evalkit.domain.survey_subgroups",
}

__all__ = ["ColumnError", "EvalkitError", "EvalkitWarning", "ParameterError", "ValidationError", "__version__",
           *_LAZY]


#: subpackages reachable as attributes (``evalkit.estimators.twfe`` after ``import evalkit``)
_SUBMODULES = ("core", "data", "results", "inference", "diagnostics", "estimators", "domain", "report", "cli",
               "errors", "seal", "privacy", "progress", "i18n")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"evalkit.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
