"""HonestDiD against the R package HonestDiD (R witness), on an event study of mpdta.

Reference: tests/references/honestdid_mpdta.json, written by tests/references/r/honestdid.R (R 4.2.2,
HonestDiD 0.2.6, CVXR 1.0.11, fixest 0.14.2; the JSON records versions, calls and date). betahat and sigma
are our own derived numbers, stored in the JSON: fixest::sunab's event study of lemp on did::mpdta (as
shipped by moderndid), clustered by county; 3 pre (-4..-2) and 4 post (0..3) coefficients. On them R ran
createSensitivityResults_relativeMagnitudes (Mbarvec = seq(0.5, 2, 0.5); defaults C-LF, 1000 grid points on
+-20 sd), createSensitivityResults (Mvec = seq(0, 0.05, 0.01); default FLCI), constructOriginalCS and
findOptimalFLCI, for l_vec = first post period (the default) and the average of the post periods.

Tolerance: 1e-3 absolute on interval endpoints (issue 4). Achieved: relative magnitudes (C-LF) ~4e-16 (same
theta grid, same R random stream for the least-favourable critical value); original CI ~5e-16; smoothness
(FLCI) 3.4e-4 at M = 0.01, first post period, 3.6e-5 at M = 0 and <= 8.5e-5 elsewhere. Why the FLCI differs
(see test_flci_half_length_matches_r_optimum): both minimise the same half-length over h, the sd of the
affine estimator; evalkit uses the exact folded-normal quantile and a bounded scalar minimiser, R a quantile
from 10^6 simulated draws and a derivative bisection. Where the half-length is flat in h the two land on
different h, hence different weights and a different centre, while the half-lengths agree to 1e-4
relative (evalkit's is the shorter one at M = 0.01).

One-off local check, not committed (the inputs belong to the R package and its README cache), with
HonestDiD 0.2.6 run the same day: README example (ehec, TWFE, 5 pre / 2 post; betahat/sigma refitted with
fixest 0.14.2 from the README's cached panel): C-LF 7e-17 and 2e-16 (l = (0.5, 0.5)), FLCI 1.8e-4 (3.2e-5
with the control); against the README's printed intervals 3.5e-4 (C-LF; R 0.2.6 itself differs from them
by 3.4e-4, the README having been rendered by an older HonestDiD) and 4.6e-4 (FLCI; R itself 2.8e-4).
data(BCdata_EventStudy) (4/4): C-LF 5e-16, FLCI 9.4e-4 at M = 1 se (width 0.136). data(LWdata_EventStudy)
(9/23, outcome sd ~0.25-1.5): C-LF 4e-15, FLCI up to 1.3e-2 at M = 0.198 (width 1.81), again a different
h on a flat objective: evalkit's optimal half-length with R's quantile is 1.7e-4 relative shorter than R's.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from evalkit.diagnostics import honest_did, honest_did_arrays
from evalkit.diagnostics._flci import flci
from tests.reference_data import mpdta, reference

REF = reference("honestdid_mpdta.json")
B, S = np.array(REF["betahat"]), np.array(REF["sigma"])
NPRE, NPOST = REF["num_pre"], REF["num_post"]
TOL = 1e-3  # issue 4: "HonestDiD matches the R package ... to 1e-3"


def _robust(res):
    tab = res.table
    return tab[tab["method"] != "original"], tab[tab["method"] == "original"].iloc[0]


@pytest.fixture(scope="module", params=sorted(REF["runs"]))
def run(request):
    return REF["runs"][request.param]


def test_relative_magnitudes_clf(run):
    rm = run["relative_magnitudes"]
    res = honest_did_arrays(B, S, NPRE, NPOST, method="relative_magnitudes", Mbar=rm["Mbar"], l_vec=run["l_vec"],
                            breakdown=False)
    rob, orig = _robust(res)
    assert res.ci == "c-lf" and rm["method"] == ["C-LF"] * len(rm["Mbar"])
    np.testing.assert_allclose(rob["Mbar"], rm["Mbar"])
    np.testing.assert_allclose(rob["lb"], rm["lb"], rtol=0, atol=TOL)
    np.testing.assert_allclose(rob["ub"], rm["ub"], rtol=0, atol=TOL)
    np.testing.assert_allclose([orig["lb"], orig["ub"]], [run["original"]["lb"][0], run["original"]["ub"][0]],
                               rtol=0, atol=TOL)


def test_smoothness_flci(run):
    sd = run["smoothness"]
    res = honest_did_arrays(B, S, NPRE, NPOST, method="smoothness", M=sd["M"], l_vec=run["l_vec"], breakdown=False)
    rob, _ = _robust(res)
    assert res.ci == "flci" and sd["method"] == ["FLCI"] * len(sd["M"])
    np.testing.assert_allclose(rob["lb"], sd["lb"], rtol=0, atol=TOL)
    np.testing.assert_allclose(rob["ub"], sd["ub"], rtol=0, atol=TOL)


def test_flci_half_length_matches_r_optimum(run):
    """Pins the source of the FLCI endpoint differences. With R's simulated folded-normal quantile
    (r_compat=True) evalkit minimises R's objective: its optimal half-length is never longer than R's by
    more than 1e-7 relative and never shorter by more than 1e-4 (achieved: at most 8.6e-5 shorter, at M = 0.01).
    Where R's optimum is at h0 (the bias-dominated end, M >= 0.03 here) the intervals agree to 1e-10."""
    opt = run["flci_optimum"]
    sd = run["smoothness"]
    l = np.asarray(run["l_vec"], float)
    for i, M in enumerate(opt["M"]):
        f = flci(B, S, NPRE, l, M, 0.05, r_compat=True)
        r_half = opt["half_length"][i]
        assert f.half_length <= r_half * (1 + 1e-7), M
        assert f.half_length >= r_half * (1 - 1e-4), M
        if M >= 0.03:
            np.testing.assert_allclose([f.lb, f.ub], [sd["lb"][i], sd["ub"][i]], rtol=0, atol=1e-10)
            np.testing.assert_allclose(f.weights, opt["weights"][i], rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def sa_mpdta():
    from evalkit.estimators.sun_abraham import sun_abraham
    return sun_abraham(mpdta(), outcome="lemp", unit="countyreal", time="year",
                       cohort="first.treat")


def test_from_evalkit_sun_abraham_result(sa_mpdta):
    """End to end: evalkit's own Sun-Abraham event study of mpdta fed to honest_did gives R's betahat and
    sigma (1e-6 / 1e-4 relative, as tests/test_sun_abraham_r.py) and R's intervals (1e-3)."""
    from evalkit.diagnostics.honest_did import _from_result
    b, s, npre, npost = _from_result(sa_mpdta)
    assert (npre, npost) == (NPRE, NPOST)
    np.testing.assert_allclose(b, B, rtol=1e-6)
    np.testing.assert_allclose(s, S, rtol=1e-4)
    run = REF["runs"]["first_post"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rm = honest_did(sa_mpdta, method="relative_magnitudes", Mbar=[1.0], breakdown=False)
    sd = honest_did(sa_mpdta, method="smoothness", M=run["smoothness"]["M"], breakdown=False)
    i = run["relative_magnitudes"]["Mbar"].index(1.0)
    rob, _ = _robust(rm)
    np.testing.assert_allclose([rob["lb"].iloc[0], rob["ub"].iloc[0]],
                               [run["relative_magnitudes"]["lb"][i], run["relative_magnitudes"]["ub"][i]],
                               rtol=0, atol=TOL)
    rob, _ = _robust(sd)
    np.testing.assert_allclose(rob["lb"], run["smoothness"]["lb"], rtol=0, atol=TOL)
    np.testing.assert_allclose(rob["ub"], run["smoothness"]["ub"], rtol=0, atol=TOL)
