"""evalkit: evaluation of interventions in Danish vulnerable housing areas.

Data -> panel -> estimator -> result -> report. See README.md.
"""
from evalkit.data import Microdata, build_area_panel, build_cohort_panel, open_microdata, simulate
from evalkit.domain import (AreaIndicators, ListResult, ListRules, RegisterConfig, area_indicators, attach_cohort,
                            cohort_design_panel, cohorts_from_history, compare_estimands, compute_lists,
                            cost_per_effect, decompose_change, estimand_paragraph, goal_attainment, list_history,
                            load_register_config, load_thresholds, match_areas, minimum_detectable_effect, plan,
                            restrict_pool, simulate_power, treatment_cohorts)
from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators import (bacon, bacon_plot, did2x2, did_imputation, event_study, sdid, sdid_plot, sun_abraham,
                                synth, synth_plot, twfe)
from evalkit.diagnostics import SensitivityResult, honest_did, honest_did_arrays
from evalkit.estimators.combine import post_average, pretrend_test, wald_test
from evalkit.estimators.staggered import aggregate, att_gt
from evalkit.inference import cr2_vcov, cr3_vcov, wild_cluster_bootstrap
from evalkit.results import Result

__version__ = "0.1.0"
__all__ = [
    "AreaIndicators", "ListResult", "ListRules", "RegisterConfig", "area_indicators", "compute_lists",
    "list_history", "load_register_config", "load_thresholds",
    "ColumnError", "EvalkitError", "SensitivityResult", "aggregate", "att_gt", "cr2_vcov", "cr3_vcov", "wild_cluster_bootstrap", "bacon", "bacon_plot", "did_imputation", "sdid", "sdid_plot", "sun_abraham", "synth", "synth_plot", "honest_did", "honest_did_arrays", "EvalkitWarning", "Microdata", "ParameterError", "Result", "ValidationError",
    "__version__", "attach_cohort", "build_area_panel", "build_cohort_panel", "did2x2", "event_study",
    "open_microdata", "post_average", "pretrend_test", "simulate", "treatment_cohorts", "twfe", "wald_test",
    "cohort_design_panel", "cohorts_from_history", "compare_estimands", "cost_per_effect", "decompose_change",
    "estimand_paragraph", "goal_attainment", "match_areas", "minimum_detectable_effect", "plan", "restrict_pool",
    "simulate_power",
]
