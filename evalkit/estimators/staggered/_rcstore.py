"""The influence matrix of repeated cross-sections, written in place as the cells are estimated.

A row of repeated cross-sections lies in one period, so cell (g, t)'s influence column is zero
outside the rows of its two periods: the n x cells matrix is stored sparse. Which rows a cell
touches is known before it is estimated (its (period, cohort) blocks, ``Design.block_bounds``),
so the value array is allocated once and every cell writes its values into its own slice
(threads write disjoint slices): the doubly robust block kernel hands its values chunk by chunk
to :meth:`RcStore.sink` (no per-cell array at all); the other kernels' per-cell arrays are copied
in by :meth:`RcStore.put`.

The influence rows of repeated cross-sections are in block order (``Design.unit_ids``), so a
cell's rows are a few runs of consecutive rows: a column is stored as its values in row order
and its runs (first row, length), not one row index per value (at 10M rows the index array
alone was 225 MB; memory first touched is what a run costs most on virtual machines). Readers
use the runs directly (:class:`RcInfluence`): contiguous slices, no gather.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True, slots=True)
class RcInfluence:
    """n x m sparse influence columns: column j's values are ``data[ptr[j]:ptr[j+1]]`` and lie on
    the rows of its runs ``starts[j][r] .. starts[j][r] + lengths[j][r] - 1``, ascending."""

    n: int
    data: np.ndarray
    ptr: np.ndarray
    starts: tuple
    lengths: tuple

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, len(self.starts)

    def runs(self, j: int):
        """(first row, values) of column j's runs, in row order (views)."""
        pos = int(self.ptr[j])
        for a, size in zip(self.starts[j], self.lengths[j]):
            yield int(a), self.data[pos:pos + size]
            pos += int(size)

    def cluster_sums(self, codes: np.ndarray) -> np.ndarray:
        """G x m sums of the columns by cluster code (codes 0..G-1 per row)."""
        g = int(codes.max()) + 1
        out = np.zeros((g, self.shape[1]))
        for j in range(self.shape[1]):
            for a, vals in self.runs(j):
                out[:, j] += np.bincount(codes[a:a + vals.size], weights=vals, minlength=g)
        return out

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape)
        for j in range(self.shape[1]):
            for a, vals in self.runs(j):
                out[a:a + vals.size, j] = vals
        return out

    def tocsc(self) -> sparse.csc_matrix:
        """The same matrix as scipy CSC (row indices formed: for tests and the fallback frame)."""
        idx = [np.arange(a, a + size) for j in range(self.shape[1]) for a, size in zip(self.starts[j], self.lengths[j])]
        indices = np.concatenate(idx) if idx else np.zeros(0, dtype=np.intp)
        return sparse.csc_matrix((self.data[:int(self.ptr[-1])], indices, self.ptr), shape=self.shape)


class RcStore:
    """The value array of the influence columns; column j lives in ``data[ptr[j]:ptr[j+1]]``."""

    def __init__(self, nnz: list[int], n: int):
        self.n = n
        self.ptr = np.cumsum([0] + list(nnz)).astype(np.int64)
        self.data = np.empty(int(self.ptr[-1]))
        self.runs: list = [((), ())] * len(nnz)  # per column: (starts, lengths)

    def _set_runs(self, j: int, runs: list) -> None:
        """Record column j's runs [(first row, length)] (ascending; adjacent runs merged)."""
        merged: list = []
        for a, size in runs:
            if merged and merged[-1][0] + merged[-1][1] == a:
                merged[-1][1] += size
            else:
                merged.append([a, size])
        total = sum(size for _, size in merged)
        if total != int(self.ptr[j + 1] - self.ptr[j]):
            raise AssertionError(f"cell {j}: {total} influence values, {int(self.ptr[j + 1] - self.ptr[j])} rows planned")
        self.runs[j] = (tuple(int(a) for a, _ in merged), tuple(int(s) for _, s in merged))

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
        self._set_runs(j, [(first, vals.size) for first, vals in runs])
        pos = int(self.ptr[j])
        for _, vals in runs:
            self.data[pos:pos + vals.size] = vals
            pos += vals.size

    def sink(self, j: int):
        """Sink of cell j for :mod:`._rcblocks`: given the cell's blocks, records the column's runs
        (the blocks' spans in row order) and returns the ``emit`` that writes values in place."""
        def make(blocks):
            spans = sorted(span for block in blocks for span in block.spans)
            self._set_runs(j, [(a, z - a) for a, z in spans])
            pos, offsets = int(self.ptr[j]), {}
            for a, z in spans:
                offsets[a] = pos
                pos += z - a
            data = self.data

            def emit(a, s, e, values):
                p = offsets[a] + s - a
                data[p:p + e - s] = values
            return emit
        return make

    def matrix(self, keep: np.ndarray) -> RcInfluence:
        """The n x len(keep) influence of the kept columns (every one written, or planned empty: a
        reference cell), in place; when cells could not be estimated, their slices are compacted
        away (a copy; rare)."""
        ptr, data = self.ptr, self.data
        if not np.array_equal(keep, np.arange(ptr.size - 1)):
            pieces = [slice(int(ptr[j]), int(ptr[j + 1])) for j in keep]
            data = np.concatenate([data[s] for s in pieces] or [np.zeros(0)])
            ptr = np.cumsum([0] + [s.stop - s.start for s in pieces]).astype(np.int64)
        kept = [self.runs[j] for j in keep]
        return RcInfluence(self.n, data, ptr, tuple(r[0] for r in kept), tuple(r[1] for r in kept))
