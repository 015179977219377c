"""The ATT(g,t) grid: which cells, which base period and controls, one kernel call per cell.

Follows R ``did::compute.att_gt``: varying base period = the previous period
for pre-treatment cells and g - 1 - anticipation for post-treatment cells;
universal base period = g - 1 - anticipation for every cell (that cell itself
is a reference cell with ATT 0). Not-yet-treated controls at (g, t) are units
with cohort 0 or cohort > max(t, base) + anticipation, other than g.
Influence functions are rescaled by n / n1 (n1 = observations in the cell)
and, for unbalanced panels, summed over the rows of each unit. Groups are
independent; those of unbalanced panels and repeated cross-sections run on up
to two threads (numpy releases the GIL), a balanced panel's on one (its control
pools are a few large matrix products). The cells of a group run in order, so
results do not depend on the thread count.
"""
from __future__ import annotations

import functools
import operator
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from evalkit.estimators._memory import zeros_f
from evalkit.estimators.staggered import _drdid, _panel_pool, _rcblocks, _rcstore
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
    inf: np.ndarray | _rcstore.RcInfluence  # n_units x n_cells (the first columns of ``buffer``; run-sparse for "rc")
    n_treated: np.ndarray
    n_control: np.ndarray
    dropped: tuple[dict, ...]  # cells that could not be estimated, with the reason
    buffer: np.ndarray | None  # n_units x (n_cells + extra), column-major: inf and ``extra`` free columns


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


def estimate(design: Design, *, method: str, control_group: str, base_period: str, anticipation: int,
             extra: int = 0) -> Grid:
    """Every cell's ATT and influence column. ``extra`` free columns follow the influence columns in
    ``Grid.buffer`` (the caller's unit columns: one array, no copy of the n x cells matrix)."""
    times = design.times
    groups = np.unique(design.unit_cohort[design.unit_cohort > 0])
    if not (design.unit_cohort == 0).any():  # the last cohort only serves as a control (R did)
        groups = groups[:-1]
    n = design.unit_ids.size
    spec = plan(times, groups, base_period, anticipation)
    sparse = design.mode == "rc"  # a row lies in one period: a cell's column is zero outside two periods
    inf = None if sparse else zeros_f((n, len(spec) + extra))  # one column per cell
    store = _rc_store(design, spec, control_group, anticipation) if sparse else None
    att = np.zeros(len(spec))
    n_t, n_c = np.zeros(len(spec), int), np.zeros(len(spec), int)

    errors: list = [None] * len(spec)
    moms = block_moments(design) if (method == "dr" and design.mode != "balanced") else None

    sizes = _cohort_sizes(design)

    def cells_of(g):
        """The group's cells in order: (j, ti, bi, thr), reference cells counted only (no n-length
        masks: at 10M rows of repeated cross-sections a group's masks by threshold took ~300 MB)."""
        for j in (j for j, cell in enumerate(spec) if cell[0] == g):
            _, ti, bi, ref = spec[j]
            thr = max(times[ti], times[bi]) + anticipation
            n_t[j], n_c[j] = _pool_sizes(sizes, g, control_group, thr)
            if not ref:
                yield j, ti, bi, thr

    def run_group(g):
        start = None  # the cells of one group run in order, each logit starting from the last one's fit
        for j, ti, bi, _ in cells_of(g):
            cell = (design, method if moms is None else moms, g, control_group, n_c[j] > 0, ti, bi, anticipation)
            try:
                if moms is None:
                    att[j], col, coef = _fit_cell_warm(_fit_cell, cell, start)
                    if sparse:
                        store.put(j, col)
                    else:
                        _write(inf[:, j], col)
                else:  # the block kernel hands its values to the column chunk by chunk
                    sink = store.sink(j) if sparse else _unit_sink(inf[:, j], design.row_unit)
                    att[j], coef = _fit_cell_warm(_fit_cell_blocks, cell, start, sink)
            except _drdid.CellError as err:
                errors[j] = str(err)
                continue
            start = coef if coef is not None else start

    def run_group_wide(g):
        """Balanced panels: the cells of a control pool share its units and nuisance fit, and are
        estimated together (:func:`_fit_pool`); pools run in order, each logit warm-started."""
        pools: dict = {}
        masks: dict = {}  # by threshold (a balanced panel's masks are over units, not rows)
        for j, ti, bi, thr in cells_of(g):
            if n_c[j] == 0:
                errors[j] = "no control units"
                continue
            key = thr if control_group == "notyet" else None
            if key not in masks:
                masks[key] = _pools(design.unit_cohort, g, control_group, thr)
            treated, control = masks[key]
            pools.setdefault(control.tobytes(), (treated, control, []))[2].append((j, ti, bi))
        start = None
        for treated, control, cells in pools.values():
            try:
                start = _fit_pool(design, method, treated, control, cells, start, att, inf)
            except _drdid.CellError as err:
                for j, _, _ in cells:
                    errors[j] = str(err)

    run = run_group_wide if design.mode == "balanced" else run_group
    # Balanced panels run on one thread: a group is a few large matrix products, and a second
    # thread only doubled the fresh memory each call page-faults (measured at 1M and 10M rows).
    parallel = design.n_rows >= 100_000 and design.mode != "balanced"
    workers = min(2, os.cpu_count() or 1, len(groups)) if parallel else 1
    if workers == 1:
        for g in groups:
            run(g)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, groups))
    keep, cells, dropped = [], [], []
    for j, ((g, ti, bi, ref), err) in enumerate(zip(spec, errors)):
        cell = Cell(int(g), int(times[ti]), int(times[bi]), bool(ref))
        if err is not None:
            dropped.append({"group": cell.group, "time": cell.time, "reason": err})
            continue
        keep.append(j)
        cells.append(cell)
    idx = np.asarray(keep, dtype=int)
    if sparse:
        return Grid(tuple(cells), att[idx], store.matrix(idx), n_t[idx], n_c[idx], tuple(dropped), None)
    if idx.size < len(spec):  # dropped cells: compact the columns (rare; a copy)
        inf = np.concatenate([inf[:, idx], inf[:, len(spec):]], axis=1, dtype=float).copy(order="F")
    return Grid(tuple(cells), att[idx], inf[:, :idx.size], n_t[idx], n_c[idx], tuple(dropped), inf)


