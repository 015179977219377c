"""Fast layout of clean data for Callaway & Sant'Anna (2021): frame -> Design.

The common case - balanced or unbalanced panels and repeated cross-sections with
integer periods and cohorts, integer, text or categorical unit and cluster ids,
numeric outcome, covariates and weights without missing values, no cohort to
recode, no key to fix - is checked and laid out with O(n) numpy passes on the
frame's columns (no copy of the frame, no sort of the rows: ids are coded by a
bincount table or a hash, and only the distinct labels are sorted, which gives
numpy.unique's order; :mod:`._codes`). Anything else (a check that fails, a
warning to give, float periods) returns None and the general path of
:mod:`._prep` runs, with its warnings and error messages. Both paths produce the
same Design (tests/test_cs_fast_paths.py).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.core.checks import MAX_ABS
from evalkit.errors import stack_level, EvalkitWarning
from evalkit.estimators.staggered._codes import chunks, codes, dense
from evalkit.estimators.staggered._prep import Design, block_order, covariate_mean

_INT, _NUM = "iu", "iuf"


def prepare(data, *, outcome, unit, time, cohort, covariates, cluster, weights, panel, anticipation,
            control_group) -> tuple[Design, dict] | None:
    """The Design and diagnostics of a clean panel (balanced or not) or repeated cross-sections,
    or None for the general path."""
    spec = dict(outcome=outcome, unit=unit, time=time, cohort=cohort, covariates=covariates, cluster=cluster,
                weights=weights, panel=panel, anticipation=anticipation, control_group=control_group)
    cols = _columns(data, outcome, unit, time, cohort, covariates, cluster, weights, panel)
    if cols is None:
        return None
    if not _clean_values(cols, covariates):
        return _without_missing(data, cols, spec)
    y, t, g = cols["outcome"], cols["time"], cols["cohort"]
    times, t_idx = dense(t, np.int16)
    if times is None or times.size < 2:
        return None
    if _recode_needed(g, times, anticipation):
        return _recoded(data, cols, times, spec)
    if panel:
        unit_ids, u_idx = cols["unit"]
        if unit_ids is None or unit_ids.size * times.size > 20 * y.size + 10**7:
            return None  # too sparse for the key check
        rep = _representative_rows(u_idx, unit_ids.size)
        if not _unique_keys(u_idx, t_idx, times.size) or not all(
                _constant_within(a, u_idx, rep) for a in _unit_level(cols, covariates)):
            return None
    else:
        unit_ids = u_idx = rep = None
    cl = _clusters(cols["cluster"], rep)
    if cl is False:
        return None
    if panel and y.size == unit_ids.size * times.size:
        design = _balanced(cols, covariates, unit_ids, u_idx, t_idx, rep, times, cl)
    else:
        design = _long(cols, covariates, unit_ids, u_idx, t_idx, rep, times, cl)
    return (design, {"n_dropped_missing": 0}) if design is not None else None


def _without_missing(data, cols, spec) -> tuple[Design, dict] | None:
    """Rows with a missing outcome or covariate dropped as the general path drops them
    (:func:`evalkit.core.checks.drop_missing`: same warning, ``n_dropped_missing``), then the fast
    layout of the rest; the warnings of that layout (recoded cohorts) follow, as there. None (the
    general path) when anything else is unclean or nothing is missing."""
    names = [spec["outcome"], *spec["covariates"]]
    missing = np.zeros(len(data), dtype=bool)
    for name in names:
        if cols[_key(name, spec)].dtype.kind == "f":
            missing |= np.isnan(cols[_key(name, spec)])
    n = int(missing.sum())
    if n == 0 or n == missing.size:
        return None
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        out = prepare(_needed(data, spec).loc[~missing], **spec)
    if out is None:
        return None
    warnings.warn(f"Dropped {n} of {len(data)} rows with missing {spec['outcome']!r}"
                  + (f" or covariates {list(spec['covariates'])}" if spec["covariates"] else "") + ".",
                  EvalkitWarning, stacklevel=stack_level())
    for w in later:  # the layout's own warnings, from the frame they come from there (att_gt's caller)
        warnings.warn(w.message, w.category, stacklevel=stack_level())
    return out[0], {**out[1], "n_dropped_missing": n}


def _key(name: str, spec: dict) -> str:
    """The key of column ``name`` in :func:`_columns`' dict (the outcome's, or a covariate's own name)."""
    return "outcome" if name == spec["outcome"] else name


def _needed(data, spec) -> pd.DataFrame:
    """The columns the layout reads, as a frame sharing the data's arrays (no copy)."""
    names = [spec["outcome"], spec["unit"], spec["time"], spec["cohort"], spec["cluster"], spec["weights"],
             *spec["covariates"]]
    return pd.DataFrame({c: data[c] for c in dict.fromkeys(n for n in names if n is not None)}, copy=False)


