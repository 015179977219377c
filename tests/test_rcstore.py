"""The repeated cross-section influence store (estimators/staggered/_rcstore.py): every cell writes
its values in place, in row order, as runs of rows (no index per value), and dropped cells are
compacted away; the result's sparse columns are pandas block-kind arrays over the same values."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.estimators.staggered._rcstore import RcStore


def _parts(rng, runs):
    """(rows, values) parts whose rows are the given runs, each part a shuffled order of runs."""
    out = []
    for run_group in runs:
        rows = np.concatenate([np.arange(a, b) for a, b in run_group])
        out.append((rows, rng.normal(size=rows.size)))
    return out


def _dense(parts, n):
    col = np.zeros(n)
    for rows, vals in parts:
        col[rows] += vals
    return col


def test_columns_are_written_in_row_order_and_equal_the_dense_columns():
    rng = np.random.default_rng(1)
    cells = [[[(40, 50), (10, 12)], [(0, 5)]], [], [[(20, 30)], [(60, 61), (70, 75)]]]
    parts = [_parts(rng, c) for c in cells]
    store = RcStore([sum(b - a for g in c for a, b in g) for c in cells], 80)
    for j, p in enumerate(parts):
        if p:
            store.put(j, p)
    mat = store.matrix(np.arange(3))
    assert mat.shape == (80, 3)
    assert mat.starts[0] == (0, 10, 40) and mat.lengths[0] == (5, 2, 10)  # runs in row order
    assert mat.starts[2] == (20, 60, 70) and mat.lengths[2] == (10, 1, 5)
    dense = mat.toarray()
    for j, p in enumerate(parts):
        np.testing.assert_array_equal(dense[:, j], _dense(p, 80))
    np.testing.assert_array_equal(mat.tocsc().toarray(), dense)
    assert np.shares_memory(mat.data, store.data)  # kept in place, no copy
    codes = np.arange(80) % 7
    np.testing.assert_allclose(mat.cluster_sums(codes), np.stack([np.bincount(codes, weights=dense[:, j], minlength=7)
                                                                  for j in range(3)], axis=1), rtol=0, atol=1e-14)


def test_adjacent_runs_merge_and_the_frame_shares_the_values():
    import pandas as pd

    from evalkit.estimators.staggered import _sparse

    store = RcStore([6], 12)
    store.put(0, [(np.arange(2, 5), np.array([1.0, 2, 3])), (np.arange(5, 8), np.array([4.0, 5, 6]))])
    mat = store.matrix(np.arange(1))
    assert mat.starts[0] == (2,) and mat.lengths[0] == (6,)
    frame = _sparse.frame(mat, pd.RangeIndex(12), ["a"])
    col = frame["a"].array
    assert col.kind == "block" and np.shares_memory(col.sp_values, store.data)
    np.testing.assert_array_equal(frame["a"].sparse.to_dense().to_numpy(), [0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0])
    np.testing.assert_array_equal(_sparse.matrix(frame) @ np.array([2.0]), 2 * frame["a"].sparse.to_dense().to_numpy())


def test_dropped_cells_are_compacted_away():
    rng = np.random.default_rng(2)
    cells = [[[(0, 10)]], [[(10, 20)]], [[(30, 35), (5, 8)]]]
    parts = [_parts(rng, c) for c in cells]
    store = RcStore([10, 10, 8], 40)
    store.put(0, parts[0])
    store.put(2, parts[2])  # cell 1 could not be estimated: never written
    mat = store.matrix(np.array([0, 2]))
    assert mat.shape == (40, 2) and int(mat.ptr[-1]) == 18
    np.testing.assert_array_equal(mat.toarray()[:, 1], _dense(parts[2], 40))


def test_a_cell_with_other_rows_than_planned_is_an_internal_error():
    store = RcStore([5], 10)
    with pytest.raises(AssertionError, match="planned"):
        store.put(0, [(np.arange(3), np.ones(3))])


def test_repeated_cross_sections_with_a_dropped_cell_keep_the_other_cells_intact():
    """Cohort 3 has no rows in period 2 (its base period): its post cells are dropped and their
    slices compacted away; cohort 5's cells, stored after them, equal a fit without cohort 3."""
    import warnings

    from evalkit import att_gt
    from evalkit.errors import EvalkitWarning
    from evalkit.data.synthetic import staggered_panel

    df = staggered_panel(n_units=600, n_periods=6, cohorts={0: 0.4, 3: 0.3, 5: 0.3}, effect=lambda e: 1 + 0.5 * e,
                         n_clusters=40, seed=3)
    df["x"] = np.random.default_rng(0).normal(size=len(df))
    gap = df[~((df["cohort"] == 3) & (df["time"] == 2))]
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", covariates=["x"], panel=False,
              control_group="never", cluster="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        with_gap = att_gt(gap, **kw)
        without = att_gt(df[df["cohort"] != 3], **kw)
    assert any(d["group"] == 3 for d in with_gap.diagnostics["dropped_cells"])
    a = with_gap.table.set_index("term").filter(like="g=5", axis=0)
    b = without.table.set_index("term").loc[a.index]
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-12)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-10)


def test_the_frame_falls_back_to_integer_kind_columns(monkeypatch):
    """Where pandas lacks the block constructor, the frame is built through scipy: the same values."""
    import pandas as pd

    from evalkit.estimators.staggered import _sparse

    rng = np.random.default_rng(3)
    cells = [[[(0, 4), (9, 12)]], [[(2, 8)]]]
    parts = [_parts(rng, c) for c in cells]
    store = RcStore([7, 6], 15)
    for j, p in enumerate(parts):
        store.put(j, p)
    mat = store.matrix(np.arange(2))
    block = _sparse.frame(mat, pd.RangeIndex(15), ["a", "b"])

    def missing(*args):
        raise ImportError("no BlockIndex")
    monkeypatch.setattr(_sparse, "_block_column", missing)
    fallback = _sparse.frame(mat, pd.RangeIndex(15), ["a", "b"])
    assert fallback["a"].array.kind == "integer" and block["a"].array.kind == "block"
    np.testing.assert_array_equal(fallback.sparse.to_dense().to_numpy(), block.sparse.to_dense().to_numpy())
    np.testing.assert_array_equal(block.sparse.to_dense().to_numpy(), mat.toarray())
