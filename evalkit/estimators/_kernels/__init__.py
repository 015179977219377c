"""Pure numerical kernels shared by the estimators (arrays in, frozen dataclasses out)."""
from evalkit.estimators._kernels.demean import DemeanResult, TwoWayFit, demean, twoway_fit, twoway_solve

__all__ = ["DemeanResult", "TwoWayFit", "demean", "twoway_fit", "twoway_solve"]
