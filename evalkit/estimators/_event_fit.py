"""The large-data event-study fit with the event-time dummies as sparse indicators.

:func:`fit_event_indicators` gives the coefficients and CR1 covariance of
:func:`evalkit.estimators._common.fit_twoway_fast` on the dense dummies (same checks, same
finite-sample factor) from grouped sums (:mod:`evalkit.core.indicator_fit`): no n x k dummy
frame, no n x (1+k) partialled copy. :func:`usable` says when it applies; otherwise the event
study builds the dummies and takes the general path.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core import blas, linalg
from evalkit.core.clusters import cr1_factor
from evalkit.core.indicator_fit import indicator_cluster_scores, indicator_cross, indicator_residuals, nested
from evalkit.errors import ValidationError
from evalkit.estimators import _common
from evalkit.inference import FitRequest
from evalkit.inference.registry import InferenceMethod

#: switch for tests: False sends every event study through the dense-dummy path
ENABLED = True


def usable(n_rows: int, method: InferenceMethod, req: FitRequest, postfit: str | None) -> bool:
    """The sparse path serves the fast two-way path (``n_rows`` at least ``FAST_TWOWAY_ROWS``) with
    CR1 inference; HC1 (row scores), the wild bootstrap (which reuses the partialled dummies) and
    weighted fits take the dense path (whose exact two-way solver is weighted: the grouped sums
    here are unweighted counts)."""
    return (ENABLED and n_rows >= _common.FAST_TWOWAY_ROWS and method.name == "cr1"
            and req.clusters is not None and postfit != "wild" and req.weights is None)


def fit_event_indicators(y: np.ndarray, code: np.ndarray, names: list[str], entity: np.ndarray,
                         period: np.ndarray, req: FitRequest) -> tuple[pd.Series, pd.DataFrame]:
    """Within (unit and time effects) OLS on the indicators ``code`` (0..k-1, k = none) with CR1
    covariance; the numbers of ``fit_twoway_fast`` on the dense dummies."""
    with blas.one_thread():  # thin products: BLAS threads only spin (2 cores)
        return _fit(y, code, names, entity, period, req)


def _fit(y, code, names, entity, period, req) -> tuple[pd.Series, pd.DataFrame]:
    k = len(names)
    n = len(y)
    units_nested = req.n_nested_effects > 0 or nested(entity, req.clusters)  # > 0 only if nested
    fit = indicator_cross(y, code, k, entity, period, keep_unit_table=not units_nested)
    xtx = fit.xtx
    scale = np.maximum(fit.counts - fit.counts ** 2 / n, 1e-300)  # sums of squares of the centred dummies
    if np.any(np.diag(xtx) < 1e-10 * scale) or linalg.is_singular(xtx):
        raise ValidationError("A regressor is absorbed by the unit and time fixed effects or collinear with "
                              "another regressor. This happens when the treatment timing does not vary "
                              "across units, or a covariate is constant within units.")
    bread = linalg.inv(xtx)
    beta = bread @ fit.xty
    e = indicator_residuals(fit, beta, y, code, entity, period)
    g = int(req.clusters.max()) + 1
    sums = indicator_cluster_scores(fit, e, code, entity, period, req.clusters, g, units_nested)
    factor = cr1_factor(g, n, k + req.n_effects - req.n_nested_effects)
    vcov = bread @ (sums.T @ sums) @ bread * factor
    return pd.Series(beta, index=names), pd.DataFrame(vcov, index=names, columns=names)
