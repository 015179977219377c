"""Influence functions of repeated cross-sections, kept sparse.

A row of a repeated cross-section lies in one period, so the influence column of ATT(g,t) is
zero outside the rows of periods t and its base period: at 10 million rows and 56 cells the
dense n x cells matrix took 4.5 GB, the sparse one about a tenth. A column's rows are a few runs
of consecutive rows (:class:`._rcstore.RcInfluence`); the result's ``influence`` frame holds
them as pandas sparse columns of the "block" kind (the runs, no index per value). Everything
that reads them (cluster sums, ``aggregate``) works on the stored values in ascending row
order, so sums add the same numbers in the same order as on a dense column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from evalkit.core.clusters import cluster_sums
from evalkit.estimators.staggered._rcstore import RcInfluence

_DTYPE = pd.SparseDtype(np.float64, 0.0)


def influence_sums(inf, codes: np.ndarray | None) -> np.ndarray:
    """:func:`evalkit.core.clusters.cluster_sums` of a dense, run-sparse (:class:`RcInfluence`) or
    scipy CSC influence matrix; without clusters every row is its own cluster (a dense copy)."""
    if isinstance(inf, RcInfluence):
        return inf.toarray() if codes is None else inf.cluster_sums(np.asarray(codes))
    if not sparse.issparse(inf):
        return cluster_sums(inf, codes)
    if codes is None:
        return inf.toarray()
    codes = np.asarray(codes)
    g = int(codes.max()) + 1
    out = np.empty((g, inf.shape[1]))
    for j in range(inf.shape[1]):
        sl = slice(inf.indptr[j], inf.indptr[j + 1])
        out[:, j] = np.bincount(codes[inf.indices[sl]], weights=inf.data[sl], minlength=g)
    return out


def _block_column(inf: RcInfluence, j: int) -> pd.arrays.SparseArray:
    """Column j as a block-kind SparseArray over the stored values (a view; pandas' BlockIndex)."""
    from pandas._libs.sparse import BlockIndex  # the runs as they are: no index per value

    index = BlockIndex(inf.n, np.asarray(inf.starts[j], dtype=np.int32), np.asarray(inf.lengths[j], dtype=np.int32))
    return pd.arrays.SparseArray._simple_new(inf.data[int(inf.ptr[j]):int(inf.ptr[j + 1])], index, _DTYPE)


def frame(inf: RcInfluence, index: pd.Index, columns: list[str]) -> pd.DataFrame:
    """The influence matrix as a frame of sparse columns (fill value 0), sharing the stored values;
    scipy's integer-kind columns where pandas lacks the block constructor used here."""
    try:
        cols = {c: _block_column(inf, j) for j, c in enumerate(columns)}
    except (ImportError, AttributeError, TypeError):
        return pd.DataFrame.sparse.from_spmatrix(inf.tocsc(), index=index, columns=columns)
    return pd.DataFrame(cols, index=index, copy=False)


class Columns:
    """Sparse influence columns read in place (no copy): ``shape`` and ``columns @ weights``,
    all :mod:`._aggregate` needs."""

    def __init__(self, arrays: list, n: int):
        self._arrays, self.shape = arrays, (n, len(arrays))

    def __matmul__(self, weights: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[0])
        for a, w in zip(self._arrays, np.asarray(weights, dtype=float)):
            if w == 0.0:
                continue
            values, index = a.sp_values, a.sp_index
            if a.kind == "block":  # runs of rows: contiguous slices
                pos = 0
                for b, size in zip(index.blocs, index.blengths):
                    out[b:b + size] += w * values[pos:pos + size]
                    pos += size
            else:
                out[index.indices] += w * values  # rows ascending and unique within a column
        return out


def matrix(frame_: pd.DataFrame) -> Columns | np.ndarray:
    """The frame's columns as :class:`Columns` when they are sparse, else as a dense array."""
    if frame_.shape[1] and all(isinstance(dt, pd.SparseDtype) for dt in frame_.dtypes):
        return Columns([frame_.iloc[:, j].array for j in range(frame_.shape[1])], frame_.shape[0])
    return frame_.to_numpy(float)
