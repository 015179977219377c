"""Domain layer: area indicators and the official lists by regime, treatment timing."""
from evalkit.domain.indicators import AreaIndicators, area_indicators
from evalkit.domain.lists import ListResult, compute_lists, list_history
from evalkit.domain.register import RegisterConfig, load_register_config
from evalkit.domain.rules import ListRules
from evalkit.domain.thresholds import REGIMES, Thresholds, load_thresholds
from evalkit.domain.timing import COMPARISONS, attach_cohort, treatment_cohorts

__all__ = [
    "COMPARISONS", "REGIMES", "AreaIndicators", "ListResult", "ListRules", "RegisterConfig", "Thresholds",
    "area_indicators", "attach_cohort", "compute_lists", "list_history", "load_register_config",
    "load_thresholds", "treatment_cohorts",
]
