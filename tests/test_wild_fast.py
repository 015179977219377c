"""The fast wild-bootstrap set-up equals the previous one.

Two shortcuts are checked against the paths they replace, to 1e-10:

* the estimator hands its own partialled [y, X] to ``inference="wild"`` (large-panel
  fit path, forced here by ``FAST_TWOWAY_ROWS = 0``) instead of the bootstrap rebuilding
  the design from the data and partialling the fixed effects out again;
* the dense (units x years) two-way solver and Schur complement of
  :mod:`evalkit.inference._wild_design` instead of the sparse ``twoway_fit`` and the
  sparse D_c' M_{D_n} D_c (forced by ``_DENSE_CELLS = 0``), i.e. the previous numerics.

Correctness itself (equality with refitting the dummy-variable regression) is in test_wild.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import evalkit
from evalkit.data.synthetic import staggered_panel
from evalkit.errors import ValidationError
from evalkit.estimators import _common
from evalkit.estimators import postfit as choice
from evalkit.inference import _wild_design
from evalkit.inference.wild import wild_cluster_bootstrap

OPTS = {"draws": 999, "seed": 3}
COLS = ["p_value", "conf_low", "conf_high"]


@pytest.fixture(scope="module")
def panel():
    df = staggered_panel(n_units=300, n_periods=8, cohorts={0: 0.5, 4: 0.25, 6: 0.25}, effect=0.15,
                         n_clusters=24, seed=11)
    rng = np.random.default_rng(2)
    df["x"] = rng.normal(size=len(df)) + 0.3 * df["treat"]
    return df.loc[rng.random(len(df)) < 0.85].reset_index(drop=True)  # unbalanced


def _fit(name, panel, **kw):
    if name == "twfe":
        return evalkit.twfe(panel, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster",
                            covariates=["x"], **kw)
    return evalkit.event_study(panel, outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster",
                               leads=2, lags=2, **kw)


@pytest.mark.parametrize("name", ["twfe", "event_study"])
def test_fit_handover_equals_the_previous_path(panel, name, monkeypatch):
    previous = _fit(name, panel).with_inference("wild", panel, **OPTS)  # small panel: PanelOLS fit, rebuilt design
    monkeypatch.setattr(_wild_design, "_DENSE_CELLS", 0)  # and the previous (sparse) partialling
    previous_sparse = _fit(name, panel).with_inference("wild", panel, **OPTS)
    monkeypatch.undo()
    calls = []
    real = choice.prepare_partialled
    monkeypatch.setattr(choice, "prepare_partialled", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    fast = _fit(name, panel, inference="wild", inference_options=OPTS)
    assert calls == [1], "the fit's partialled design was not used"
    assert not choice._FIT_DESIGNS  # nothing outlives the estimator's call
    for other in (previous, previous_sparse):
        np.testing.assert_allclose(fast.table[COLS].to_numpy(float), other.table[COLS].to_numpy(float),
                                   rtol=0, atol=1e-10)
    np.testing.assert_array_equal(fast.table["p_value"], previous.table["p_value"])  # p-values: identical
    assert ((fast.table["p_value"] > 0) & (fast.table["p_value"] < 1)).any()  # not a degenerate comparison


def test_later_call_rereads_and_checks_its_data(panel, monkeypatch):
    monkeypatch.setattr(_common, "FAST_TWOWAY_ROWS", 0)
    res = _fit("twfe", panel, inference="wild", inference_options=OPTS)
    with pytest.raises(ValidationError, match="do not reproduce"):
        res.with_inference("wild", panel.assign(y=panel["y"] * 2.0), **OPTS)


def _person_year(seed=5, G=15, per=8, T=6):
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(G * per), T)
    year = np.tile(np.arange(T), G * per)
    cl = person // per
    treat = ((cl < 5) & (year >= 3)).astype(float)
    X = np.column_stack([treat, rng.normal(size=person.size)])
    y = (0.1 * treat + 0.2 * X[:, 1] + rng.normal(size=G * per)[person] + rng.normal(size=T)[year]
         + 0.5 * rng.normal(size=G)[cl] + rng.normal(size=person.size))
    keep = rng.random(person.size) < 0.9
    return y[keep], X[keep], cl[keep], person[keep], year[keep]


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_dense_two_way_equals_sparse_solver(restricted, weights, monkeypatch):
    y, X, cl, person, year = _person_year()
    kw = dict(coef_index=0, restricted=restricted, weights=weights, draws=999, seed=1, fe_codes=[person, year])
    for null in (0.0, 0.3):
        dense = wild_cluster_bootstrap(y, X, cl, null=null, **kw)
        monkeypatch.setattr(_wild_design, "_DENSE_CELLS", 0)
        sparse = wild_cluster_bootstrap(y, X, cl, null=null, **kw)
        monkeypatch.undo()
        assert dense.p_value == sparse.p_value
        for field in ("statistic", "ci_low", "ci_high", "estimate", "std_error"):
            assert getattr(dense, field) == pytest.approx(getattr(sparse, field), rel=1e-10, abs=1e-12), field


def test_two_way_schur_is_the_crossing_gram():
    _, _, cl, person, year = _person_year()
    person, year = _wild_design.dense_codes(person), _wild_design.dense_codes(year)
    tw = _wild_design.two_way(person, year)
    d_c = np.eye(year.max() + 1)[year]
    d_n = np.eye(person.max() + 1)[person]
    resid = d_c - d_n @ np.linalg.lstsq(d_n, d_c, rcond=None)[0]
    np.testing.assert_allclose(tw.schur, resid.T @ resid, atol=1e-10)
    assert _wild_design.nested(person, cl) and not _wild_design.nested(year, cl)
