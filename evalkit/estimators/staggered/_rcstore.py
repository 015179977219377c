"""The influence matrix of repeated cross-sections, written in place as the cells are estimated.

A row of repeated cross-sections lies in one period, so cell (g, t)'s influence column is zero
outside the rows of its two periods: the n x cells matrix is stored sparse (CSC). Which rows a
cell touches is known before it is estimated (its (period, cohort) blocks, ``Design.block_bounds``),
so the matrix's index and value arrays are allocated once and every cell writes its values into
its own slice (threads write disjoint slices): the doubly robust block kernel hands its values
chunk by chunk to :meth:`RcStore.sink` (no per-cell array at all); the other kernels' per-cell
arrays are copied in by :meth:`RcStore.put`.

The influence rows of repeated cross-sections are in block order (``Design.unit_ids``), so a
cell's rows are a few ascending runs of consecutive rows: they are put in order by run, no sort.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse


class RcStore:
    """Index and value arrays of the CSC influence matrix; column j lives in ``[ptr[j], ptr[j+1])``."""

    def __init__(self, nnz: list[int], n: int):
        self.n = n
        self.ptr = np.cumsum([0] + list(nnz)).astype(np.int64)
        self.itype = np.int32 if max(n, int(self.ptr[-1])) < 2**31 - 1 else np.int64
        self.indices = np.empty(int(self.ptr[-1]), dtype=self.itype)
        self.data = np.empty(int(self.ptr[-1]))

    def put(self, j: int, parts: list) -> None:
        """Write cell j's (rows, values) parts, each a few ascending runs of rows, in row order."""
        runs = []
        for rows, vals in parts:
            if rows.size == 0:
                continue
            cut = np.flatnonzero(np.diff(rows) != 1) + 1
            bounds = np.concatenate([[0], cut, [rows.size]])
            runs += [(int(rows[a]), vals[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        runs.sort(key=lambda run: run[0])
        pos, stop = int(self.ptr[j]), int(self.ptr[j + 1])
        if sum(v.size for _, v in runs) != stop - pos:
            raise AssertionError(f"cell {j}: {sum(v.size for _, v in runs)} influence values, {stop - pos} rows planned")
        for first, vals in runs:
            size = vals.size
            self.indices[pos:pos + size] = np.arange(first, first + size, dtype=self.itype)
            self.data[pos:pos + size] = vals
            pos += size

    def sink(self, j: int):
        """Sink of cell j for :mod:`._rcblocks`: given the cell's blocks, writes the column's row
        indices (the blocks' spans in row order) and returns the ``emit`` that writes values in place."""
        def make(blocks):
            spans = sorted(span for block in blocks for span in block.spans)
            pos, offsets = int(self.ptr[j]), {}
            for a, z in spans:
                offsets[a] = pos
                self.indices[pos:pos + z - a] = np.arange(a, z, dtype=self.itype)
                pos += z - a
            if pos != int(self.ptr[j + 1]):
                raise AssertionError(f"cell {j}: {pos - int(self.ptr[j])} influence values, "
                                     f"{int(self.ptr[j + 1] - self.ptr[j])} rows planned")
            data = self.data

            def emit(a, s, e, values):
                p = offsets[a] + s - a
                data[p:p + e - s] = values
            return emit
        return make

    def matrix(self, keep: np.ndarray) -> sparse.csc_matrix:
        """The n x len(keep) matrix of the kept columns (every one written, or planned empty: a
        reference cell), in place; when cells could not be estimated, their slices are compacted
        away (a copy; rare)."""
        ptr, indices, data = self.ptr, self.indices, self.data
        if not np.array_equal(keep, np.arange(ptr.size - 1)):
            pieces = [slice(int(ptr[j]), int(ptr[j + 1])) for j in keep]
            indices = np.concatenate([indices[s] for s in pieces] or [np.zeros(0, self.itype)])
            data = np.concatenate([data[s] for s in pieces] or [np.zeros(0)])
            ptr = np.cumsum([0] + [s.stop - s.start for s in pieces]).astype(np.int64)
        return sparse.csc_matrix((data, indices, ptr.astype(self.itype)), shape=(self.n, keep.size))

