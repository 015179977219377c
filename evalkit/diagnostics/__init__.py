"""Diagnostics of identifying assumptions: HonestDiD sensitivity analysis."""
from evalkit.diagnostics._sensitivity import SensitivityResult
from evalkit.diagnostics.honest_did import honest_did, honest_did_arrays

__all__ = ["SensitivityResult", "honest_did", "honest_did_arrays"]
