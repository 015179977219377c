"""One scale-invariant rank criterion and the symmetric solves that use it.

Every estimator and inference method decides "is this design singular?" here, with one
criterion: the condition number of the *equilibrated* cross-product matrix
``D^-1/2 A D^-1/2`` (``D = diag A``), compared with :data:`MAX_COND`. Equilibration makes
the criterion, and the solve, invariant to the units of the columns: a covariate in kroner
(mean 3e5) and the same covariate in millions give the same answer, while collinear or
empty columns are still caught (van der Sluis 1969: diagonal scaling is within a factor
``k`` of the best scaling; Higham 2002, *Accuracy and Stability of Numerical Algorithms*,
sec. 7.3). Before this module, three unscaled criteria in ``_drdid``, ``wild`` and
``small_sample`` disagreed and dropped every Callaway-Sant'Anna cell of a design with an
income covariate (issue 12).
"""
from __future__ import annotations

import numpy as np

from evalkit.errors import ValidationError

#: largest condition number of an equilibrated cross-product matrix treated as full rank
MAX_COND = 1e12


def equilibrate(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(D^-1/2 A D^-1/2, d)`` with ``d = sqrt(|diag A|)``; a zero diagonal keeps scale 1."""
    a = np.asarray(a, dtype=float)
    d = np.sqrt(np.abs(np.diag(a)))
    d = np.where(d > 0, d, 1.0)
    return a / np.outer(d, d), d


def scaled_cond(a: np.ndarray) -> float:
    """Condition number of the equilibrated matrix; ``inf`` for a zero, non-finite or empty column."""
    a = np.asarray(a, dtype=float)
    if a.size == 0:
        return 1.0
    diag = np.diag(a)
    if not np.all(np.isfinite(a)) or np.any(diag <= 0):
        return np.inf
    scaled, _ = equilibrate(a)
    return float(np.linalg.cond(scaled))


def is_singular(a: np.ndarray) -> bool:
    """True when the (positive semi-definite) ``a`` is rank deficient by :func:`scaled_cond`."""
    return not scaled_cond(a) <= MAX_COND


def solve(a: np.ndarray, b: np.ndarray, what: str = "the design", error: type[Exception] = ValidationError,
          check: bool = True) -> np.ndarray:
    """Solve ``a x = b`` for a cross-product matrix ``a`` after equilibration; raise ``error`` if singular.

    ``b`` may be a vector or a matrix. The solve itself runs on the equilibrated system,
    so the answer does not depend on the scale of the columns beyond rounding. ``check=False``
    skips the rank test (an iteration whose first and last matrices are tested; a singular
    matrix still raises ``error``).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape[0] == 0:
        return np.zeros_like(b)
    scaled, d = equilibrate(a)  # once, for the test and the solve (as scaled_cond would)
    if check and not (np.all(np.isfinite(a)) and np.all(np.diag(a) > 0) and np.linalg.cond(scaled) <= MAX_COND):
        raise error(f"{what}: the design is rank deficient (collinear columns, a column absorbed "
                    "by the fixed effects, a constant column, or too few observations)")
    return _solve_scaled(scaled, d, b, what, error)


def _solve_scaled(scaled: np.ndarray, d: np.ndarray, b: np.ndarray, what: str, error: type[Exception]) -> np.ndarray:
    scale = d[:, None] if b.ndim == 2 else d
    try:
        return np.linalg.solve(scaled, b / scale) / scale
    except np.linalg.LinAlgError as err:
        raise error(f"{what}: the design is singular") from err


def inv(a: np.ndarray, what: str = "the design", error: type[Exception] = ValidationError) -> np.ndarray:
    """Inverse of a cross-product matrix through :func:`solve` (same criterion, same scaling)."""
    a = np.asarray(a, dtype=float)
    return solve(a, np.eye(a.shape[0]), what, error)


def lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients with columns scaled to unit norm first (minimum-norm if deficient)."""
    x = np.asarray(x, dtype=float)
    norms = np.linalg.norm(x, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    beta = np.linalg.lstsq(x / norms, y, rcond=None)[0]
    return beta / (norms[:, None] if beta.ndim == 2 else norms)
