"""Two-way fixed effects regression on mutually exclusive indicator regressors, without the n x k design.

The event-study regression y = A a + B l + D b + u has unit effects A (many levels), period
effects B (few levels) and k indicators D in which every row has at most one 1 (the event-time
dummies). Its OLS solution by Frisch-Waugh-Lovell, b = (D'MD)^-1 D'My with M the annihilator of
[A, B], needs only grouped sums and small matrices. Write Z = [D, y] (k + 1 columns),
Z_u = A'Z (n_units x (k+1): rows per unit and indicator, the unit's sum of y), Z_o = B'Z,
C = A'B (rows per unit and period) and N = A'A (rows per unit):

* the two-way fits of the columns of Z on [A, B] (the exact solver of
  :func:`evalkit.core.demean.twoway_solve`: the unit effects eliminated, the Schur complement
  S = B'B - C'N^-1 C of the periods solved densely, period 0 fixed) have period coefficients
  L = S^- (Z_o - C'N^-1 Z_u) and unit coefficients U = N^-1 (Z_u - C L);
* MD = D - A U_D - B L_D, hence D'MD = D'D - (A'D)'U_D - (B'D)'L_D and
  D'My = D'y - (A'D)'U_y - (B'D)'L_y (k x k and k numbers; D'D is diagonal). (A'D)'U is summed
  over blocks of units, so U (n_units x (k+1)) is never held;
* the residual of the full regression is e = r - A N^-1 A'r with r = y - D b - B L [-b; 1]: the
  period coefficients of y - D b, then its unit means (grouped sums, no unit table);
* the cluster sums of the scores x~_i e_i (x~ = the row of MD) are
  S_g = sum_g d_i e_i - sum_g L_D[period_i] e_i - sum_g U_D[unit_i] e_i. If every unit lies in one
  cluster the last term is sum_g w_i (d_i - L_D[period_i]) with w_i the mean residual of unit i, so
  S_g = sum_g (e_i - w_i)(d_i - L_D[period_i]): one grouped sum by (cluster, period, indicator).
  Otherwise the last term is E N^-1 (Z_u,D - C L_D), E the sparse (cluster x unit) sums of e.

Memory is O(n) for the codes plus Z_u and C while D'MD is formed (n_units x (k+1) and
n_units x n_periods, built in place; kept for the scores only when units are not nested in the
clusters), instead of several n x k arrays; the results equal those of partialling the dense dummies
(``tests/test_event_sparse.py``, 1e-10). Designs with too many (unit, period) cells for a dense C
use the sparse solver of :mod:`evalkit.core.demean`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from evalkit.core.demean import twoway_solve
from evalkit.core.linalg import inv, is_singular
from evalkit.errors import ParameterError, ValidationError

#: the unit x period table is kept dense (a P x T array) up to this many cells per row of data
DENSE_CELLS_PER_ROW = 4
#: the cluster x period x indicator sums of the residuals are one table up to this many cells per row
CUBE_CELLS_PER_ROW = 1
#: units per block when unit-level products are summed
BLOCK = 1 << 16


@dataclass(frozen=True, slots=True)
class IndicatorFit:
    """The cross-products ``xtx`` = D'MD (k x k) and ``xty`` = D'My (k), ``counts`` = rows per
    indicator (k), ``other_effects`` L (n_levels x (k+1), the period coefficients of Z = [D, y]) and
    ``unit_rows`` N (rows per unit). For cluster scores when units are not nested in the clusters
    (``keep_unit_table``): the unit table Z_u = A'Z with the dense unit x period counts ``cross``,
    or, from the sparse solver, the unit coefficients ``unit_effects`` U (n_units x (k+1))."""

    xtx: np.ndarray
    xty: np.ndarray
    counts: np.ndarray
    other_effects: np.ndarray
    unit_rows: np.ndarray
    unit_table: np.ndarray | None = None
    cross: np.ndarray | None = None
    unit_effects: np.ndarray | None = None


def nested(unit: np.ndarray, clusters: np.ndarray) -> bool:
    """True if every unit lies in one cluster."""
    home = np.zeros(int(unit.max()) + 1 if len(unit) else 0, dtype=np.intp)
    home[unit] = clusters
    return bool(np.array_equal(home[unit], clusters))


def _codes(a: np.ndarray, n: int, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or (n and a.min() < 0):
        raise ParameterError(f"{what} must be non-negative integer codes of length {n}.")
    return a.astype(np.intp, copy=False)


def _key(first: np.ndarray, n_second: int, second: np.ndarray) -> np.ndarray:
    key = first * n_second
    key += second
    return key


def _cells(first: np.ndarray, second: np.ndarray, n_second: int, n_first: int,
           weights: np.ndarray | None = None) -> np.ndarray:
    """(n_first x n_second) sums of ``weights`` (counts if None) over the rows of each cell."""
    return np.bincount(_key(first, n_second, second), weights=weights,
                       minlength=n_first * n_second).reshape(n_first, n_second)


def _count_table(first: np.ndarray, second: np.ndarray, n_second: int, n_first: int) -> np.ndarray:
    """:func:`_cells` counts as float64, converted in place (no second table of the same size)."""
    table = np.bincount(_key(first, n_second, second), minlength=n_first * n_second)
    if table.dtype.itemsize != 8:
        return table.astype(float).reshape(n_first, n_second)
    flat = table.view(np.float64)
    step = 1 << 20
    for s in range(0, len(table), step):  # exact: counts are small integers
        flat[s:s + step] = table[s:s + step]
    return flat.reshape(n_first, n_second)


def _schur_solve(z_u: np.ndarray, z_o: np.ndarray, cross: np.ndarray, d_u: np.ndarray) -> np.ndarray:
    """Period coefficients L of :func:`evalkit.core.demean.twoway_solve` (unweighted, level 0 fixed)
    with the unit x level counts ``cross`` dense: S = diag(B'B) - C'N^-1 C, L = S^- (Z_o - C'N^-1 Z_u)."""
    d_o = cross.sum(axis=0)
    schur = np.diag(d_o)
    rhs = z_o.copy()
    for s in range(0, len(d_u), BLOCK):
        scaled = cross[s:s + BLOCK] / d_u[s:s + BLOCK, None]
        schur -= scaled.T @ cross[s:s + BLOCK]
        rhs -= scaled.T @ z_u[s:s + BLOCK]
    reduced = schur[1:, 1:]
    if is_singular(reduced):
        raise ValidationError(
            "The fixed effects are not identified: units and periods do not form one connected set "
            "(e.g. a group of units observed only in periods nobody else is observed in)."
        )
    ginv = np.zeros_like(schur)
    ginv[1:, 1:] = inv(reduced)
    return ginv @ rhs


def indicator_cross(y: np.ndarray, indicator: np.ndarray, k: int, unit: np.ndarray, other: np.ndarray,
                    keep_unit_table: bool = True) -> IndicatorFit:
    """D'MD and D'My of the regression of ``y`` on unit effects, ``other`` (period) effects and k
    indicators; ``indicator`` holds 0..k-1 for the row's indicator and k for none.
    ``keep_unit_table``: keep what cluster scores need when the units are not nested in the
    clusters (n_units x (k+1) numbers); without it only n_units + small tables are kept."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    unit, other, ind = _codes(unit, n, "unit"), _codes(other, n, "other"), _codes(indicator, n, "indicator")
    if n and ind.max() > k:
        raise ParameterError(f"indicator codes must lie in 0..{k} ({k} = no indicator).")
    n_u, n_o = int(unit.max()) + 1, int(other.max()) + 1
    z_u = _count_table(unit, ind, k + 1, n_u)  # column k: rows without an indicator, replaced by A'y
    z_u[:, k] = np.bincount(unit, weights=y, minlength=n_u)
    level_n = _cells(other, ind, k + 1, n_o)
    level_y = np.bincount(_key(other, k + 1, ind), weights=y, minlength=n_o * (k + 1)).reshape(n_o, k + 1)
    z_o = level_n.astype(float)
    z_o[:, k] = level_y.sum(axis=1)
    counts = level_n.sum(axis=0)[:k].astype(float)
    dy = level_y.sum(axis=0)[:k]
    cross = a_u = None
    if n_u * n_o <= DENSE_CELLS_PER_ROW * n + 1_000_000:
        cross = _count_table(unit, other, n_o, n_u)
        d_u = cross.sum(axis=1)
        if (d_u <= 0).any():
            raise ValidationError("Every unit needs at least one observation with positive weight.")
        a_o = _schur_solve(z_u, z_o, cross, d_u)
        r_u = np.zeros((k, k + 1))  # (A'D)' U, summed over blocks of units
        for s in range(0, n_u, BLOCK):
            block = cross[s:s + BLOCK] @ a_o
            np.subtract(z_u[s:s + BLOCK], block, out=block)
            block /= d_u[s:s + BLOCK, None]
            r_u += z_u[s:s + BLOCK, :k].T @ block
    else:
        a_u, a_o, _, d_u, _ = twoway_solve(z_u, z_o, unit, other)
        r_u = z_u[:, :k].T @ a_u
    xtx = np.diag(counts) - r_u[:, :k] - z_o[:, :k].T @ a_o[:, :k]
    xtx = (xtx + xtx.T) / 2
    xty = dy - r_u[:, k] - z_o[:, :k].T @ a_o[:, k]
    if not keep_unit_table:
        z_u = cross = a_u = None
    return IndicatorFit(xtx=xtx, xty=xty, counts=counts, other_effects=a_o, unit_rows=d_u,
                        unit_table=None if a_u is not None else z_u, cross=cross, unit_effects=a_u)


def indicator_residuals(fit: IndicatorFit, beta: np.ndarray, y: np.ndarray, indicator: np.ndarray,
                        unit: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Residuals e = y - A u - B l - D b of the full regression (an n-vector): with l = L [-b; 1],
    r = y - D b - B l and u = N^-1 A'r (the unit coefficients U [-b; 1] = N^-1 (Z_u - C L) [-b; 1])."""
    beta = np.asarray(beta, dtype=float)
    w = np.append(-beta, 1.0)  # y - D b = Z w
    r = np.take(np.append(beta, 0.0), indicator)
    np.subtract(np.asarray(y, dtype=float), r, out=r)
    r -= np.take(fit.other_effects @ w, other)
    unit_coef = np.bincount(unit, weights=r, minlength=len(fit.unit_rows)) / fit.unit_rows
    r -= np.take(unit_coef, unit)
    return r


def indicator_cluster_scores(fit: IndicatorFit, e: np.ndarray, indicator: np.ndarray, unit: np.ndarray,
                             other: np.ndarray, clusters: np.ndarray, n_clusters: int | None = None,
                             units_nested: bool | None = None) -> np.ndarray:
    """Cluster sums S (G x k) of the scores x~_i e_i, x~ the indicators net of unit and period effects.

    Units nested in clusters: sum_g U_D[unit_i] e_i = sum_g w_i (d_i - L_D[period_i]) with w the
    units' mean residuals, so S_g = sum_g (e_i - w_i) (d_i - L_D[period_i]) (one grouped sum).
    Otherwise E N^-1 (Z_u,D - C L_D) with the sparse (cluster x unit) sums E of e."""
    clusters = np.asarray(clusters).astype(np.intp, copy=False)
    k = fit.xtx.shape[0]
    g = int(clusters.max()) + 1 if n_clusters is None else int(n_clusters)
    a_o = fit.other_effects[:, :k]
    n_u, n_o = len(fit.unit_rows), a_o.shape[0]
    if units_nested is None:
        units_nested = nested(unit, clusters)
    weights = e
    if units_nested:
        weights = np.take(np.bincount(unit, weights=e, minlength=n_u) / fit.unit_rows, unit)
        np.subtract(e, weights, out=weights)
    elif fit.unit_table is None and fit.unit_effects is None:
        raise ParameterError("units are not nested in the clusters: fit with keep_unit_table=True.")
    if g * n_o * (k + 1) <= CUBE_CELLS_PER_ROW * len(e) + 1_000_000:  # one pass: cluster x level x indicator
        key = clusters * n_o
        key += other
        key *= k + 1
        key += indicator
        cube = np.bincount(key, weights=weights, minlength=g * n_o * (k + 1)).reshape(g, n_o, k + 1)
        del key
        scores = cube.sum(axis=1)[:, :k] - cube.sum(axis=2) @ a_o
    else:
        scores = (_cells(clusters, indicator, k + 1, g, weights)[:, :k]
                  - _cells(clusters, other, n_o, g, weights) @ a_o)
    if units_nested:
        return scores
    sums = sp.csr_matrix((e, (clusters, unit)), shape=(g, n_u))
    if fit.unit_effects is not None:
        scores -= (sums @ fit.unit_effects)[:, :k]
    else:  # E U_D = E N^-1 (Z_u,D - C L_D); products with whole (contiguous) tables
        sums = sums @ sp.diags(1.0 / fit.unit_rows)
        scores -= (sums @ fit.unit_table)[:, :k] - (sums @ fit.cross) @ a_o
    return scores
