"""Exact weighted two-way fixed-effects projection: the one solver of the wild bootstraps.

Residuals of the columns of z (n x m, many at once: [y, X] or a chunk of bootstrap draws) on unit
and second-factor effects, from the weighted normal equations with the unit block eliminated
(Frisch-Waugh-Lovell partialling as in Roodman, MacKinnon, Nielsen & Webb 2019, "Fast and wild:
Bootstrap inference in Stata using boottest", Stata Journal 19(1), 4-60, sec. 3 for the weights,
sec. 3.6 for the restricted Wald bootstrap that projects its draws here). With C the dense
(units x levels) cross-tab of summed weights, D_u its row sums and S = D_o - C' D_u^-1 C:

    a_o = S^- (r_o - C' D_u^-1 r_u),    a_u = D_u^-1 (r_u - C a_o),    z~ = z - a_u[unit] - a_o[other],

the same equations as :func:`evalkit.core.demean.twoway_solve`. S^- fixes one level at zero in
each connected component of the unit/level graph (Abowd, Creecy & Kramarz 2002, "Computing person
and firm effects using linked longitudinal employer-employee data", U.S. Census Bureau TP-2002-06:
the effects are identified within a connected set only), e.g. area x subgroup and year x subgroup
effects, one component per subgroup. ``split=False`` asks for one component (level 0 fixed) and
raises ValidationError otherwise, so that a caller can fall back to another solver.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from evalkit.core.blas import one_thread
from evalkit.core.linalg import inv
from evalkit.errors import ValidationError


@dataclass(frozen=True, slots=True)
class TwoWay:
    """Unit and second-factor codes with the dense cross-tab C (unit x level summed weights), the unit
    sizes D_u and S = D_o - C' D_u^-1 C, the second factor's dummies' cross products after the unit
    effects (the Schur complement of the two-way normal equations; Roodman et al. 2019, sec. 3)."""

    unit: np.ndarray
    other: np.ndarray
    cross: np.ndarray
    d_u: np.ndarray
    schur: np.ndarray
    weights: np.ndarray | None = None


def _per_unit(a: np.ndarray, d_u: np.ndarray) -> np.ndarray:
    """D_u^-1 a, with zero rows for units of zero weight (they hold no equation)."""
    d = d_u.reshape((-1,) + (1,) * (a.ndim - 1))
    if (d_u > 0).all():
        return a / d
    return np.divide(a, d, out=np.zeros(a.shape), where=d > 0)


def tabulate(unit: np.ndarray, other: np.ndarray, weights: np.ndarray | None = None) -> TwoWay:
    """The :class:`TwoWay` of the codes (0..n_u-1, 0..n_o-1), weighted by ``weights`` if given
    (the weighted normal equations of Roodman et al. 2019, sec. 3)."""
    n_u, n_o = int(unit.max()) + 1, int(other.max()) + 1
    cross = np.bincount(unit * n_o + other, weights=weights, minlength=n_u * n_o).astype(float).reshape(n_u, n_o)
    d_u = cross.sum(axis=1)
    return TwoWay(unit, other, cross, d_u, np.diag(cross.sum(axis=0)) - _per_unit(cross, d_u).T @ cross, weights)


@dataclass(frozen=True, slots=True)
class Projection:
    """The residual maker of a :class:`TwoWay` (module docstring; Roodman et al. 2019, sec. 3.6)."""

    tw: TwoWay
    to_unit: sp.csc_matrix    # n_u x n, the weights of each unit's rows
    to_other: sp.csc_matrix   # n_o x n
    ginv: np.ndarray          # S^-, one level per component fixed at zero

    def residuals(self, z: np.ndarray, order: str = "C") -> np.ndarray:
        """Residuals of the columns of z (n x m) on the two factors' effects, exactly; ``order``: the
        result's memory layout ("F" for a few long columns read one by one, "C" for many draws)."""
        tw = self.tw
        rhs_u, rhs_o = self.to_unit @ z, self.to_other @ z
        with one_thread():  # thin products (levels x units x columns): BLAS threads only spin (core.blas)
            a_o = self.ginv @ (rhs_o - tw.cross.T @ _per_unit(rhs_u, tw.d_u))
            a_u = _per_unit(rhs_u - tw.cross @ a_o, tw.d_u)
        if order == "F":  # the same on the transposes: row-major m x n is column-major n x m
            return _minus_effects(z.T, a_u.T, a_o.T, tw, axis=1).T
        return _minus_effects(z, a_u, a_o, tw, axis=0)


def _minus_effects(z: np.ndarray, a_u: np.ndarray, a_o: np.ndarray, tw: TwoWay, axis: int) -> np.ndarray:
    """(z - a_u[unit]) - a_o[other] along ``axis`` (the rows of the data), in one new array."""
    out = np.take(a_u, tw.unit, axis=axis)
    np.subtract(z, out, out=out)
    out -= np.take(a_o, tw.other, axis=axis)
    return out


def _fixed_levels(tw: TwoWay, split: bool) -> np.ndarray:
    """The levels fixed at zero: the first of each connected component of the unit/level graph
    (``split``; Abowd, Creecy & Kramarz 2002), else level 0 with ValidationError for a unit of zero
    weight (a component of its own; a disconnected S is caught by the rank test of ``inv``)."""
    if not split:
        if not (tw.d_u > 0).all():
            raise ValidationError("The fixed effects are not connected.")
        return np.zeros(1, dtype=np.intp)
    n_u, n_o = tw.cross.shape
    iu, io = np.nonzero(tw.cross > 0)  # edges unit -> n_u + level of the bipartite graph
    graph = sp.csr_matrix((np.ones(iu.size), (iu, n_u + io)), shape=(n_u + n_o, n_u + n_o))
    return np.unique(connected_components(graph, directed=False)[1][n_u:], return_index=True)[1]


def projection(tw: TwoWay, split: bool = True) -> Projection:
    """The :class:`Projection` of ``tw``; ValidationError if S is singular with the fixed levels
    (:func:`evalkit.core.linalg.inv`) or, with ``split=False``, if the design is not connected."""
    n_u, n_o = tw.cross.shape
    keep = np.ones(n_o, bool)
    keep[_fixed_levels(tw, split)] = False
    ginv = np.zeros((n_o, n_o))
    ginv[np.ix_(keep, keep)] = inv(tw.schur[np.ix_(keep, keep)])
    n = tw.unit.size
    sw, ptr = (np.ones(n) if tw.weights is None else tw.weights), np.arange(n + 1)
    # one entry per row, in row order: the sums run over the rows as np.bincount's do, nothing sorted
    return Projection(tw, sp.csc_matrix((sw, tw.unit, ptr), shape=(n_u, n)),
                      sp.csc_matrix((sw, tw.other, ptr), shape=(n_o, n)), ginv)
