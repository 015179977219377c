"""Data: the register simulator, readers, schemas and microdata -> panels."""
from evalkit.data.panels import AREA_INDICATORS, Microdata, build_area_panel, build_cohort_panel, open_microdata
from evalkit.data.outcomes import OUTCOMES, check_outcome, outcome_labels, outcome_panel
from evalkit.data.simulate import simulate

__all__ = ["AREA_INDICATORS", "OUTCOMES", "Microdata", "build_area_panel", "build_cohort_panel", "check_outcome",
           "open_microdata", "outcome_labels", "outcome_panel", "simulate"]
