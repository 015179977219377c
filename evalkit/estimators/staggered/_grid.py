"""The ATT(g,t) grid: which cells, which base period and controls, one kernel call per cell.

Follows R ``did::compute.att_gt``: varying base period = the previous period
for pre-treatment cells and g - 1 - anticipation for post-treatment cells;
universal base period = g - 1 - anticipation for every cell (that cell itself
is a reference cell with ATT 0). Not-yet-treated controls at (g, t) are units
with cohort 0 or cohort > max(t, base) + anticipation, other than g.
Influence functions are rescaled by n / n1 (n1 = observations in the cell)
and, for unbalanced panels, summed over the rows of each unit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.estimators.staggered import _drdid
from evalkit.estimators.staggered._prep import Design


@dataclass(frozen=True, slots=True)
class Cell:
    group: int
    time: int
    base: int
    reference: bool


@dataclass(frozen=True, slots=True)
class Grid:
    cells: tuple[Cell, ...]
    att: np.ndarray
    inf: np.ndarray          # n_units x n_cells
    n_treated: np.ndarray
    n_control: np.ndarray
    dropped: tuple[dict, ...]  # cells that could not be estimated, with the reason


def plan(times: np.ndarray, groups: np.ndarray, base_period: str, anticipation: int) -> list[tuple[int, int, int, bool]]:
    """(group, current period idx, base period idx, reference) for every cell, in R's order."""
    out = []
    for g in groups:
        pre = np.nonzero(times + anticipation < g)[0]
        pret_g = int(pre[-1])
        for ti in range(1 if base_period == "varying" else 0, times.size):
            base = ti - 1 if base_period == "varying" else pret_g
            if g <= times[ti]:
                base = pret_g
            out.append((g, ti, base, base == ti))
    return out


def estimate(design: Design, *, method: str, control_group: str, base_period: str, anticipation: int) -> Grid:
    times = design.times
    groups = np.unique(design.unit_cohort[design.unit_cohort > 0])
    if not (design.unit_cohort == 0).any():  # the last cohort only serves as a control (R did)
        groups = groups[:-1]
    n = design.unit_ids.size
    spec = plan(times, groups, base_period, anticipation)
    inf = np.zeros((n, len(spec)))
    att = np.zeros(len(spec))
    n_t, n_c = np.zeros(len(spec), int), np.zeros(len(spec), int)
    keep, cells, dropped = [], [], []
    for j, (g, ti, bi, ref) in enumerate(spec):
        cell = Cell(int(g), int(times[ti]), int(times[bi]), bool(ref))
        treated = design.unit_cohort == g
        if control_group == "never":
            control = design.unit_cohort == 0
        else:
            thr = max(times[ti], times[bi]) + anticipation
            control = (design.unit_cohort == 0) | ((design.unit_cohort > thr) & ~treated)
        n_t[j], n_c[j] = int(treated.sum()), int(control.sum())
        if not ref:
            try:
                fit_att, fit_inf = _fit_cell(design, method, treated, control, ti, bi)
            except _drdid.CellError as err:
                dropped.append({"group": cell.group, "time": cell.time, "reason": str(err)})
                continue
            att[j] = fit_att
            inf[:, j] = fit_inf
        keep.append(j)
        cells.append(cell)
    idx = np.asarray(keep, dtype=int)
    return Grid(tuple(cells), att[idx], inf[:, idx], n_t[idx], n_c[idx], tuple(dropped))


def _fit_cell(design: Design, method, treated, control, ti, bi):
    n = design.unit_ids.size
    if not control.any():
        raise _drdid.CellError("no control units")
    if design.mode == "balanced":
        use = treated | control
        n1 = int(use.sum())
        dy = design.y_wide[use, ti] - design.y_wide[use, bi]
        # dy = y_t - y_base also when the universal base lies after t (R swaps .y0/.y1 likewise)
        fit = _drdid.panel(method, dy, treated[use].astype(float), design.x_unit[use], design.unit_weight[use])
        out = np.zeros(n)
        out[use] = fit.inf * (n / n1)
        return fit.att, out
    rows = np.concatenate([design.rows_by_time[ti], design.rows_by_time[bi]])
    units = design.row_unit[rows]
    rows = rows[(treated | control)[units]]
    units = design.row_unit[rows]
    d = treated[units].astype(float)
    post = (design.row_time[rows] == ti).astype(float)
    for mask, what in [(d * post, "treated units in the current period"), (d * (1 - post), "treated units in the base period"),
                       ((1 - d) * post, "control units in the current period"), ((1 - d) * (1 - post), "control units in the base period")]:
        if not mask.any():
            raise _drdid.CellError(f"no {what}")
    fit = _drdid.rc(method, design.row_y[rows], post, d, design.row_x[rows], design.row_w[rows])
    n1 = rows.size
    out = np.bincount(units, weights=fit.inf * (n / n1), minlength=n)
    return fit.att, out
