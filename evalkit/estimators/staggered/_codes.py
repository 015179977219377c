"""Dense codes of label columns in O(n) without a sort of the rows (numpy.unique's result).

``codes(column)`` returns the sorted distinct labels and each row's code, exactly what
``numpy.unique(column.to_numpy(), return_inverse=True)`` gives the general layout, or
(None, None) when the column is not a clean label column (missing values, mixed types,
floats): the general path then validates and explains. Only the distinct labels are
sorted; integer labels of small range need no sort at all (a bincount table).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CHUNK = 1 << 20


def chunks(n: int):
    """Row ranges of CHUNK rows: temporaries stay below glibc's mmap threshold and are reused
    instead of being page-faulted afresh (expensive on some virtual machines)."""
    return [(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)]


def dense(values: np.ndarray, dtype):
    """Sorted distinct values and their codes (as ``dtype``) of non-negative integers of small range
    (a bincount table: numpy.unique's result without a sort), or (None, None)."""
    if values.size == 0:
        return None, None
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 4 * values.size + 10_000:
        return None, None
    present = np.zeros(hi + 1, dtype=bool)
    for a, b in chunks(values.size):
        present[values[a:b]] = True
    if present.sum() > np.iinfo(dtype).max:
        return None, None
    table = (np.cumsum(present) - 1).astype(dtype)
    return np.flatnonzero(present).astype(values.dtype), table[values]


def codes(column: pd.Series):
    """(sorted labels, row codes) of an integer, text or categorical label column, or (None, None)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        values = column.to_numpy()
        labels, idx = dense(values, np.intp)
        if labels is not None:
            return labels, idx
        raw, uniques = pd.factorize(values)  # large or sparse ids (hashed person numbers): a hash, no sort
        return _sorted_labels(raw, np.asarray(uniques))
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical(column)
    if dtype == object or isinstance(dtype, pd.StringDtype):
        return _text(column)
    return None, None


def _sorted_labels(raw_codes: np.ndarray, labels: np.ndarray):
    """Codes into ``labels`` (distinct, any order; -1 = missing) -> numpy.unique's labels and codes."""
    if raw_codes.size == 0 or (raw_codes < 0).any():
        return None, None
    used = np.zeros(labels.size, dtype=bool)
    for a, b in chunks(raw_codes.size):
        used[raw_codes[a:b]] = True
    keep = np.flatnonzero(used)
    try:
        order = keep[np.argsort(labels[keep], kind="stable")]
    except TypeError:  # mixed types: numpy.unique refuses them too, the general path explains
        return None, None
    rank = np.empty(labels.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return labels[order], rank[raw_codes]


def _text(column: pd.Series):
    raw, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(labels, skipna=False) != "string":
        return None, None
    return _sorted_labels(raw, labels)


def _categorical(column: pd.Series):
    cats = column.cat.categories
    if pd.api.types.infer_dtype(cats, skipna=False) not in ("string", "integer"):
        return None, None
    labels = np.asarray(cats.to_numpy(), dtype=object if cats.dtype.kind not in "iu" else cats.dtype)
    return _sorted_labels(column.cat.codes.to_numpy(), labels)
