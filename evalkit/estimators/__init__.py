"""Estimators: each validates its input, fits, and returns a :class:`~evalkit.results.Result`."""
from evalkit.estimators.did2x2 import did2x2
from evalkit.estimators.event_study import event_study
from evalkit.estimators.twfe import twfe

__all__ = ["did2x2", "event_study", "twfe"]
