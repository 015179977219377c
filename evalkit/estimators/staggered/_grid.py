"""The ATT(g,t) grid: which cells, which base period and controls, one kernel call per cell.

Follows R ``did::compute.att_gt``: varying base period = the previous period
for pre-treatment cells and g - 1 - anticipation for post-treatment cells;
universal base period = g - 1 - anticipation for every cell (that cell itself
is a reference cell with ATT 0). Not-yet-treated controls at (g, t) are units
with cohort 0 or cohort > max(t, base) + anticipation, other than g.
Influence functions are rescaled by n / n1 (n1 = observations in the cell)
and, for unbalanced panels, summed over the rows of each unit. Groups are
independent and run on up to two threads (numpy releases the GIL); the cells
of a group run in order, so results do not depend on the thread count.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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
    inf = np.zeros((n, len(spec)), order="F")  # one column per cell
    att = np.zeros(len(spec))
    n_t, n_c = np.zeros(len(spec), int), np.zeros(len(spec), int)

    errors: list = [None] * len(spec)

    def run_group(g):
        start = None  # the cells of one group run in order, each logit starting from the last one's fit
        for j in (j for j, cell in enumerate(spec) if cell[0] == g):
            _, ti, bi, ref = spec[j]
            treated, control = _pools(design.unit_cohort, g, control_group, max(times[ti], times[bi]) + anticipation)
            n_t[j], n_c[j] = int(treated.sum()), int(control.sum())
            if ref:
                continue
            cell = (design, method, g, control_group, treated, control, ti, bi, anticipation)
            try:
                att[j], inf[:, j], coef = _fit_cell_warm(cell, start)
            except _drdid.CellError as err:
                errors[j] = str(err)
                continue
            start = coef if coef is not None else start

    workers = min(2, os.cpu_count() or 1, len(groups)) if design.n_rows >= 100_000 else 1
    if workers == 1:
        for g in groups:
            run_group(g)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run_group, groups))
    keep, cells, dropped = [], [], []
    for j, ((g, ti, bi, ref), err) in enumerate(zip(spec, errors)):
        cell = Cell(int(g), int(times[ti]), int(times[bi]), bool(ref))
        if err is not None:
            dropped.append({"group": cell.group, "time": cell.time, "reason": err})
            continue
        keep.append(j)
        cells.append(cell)
    idx = np.asarray(keep, dtype=int)
    return Grid(tuple(cells), att[idx], inf[:, idx], n_t[idx], n_c[idx], tuple(dropped))


def _fit_cell_warm(cell: tuple, start):
    """_fit_cell from the warm start; a failed warm start is retried from a cold one."""
    try:
        return _fit_cell(*cell, start)
    except _drdid.CellError:
        if start is None:
            raise
        return _fit_cell(*cell, None)


def _pools(cohort: np.ndarray, g: int, control_group: str, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Treated (cohort g) and control (never, or not yet treated by ``thr``) masks."""
    treated = cohort == g
    if control_group == "never":
        return treated, cohort == 0
    return treated, (cohort == 0) | ((cohort > thr) & ~treated)


def _fit_cell(design: Design, method, g, control_group, treated, control, ti, bi, anticipation, start):
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
        return fit.att, out, None
    thr = max(design.times[ti], design.times[bi]) + anticipation
    parts = []
    for k in (ti, bi):
        sl = slice(design.period_bounds[k], design.period_bounds[k + 1])
        d_k, c_k = _pools(design.row_cohort[sl], g, control_group, thr)
        parts += [(sl, d_k), (sl, c_k)]  # blocks (post, treated), (post, control), (base, treated), (base, control)
    idx = [np.flatnonzero(keep) + sl.start for sl, keep in parts]
    sizes = [i.size for i in idx]
    for block, what in [(0, "treated units in the current period"), (2, "treated units in the base period"),
                        (1, "control units in the current period"), (3, "control units in the base period")]:
        if sizes[block] == 0:
            raise _drdid.CellError(f"no {what}")
    idx = np.concatenate(idx)

    def take(arr):
        return arr.take(idx, axis=0)
    d = np.repeat([1.0, 0.0, 1.0, 0.0], sizes)
    post = np.repeat([1.0, 1.0, 0.0, 0.0], sizes)
    fit = _drdid.rc(method, take(design.row_y), post, d, take(design.row_x), take(design.row_w), start)
    return fit.att, np.bincount(take(design.row_unit), weights=fit.inf * (n / d.size), minlength=n), fit.ps_coef
