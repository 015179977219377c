"""Issue 13, item 4: HonestDiD relative magnitudes at interactive speed, with unchanged results.

The fast path (evalkit.diagnostics._arp_grid.nuisance_tester) answers the linear programs of the ARP
conditional test (Andrews, Roth & Pakes 2023) from certified optimal bases, tests the points of a scan
together and scans the coarse grid from both ends. The reference is the pointwise path it replaced: one
HiGHS call per linear program and grid point, the block-LP least-favourable critical value
(``_arp_grid.exact_tester``, i.e. ``_arp.conditional_test`` per point). The accept / reject flags must be
identical, not close; so must the intervals, which are grid points.

Inputs: a 20-term event study (event times -10..-2 and 0..10) cut from fixest's Sun-Abraham estimates on
df_het stored in tests/references/sunab_fixest.json (case df_het_cluster_state), and the mpdta event
study of tests/references/honestdid_mpdta.json (3 pre, 4 post).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from evalkit.diagnostics import _arp, _arp_ci, _arp_grid, _deltarm, honest_did_arrays
from evalkit.diagnostics._arp_lp import CachedLP, ExactLP
from evalkit.errors import ParameterError
from tests.reference_data import reference


def _df_het20():
    case = next(c for c in reference("sunab_fixest.json")["cases"] if c["name"] == "df_het_cluster_state")
    et = np.array(case["event_time"])
    keep = (et >= -10) & (et <= 10)
    b, V = np.array(case["estimate"])[keep], np.array(case["vcov"])[np.ix_(keep, keep)]
    return b, V, int((et[keep] < 0).sum()), int((et[keep] >= 0).sum())


def _mpdta():
    ref = reference("honestdid_mpdta.json")
    return np.array(ref["betahat"]), np.array(ref["sigma"]), ref["num_pre"], ref["num_post"]


def _pieces(num_pre, num_post, mbar, signs=(True, False), shifts=None):
    for s in range(-(num_pre - 1), 1) if shifts is None else shifts:
        for positive in signs:
            A = _deltarm.rm_constraints(num_pre, num_post, mbar, s, positive)
            yield A, np.flatnonzero((A[:, num_pre:] != 0).any(axis=1))


@pytest.mark.parametrize("kappa, mbar, average", [(0.005, 1.0, False), (None, 0.5, True)],
                         ids=["c-lf", "conditional"])
def test_flags_equal_pointwise_lps_on_20_terms(kappa, mbar, average):
    """Every flag on a grid across the CI's edges, for the first and last pre-period shift s."""
    b, V, npre, npost = _df_het20()
    assert (npre, npost) == (9, 11)
    l = np.full(npost, 1 / npost) if average else np.eye(npost)[0]
    est, se = float(l @ b[npre:]), float(np.sqrt(l @ V[npre:, npre:] @ l))
    grid = np.linspace(est - 6 * se * (1 + mbar), est + 6 * se * (1 + mbar), 31)
    pool, mixed = {}, 0
    for A, rows in _pieces(npre, npost, mbar, shifts=(-(npre - 1), 0)):
        args = (b, V, A, np.zeros(len(A)), npre, l, 0.05, rows, kappa, 0, grid)
        fast = _arp_grid.nuisance_tester(*args, pool)(np.arange(len(grid)))
        piece = _arp_grid.make_piece(b, V, A, np.zeros(len(A)), npre, l, rows)
        exact = _arp_grid.exact_tester(piece, 0.05, kappa, 0, grid)(np.arange(len(grid)))
        np.testing.assert_array_equal(fast, exact)
        mixed += fast.any() and not fast.all()
    assert mixed >= 2  # the grid crosses the edges of the accepted set


@pytest.mark.parametrize("band", ["_BAND_DECIDE", "_BAND_ETA"])
def test_points_too_close_to_call_are_redone_exactly(monkeypatch, band):
    """With every comparison declared too close to call, each point goes through the exact path."""
    b, V, npre, npost = _mpdta()
    l = np.eye(npost)[0]
    grid = np.linspace(-0.1, 0.06, 17)
    A, rows = next(_pieces(npre, npost, 1.0, signs=(False,), shifts=(0,)))
    args = (b, V, A, np.zeros(len(A)), npre, l, 0.05, rows, 0.005, 0, grid)
    calls = []
    monkeypatch.setattr(_arp, band, np.inf)
    monkeypatch.setattr(_arp_grid, "exact_tester", lambda *a, **k: calls.append(1) or _exact_tester(*a, **k))
    fast = _arp_grid.nuisance_tester(*args)(np.arange(len(grid)))
    piece = _arp_grid.make_piece(b, V, A, np.zeros(len(A)), npre, l, rows)
    np.testing.assert_array_equal(fast, _exact_tester(piece, 0.05, 0.005, 0, grid)(np.arange(len(grid))))
    assert calls and fast.any() and not fast.all()


_exact_tester = _arp_grid.exact_tester


def _exact_nuisance_tester(betahat, sigma, A, d, num_pre, l_vec, alpha, rows, lf_kappa, seed, grid, pool=None):
    piece = _arp_grid.make_piece(betahat, sigma, A, d, num_pre, l_vec, rows)
    return _arp_grid.exact_tester(piece, alpha, lf_kappa, seed, grid)


