"""Domain layer: treatment timing, comparison groups (list criteria come later)."""
from evalkit.domain.timing import COMPARISONS, attach_cohort, treatment_cohorts

__all__ = ["COMPARISONS", "attach_cohort", "treatment_cohorts"]
