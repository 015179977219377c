"""Data: the register simulator, readers, schemas and microdata -> panels."""
from evalkit.data.panels import AREA_INDICATORS, Microdata, build_area_panel, build_cohort_panel, open_microdata
from evalkit.data.simulate import simulate

__all__ = ["AREA_INDICATORS", "Microdata", "build_area_panel", "build_cohort_panel", "open_microdata", "simulate"]
