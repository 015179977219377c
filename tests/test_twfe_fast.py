"""The large-data TWFE path (exact two-way solver + registry CR1/HC1) equals linearmodels PanelOLS."""
from __future__ import annotations

import numpy as np
import pytest

import evalkit
from evalkit.data.synthetic import staggered_panel
from evalkit.errors import ValidationError
from evalkit.estimators import _common


@pytest.fixture(scope="module")
def unbalanced():
    df = staggered_panel(n_units=400, n_periods=9, cohorts={0: 0.5, 4: 0.25, 7: 0.25}, effect=0.5,
                         n_clusters=30, seed=8)
    rng = np.random.default_rng(1)
    df["x"] = rng.normal(size=len(df))
    return df.loc[rng.random(len(df)) < 0.8].reset_index(drop=True)


@pytest.mark.parametrize("cluster", ["cluster", "unit", None])
def test_fast_path_equals_panelols(unbalanced, cluster, monkeypatch):
    kw = dict(outcome="y", unit="unit", time="time", treatment="treat", cluster=cluster, covariates=["x"])
    slow = evalkit.twfe(unbalanced, **kw)
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    fast = evalkit.twfe(unbalanced, **kw)
    np.testing.assert_allclose(fast.table["estimate"], slow.table["estimate"], rtol=1e-9)
    np.testing.assert_allclose(fast.table["std_error"], slow.table["std_error"], rtol=1e-8)
    np.testing.assert_allclose(fast.vcov.to_numpy(), slow.vcov.to_numpy(), rtol=1e-7, atol=1e-14)


def test_fast_event_study_equals_panelols(unbalanced, monkeypatch):
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster", leads=3, lags=2)
    slow = evalkit.event_study(unbalanced, **kw)
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    fast = evalkit.event_study(unbalanced, **kw)
    np.testing.assert_allclose(fast.table["estimate"], slow.table["estimate"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.table["std_error"], slow.table["std_error"], rtol=1e-8)


def test_fast_path_absorbed_regressor_errors(unbalanced, monkeypatch):
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    same = unbalanced.assign(treat=(unbalanced["time"] >= 5).astype(int))  # one timing for all: absorbed
    with pytest.raises(ValidationError, match="absorbed"):
        evalkit.twfe(same, outcome="y", unit="unit", time="time", treatment="treat")
