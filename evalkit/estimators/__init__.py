"""Estimators: each validates its input, fits, and returns a :class:`~evalkit.results.Result`."""
from evalkit.estimators.bacon import bacon, bacon_plot
from evalkit.estimators.did2x2 import did2x2
from evalkit.estimators.event_study import event_study
from evalkit.estimators.imputation import did_imputation
from evalkit.estimators.sdid import sdid, sdid_plot
from evalkit.estimators.sun_abraham import sun_abraham
from evalkit.estimators.synth import synth, synth_plot
from evalkit.estimators.twfe import twfe
from evalkit.estimators.staggered import aggregate, att_gt
from evalkit.estimators import _refit, postfit

# the post-fit methods re-estimate through these (dependency inversion: _refit imports no estimator)
_refit.ESTIMATORS.update(did2x2=did2x2, twfe=twfe, event_study=event_study, sun_abraham=sun_abraham,
                         did_imputation=did_imputation, att_gt=att_gt, aggregate=aggregate)
postfit.register()  # Result.with_inference dispatches here

__all__ = ["bacon", "bacon_plot", "did2x2", "did_imputation", "event_study", "sdid", "sdid_plot", "sun_abraham", "synth", "synth_plot", "twfe"]
