"""Results: the one immutable :class:`Result` type and its plots."""
from evalkit.results.result import TABLE_COLUMNS, InferenceInfo, Result, register_postfit

__all__ = ["TABLE_COLUMNS", "InferenceInfo", "Result", "register_postfit"]
