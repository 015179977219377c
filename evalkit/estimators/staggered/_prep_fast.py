"""Fast layout of a clean unbalanced panel for Callaway & Sant'Anna (2021): frame -> Design.

The common case - integer unit, period, cohort and cluster codes, numeric outcome,
covariates and weights without missing values, no cohort to recode, no key to
fix - is checked and laid out with O(n) numpy passes on the frame's columns (no
copy of the frame, no sort of the units: integer codes are remapped densely,
which gives numpy.unique's sorted order). Anything else (a check that fails,
a warning to give, strings, a balanced panel) returns None and the general
path of :mod:`._prep` runs, with its warnings and error messages. Both paths
produce the same Design (tests/test_cs_frozen.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core.checks import MAX_ABS
from evalkit.estimators.staggered._prep import Design, block_order, covariate_mean

_INT, _NUM = "iu", "iuf"
CHUNK = 1 << 20


def prepare(data, *, outcome, unit, time, cohort, covariates, cluster, weights, panel, anticipation,
            control_group) -> tuple[Design, dict] | None:
    """The Design and diagnostics of a clean unbalanced panel, or None for the general path."""
    cols = _columns(data, outcome, unit, time, cohort, covariates, cluster, weights, panel)
    if cols is None:
        return None
    y, u, t, g, w = cols["outcome"], cols["unit"], cols["time"], cols["cohort"], cols["weights"]
    covs = [cols[c] for c in covariates]
    floats = [a for a in [y, *covs] + ([w] if w is not None else []) if a.dtype.kind == "f"]
    if any(np.isnan(a).any() or not _bounded(a) for a in floats):
        return None  # the general path drops (missing) or refuses (inf, astronomically large) with a message
    if y.size == 0 or np.ptp(y) <= 1e-13 * np.abs(y).max():
        return None  # empty or constant outcome: refused by the general path
    if w is not None and (not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0):
        return None
    times, t_idx = _dense(t, np.int16)
    if times is None or times.size < 2 or _recode_needed(g, times, anticipation):
        return None
    unit_ids, u_idx = _dense(u, np.intp)
    if unit_ids is None:
        unit_ids, u_idx = np.unique(u, return_inverse=True)
    n, n_times = unit_ids.size, times.size
    if y.size == n * n_times or n * n_times > 20 * y.size + 10**7:
        return None  # balanced (the wide layout of the general path) or too sparse for the key check
    rep = _representative_rows(u_idx, n)
    if not _unique_keys(u_idx, t_idx, n_times) or not all(
            _constant_within(a, u_idx, rep) for a in [g, *covs, w, cols["cluster"]] if a is not None):
        return None
    cohorts, c_idx = _dense(g, np.int16)
    order, bounds, blocks = block_order(t_idx, c_idx, n_times, cohorts.size)
    x = _sorted_design(covs, order)
    if _collinear(x):
        return None
    cl_codes = cl_labels = None
    if cluster is not None:
        cl_labels, cl_codes = np.unique(cols["cluster"][rep], return_inverse=True)  # = labels of the rows
        if cl_labels.size < 2:
            return None  # one cluster: refused by the general path
    w_row = None if w is None else np.asarray(w, dtype=float)
    design = Design("unbalanced", unit_ids, g[rep].astype(float), _unit_weights(w_row, u_idx, n), cl_codes,
                    cl_labels, times, None, None, u_idx[order], None, np.asarray(y, dtype=float)[order], x,
                    np.broadcast_to(1.0, y.size) if w_row is None else w_row[order], bounds, y.size,
                    cohorts.astype(float), blocks)
    return design, {"n_dropped_missing": 0}


def _bounded(a: np.ndarray) -> bool:
    """No inf and nothing astronomically large (the general path names such values)."""
    return bool(np.all(np.abs(a) <= MAX_ABS))


def _recode_needed(g, times, anticipation) -> bool:
    """Cohorts the general path recodes or drops with a warning (late, always treated), or errors."""
    if g.min() < 0 or g.max() > times[-1] + anticipation:
        return True
    return bool(((g > 0) & (g <= times[0] + anticipation)).any()) or not (g == 0).any() or not (g > 0).any()


def _chunks(n: int):
    """Row ranges of CHUNK rows: temporaries stay below glibc's mmap threshold and are reused
    instead of being page-faulted afresh (expensive on some virtual machines)."""
    return [(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)]


def _representative_rows(u_idx, n_units):
    """One row of every unit (any one: the columns checked constant within unit agree on all)."""
    rep = np.empty(n_units, dtype=np.intp)
    for a, b in _chunks(u_idx.size):
        rep[u_idx[a:b]] = np.arange(a, b)
    return rep


def _constant_within(values, u_idx, rep) -> bool:
    unit_values = values[rep]
    return all(np.array_equal(values[a:b], unit_values[u_idx[a:b]]) for a, b in _chunks(values.size))


def _unique_keys(u_idx, t_idx, n_times) -> bool:
    seen = np.zeros(int(u_idx.max() + 1) * n_times, dtype=bool)
    for a, b in _chunks(u_idx.size):
        seen[u_idx[a:b] * n_times + t_idx[a:b]] = True
    return int(np.count_nonzero(seen)) == u_idx.size


def _sorted_design(covs, order) -> np.ndarray:
    """Intercept and covariates in the sorted row order: n x k, column-major (no row-length temporaries).

    The covariates are centred on their means as in the general path (``_prep._centred``: an
    income in kroner is otherwise nearly collinear with the intercept)."""
    xt = np.empty((1 + len(covs), order.size))
    xt[0] = 1.0
    for j, c in enumerate(covs, start=1):
        np.take(np.asarray(c, dtype=float), order, out=xt[j])
        xt[j] -= covariate_mean(c)
    return xt.T


def _dense(values: np.ndarray, dtype):
    """Sorted distinct values and their codes (as ``dtype``) of non-negative integers of small range
    (a bincount table: numpy.unique's result without a sort), or (None, None)."""
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 4 * values.size + 10_000:
        return None, None
    present = np.zeros(hi + 1, dtype=bool)
    for a, b in _chunks(values.size):
        present[values[a:b]] = True
    if present.sum() > np.iinfo(dtype).max:
        return None, None
    table = (np.cumsum(present) - 1).astype(dtype)
    return np.flatnonzero(present).astype(values.dtype), table[values]


def _columns(data, outcome, unit, time, cohort, covariates, cluster, weights, panel) -> dict | None:
    """The needed columns as numpy arrays (views where pandas allows), or None if not the fast case."""
    if not panel or unit is None or not isinstance(data, pd.DataFrame) or not data.columns.is_unique:
        return None
    spec = {"outcome": (outcome, _NUM), "unit": (unit, _INT), "time": (time, _INT), "cohort": (cohort, _INT),
            "cluster": (cluster, _INT), "weights": (weights, _NUM), **{c: (c, _NUM) for c in covariates}}
    out = {}
    for key, (col, kinds) in spec.items():
        if col is None:
            out[key] = None
            continue
        if col not in data.columns or data[col].dtype.kind not in kinds or not isinstance(data[col].dtype, np.dtype):
            return None
        out[key] = data[col].to_numpy()
    return out


def _collinear(x: np.ndarray) -> bool:
    """_prep._check_covariates' test (scaled x'x / n of the centred design, smallest singular value <= 1e-10 x largest)."""
    if x.shape[1] == 1:
        return False
    xtx = x.T @ x / x.shape[0]
    scale = np.sqrt(np.maximum(np.diag(xtx), 1e-300))
    sv = np.linalg.svd(xtx / np.outer(scale, scale), compute_uv=False)
    return bool(sv[-1] <= 1e-10 * sv[0])


def _unit_weights(w_row, u_idx, n):
    if w_row is None:
        return np.ones(n)
    unit_w = np.bincount(u_idx, weights=w_row, minlength=n) / np.bincount(u_idx, minlength=n)
    return unit_w / unit_w.mean()