def _recoded(data, cols, times, spec) -> tuple[Design, dict] | None:
    """R did's conventions as the general path applies them (:func:`._prep._recode_cohorts`, same
    warnings and diagnostics): cohorts after the last period (+ anticipation) are never treated,
    units treated in the first period (+ anticipation) are dropped; then the fast layout of the
    recoded rows. None (the general path) for the rest: a negative cohort, no never-treated or no
    treated units left, a cohort that varies within unit (checked before recoding, as there)."""
    g, a, panel = cols["cohort"], spec["anticipation"], spec["panel"]
    if g.min() < 0:
        return None
    late = g > times[-1] + a
    recoded = np.where(late, 0, g)
    early = (recoded > 0) & (recoded <= times[0] + a)
    kept = recoded[~early]
    if not (kept == 0).any() or not (kept > 0).any():
        return None
    u_idx = None
    if panel:
        unit_ids, u_idx = cols["unit"]
        if unit_ids is None or not _constant_within(g, u_idx, _representative_rows(u_idx, unit_ids.size)):
            return None
    frame = _needed(data, spec)
    frame[spec["cohort"]] = recoded
    if early.any():
        frame = frame.loc[~early]
    out = prepare(frame, **spec)
    if out is None:
        return None
    shown = times.astype(float) if data[spec["time"]].dtype.kind == "f" else times

    def units(mask):
        return int(np.unique(u_idx[mask]).size) if panel else int(mask.sum())
    if late.any():
        warnings.warn(f"{units(late)} unit(s) first treated after the last period ({shown[-1]}) are treated as "
                      "never treated.", EvalkitWarning, stacklevel=stack_level())
    diag = dict(out[1])
    if early.any():
        k = units(early)
        warnings.warn(f"Dropped {k} unit(s) ({int(early.sum())} rows) already treated in the first period "
                      f"{shown[0]}: they have no pre-treatment period.", EvalkitWarning, stacklevel=stack_level())
        diag["n_dropped_always_treated"] = k
    return out[0], diag


def _clean_values(cols, covariates) -> bool:
    """No missing, infinite or astronomically large value, a varying outcome and valid weights:
    anything else is dropped, refused or explained by the general path."""
    y, w = cols["outcome"], cols["weights"]
    ranges = [_range(a) for a in [y, *(cols[c] for c in covariates)] + ([w] if w is not None else [])]
    if any(r is None for r in ranges):
        return False
    lo, hi = ranges[0]
    if y.size == 0 or hi - lo <= 1e-13 * max(abs(lo), abs(hi)):
        return False
    return w is None or bool(ranges[-1][0] >= 0 and w.sum() > 0)


def _unit_level(cols, covariates) -> list[np.ndarray]:
    """Columns that must be constant within unit: cohort, covariates, weights, cluster codes."""
    out = [cols["cohort"], *(cols[c] for c in covariates), cols["weights"]]
    if cols["cluster"] is not None:
        out.append(cols["cluster"][1])
    return [a for a in out if a is not None]


def _clusters(cluster, rep):
    """(labels, code per influence row), None without clusters, False for the general path (one cluster)."""
    if cluster is None:
        return None
    labels, idx = cluster
    if labels is None or labels.size < 2:
        return False
    return labels, (idx if rep is None else idx[rep])  # every label is some unit's (constant within unit)


def _balanced(cols, covariates, unit_ids, u_idx, t_idx, rep, times, cl) -> Design | None:
    """The wide layout of :func:`._prep._layout` for a balanced panel: y as units x periods,
    covariates at the unit level (centred on the row means, as the general path)."""
    x_unit = np.ones((unit_ids.size, 1 + len(covariates)), order="F")  # a covariate is one column
    for j, c in enumerate(covariates, start=1):
        x_unit[:, j] = np.asarray(cols[c][rep], dtype=float) - covariate_mean(cols[c])
    if _collinear(x_unit):  # x'x over the rows is T x (x'x over the units): the same test
        return None
    y_wide = np.empty((unit_ids.size, times.size), order="F")  # a period is one contiguous column
    y_wide[u_idx, t_idx] = cols["outcome"]
    w = cols["weights"]
    cl_labels, cl_codes = cl if cl else (None, None)
    return Design("balanced", unit_ids, cols["cohort"][rep].astype(float),
                  _unit_weights(None if w is None else np.asarray(w, dtype=float), u_idx, unit_ids.size),
                  cl_codes, cl_labels, times, x_unit, y_wide, None, None, None, None, None, None,
                  int(cols["outcome"].size))


def _long(cols, covariates, unit_ids, u_idx, t_idx, rep, times, cl) -> Design | None:
    """Rows sorted in (period, cohort) blocks: an unbalanced panel (influence rows = units) or
    repeated cross-sections (influence rows = rows)."""
    y, g, w = cols["outcome"], cols["cohort"], cols["weights"]
    cohorts, c_idx = dense(g, np.int16)
    if cohorts is None:
        return None
    order, bounds, blocks = block_order(t_idx, c_idx, times.size, cohorts.size)
    x = _sorted_design([cols[c] for c in covariates], order)
    if _collinear(x):
        return None
    w_row = None if w is None else np.asarray(w, dtype=float)
    cl_labels, cl_codes = cl if cl else (None, None)
    if unit_ids is None:  # repeated cross-sections: every row is its own influence row, in block order
        n = y.size
        unit_ids, row_unit, unit_cohort = order, None, _block_values(blocks, cohorts)  # row_unit: the identity
        unit_w = np.ones(n) if w_row is None else (w_row / w_row.mean())[order]
        cl_codes = None if cl_codes is None else cl_codes[order]
    else:
        row_unit, unit_cohort = u_idx[order], g[rep].astype(float)
        unit_w = _unit_weights(w_row, u_idx, unit_ids.size)
    return Design("unbalanced" if rep is not None else "rc", unit_ids, unit_cohort, unit_w, cl_codes, cl_labels,
                  times, None, None, row_unit, None, np.asarray(y, dtype=float)[order], x,
                  np.broadcast_to(1.0, y.size) if w_row is None else w_row[order], bounds, int(y.size),
                  cohorts.astype(float), blocks)


