"""The large-data event study with the event-time dummies as sparse indicators (issue 13) equals the
dense-dummy path (partialled n x k dummies, ``fit_twoway_fast``) to 1e-10: balanced and unbalanced
panels, integer and text ids, clusters that nest the units or not, both solver branches."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evalkit
from evalkit.core import indicator_fit
from evalkit.data.synthetic import staggered_panel
from evalkit.errors import ValidationError
from evalkit.estimators import _common, _event_fit


def _panel(balanced: bool, ids: str) -> pd.DataFrame:
    df = staggered_panel(n_units=240, n_periods=10, cohorts={0: 0.4, 4: 0.2, 6: 0.2, 8: 0.2}, effect=0.5,
                         n_clusters=24, seed=3)
    rng = np.random.default_rng(5)
    if not balanced:
        df = df.loc[rng.random(len(df)) < 0.75].reset_index(drop=True)
    if ids == "str":
        df["unit"] = "P" + df["unit"].astype(str).str.zfill(6)
    df["moving"] = df["cluster"] * 2 + df["time"] % 2  # units move between these clusters
    return df.sample(frac=1.0, random_state=2).reset_index(drop=True)  # rows in no particular order


@pytest.fixture(scope="module", params=[(True, "int"), (True, "str"), (False, "int"), (False, "str")],
                ids=["balanced-int", "balanced-str", "unbalanced-int", "unbalanced-str"])
def panel(request):
    return _panel(*request.param)


def _both(monkeypatch, df, **kw):
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    monkeypatch.setattr(_event_fit, "ENABLED", False)
    dense = evalkit.event_study(df, **kw)
    monkeypatch.setattr(_event_fit, "ENABLED", True)
    sparse = evalkit.event_study(df, **kw)
    return dense, sparse


NUMBERS = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "band_low", "band_high"]


def _assert_equal(dense, sparse):
    a, b = dense.table, sparse.table
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns=NUMBERS), b.drop(columns=NUMBERS))
    for col in NUMBERS:
        np.testing.assert_allclose(b[col].astype(float), a[col].astype(float), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sparse.vcov.to_numpy(), dense.vcov.to_numpy(), rtol=1e-10, atol=1e-16)
    assert sparse.diagnostics == dense.diagnostics
    assert sparse.inference == dense.inference


@pytest.mark.parametrize("cluster", ["cluster", None, "moving"])
def test_sparse_equals_dense(panel, cluster, monkeypatch):
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster=cluster, leads=3, lags=4)
    if cluster == "moving":  # cohort must be constant within clusters: it is (assigned by cluster)
        kw["cluster"] = "moving"
    _assert_equal(*_both(monkeypatch, panel, **kw))


@pytest.mark.parametrize("opts", [dict(leads=2, lags=2, bin_endpoints=False, reference=-2),
                                  dict(leads=7, lags=6), dict(leads=1, lags=0)])
def test_sparse_equals_dense_windows(panel, opts, monkeypatch):
    _assert_equal(*_both(monkeypatch, panel, outcome="y", unit="unit", time="time", cohort="cohort",
                         cluster="cluster", **opts))


def test_solver_branches(monkeypatch):
    """The sparse unit x period solver and the per-table score sums (large designs) give the same."""
    df = _panel(False, "int")
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster="moving", leads=3, lags=3)
    dense, sparse = _both(monkeypatch, df, **kw)
    monkeypatch.setattr(indicator_fit, "DENSE_CELLS_PER_ROW", -10**9)
    monkeypatch.setattr(indicator_fit, "CUBE_CELLS_PER_ROW", -10**9)
    other = evalkit.event_study(df, **kw)
    _assert_equal(dense, other)
    _assert_equal(sparse, other)


def test_default_size_takes_sparse_path(monkeypatch):
    """Above FAST_TWOWAY_ROWS a CR1 event study takes the sparse path; HC1 and wild the dense one."""
    df = _panel(True, "int")
    calls = []
    real = _event_fit.fit_event_indicators
    monkeypatch.setattr(_event_fit, "fit_event_indicators", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", len(df))
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=2)
    evalkit.event_study(df, cluster="cluster", **kw)
    assert calls == [1]
    hc1 = evalkit.event_study(df, inference="hc1", **kw)
    assert calls == [1] and hc1.inference.method == "hc1"
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", len(df) + 1)
    evalkit.event_study(df, cluster="cluster", **kw)
    assert calls == [1]


def test_absorbed_dummies_raise_alike(monkeypatch):
    """Event dummies collinear with the period effects: both paths refuse with the same message."""
    df = staggered_panel(n_units=60, n_periods=9, cohorts={0: 0.5, 5: 0.5}, n_clusters=12, seed=1)
    df = df.loc[(df["cohort"] > 0) | (df["time"] == 1)].reset_index(drop=True)  # controls: one row each
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster", leads=3, lags=3)
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    messages = []
    for enabled in (False, True):
        monkeypatch.setattr(_event_fit, "ENABLED", enabled)
        with pytest.raises(ValidationError, match="absorbed") as err:
            evalkit.event_study(df, **kw)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("clustering", ["nested", "crossed"])
def test_kernel_matches_dense_least_squares(dense, clustering, monkeypatch):
    """indicator_cross/residuals/scores against a dummy-variable regression solved by lstsq."""
    if not dense:
        monkeypatch.setattr(indicator_fit, "DENSE_CELLS_PER_ROW", -10**9)
    rng = np.random.default_rng(0)
    n_u, n_t, k = 40, 6, 3
    unit = np.repeat(np.arange(n_u), n_t)
    time = np.tile(np.arange(n_t), n_u)
    keep = rng.random(len(unit)) < 0.8
    unit, time = unit[keep], time[keep]
    unit = pd.factorize(unit, sort=True)[0]
    ind = rng.integers(0, k + 2, len(unit)).clip(max=k)  # k = no indicator
    y = rng.normal(size=len(unit))
    clusters = unit % 7 if clustering == "nested" else rng.integers(0, 7, len(unit))
    assert indicator_fit.nested(unit, clusters) == (clustering == "nested")
    d = np.zeros((len(unit), k))
    d[ind < k, ind[ind < k]] = 1.0
    full = np.column_stack([d, np.eye(unit.max() + 1)[unit], np.eye(n_t)[time][:, 1:]])
    coef = np.linalg.lstsq(full, y, rcond=None)[0]
    others = full[:, k:]
    xt = d - others @ np.linalg.lstsq(others, d, rcond=None)[0]
    for keep_table in ((True, False) if clustering == "nested" else (True,)):
        fit = indicator_fit.indicator_cross(y, ind, k, unit, time, keep_unit_table=keep_table)
        np.testing.assert_allclose(fit.xtx, xt.T @ xt, atol=1e-11)
        beta = np.linalg.solve(fit.xtx, fit.xty)
        np.testing.assert_allclose(beta, coef[:k], rtol=1e-10, atol=1e-12)
        e = indicator_fit.indicator_residuals(fit, beta, y, ind, unit, time)
        np.testing.assert_allclose(e, y - full @ coef, atol=1e-11)
        want = np.vstack([(xt * e[:, None])[clusters == g].sum(axis=0) for g in range(7)])
        for flag in ((True, False) if keep_table else (True,)):  # nested: both formulas
            got = indicator_fit.indicator_cluster_scores(fit, e, ind, unit, time, clusters, units_nested=flag
                                                         if clustering == "nested" else None)
            np.testing.assert_allclose(got, want, atol=1e-11)
    if clustering == "crossed":
        fit = indicator_fit.indicator_cross(y, ind, k, unit, time, keep_unit_table=False)
        with pytest.raises(Exception, match="not nested"):
            indicator_fit.indicator_cluster_scores(fit, e, ind, unit, time, clusters)


@pytest.mark.parametrize("cluster", ["cluster", "moving", "unit", None])
def test_request_from_codes_equals_panel_request(panel, cluster):
    from evalkit.estimators.event_study import _panel_request

    entity, period = pd.factorize(panel["unit"], sort=True)[0], pd.factorize(panel["time"], sort=True)[0]
    clusters = None if cluster is None else pd.factorize(panel[cluster], sort=True)[0]
    got = _panel_request(len(panel), entity, period, clusters, cluster, 5)
    want = _common.panel_request(panel, unit="unit", time="time", cluster=cluster, n_regressors=5)
    for field in ("n_obs", "n_regressors", "n_effects", "n_nested_effects", "cluster_name"):
        assert getattr(got, field) == getattr(want, field), field
    if cluster is None:
        assert got.clusters is None and want.clusters is None
    else:
        np.testing.assert_array_equal(got.clusters, want.clusters)


def test_checks_from_codes_raise_the_checks_messages():
    """Duplicate keys and a cohort varying within a unit or cluster: the messages of core.checks."""
    df = _panel(False, "str")
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster", leads=2, lags=2)
    with pytest.raises(ValidationError, match="do not identify rows"):
        evalkit.event_study(pd.concat([df, df.iloc[[5]]], ignore_index=True), **kw)
    bad = df.copy()
    bad.loc[bad["unit"] == bad["unit"].iloc[0], "cohort"] = [0] + [6] * (int((bad["unit"] == bad["unit"].iloc[0]).sum()) - 1)
    with pytest.raises(ValidationError, match="a unit is first treated only once"):
        evalkit.event_study(bad, **kw)
    moved = df.copy()
    moved.loc[moved["unit"] == moved["unit"].iloc[0], "cluster"] = 10_000  # a cluster with two cohorts
    other = moved.loc[(moved["cohort"] != moved["cohort"].iloc[0]), "unit"].iloc[0]
    moved.loc[moved["unit"] == other, "cluster"] = 10_000
    with pytest.raises(ValidationError, match="treatment timing is assigned by cluster"):
        evalkit.event_study(moved, **kw)


@pytest.mark.parametrize("bin_endpoints", [True, False])
def test_event_span_equals_codes_of_event_times(bin_endpoints):
    from evalkit.estimators._event_design import event_codes, event_span, event_times

    rng = np.random.default_rng(4)
    time = rng.integers(1990, 2030, 5000)
    cohort = np.where(rng.random(5000) < 0.3, 0, rng.integers(1995, 2040, 5000))
    want = event_codes(event_times(time.astype(float), cohort.astype(float), 4, 6, bin_endpoints), -4, 6)
    np.testing.assert_array_equal(event_span(time, cohort, 4, 6, bin_endpoints), want)
    np.testing.assert_array_equal(event_span(time.astype(float), cohort.astype(np.int32), 4, 6, bin_endpoints), want)
    np.testing.assert_array_equal(event_span(time.astype(np.int32), cohort, 4, 6, bin_endpoints), want)


@pytest.mark.parametrize("ids", ["int", "str"])
def test_sun_abraham_grouped_influence_equals_sparse(ids, monkeypatch):
    """Units nested in clusters: the per-cluster influence from one grouped sum equals the sparse
    cluster x unit route (the only use of ``design_nested`` that changes phi)."""
    import importlib

    sa = importlib.import_module("evalkit.estimators.sun_abraham")  # the module (the package exports the function)
    df = _panel(False, ids)
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster")
    grouped = evalkit.sun_abraham(df, **kw)
    monkeypatch.setattr(sa, "design_nested", lambda unit, clusters: False)
    sparse = evalkit.sun_abraham(df, **kw)
    np.testing.assert_allclose(grouped.influence.to_numpy(), sparse.influence.to_numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(grouped.table["estimate"], sparse.table["estimate"], rtol=1e-12)


def test_twfe_checks_from_codes_raise_the_checks_messages():
    df = _panel(False, "int")
    kw = dict(outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")
    with pytest.raises(ValidationError, match="do not identify rows"):
        evalkit.twfe(pd.concat([df, df.iloc[[3]]], ignore_index=True), **kw)
    bad = df.copy()
    row = bad.index[(bad["cohort"] > 0) & (bad["time"] >= bad["cohort"])][0]
    bad.loc[row, "treat"] = 0  # one unit untreated in a treated cluster-period
    with pytest.raises(ValidationError, match="treatment is assigned by cluster in each period"):
        evalkit.twfe(bad, **kw)
