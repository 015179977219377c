"""The speed-only paths of Callaway & Sant'Anna give what the general paths give.

* ``_prep_fast`` lays out clean balanced and unbalanced panels and repeated cross-sections
  with integer, text or categorical ids; it must build the same Design as ``_prep.prepare``
  and hand everything else to it (None).
* ``_rcblocks.dr`` (block-wise DR on period-sorted rows) must equal ``_drdid.rc(method="dr")``.
* ``_panel_pool`` (a balanced control pool's cells as matrix products) must equal ``_drdid.panel``
  cell by cell, and the grid must not depend on how the pool's cells are chunked.
* ``att_gt`` runs its grid with one BLAS thread and restores the count; ``_memory.zeros_f`` gives zeros.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.estimators import _memory
from evalkit.estimators.staggered import _drdid, _grid, _panel_pool, _rcblocks
from evalkit.estimators.staggered._prep import prepare
from evalkit.estimators.staggered._prep_fast import prepare as prepare_fast
from tests.test_cs_frozen import make_panel

SPEC = dict(outcome="y", unit="unit", time="time", cohort="cohort", panel=True, anticipation=0,
            control_group="never")


def _clean(df):
    return df.assign(cohort=df["cohort"].where(df["cohort"] < 10, 0))  # no cohort after the last period


def _same_design(a, b):
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if name == "row_cohort":  # general layout only
            continue
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert np.array_equal(np.asarray(x), np.asarray(y)), name
        else:
            assert x == y, name


@pytest.mark.parametrize("kw", [dict(covariates=["x1", "x2"], cluster="area", weights=None),
                                dict(covariates=["x1"], cluster=None, weights="w"),
                                dict(covariates=[], cluster="area", weights=None)])
def test_fast_layout_equals_general_layout(kw):
    df = _clean(make_panel())
    fast = prepare_fast(df, **SPEC, **kw)
    assert fast is not None
    _same_design(prepare(df, **SPEC, **kw)[0], fast[0])
    assert fast[1] == {"n_dropped_missing": 0}


def test_fast_layout_other_integer_codes():
    df = _clean(make_panel())
    df = df.assign(unit=(df["unit"] * 1_000_003 + 7).astype(np.int64), time=df["time"].astype(np.int32),
                   area=df["area"].astype(np.uint16))  # sparse unit ids: numpy.unique inside
    kw = dict(covariates=["x1", "x2"], cluster="area", weights=None)
    fast = prepare_fast(df, **SPEC, **kw)
    assert fast is not None
    _same_design(prepare(df, **SPEC, **kw)[0], fast[0])


def _ids(df, id_type):
    if id_type == "int":
        return df
    text = "P" + df["unit"].astype(str).str.zfill(6)
    area = "A" + df["area"].astype(str)
    if id_type == "category":  # categories in no particular order: the layout sorts the labels
        cats = list(dict.fromkeys(text.sample(frac=1.0, random_state=1)))
        return df.assign(unit=pd.Categorical(text, categories=cats), area=pd.Categorical(area))
    return df.assign(unit=text.astype(object if id_type == "object" else "str"), area=area)


@pytest.mark.parametrize("shape", ["balanced", "unbalanced", "rcs"])
@pytest.mark.parametrize("id_type", ["int", "str", "object", "category", "sparse_int"])
@pytest.mark.parametrize("kw", [dict(covariates=["x1", "x2"], cluster="area", weights=None),
                                dict(covariates=["x1"], cluster=None, weights="w")])
def test_fast_layout_equals_general_layout_in_every_shape(shape, id_type, kw):
    df = _clean(make_panel(balanced=shape == "balanced"))
    if id_type == "sparse_int":  # hashed person numbers: coded by a hash, not a bincount table
        df = df.assign(unit=df["unit"].astype(np.int64) * 7_919_000_003 + 11)
    else:
        df = _ids(df, id_type)
    spec = dict(SPEC, panel=shape != "rcs")
    fast = prepare_fast(df, **spec, **kw)
    assert fast is not None
    general = prepare(df, **spec, **kw)[0]
    assert fast[0].mode == general.mode == {"balanced": "balanced", "unbalanced": "unbalanced", "rcs": "rc"}[shape]
    _same_design(general, fast[0])


@pytest.mark.parametrize("shape", ["balanced", "rcs"])
@pytest.mark.parametrize("control_group", ["never", "notyet"])
def test_att_gt_fast_and_general_paths_agree(shape, control_group, monkeypatch):
    from evalkit import att_gt
    from evalkit.estimators.staggered import cs

    df = _ids(_clean(make_panel(balanced=shape == "balanced")), "str")
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", covariates=["x1", "x2"], cluster="area",
              panel=shape != "rcs", control_group=control_group, bootstrap=True, draws=99, seed=3)
    fast = att_gt(df, **kw).tidy()
    monkeypatch.setattr(cs, "prepare_fast", lambda *a, **k: None)
    general = att_gt(df, **kw).tidy()
    pd.testing.assert_frame_equal(fast, general, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", ["balanced", "unbalanced", "rcs"])
@pytest.mark.parametrize("dtypes", ["float_periods", "nullable_int_periods", "int32_periods", "bool_outcome",
                                    "float32_covariates", "nullable_int_outcome"])
def test_other_column_types_take_the_fast_path_with_the_same_design(shape, dtypes):
    """Years and cohorts read as floats (whole numbers) or as pandas' nullable Int64, a boolean outcome,
    float32 covariates: the fast layout takes them and builds the general layout's Design (they took the
    general path, 3-6x slower at 1M rows); att_gt's results agree to 1e-12."""
    from evalkit import att_gt
    from evalkit.estimators.staggered import cs

    df = _clean(make_panel(balanced=shape == "balanced"))
    df = {"float_periods": lambda d: d.assign(time=d["time"].astype(float), cohort=d["cohort"].astype(float)),
          "nullable_int_periods": lambda d: d.assign(time=d["time"].astype("Int64"), cohort=d["cohort"].astype("Int64")),
          "int32_periods": lambda d: d.assign(time=d["time"].astype(np.int32), cohort=d["cohort"].astype(np.int32)),
          "bool_outcome": lambda d: d.assign(y=d["y"] > d["y"].median()),
          "float32_covariates": lambda d: d.assign(x1=d["x1"].astype(np.float32)),
          "nullable_int_outcome": lambda d: d.assign(y=(d["y"] * 10).round().astype("Int64"))}[dtypes](df)
    spec = dict(SPEC, panel=shape != "rcs")
    kw = dict(covariates=["x1", "x2"], cluster="area", weights=None)
    fast = prepare_fast(df, **spec, **kw)
    assert fast is not None
    _same_design(prepare(df, **spec, **kw)[0], fast[0])
    est = dict(outcome="y", unit="unit", time="time", cohort="cohort", covariates=["x1", "x2"], cluster="area",
               panel=shape != "rcs", control_group="notyet")
    got = att_gt(df, **est).tidy()
    original = cs.prepare_fast
    try:
        cs.prepare_fast = lambda *a, **k: None
        want = att_gt(df, **est).tidy()
    finally:
        cs.prepare_fast = original
    pd.testing.assert_frame_equal(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("change", ["inf_outcome", "all_outcomes_missing", "nan_string_unit", "mixed_unit", "duplicate_key",
                                    "varying_covariate", "float_time", "one_cluster",
                                    "nan_float_cohort", "nullable_time_with_na"])
def test_fast_layout_leaves_the_rest_to_the_general_path(change):
    df = _clean(make_panel(balanced=change == "duplicate_key"))
    if change == "inf_outcome":  # missing values are dropped by the fast path too (above); inf is explained
        df.loc[3, "y"] = np.inf
    elif change == "all_outcomes_missing":
        df["y"] = np.nan
    elif change == "nan_string_unit":
        df["unit"] = ("u" + df["unit"].astype(str)).astype(object)
        df.loc[5, "unit"] = None
    elif change == "mixed_unit":
        df["unit"] = df["unit"].astype(object)
        df.loc[5, "unit"] = "u5"
    elif change == "one_cluster":
        df["area"] = 1
    elif change == "duplicate_key":
        df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    elif change == "varying_covariate":
        df.loc[df["unit"] == df["unit"].iloc[0], "x1"] = np.arange((df["unit"] == df["unit"].iloc[0]).sum())
    elif change == "nan_float_cohort":  # never treated coded as missing: the general path explains
        df["cohort"] = df["cohort"].astype(float).where(df["cohort"] > 0)
    elif change == "nullable_time_with_na":
        df["time"] = df["time"].astype("Int64")
        df.loc[4, "time"] = pd.NA
    elif change == "float_time":  # whole-number floats take the fast path (below); fractional ones do not
        df["time"] = df["time"] + 0.5
    assert prepare_fast(df, **SPEC, covariates=["x1"], cluster="area", weights=None) is None


@pytest.mark.parametrize("control_group", ["never", "notyet"])
def test_block_kernel_equals_stacked_kernel(control_group, monkeypatch):
    df = _clean(make_panel())
    design, _ = prepare(df, **dict(SPEC, control_group=control_group), covariates=["x1", "x2"], cluster=None,
                        weights="w")
    moms = _grid.block_moments(design)
    is_treated, is_control = _grid._members(5, control_group, 3)
    blocks = [_grid._block(design, moms, k, ok) for k in (2, 1) for ok in (is_treated, is_control)]
    rows = _rcblocks.Rows(design.row_y, design.row_x, design.row_w)
    emitted = {}  # span start -> the span's values, chunk by chunk (a small CHUNK: several per span)
    monkeypatch.setattr(_rcblocks, "CHUNK", 7)

    def emit(a, s, e, values):
        emitted.setdefault(a, []).append((s, e, values.copy()))
    att, _ = _rcblocks.dr(rows, *blocks, emit)
    vals = []
    for b in blocks:
        for a, z in b.spans:
            parts = emitted.pop(a)
            assert [p[0] for p in parts] == list(range(a, z, 7)) and parts[-1][1] == z
            vals += [p[2] for p in parts]
    assert not emitted
    sizes = [b.size for b in blocks]
    cat = {f: np.concatenate([getattr(design, "row_" + f)[a:z] for b in blocks for a, z in b.spans])
           for f in ("y", "x", "w")}
    ref = _drdid.rc("dr", cat["y"], np.repeat([1.0, 1, 0, 0], sizes), np.repeat([1.0, 0, 1, 0], sizes), cat["x"],
                    cat["w"])
    assert att == pytest.approx(ref.att, abs=1e-12)
    np.testing.assert_allclose(np.concatenate(vals), ref.inf, rtol=0, atol=1e-11)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("k", [1, 3])
def test_pool_kernel_equals_the_cell_kernel(method, k):
    rng = np.random.default_rng(k)
    n, m = 400, 6
    d = (rng.random(n) < 0.3).astype(float)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1)) * [1, 1e4][: k - 1]]) if k > 1 else np.ones((n, 1))
    w = rng.uniform(0.5, 2, n)
    dy = rng.normal(size=(n, m)) * 50 + 1e3 + 3 * d[:, None]
    nu = _drdid.panel_nuisance(method, d, x, w)
    att, inf = _panel_pool.pool_columns(_panel_pool.pool_map(method, d, x, nu), np.asfortranarray(dy.copy()))
    for c in range(m):
        ref = _drdid.panel(method, dy[:, c], d, x, w)
        assert att[c] == pytest.approx(ref.att, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(inf[:, c], ref.inf, rtol=1e-10, atol=1e-10 * np.abs(ref.inf).max())


@pytest.mark.parametrize("control_group", ["never", "notyet"])
def test_balanced_grid_does_not_depend_on_pool_chunks(control_group, monkeypatch):
    import evalkit

    df = _clean(make_panel())
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", covariates=["x1", "x2"], cluster="area",
              control_group=control_group)
    ref = evalkit.att_gt(df, **kw)
    for small, chunk in [(0, 1), (0, 10**9), (10**6, 10**9)]:  # one cell at a time, all at once, cell kernel
        monkeypatch.setattr(_grid, "SMALL_POOL", small)
        monkeypatch.setattr(_grid, "POOL_CHUNK", chunk)
        got = evalkit.att_gt(df, **kw)
        np.testing.assert_allclose(got.tidy()["estimate"], ref.tidy()["estimate"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.influence.to_numpy(), ref.influence.to_numpy(), rtol=1e-9, atol=1e-12)


def test_grid_runs_on_one_blas_thread_and_restores_the_count(monkeypatch):
    from threadpoolctl import threadpool_info

    import evalkit
    from evalkit.estimators.staggered import cs

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    seen, estimate = [], cs.estimate_grid

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return estimate(*args, **kwargs)

    before = blas_threads()
    monkeypatch.setattr(cs, "estimate_grid", spy)
    evalkit.att_gt(make_panel(1), outcome="y", unit="unit", time="time", cohort="cohort")
    assert seen and all(n == 1 for n in seen[0]) and blas_threads() == before


def test_zeros_f_large_and_small():
    for shape in [(10, 3), (3_000_000, 3)]:
        a = _memory.zeros_f(shape)
        assert a.shape == shape and a.flags.f_contiguous and a.flags.writeable and not a.any()
        a[:, 1] += 1.0
        assert a.sum() == shape[0]


def test_repeated_cross_section_influence_is_sparse_and_maps_to_its_rows():
    """Repeated cross-sections keep each cell's influence column sparse: nonzero only on rows of the
    cell's two periods (the index names the data's row positions), and aggregation and cluster sums
    read the stored values as a dense matrix would."""
    from evalkit import att_gt
    from evalkit.core.clusters import cluster_sums
    from evalkit.estimators.staggered import _sparse

    df = _clean(make_panel())
    res = att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", covariates=["x1"], cluster="area",
                 panel=False)
    inf = res.influence
    tab = res.table[~res.table["reference"]]
    assert all(isinstance(inf[t].dtype, pd.SparseDtype) for t in tab["term"])
    dense = inf[list(tab["term"])].sparse.to_dense().to_numpy()
    row_time = df["time"].to_numpy()[inf.index.to_numpy()]
    for j, (_, row) in enumerate(tab.iterrows()):
        base = row["group"] - 1 if row["time"] >= row["group"] else row["time"] - 1
        assert np.all(np.isin(row_time[dense[:, j] != 0], [row["time"], base]))
        assert np.count_nonzero(dense[:, j]) > 0
    w = np.random.default_rng(1).normal(size=dense.shape[1])
    np.testing.assert_allclose(_sparse.matrix(inf[list(tab["term"])]) @ w, dense @ w, rtol=0, atol=1e-13)
    codes = inf[".cluster"].to_numpy().astype(int)
    sums = _sparse.influence_sums(inf[list(tab["term"])].sparse.to_coo().tocsc(), codes)
    np.testing.assert_allclose(sums, cluster_sums(dense, codes), rtol=0, atol=1e-13)
    se = np.sqrt((sums**2).sum(axis=0)) / len(df)
    np.testing.assert_allclose(se, tab["std_error"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("control_group", ["never", "notyet"])
def test_repeated_cross_sections_with_a_universal_base_period(control_group):
    """Reference cells (universal base) have an empty sparse column (break-it review: it crashed)."""
    from evalkit import aggregate, att_gt

    df = _clean(make_panel())
    res = att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", panel=False, base_period="universal",
                 control_group=control_group, cluster="area")
    ref = res.table[res.table["reference"]]
    assert len(ref) and (ref["estimate"] == 0).all()
    assert res.influence.index.name == "row"
    assert not res.influence[list(ref["term"])].sparse.to_dense().to_numpy().any()
    assert np.isfinite(aggregate(res, "dynamic").table["estimate"]).all()


def test_dynamic_aggregate_marks_the_universal_reference_event_time():
    """Break-it finding: with base_period="universal" the e = -1 row of aggregate(..., "dynamic") is
    zero with no standard error by construction; it is flagged as a reference row, as in att_gt."""
    import evalkit

    res = evalkit.att_gt(_clean(make_panel()), outcome="y", unit="unit", time="time", cohort="cohort",
                         base_period="universal")
    tab = evalkit.aggregate(res, "dynamic").tidy()
    row = tab[tab["event_time"] == -1].iloc[0]
    assert row["reference"] and row["estimate"] == 0.0
    assert not tab.loc[tab["event_time"] != -1, "reference"].any()
    assert tab.loc[~tab["reference"], "std_error"].notna().all()


@pytest.mark.parametrize("shape", ["balanced", "unbalanced", "rcs"])
@pytest.mark.parametrize("change", ["late", "early", "late_and_early", "early_float_years", "missing",
                                    "missing_and_late"])
def test_recoded_cohorts_take_the_fast_path_with_the_general_paths_warnings(shape, change):
    """Cohorts after the last period (never treated), units treated in the first period (dropped),
    rows with a missing outcome or covariate (dropped): the fast layout treats them as the general
    path does (R did's conventions), with the same warnings in the same order, diagnostics and
    results (they took the general path, 2-6x slower at 1M rows)."""
    import warnings as w

    from evalkit import att_gt
    from evalkit.estimators.staggered import cs

    df = make_panel(balanced=shape == "balanced")  # has cohorts after the last period
    if change.startswith("missing"):
        df = df if change == "missing_and_late" else _clean(df)
        df.loc[df.index[::37], "y"] = np.nan
        df.loc[df.index[5::53], "x2"] = np.nan
    elif change != "late":
        df = _clean(df) if change != "late_and_early" else df
        first = df["unit"].isin(df["unit"].unique()[::9])
        df = df.assign(cohort=df["cohort"].where(~first, df["time"].min()))
    if change == "early_float_years":
        df = df.assign(time=df["time"].astype(float), cohort=df["cohort"].astype(float))
    spec = dict(SPEC, panel=shape != "rcs")
    kw = dict(covariates=["x1", "x2"], cluster="area", weights=None)
    with w.catch_warnings(record=True) as fast_warnings:
        w.simplefilter("always")
        fast = prepare_fast(df, **spec, **kw)
    assert fast is not None
    with w.catch_warnings(record=True) as general_warnings:
        w.simplefilter("always")
        general = prepare(df, **spec, **kw)
    _same_design(general[0], fast[0])
    assert fast[1] == general[1]
    assert [str(m.message) for m in fast_warnings] == [str(m.message) for m in general_warnings]
    assert len(fast_warnings) == (2 if change in ("late_and_early", "missing_and_late") else 1)
    est = dict(outcome="y", unit="unit", time="time", cohort="cohort", covariates=["x1", "x2"], cluster="area",
               panel=shape != "rcs", control_group="notyet")
    with w.catch_warnings():
        w.simplefilter("ignore")
        got = att_gt(df, **est)
        original = cs.prepare_fast
        try:
            cs.prepare_fast = lambda *a, **k: None
            want = att_gt(df, **est)
        finally:
            cs.prepare_fast = original
    pd.testing.assert_frame_equal(got.tidy(), want.tidy(), rtol=0, atol=1e-12)
    gd, wd = dict(got.diagnostics), dict(want.diagnostics)
    gp, wp = gd.pop("pretest"), wd.pop("pretest")
    assert gd == wd
    assert gp["W"] == pytest.approx(wp["W"], rel=1e-10) and gp["cells"] == wp["cells"] and gp["df"] == wp["df"]


def test_a_cohort_that_varies_within_unit_is_left_to_the_general_path_before_recoding():
    """A unit with a late cohort in one row and 0 in another is constant only after recoding: the
    general path refuses it, so the fast path must not accept it."""
    df = make_panel()
    unit = df["unit"].iloc[0]
    rows = df.index[df["unit"] == unit]
    df.loc[rows[0], "cohort"] = 0
    df.loc[rows[1:], "cohort"] = df["time"].max() + 5
    assert prepare_fast(df, **SPEC, covariates=["x1"], cluster="area", weights=None) is None
