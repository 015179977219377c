"""External witness and peer oracle for synthetic DiD (evalkit.sdid).

Data provenance and licence
---------------------------
The California Proposition 99 panel (per-capita cigarette sales in packs, 39 US states,
1970-2000; Abadie, Diamond & Hainmueller 2010, JASA 105(490)) is loaded from the PyPI
package ``synthdid-py`` (0.1.0, BSD-3-Clause; ``synthdid.load_california_prop99()``),
which redistributes ``california_prop99`` of the authors' R package ``synthdid``
(Stanford University, GPL >= 2 | BSD-3-Clause) unchanged. It is installed with the
``oracle`` extra (and so with ``.[dev]``); the tests are skipped with a reason when it is
absent. No data is committed to this repository.

Published numbers (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER, Table 1,
placebo standard errors): SDID -15.6 (8.4), SC -19.6 (9.9), DiD -27.3 (17.7). R
``synthdid`` prints -15.604, -19.620 and -27.349 for the three estimators.

Placebo SE and its tolerance: with one treated unit every placebo replicate treats one
of the 38 control states, so the placebo SE is a Monte Carlo estimate of the spread of
38 values; its limit is 9.37 for SDID (all 38 placebos, population sd), and with 200
replications the estimate moves between about 8.5 and 10.9 across seeds. The paper's
8.4 lies at the low end of that range. We therefore test 6 <= SE <= 11 for the fixed
seed below (as the issue suggests), not equality.

Peer oracle: ``synthdid-py``, a line-by-line port of R ``synthdid`` (same Frank-Wolfe
solver, sparsification and variance algorithms, and the same draws for a given numpy
Generator when units are ordered controls first). Point estimates, weights, jackknife,
placebo and bootstrap SEs agree to 1e-6 or better; its staggered extension (Stata
``sdid`` weighting) agrees too.
"""
from __future__ import annotations

import importlib.metadata

import numpy as np
import pandas as pd
import pytest

from evalkit.estimators.sdid import sdid


def _peer():
    try:
        importlib.metadata.version("synthdid-py")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("synthdid-py (the oracle extra: pip install -e '.[oracle]') is not installed; it ships the "
                    "Prop 99 data and is the peer implementation")
    import synthdid
    return synthdid


@pytest.fixture(scope="module")
def prop99():
    return _peer().load_california_prop99()


P99 = dict(outcome="PacksPerCapita", unit="State", time="Year", treatment="treated")


# ------------------------------------------------------------------ published numbers
@pytest.mark.parametrize("method, published", [("sdid", -15.60), ("sc", -19.62), ("did", -27.35)])
def test_prop99_point_estimates_match_published(prop99, method, published):
    r = sdid(prop99, **P99, method=method, se=None)
    assert r.estimate() == pytest.approx(published, abs=0.01)


def test_prop99_sdid_placebo_se_comparable_to_published(prop99):
    r = sdid(prop99, **P99, se="placebo", draws=200, seed=2021)
    se = float(r.table["std_error"].iloc[0])
    assert 6.0 <= se <= 11.0, se   # paper: 8.4; limit over all 38 placebos: 9.37
    d = r.diagnostics
    assert d["noise_level"] == pytest.approx(5.4944, abs=1e-3)
    assert d["zeta_omega"] == pytest.approx(12 ** 0.25 * d["noise_level"])
    assert r.table["group"].iloc[0] == 1989 and r.table["n_control"].iloc[0] == 38


# ------------------------------------------------------------------ peer: synthdid-py
def _matrices(synthdid, df):
    p = synthdid.panel_matrices(df)
    return np.asarray(p.Y, float), p.N0, p.T0


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_prop99_matches_peer_estimates_and_weights(prop99, method):
    s = _peer()
    y, n0, t0 = _matrices(s, prop99)
    fn = {"sdid": s.synthdid_estimate, "sc": s.sc_estimate, "did": s.did_estimate}[method]
    peer = fn(y, n0, t0)
    r = sdid(prop99, **P99, method=method, se=None)
    assert r.estimate() == pytest.approx(float(peer), abs=1e-6)
    controls = sorted(prop99.loc[prop99.groupby("State")["treated"].transform("max") == 0, "State"].unique())
    theirs = dict(zip(controls, np.asarray(peer.weights["omega"], float)))  # the peer orders controls by name
    ours = dict(r.diagnostics["omega"])
    assert ours.keys() == theirs.keys()
    assert np.allclose([ours[c] for c in controls], [theirs[c] for c in controls], atol=1e-8)
    assert np.allclose(list(r.diagnostics["lambda"].values()), np.asarray(peer.weights["lambda"], float), atol=1e-8)