def _block_values(blocks: np.ndarray, cohorts: np.ndarray) -> np.ndarray:
    """The cohort of every row in (period, cohort) block order, filled block by block (no gather)."""
    out = np.empty(int(blocks[-1, -1]))
    for k in range(blocks.shape[0]):
        for c in range(blocks.shape[1] - 1):
            out[blocks[k, c]:blocks[k, c + 1]] = cohorts[c]
    return out


def _range(a: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of a column without missing, infinite or astronomically large values (the general
    path drops or names those), else None. Two reductions, no temporary: NaN fails the comparison."""
    if a.size == 0:
        return 0.0, 0.0
    lo, hi = a.min(), a.max()
    return (float(lo), float(hi)) if (lo >= -MAX_ABS and hi <= MAX_ABS) else None


def _recode_needed(g, times, anticipation) -> bool:
    """Cohorts the general path recodes or drops with a warning (late, always treated), or errors."""
    if g.min() < 0 or g.max() > times[-1] + anticipation:
        return True
    return bool(((g > 0) & (g <= times[0] + anticipation)).any()) or not (g == 0).any() or not (g > 0).any()


def _representative_rows(u_idx, n_units):
    """One row of every unit (any one: the columns checked constant within unit agree on all)."""
    rep = np.empty(n_units, dtype=np.intp)
    for a, b in chunks(u_idx.size):
        rep[u_idx[a:b]] = np.arange(a, b)
    return rep


def _constant_within(values, u_idx, rep) -> bool:
    unit_values = values[rep]
    return all(np.array_equal(values[a:b], unit_values[u_idx[a:b]]) for a, b in chunks(values.size))


def _unique_keys(u_idx, t_idx, n_times) -> bool:
    seen = np.zeros(int(u_idx.max() + 1) * n_times, dtype=bool)
    for a, b in chunks(u_idx.size):
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


def _columns(data, outcome, unit, time, cohort, covariates, cluster, weights, panel) -> dict | None:
    """The needed columns as numpy arrays (views where pandas allows) and the unit and cluster
    columns as (sorted labels, codes), or None if not the fast case."""
    if (panel and unit is None) or not isinstance(data, pd.DataFrame) or not data.columns.is_unique:
        return None
    spec = {"outcome": (outcome, _NUM), "time": (time, _INT), "cohort": (cohort, _INT),
            "weights": (weights, _NUM), **{c: (c, _NUM) for c in covariates}}
    out = {}
    for key, (col, kinds) in spec.items():
        if col is None:
            out[key] = None
            continue
        if col not in data.columns:
            return None
        values = _numeric(data[col], kinds, integral=key in ("time", "cohort"))
        if values is None:
            return None
        out[key] = values
    for key, col in (("unit", unit), ("cluster", cluster)):
        if col is not None and col not in data.columns:
            return None
    if not panel and unit is not None and data[unit].isna().any():
        return None  # ignored in repeated cross-sections, but the general path names missing ids
    out["unit"] = codes(data[unit]) if panel else None
    out["cluster"] = codes(data[cluster]) if cluster is not None else None
    return out


def _numeric(column: pd.Series, kinds: str, integral: bool) -> np.ndarray | None:
    """The column as a numpy array the kernels take, or None for the general path: numpy numbers of
    ``kinds`` as they are; booleans as 0/1 floats; pandas' nullable integers without a missing value as
    int64; and for periods and cohorts (``integral``) floats that are all whole numbers as int64 --
    the general path gives these the same results (tests/test_cs_fast_paths.py), after a pass it
    no longer needs (a year column read as float took the general path, 3-6x slower at 1M rows)."""
    dtype = column.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        if dtype.kind not in "iu" or not isinstance(dtype, pd.core.dtypes.dtypes.BaseMaskedDtype) or column.hasnans:
            return None
        return column.to_numpy(dtype=np.int64)
    if dtype.kind == "b" and not integral:
        return column.to_numpy(dtype=float)
    values = column.to_numpy()
    if dtype.kind in kinds:
        return values
    if not (integral and dtype.kind == "f") or values.size == 0:
        return None
    lo, hi = _range(values) or (np.nan, np.nan)
    if not (-2**53 <= lo and hi <= 2**53) or not all(np.array_equal(np.trunc(values[a:b]), values[a:b])
                                                       for a, b in chunks(values.size)):
        return None
    return values.astype(np.int64)


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
