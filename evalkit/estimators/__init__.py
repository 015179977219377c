"""Estimators: each validates its input, fits, and returns a :class:`~evalkit.results.Result`."""
from evalkit.estimators.bacon import bacon, bacon_plot
from evalkit.estimators.did2x2 import did2x2
from evalkit.estimators.event_study import event_study
from evalkit.estimators.imputation import did_imputation
from evalkit.estimators.sdid import sdid, sdid_plot
from evalkit.estimators.sun_abraham import sun_abraham
from evalkit.estimators.synth import synth, synth_plot
from evalkit.estimators.twfe import twfe

__all__ = ["bacon", "bacon_plot", "did2x2", "did_imputation", "event_study", "sdid", "sdid_plot", "sun_abraham", "synth", "synth_plot", "twfe"]