@pytest.mark.parametrize("ci", ["c-lf", "conditional"])
def test_intervals_and_breakdown_equal_pointwise_path(monkeypatch, ci):
    """End to end (mpdta, 3 pre / 4 post, post effects shifted by 0.06 so that the breakdown value is
    between the Mbar values): the table and the breakdown value are those of one HiGHS call per LP and point."""
    b, V, npre, npost = _mpdta()
    b = b + np.r_[np.zeros(npre), np.full(npost, 0.06)]
    kw = {"method": "relative_magnitudes", "Mbar": [0.5, 1.0], "ci": ci, "grid_points": 40, "breakdown_steps": 2}
    fast = honest_did_arrays(b, V, npre, npost, **kw)
    monkeypatch.setattr(_deltarm, "nuisance_tester", _exact_nuisance_tester)
    slow = honest_did_arrays(b, V, npre, npost, **kw)
    np.testing.assert_array_equal(fast.table[["lb", "ub"]].to_numpy(), slow.table[["lb", "ub"]].to_numpy())
    assert np.isfinite(fast.table["lb"]).all() and 0.5 < fast.breakdown < 1.0
    assert fast.breakdown == slow.breakdown and not fast.breakdown_exceeds_grid and not slow.breakdown_exceeds_grid


def _original_scan(accepts, grid, step):
    """scan_grid as it was (one theta at a time), the reference for the batched scan."""
    n = len(grid)
    coarse = sorted(set(range(0, n, max(1, step))) | {n - 1})
    ok = [i for i in coarse if accepts(grid[i])]
    if not ok:
        return None, None
    lo, hi = ok[0], ok[-1]
    prev = max([i for i in coarse if i < lo], default=None)
    nxt = min([i for i in coarse if i > hi], default=None)
    if prev is not None:
        a, c = prev, lo
        while c - a > 1:
            m = (a + c) // 2
            a, c = (a, m) if accepts(grid[m]) else (m, c)
        lo = c
    if nxt is not None:
        a, c = hi, nxt
        while c - a > 1:
            m = (a + c) // 2
            a, c = (m, c) if accepts(grid[m]) else (a, m)
        hi = a
    return lo, hi


@pytest.mark.parametrize("seed", range(40))
def test_batched_scan_equals_pointwise_scan(seed):
    """Including accepted sets that are not intervals (random flags) and single accepted points."""
    rng = np.random.default_rng(seed)
    n, step = int(rng.integers(10, 600)), int(rng.integers(1, 60))
    if seed % 2:
        flags = rng.random(n) < rng.uniform(0, 0.3)
    else:
        a, c = sorted(rng.integers(0, n, 2))
        flags = np.zeros(n, dtype=bool)
        flags[a:c + 1] = True
    grid = np.arange(n, dtype=float)
    hit = _arp_ci.scan_grid(lambda idx: flags[np.asarray(idx)], n, step)
    assert (hit.lo, hit.hi) == _original_scan(lambda t: bool(flags[int(t)]), grid, step)


def test_cached_lp_answers_are_the_solvers():
    """Certified cached answers equal HiGHS's (value and maximiser) on a moving right-hand side."""
    b, V, npre, npost = _df_het20()
    A, rows = next(_pieces(npre, npost, 1.0, signs=(True,), shifts=(0,)))
    piece = _arp_grid.make_piece(b, V, A, np.zeros(len(A)), npre, np.eye(npost)[0], rows)
    W = np.column_stack([np.sqrt(np.diag(piece.sig)), piece.X])
    cached, exact = CachedLP(W), ExactLP(W)
    rng = np.random.default_rng(1)
    for theta in np.linspace(-1, 1, 60):
        y = piece.Y - piece.one * theta + 0.01 * rng.standard_normal(len(piece.Y))
        for got, want in ((cached.eta(y), exact.eta(y)), (cached.max_program(y), exact.max_program(y))):
            assert got[0] == pytest.approx(want[0], rel=1e-12, abs=1e-14)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-10)
    assert cached.solves < 30  # most answers came from cached bases
    res = linprog(np.r_[1.0, np.zeros(W.shape[1] - 1)], A_ub=-W, b_ub=-piece.Y, bounds=(None, None), method="highs")
    assert cached.eta(piece.Y)[0] == pytest.approx(res.fun, rel=1e-12)


@pytest.mark.parametrize("mbar", [0.0, 1.5])
def test_cached_least_favorable_cv_equals_block_lp(mbar):
    """The hybrid's critical value from cached bases equals the block-diagonal HiGHS LP's."""
    b, V, npre, npost = _df_het20()
    pool = {}
    for A, rows in _pieces(npre, npost, mbar, shifts=(-(npre - 1), -3, 0)):
        piece = _arp_grid.make_piece(b, V, A, np.zeros(len(A)), npre, np.eye(npost)[0], rows)
        lp = CachedLP(_arp.stacked_w(piece.X, piece.sig), pool)
        fast = _arp.least_favorable_cv_cached(piece.X, piece.sig, 0.005, lp, seed=0)
        assert fast == pytest.approx(_arp.least_favorable_cv(piece.X, piece.sig, 0.005, seed=0), rel=1e-13)


def test_progress(monkeypatch, capsys):
    import sys

    from evalkit import progress
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    b, V, npre, npost = _mpdta()
    b = b + np.r_[np.zeros(npre), np.full(npost, 0.06)]
    honest_did_arrays(b, V, npre, npost, Mbar=[0.5, 1.0], grid_points=50, progress=True)
    err = capsys.readouterr().err
    assert "honest_did Mbar" in err and "honest_did breakdown" in err
    with pytest.raises(ParameterError):
        honest_did_arrays(b, V, npre, npost, Mbar=[0.5], progress="yes")
