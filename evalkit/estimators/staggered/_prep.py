"""Validation and array layout for Callaway & Sant'Anna: data frame -> :class:`Design`.

Everything after this module works on sorted numpy arrays; the caller's
frame is never modified (``checks.select`` copies the needed columns).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import stack_level, EvalkitWarning, ValidationError
from evalkit.core import checks as v


@dataclass(frozen=True, slots=True)
class Design:
    """Arrays the (g, t) kernels need.

    "Units" are the rows of the influence matrix: panel units, or rows for
    repeated cross-sections (``unit_ids`` = their positions in the data, in
    (period, cohort) block order, so a cell's rows are a few runs). ``mode`` is "balanced" (wide outcome matrix
    ``y_wide``), "unbalanced" or "rc" (long rows, ``row_*`` arrays).
    """

    mode: str
    unit_ids: np.ndarray        # labels of the influence rows
    unit_cohort: np.ndarray     # cohort (0 = never treated) per unit
    unit_weight: np.ndarray     # sampling weight per unit, mean one
    unit_cluster: np.ndarray | None  # cluster code 0..G-1 per unit
    cluster_labels: np.ndarray | None
    times: np.ndarray           # sorted periods
    x_unit: np.ndarray | None   # (n_units x k) covariates incl. intercept ("balanced")
    y_wide: np.ndarray | None   # (n_units x n_times) ("balanced")
    row_unit: np.ndarray | None  # unit index per row (unbalanced; repeated cross-sections: None, row k is influence row k)
    row_cohort: np.ndarray | None  # cohort of the row's unit (general layout only; the kernels read block_bounds)
    row_y: np.ndarray | None
    row_x: np.ndarray | None
    row_w: np.ndarray | None
    period_bounds: np.ndarray | None  # rows of period k are period_bounds[k]:period_bounds[k+1]
    n_rows: int
    cohorts: np.ndarray | None = None  # sorted cohort values (long modes)
    block_bounds: np.ndarray | None = None  # rows of (period k, cohort c) are [k, c]:[k, c + 1] (long modes)


def prepare(data, *, outcome, unit, time, cohort, covariates, cluster, weights, panel, anticipation,
            control_group) -> tuple[Design, dict]:
    """Validate and lay out the data; returns the design and diagnostics."""
    cols = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "cluster": cluster,
            "weights": weights, "covariates": covariates}
    df = v.select(data, cols)
    for param, col in [("outcome", outcome), ("time", time)] + [("covariates", c) for c in covariates]:
        v.check_numeric(df, col, param)
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_weights(df, weights)
    v.check_whole(df, time, "time")
    df, n_dropped = v.drop_missing(df, outcome, covariates)
    v.check_cohort(df, cohort, unit) if (panel and unit is not None) else _check_cohort_values(df, cohort)
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_has_treated(df, cohort)
    if cluster is not None:
        v.check_levels(df, cluster, "cluster", 2, "clusters for cluster-robust inference")
    if panel:
        v.check_unique_keys(df, unit, time)
    diag: dict = {"n_dropped_missing": n_dropped}
    df = _recode_cohorts(df, cohort, time, unit, anticipation, control_group, diag, panel)
    v.check_covariates(df, covariates)
    _check_covariates(df, covariates)
    if panel:
        for col, param in [(c, "covariates") for c in covariates] + [(weights, "weights"), (cluster, "cluster")]:
            if col is not None:
                _check_time_invariant(df, col, unit, param)
    return _layout(df, outcome=outcome, unit=unit, time=time, cohort=cohort, covariates=covariates,
                   cluster=cluster, weights=weights, panel=panel), diag


def _check_cohort_values(df, cohort):
    v.check_cohort(df, cohort, None)


def _recode_cohorts(df, cohort, time, unit, anticipation, control_group, diag, panel):
    """R did's conventions, each with a warning: cohorts after the last period
    (+ anticipation) are never treated; units treated in the first period
    (+ anticipation) are dropped; without never-treated units and
    control_group="notyet", periods from the last cohort - anticipation on are
    dropped and the last cohort only serves as control."""
    times = np.sort(df[time].unique())
    g = df[cohort].to_numpy(float)
    late = g > times[-1] + anticipation
    if late.any():
        warnings.warn(f"{_count(df, late, unit, panel)} unit(s) first treated after the last period "
                      f"({times[-1]}) are treated as never treated.", EvalkitWarning, stacklevel=stack_level())
        df = df.assign(**{cohort: np.where(late, 0, g)})
        g = df[cohort].to_numpy(float)
    early = (g > 0) & (g <= times[0] + anticipation)
    if early.any():
        k = _count(df, early, unit, panel)
        warnings.warn(f"Dropped {k} unit(s) ({int(early.sum())} rows) already treated in the first period "
                      f"{times[0]}: they have no pre-treatment period.", EvalkitWarning, stacklevel=stack_level())
        diag["n_dropped_always_treated"] = k
        df = df.loc[~early].reset_index(drop=True)
        g = df[cohort].to_numpy(float)
    if not (g == 0).any():
        if control_group == "never":
            raise ValidationError(
                f"control_group='never' needs never-treated units (cohort={cohort!r} equal to 0), but there are none. "
                "Use control_group='notyet' or add never-treated units.")
        last = g.max()
        keep = df[time].to_numpy(float) < last - anticipation
        warnings.warn(f"No never-treated units: with control_group='notyet' the periods from {last - anticipation:g} on "
                      f"({int((~keep).sum())} rows) are dropped and cohort {last:g} only serves as a control.",
                      EvalkitWarning, stacklevel=stack_level())
        diag["n_dropped_no_never_treated"] = int((~keep).sum())
        df = df.loc[keep].reset_index(drop=True)
    if df.empty or (df[cohort] > 0).sum() == 0:
        why = (f" With anticipation={anticipation}, a cohort needs a period before its first treated period "
               f"minus {anticipation}." if anticipation else "")
        raise ValidationError("No treated units left to estimate an ATT(g,t)." + why)
    return df


def _count(df, mask, unit, panel):
    return int(df.loc[mask, unit].nunique()) if (panel and unit is not None) else int(mask.sum())


def covariate_mean(values) -> float:
    """The mean every covariate is centred on (:func:`_layout` and the fast path use this one function,
    so both lay out bit-identical designs)."""
    return float(np.mean(np.asarray(values, dtype=float))) if len(values) else 0.0


def _centred(df, covariates) -> list[np.ndarray]:
    """The covariates less their means. Every kernel has an intercept, so a shift of a covariate
    changes no estimate; centring keeps a covariate such as an income in kroner (mean 3e5, spread
    1) from being nearly collinear with the intercept: uncentred, x'x lost 11 digits and the rank
    checks refused the covariate as "collinear with the intercept" (issue 12)."""
    out = []
    for c in covariates:
        a = df[c].to_numpy(float)
        out.append(a - covariate_mean(a))
    return out


def _check_covariates(df, covariates):
    """Near-collinearity of the intercept and the covariates, judged on centred covariates
    (:func:`_centred`): a constant added to a covariate cannot make it collinear."""
    if not covariates:
        return
    x = np.column_stack([np.ones(len(df)), *_centred(df, covariates)])
    scale = np.sqrt(np.maximum((x**2).mean(axis=0), 1e-300))
    xs = x / scale
    sv = np.linalg.svd(xs.T @ xs / len(df), compute_uv=False)
    if sv[-1] <= 1e-10 * sv[0]:
        raise ValidationError(f"covariates={list(covariates)} are collinear (with each other or with the intercept); "
                              "drop redundant columns.")


def _check_time_invariant(df, col, unit, param):
    codes, _ = pd.factorize(df[unit])
    values = df[col].to_numpy()
    first = np.full(codes.max() + 1, -1)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    ref = values[first[codes]]
    same = (values == ref) | (pd.isna(values) & pd.isna(ref))
    if not np.all(same):
        bad = df[unit].to_numpy()[~same][0]
        raise ValidationError(f"{param}={col!r} must be constant within unit={unit!r} (time-invariant) in a panel; "
                              f"it varies for unit {v._plain(bad)!r}.")


def _layout(df, *, outcome, unit, time, cohort, covariates, cluster, weights, panel) -> Design:
    times, t_idx = np.unique(df[time].to_numpy(), return_inverse=True)
    n_times = times.size
    w_row = df[weights].to_numpy(float) if weights is not None else np.ones(len(df))
    x_row = np.column_stack([np.ones(len(df)), *_centred(df, covariates)])
    y_row = df[outcome].to_numpy(float)
    g_row = df[cohort].to_numpy(float)
    if panel:
        unit_ids, u_idx = np.unique(df[unit].to_numpy(), return_inverse=True)
    else:
        unit_ids, u_idx = np.arange(len(df)), np.arange(len(df))
    n = unit_ids.size
    first = np.full(n, -1)
    first[u_idx[::-1]] = np.arange(len(df))[::-1]
    unit_cohort = g_row[first]
    if panel:
        unit_w = np.bincount(u_idx, weights=w_row, minlength=n) / np.bincount(u_idx, minlength=n)
    else:
        unit_w = w_row.copy()
    unit_w = unit_w / unit_w.mean()
    cl_codes = cl_labels = None
    if cluster is not None:
        cl_labels, cl_row = np.unique(df[cluster].to_numpy(), return_inverse=True)
        cl_codes = cl_row[first]
    balanced = panel and len(df) == n * n_times
    if balanced:
        y_wide = np.empty((n, n_times), order="F")  # a period is one contiguous column
        y_wide[u_idx, t_idx] = y_row
        return Design("balanced", unit_ids, unit_cohort, unit_w, cl_codes, cl_labels, times, x_row[first],
                      y_wide, None, None, None, None, None, None, len(df))
    cohorts, c_idx = np.unique(g_row, return_inverse=True)
    order, bounds, blocks = block_order(t_idx, c_idx, n_times, cohorts.size)
    if not panel:  # influence rows in block order: a cell's rows are a few runs (_rcstore)
        unit_ids, unit_cohort, unit_w = order, unit_cohort[order], unit_w[order]
        cl_codes = None if cl_codes is None else cl_codes[order]
    return Design("unbalanced" if panel else "rc", unit_ids, unit_cohort, unit_w, cl_codes, cl_labels, times,
                  None, None, u_idx[order] if panel else None, g_row[order], y_row[order], x_row[order], w_row[order], bounds, len(df),
                  cohorts, blocks)


def block_order(t_idx: np.ndarray, c_idx: np.ndarray, n_times: int, n_cohorts: int):
    """Row order by (period, cohort), stable: a (period, cohort) block is one slice, a cell reads slices.

    Returns the order, the period bounds (n_times + 1) and the block bounds (n_times x (n_cohorts + 1)).
    """
    n_keys = n_times * n_cohorts
    small = np.int16 if n_keys + 1 < 2**15 else np.int64  # 16-bit keys: numpy's stable sort is a radix sort
    key = t_idx.astype(small) * small(n_cohorts) + c_idx.astype(small, copy=False)
    order = np.argsort(key, kind="stable")
    starts = np.searchsorted(key[order], np.arange(n_keys + 1, dtype=small))
    blocks = np.empty((n_times, n_cohorts + 1), dtype=np.int64)
    blocks[:, :-1] = starts[:-1].reshape(n_times, n_cohorts)
    blocks[:, -1] = starts[n_cohorts::n_cohorts]
    return order, np.append(blocks[:, 0], starts[-1]), blocks