def _write(col: np.ndarray, values) -> None:
    """Store a cell's influence column: an n-vector, or (rows, values) parts summed into the column."""
    if isinstance(values, np.ndarray):
        col[:] = values
        return
    for rows, v in values:  # rows are unique within a part (one row per unit and period)
        col[rows] += v


def _rc_store(design: Design, spec: list, control_group: str, anticipation: int) -> _rcstore.RcStore:
    """The sparse influence matrix of repeated cross-sections, sized by the rows each cell reads."""
    nnz = []
    for g, ti, bi, ref in spec:
        members = _members(g, control_group, max(design.times[ti], design.times[bi]) + anticipation)
        nnz.append(0 if ref else sum(b - a for k in (ti, bi) for ok in members for a, b in _spans(design, k, ok)[1]))
    return _rcstore.RcStore(nnz, design.unit_ids.size)


def _fit_cell_warm(fit, cell: tuple, start, *extra):
    """``fit(*cell, start, *extra)``; a failed warm start is retried from a cold one (a cell fails
    before it writes a value)."""
    try:
        return fit(*cell, start, *extra)
    except _drdid.CellError:
        if start is None:
            raise
        return fit(*cell, None, *extra)


def _unit_sink(col: np.ndarray, row_unit: np.ndarray):
    """Sink of an unbalanced panel's cell: values of rows s:e are added to their units' entries
    (a block has one row per unit; a unit's rows of the two periods add up)."""
    def sink(blocks):
        def emit(a, s, e, values):
            col[row_unit[s:e]] += values
        return emit
    return sink


