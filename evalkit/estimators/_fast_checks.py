"""Checks of the panel from integer codes, with the messages of :mod:`evalkit.core.checks`.

The group-by checks (``check_unique_keys``, ``check_constant_within``) cost seconds at 10M rows; the
estimators factorize the keys anyway, and with the codes each check is a scatter or a bincount.
Only when the data fail (or the codes cannot decide) does the original check run, so the error
and its message are those of :mod:`evalkit.core.checks`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.core import checks as v


def constant_within(df: pd.DataFrame, col: str, by: Sequence[str], codes: np.ndarray, param: str, why: str) -> None:
    """``v.check_constant_within(df, col, by, param, why)`` from integer codes of the groups of ``by``
    (e.g. ``pd.factorize`` of the column, or combined codes of two columns): one scatter and one
    comparison (O(n), no group-by); the group-by check, and its message, only when a group holds
    several values or ``col`` is not a complete number column."""
    x = df[col].to_numpy()
    if x.dtype.kind in "iuf" and len(x) and not (x.dtype.kind == "f" and np.isnan(x).any()):
        first = np.empty(int(codes.max()) + 1, dtype=x.dtype)
        first[codes] = x
        if np.array_equal(first[codes], x):
            return
    v.check_constant_within(df, col, list(by), param, why)


def unique_keys(df: pd.DataFrame, unit: str, time: str, units: np.ndarray, periods: np.ndarray) -> None:
    """``v.check_unique_keys(df, unit, time)`` from the integer codes: rows per (unit, period) cell by
    one ``np.bincount`` when the cells are few (a panel); the check itself otherwise or on duplicates."""
    n_u, n_t = int(units.max()) + 1, int(periods.max()) + 1
    if n_u * n_t <= 4 * len(units) + 1_000_000:
        key = units.astype(np.intp) * n_t
        key += periods
        if np.bincount(key, minlength=n_u * n_t).max() <= 1:
            return
    v.check_unique_keys(df, unit, time)