def canonical_names(df: pd.DataFrame) -> pd.DataFrame:
    """Units renamed so that their names sort in evalkit's order (the order of their content, which
    makes evalkit's placebo and bootstrap draws independent of the labels): the peer orders units by
    name, so both then give the same draws to the same unit."""
    from evalkit.estimators._sdid_data import build_panel

    units = build_panel(df, outcome="y", unit="unit", time="time", treatment="d", cohort=None,
                        covariates=None).units
    return df.assign(unit=df["unit"].map({u: f"u{i:03d}" for i, u in enumerate(units)}))


def simulate(n_control=25, n_treated=4, t0=12, t1=5, seed=0, canonical=True):
    """Factor model with controls named before treated units (so both order units alike), renamed
    by :func:`canonical_names`."""
    rng = np.random.default_rng(seed)
    n, t = n_control + n_treated, t0 + t1
    f = np.cumsum(rng.normal(size=(t, 2)), axis=0)
    y = rng.normal(size=(n, 1)) + rng.normal(size=(n, 2)) @ f.T + rng.normal(0, 0.7, (n, t))
    d = np.zeros((n, t), int)
    d[n_control:, t0:] = 1
    y = y + 1.5 * d
    names = [f"c{i:02d}" for i in range(n_control)] + [f"t{i:02d}" for i in range(n_treated)]
    df = pd.DataFrame({"unit": np.repeat(names, t), "time": np.tile(np.arange(2000, 2000 + t), n),
                       "y": y.ravel(), "d": d.ravel()})
    return canonical_names(df) if canonical else df


SIM = dict(outcome="y", unit="unit", time="time", treatment="d")


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_simulated_jackknife_placebo_bootstrap_match_peer(method):
    s = _peer()
    df = simulate(seed=3)
    y, n0, t0 = _matrices(s, df[["unit", "time", "y", "d"]])
    fn = {"sdid": s.synthdid_estimate, "sc": s.sc_estimate, "did": s.did_estimate}[method]
    peer = fn(y, n0, t0)
    jk = sdid(df, **SIM, method=method, se="jackknife")
    assert jk.estimate() == pytest.approx(float(peer), abs=1e-8)
    assert jk.table["std_error"].iloc[0] == pytest.approx(s.jackknife_se(peer), abs=1e-6)
    for se, peer_se in (("placebo", s.placebo_se), ("bootstrap", s.bootstrap_se)):
        ours = sdid(df, **SIM, method=method, se=se, draws=10, seed=7)
        theirs = peer_se(peer, 10, np.random.default_rng(7))
        assert ours.table["std_error"].iloc[0] == pytest.approx(theirs, abs=1e-6), se


def test_staggered_matches_peer_cohort_weighting():
    s = _peer()
    df = simulate(n_control=20, n_treated=5, t0=10, t1=6, seed=5, canonical=False)
    first = {f"t{i:02d}": g for i, g in enumerate([2010, 2010, 2013, 2013, 2013])}
    df["d"] = [int(u in first and t >= first[u]) for u, t in zip(df["unit"], df["time"])]
    ours = sdid(df, **SIM, se=None).tidy().set_index("term")
    peer = s.staggered_synthdid_estimate(df[["unit", "time", "y", "d"]])
    assert ours.loc["ATT", "estimate"] == pytest.approx(float(peer), abs=1e-8)


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_covariates_match_peer(method):
    """Covariate adjustment as R synthdid (joint Frank-Wolfe / gradient steps on beta)."""
    s = _peer()
    rng = np.random.default_rng(9)
    df = simulate(n_control=15, n_treated=3, t0=8, t1=3, seed=9, canonical=False)
    df["x1"], df["x2"] = rng.normal(size=len(df)), rng.normal(size=len(df))
    df["y"] = df["y"] + 1.5 * df["x1"] - 0.7 * df["x2"]
    df = canonical_names(df)
    y, n0, t0 = _matrices(s, df[["unit", "time", "y", "d"]])
    x = np.stack([df.pivot(index="unit", columns="time", values=c).to_numpy(float) for c in ("x1", "x2")], axis=2)
    fn = {"sdid": s.synthdid_estimate, "sc": s.sc_estimate, "did": s.did_estimate}[method]
    peer = fn(y, n0, t0, X=x)
    ours = sdid(df, **SIM, covariates=["x1", "x2"], method=method, se="jackknife")
    assert ours.estimate() == pytest.approx(float(peer), abs=1e-8)
    assert list(ours.diagnostics["beta"].values()) == pytest.approx(list(np.asarray(peer.weights["beta"])), abs=1e-8)
    assert ours.table["std_error"].iloc[0] == pytest.approx(s.jackknife_se(peer), abs=1e-6)
    if method == "sdid":
        pl = sdid(df, **SIM, covariates=["x1", "x2"], method=method, se="placebo", draws=3, seed=1)
        assert pl.table["std_error"].iloc[0] == pytest.approx(s.placebo_se(peer, 3, np.random.default_rng(1)),
                                                              abs=1e-6)
