"""Partialling out fixed effects: alternating projections and a direct two-way solver.

Both kernels work on integer codes 0..G-1 (e.g. from ``pd.factorize``) with
``np.bincount``; nothing is sorted in place and no input is modified.

* :func:`demean` - method of alternating projections (Gaure 2013, "OLS with
  multiple high dimensional category variables", CSDA 66) for any number of
  factors, weighted, iterated until the largest change of any column is below
  ``tol`` (relative to the column's scale).
* :func:`twoway_fit` / :func:`twoway_solve` - exact solution of the two-way
  normal equations by eliminating the large factor (units) and solving the
  Schur complement of the small factor (periods, or cohort x period cells)
  densely. No iteration; used by the estimators when the second factor has few
  levels. ``tests/test_imputation.py`` checks that both give the same residuals.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from evalkit.core.linalg import inv, is_singular
from evalkit.errors import ParameterError, ValidationError


@dataclass(frozen=True, slots=True)
class DemeanResult:
    """Demeaned columns (n x k), sweeps used, and whether ``tol`` was reached."""

    values: np.ndarray
    iterations: int
    converged: bool


@dataclass(frozen=True, slots=True)
class TwoWayFit:
    """Two-way fixed-effects fit of the columns of x on unit and second-factor effects.

    unit_effects (n_units x k), other_effects (n_levels x k), residuals (n x k);
    ``schur_ginv`` is a generalised inverse (zeros at the fixed levels) of the
    matrix X'WX of the second factor's dummies after partialling out the unit
    effects (weighted), the bread of sandwich variances; ``unit_weight``
    the summed weights per unit and ``cross`` the sparse (n_units x n_levels)
    summed weights per (unit, level).
    """

    unit_effects: np.ndarray
    other_effects: np.ndarray
    residuals: np.ndarray
    schur_ginv: np.ndarray
    unit_weight: np.ndarray
    cross: sp.csr_matrix


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ParameterError(f"x must be a 1-d or 2-d array, not {x.ndim}-d.")
    return x


def _check_codes(codes: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    out = []
    for j, c in enumerate(codes):
        c = np.asarray(c)
        if c.shape != (n,) or not np.issubdtype(c.dtype, np.integer) or (n and c.min() < 0):
            raise ParameterError(f"codes[{j}] must be non-negative integer codes of length {n}.")
        out.append(c.astype(np.intp, copy=False))
    return out


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ParameterError(f"weights must be {n} finite non-negative numbers.")
    return w


def demean(x: np.ndarray, codes: Sequence[np.ndarray], weights: np.ndarray | None = None, *,
           tol: float = 1e-10, maxiter: int = 10_000) -> DemeanResult:
    """Residuals of the weighted regression of each column of ``x`` on the factor dummies.

    Alternating projections: sweep over the factors, subtracting each factor's
    weighted group means, until no element changes by more than
    ``tol * max(1, max|x_col|)`` in a full sweep. Returns a new array; a 1-d
    ``x`` gives an (n, 1) result. Levels with zero total weight are left as is.
    """
    x = _as_2d(x)
    n = x.shape[0]
    codes = _check_codes(codes, n)
    w = _weights(weights, n)
    sums = [np.bincount(c, weights=w) for c in codes]
    inv = [np.divide(1.0, s, out=np.zeros_like(s), where=s > 0) for s in sums]
    out = x.copy()
    iterations, converged = 0, True
    for j in range(out.shape[1]):
        col = out[:, j]
        scale = tol * max(1.0, float(np.max(np.abs(col))) if n else 1.0)
        wcol = np.empty(n)
        for it in range(1, maxiter + 1):
            change = 0.0
            for c, iv in zip(codes, inv):
                np.multiply(col, w, out=wcol)
                means = np.bincount(c, weights=wcol, minlength=len(iv)) * iv
                step = means[c]
                col -= step
                change = max(change, float(np.max(np.abs(means))) if len(means) else 0.0)
            if change <= scale or len(codes) == 1:
                break
        else:
            converged = False
        iterations = max(iterations, it)
    return DemeanResult(values=out, iterations=iterations, converged=converged)


def twoway_solve(rhs_unit: np.ndarray, rhs_other: np.ndarray, unit: np.ndarray, other: np.ndarray,
                 weights: np.ndarray | None = None, fixed: Sequence[int] = (0,)
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix]:
    """Solve the two-way normal equations Z'WZ a = b for unit and second-factor effects.

    ``b`` is split into ``rhs_unit`` (n_units x k) and ``rhs_other`` (n_levels x k).
    The unit block is eliminated (it is diagonal); the Schur complement
    S = D_o - C' D_u^{-1} C of the second factor is solved densely with the
    effects of the levels in ``fixed`` set to 0 (one normalisation per
    connected set of units and levels; the default fixes level 0, enough for a
    connected panel). A singular reduced system (a disconnected design) raises
    ValidationError. Returns (a_unit, a_other, S^-, D_u, C), S^- being the
    generalised inverse of S with zero rows/columns at ``fixed``.
    """
    n = len(unit)
    unit, other = _check_codes([unit, other], n)
    w = _weights(weights, n)
    n_u, n_o = rhs_unit.shape[0], rhs_other.shape[0]
    d_u = np.bincount(unit, weights=w, minlength=n_u)
    d_o = np.bincount(other, weights=w, minlength=n_o)
    if (d_u <= 0).any():
        raise ValidationError("Every unit needs at least one observation with positive weight.")
    cross = sp.csr_matrix((w, (unit, other)), shape=(n_u, n_o))
    cross.sum_duplicates()
    scaled = sp.diags(1.0 / d_u) @ cross
    schur = np.diag(d_o) - (cross.T @ scaled).toarray()
    rhs = rhs_other - cross.T @ (rhs_unit / d_u[:, None])
    keep = np.setdiff1d(np.arange(n_o), np.asarray(fixed, dtype=np.intp))
    reduced = schur[np.ix_(keep, keep)]
    if is_singular(reduced):
        raise ValidationError(
            "The fixed effects are not identified: units and periods do not form one connected set "
            "(e.g. a group of units observed only in periods nobody else is observed in)."
        )
    ginv = np.zeros((n_o, n_o))
    ginv[np.ix_(keep, keep)] = inv(reduced)
    a_other = ginv @ rhs
    a_unit = (rhs_unit - cross @ a_other) / d_u[:, None]
    return a_unit, a_other, ginv, d_u, cross


def twoway_fit(x: np.ndarray, unit: np.ndarray, other: np.ndarray, weights: np.ndarray | None = None,
               fixed: Sequence[int] = (0,)) -> TwoWayFit:
    """Weighted least-squares fit of the columns of ``x`` on unit and second-factor effects (exact)."""
    x = _as_2d(x)
    n = x.shape[0]
    unit, other = _check_codes([unit, other], n)
    w = _weights(weights, n)
    n_u, n_o = int(unit.max()) + 1, int(other.max()) + 1
    unweighted = weights is None
    rhs_u = np.empty((n_u, x.shape[1]))
    rhs_o = np.empty((n_o, x.shape[1]))
    for j in range(x.shape[1]):  # column by column: no n x k temporaries (10M-row panels)
        col = x[:, j] if unweighted else x[:, j] * w
        rhs_u[:, j] = np.bincount(unit, weights=col, minlength=n_u)
        rhs_o[:, j] = np.bincount(other, weights=col, minlength=n_o)
    a_u, a_o, ginv, d_u, cross = twoway_solve(rhs_u, rhs_o, unit, other, w, fixed)
    resid = np.array(x, dtype=float, order="F")
    for j in range(x.shape[1]):
        resid[:, j] -= a_u[unit, j]
        resid[:, j] -= a_o[other, j]
    return TwoWayFit(unit_effects=a_u, other_effects=a_o, residuals=resid, schur_ginv=ginv, unit_weight=d_u,
                     cross=cross)