#: pools of at most this many cells are estimated cell by cell (:func:`_drdid.panel`)
SMALL_POOL = 2
#: elements of a pool's n1 x m outcome-change matrix estimated at once: temporaries of ~1 MB are
#: reused by the allocator, larger ones are page-faulted afresh (costly on virtual machines)
POOL_CHUNK = 150_000


def _fit_pool(design: Design, method: str, treated, control, cells: list, start, att, inf):
    """The cells of a balanced panel that share their treated and control units (every period of a
    cohort with never-treated controls): one nuisance fit (propensity score from ``start``, the
    outcome-regression Gram), then every cell's ATT and influence column from one n1 x m matrix of
    outcome changes (:mod:`._panel_pool`, equal to :func:`_drdid.panel` cell by cell). Returns the logit's
    coefficients (the next pool's start)."""
    rows = np.flatnonzero(treated | control)
    d, x, w = treated[rows].astype(float), _rows_f(design.x_unit, rows), design.unit_weight[rows]
    try:
        nu = _drdid.panel_nuisance(method, d, x, w, start)
    except _drdid.CellError:
        if start is None:
            raise
        nu = _drdid.panel_nuisance(method, d, x, w, None)  # a failed warm start: once more from zero
    scale = design.unit_ids.size / rows.size
    if len(cells) <= SMALL_POOL:  # the pool's matrices would cost more than they save
        for j, ti, bi in cells:
            yw = design.y_wide
            fit = _drdid.panel(method, yw[:, ti].take(rows) - yw[:, bi].take(rows), d, x, w, nu)
            att[j] = fit.att
            inf[:, j][rows] = fit.inf * scale
        return nu.ps_coef if nu.ps_coef is not None else start
    pm = _panel_pool.pool_map(method, d, x, nu)
    y, base = design.y_wide, np.empty(rows.size)
    step = max(1, POOL_CHUNK // max(rows.size, 1))
    for k in range(0, len(cells), step):
        part = cells[k:k + step]
        dy = np.empty((rows.size, len(part)), order="F")
        for c, (_, ti, bi) in enumerate(part):  # y_t - y_base also when the universal base lies after t (as R)
            np.take(y[:, ti], rows, out=dy[:, c])
            dy[:, c] -= np.take(y[:, bi], rows, out=base)
        a, cols = _panel_pool.pool_columns(pm, dy)
        cols *= scale
        for c, (j, _, _) in enumerate(part):
            att[j] = a[c]
            inf[:, j][rows] = cols[:, c]
    return nu.ps_coef if nu.ps_coef is not None else start


def _rows_f(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` column-major: products with a row vector of weights (``x * w[:, None]``, the
    Hessians) run about three times faster on columns than on rows of three."""
    out = np.empty((rows.size, x.shape[1]), order="F")
    for j in range(x.shape[1]):
        np.take(x[:, j], rows, out=out[:, j])
    return out


def block_moments(design: Design) -> dict:
    """x'Wx and x'Wy of every (period, cohort) block, shared by the cells (the outcome regressions)."""
    b = design.block_bounds
    out = {}
    for k in range(b.shape[0]):
        for c in range(b.shape[1] - 1):
            sl = slice(b[k, c], b[k, c + 1])
            out[k, c] = _rcblocks.moments(design.row_x[sl], design.row_y[sl], design.row_w[sl])
    return out


def _members(g, control_group: str, thr: float):
    """Cohort tests of the treated (cohort g) and the controls (never, or not yet treated by thr); as _pools."""
    def is_control(value):
        return value == 0 or (control_group == "notyet" and value > thr and value != g)
    return (lambda value: value == g), is_control


def _spans(design: Design, k: int, cohort_ok) -> tuple[list[int], list[list[int]]]:
    """Cohorts of period k that pass cohort_ok and their rows as ascending [start, stop) spans (adjacent merged)."""
    b = design.block_bounds[k]
    cs = [c for c, value in enumerate(design.cohorts) if cohort_ok(value) and b[c] < b[c + 1]]
    spans: list[list[int]] = []
    for c in cs:
        if spans and spans[-1][1] == b[c]:
            spans[-1][1] = int(b[c + 1])
        else:
            spans.append([int(b[c]), int(b[c + 1])])
    return cs, spans


def _block(design: Design, moms: dict, k: int, cohort_ok) -> _rcblocks.Block | None:
    """The rows of period k whose cohort passes cohort_ok, as one block of spans (no copy of rows)."""
    cs, spans = _spans(design, k, cohort_ok)
    if not cs:
        return None
    mom = functools.reduce(operator.add, [moms[k, c] for c in cs])
    return _rcblocks.Block(tuple((a, z) for a, z in spans), mom)


def _fit_cell_blocks(design: Design, moms, g, control_group, has_control, ti, bi, anticipation, start, sink):
    """Doubly robust cell of an unbalanced panel / repeated cross-sections from the period-sorted
    blocks; the influence values go to ``sink(blocks)`` (an emit function, :mod:`._rcblocks`)."""
    if not has_control:
        raise _drdid.CellError("no control units")
    is_treated, is_control = _members(g, control_group, max(design.times[ti], design.times[bi]) + anticipation)
    blocks = []
    for k in (ti, bi):
        blocks += [_block(design, moms, k, is_treated), _block(design, moms, k, is_control)]
    for block, what in [(0, "treated units in the current period"), (2, "treated units in the base period"),
                        (1, "control units in the current period"), (3, "control units in the base period")]:
        if blocks[block] is None:
            raise _drdid.CellError(f"no {what}")
    fac = design.unit_ids.size / sum(b.size for b in blocks)
    rows = _rcblocks.Rows(design.row_y, design.row_x, design.row_w)
    return _rcblocks.dr(rows, *blocks, sink(blocks), fac, start)


def _cohort_sizes(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cohorts of the influence rows and how many rows each has (repeated cross-sections:
    from the (period, cohort) blocks, no pass over the rows)."""
    if design.mode == "rc":
        return np.asarray(design.cohorts, dtype=float), np.diff(design.block_bounds, axis=1).sum(axis=0)
    return np.unique(design.unit_cohort, return_counts=True)


def _pool_sizes(sizes, g, control_group: str, thr: float) -> tuple[int, int]:
    """Treated and control counts of :func:`_pools`' masks, from the cohort sizes."""
    values, counts = sizes
    control = values == 0
    if control_group == "notyet":
        control |= (values > thr) & (values != g)
    return int(counts[values == g].sum()), int(counts[control].sum())


def _pools(cohort: np.ndarray, g: int, control_group: str, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Treated (cohort g) and control (never, or not yet treated by ``thr``) masks."""
    treated = cohort == g
    if control_group == "never":
        return treated, cohort == 0
    return treated, (cohort == 0) | ((cohort > thr) & ~treated)


def _fit_cell(design: Design, method, g, control_group, has_control, ti, bi, anticipation, start):
    n = design.unit_ids.size
    if not has_control:
        raise _drdid.CellError("no control units")
    is_treated, is_control = _members(g, control_group, max(design.times[ti], design.times[bi]) + anticipation)
    idx = []  # blocks (post, treated), (post, control), (base, treated), (base, control)
    for k in (ti, bi):
        for ok in (is_treated, is_control):
            idx.append(np.concatenate([np.arange(a, z) for a, z in _spans(design, k, ok)[1]] or [np.arange(0)]))
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
    if design.mode == "rc":  # row k is influence row k: the values as they are
        return fit.att, [(idx, fit.inf * (n / d.size))], fit.ps_coef
    return fit.att, np.bincount(take(design.row_unit), weights=fit.inf * (n / d.size), minlength=n), fit.ps_coef
