"""Results: the one immutable :class:`Result` type, its plots, and :func:`compare` to set results side by side."""
from evalkit.results.comparison import Comparison, compare
from evalkit.results.result import TABLE_COLUMNS, InferenceInfo, Result, register_postfit

__all__ = ["TABLE_COLUMNS", "Comparison", "InferenceInfo", "Result", "compare", "register_postfit"]
