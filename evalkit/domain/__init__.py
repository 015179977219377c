"""Domain layer: area indicators and the official lists by regime, treatment timing and comparison
pools, matched comparison areas, movers vs stayers, area vs cohort estimands, goal attainment,
cost per effect and power."""
from evalkit.domain.costs import CostPerEffect, cost_per_effect
from evalkit.domain.estimands import (EstimandComparison, cohort_design_panel, compare_estimands,
                                      estimand_paragraph, stayer_share)
from evalkit.domain.goals import GoalAttainment, goal_attainment, goal_chart, goal_status, observed_from_panel
from evalkit.domain.indicators import AreaIndicators, area_indicators
from evalkit.domain.lists import ListResult, compute_lists, list_history
from evalkit.domain.matching import MatchResult, match_areas
from evalkit.domain.movers import Decomposition, decompose_change, decomposition_parts
from evalkit.domain.pools import POOLS, cohorts_from_history, restrict_pool
from evalkit.domain.power import PowerResult, minimum_detectable_effect, plan, simulate_power
from evalkit.domain.register import RegisterConfig, load_register_config
from evalkit.domain.rules import ListRules
from evalkit.domain.thresholds import REGIMES, Thresholds, load_thresholds
from evalkit.domain.timing import COMPARISONS, attach_cohort, treatment_cohorts

__all__ = [
    "COMPARISONS", "POOLS", "REGIMES", "AreaIndicators", "CostPerEffect", "Decomposition", "EstimandComparison",
    "GoalAttainment", "ListResult", "ListRules", "MatchResult", "PowerResult", "RegisterConfig", "Thresholds",
    "area_indicators", "attach_cohort", "cohort_design_panel", "cohorts_from_history", "compare_estimands",
    "compute_lists", "cost_per_effect", "decompose_change", "decomposition_parts", "estimand_paragraph",
    "goal_attainment", "goal_chart", "goal_status", "list_history", "load_register_config", "load_thresholds",
    "match_areas", "minimum_detectable_effect", "observed_from_panel", "plan", "restrict_pool", "simulate_power",
    "stayer_share", "treatment_cohorts",
]
