"""Power and MDE by simulation: known answers, reproducibility across workers, progress, size."""
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit import progress, twfe
from evalkit.domain import _power_kernels as K
from evalkit.domain.power import interpolate_mde, minimum_detectable_effect, plan, simulate_power
from evalkit.errors import EvalkitWarning, ParameterError

DESIGN = dict(n_treated=6, n_control=14, years_pre=3, years_post=3, residents=800, sd=0.45, icc=0.03, rho=0.7)


def test_kernel_equals_evalkit_twfe_with_cr1():
    d = plan(**DESIGN)
    y = K.simulate_panel(d, 0.02, np.random.default_rng(5))
    D = K.treatment(d)
    beta, se, p = K.twfe_cr1(y, D)
    A, T = y.shape
    frame = pd.DataFrame({"a": np.repeat(np.arange(A), T), "t": np.tile(np.arange(T), A), "y": y.ravel(), "D": D.ravel()})
    with warnings.catch_warnings():  # main's twfe warns about few treated clusters; CR1 is what is compared
        warnings.simplefilter("ignore", EvalkitWarning)
        ref = twfe(frame, outcome="y", unit="a", time="t", treatment="D", cluster="a").tidy().iloc[0]
    assert (beta, se, p) == pytest.approx((ref["estimate"], ref["std_error"], ref["p_value"]), rel=1e-9)


@pytest.mark.parametrize("method", ["cr1", "wild", "randomization"])
def test_large_effect_has_power_one(method):
    d = plan(**DESIGN)
    big = 5 * K.analytic_mde(d, 0.05, 0.8)
    res = simulate_power(d, [big], method=method, reps=30, draws=99, n_jobs=1, progress=False, seed=1)
    assert res.power(big) == 1.0
    assert res.table["mean_estimate"].iloc[0] == pytest.approx(big, rel=0.1)


def test_same_result_for_one_and_two_workers():
    d = plan(**DESIGN)
    one = simulate_power(d, [0.0, 0.05], method="wild", reps=60, draws=99, n_jobs=1, progress=False, seed=7)
    two = simulate_power(d, [0.0, 0.05], method="wild", reps=60, draws=99, n_jobs=2, progress=False, seed=7)
    pd.testing.assert_frame_equal(one.tidy(), two.tidy())
    other = simulate_power(d, [0.0, 0.05], method="wild", reps=60, draws=99, n_jobs=1, progress=False, seed=8)
    assert not one.tidy().equals(other.tidy())


def test_progress_is_shown(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    simulate_power(plan(**DESIGN), [0.0], method="cr1", reps=30, n_jobs=1, seed=0)
    assert "[evalkit] power (cr1" in capsys.readouterr().err


def test_mde_close_to_the_analytic_mde_with_many_clusters():
    """With 40 areas CR1 is accurate, so the simulated MDE matches (t_{a/2} + t_{0.8}) SE (Bloom 1995)."""
    d = plan(**(DESIGN | {"n_treated": 20, "n_control": 20}))
    res = minimum_detectable_effect(d, method="cr1", reps=300, n_jobs=2, progress=False, seed=3)
    assert res.mde == pytest.approx(res.analytic_mde, rel=0.15)
    assert (np.diff(res.table["power"]) >= -0.05).all()  # common random numbers: a smooth curve
    assert res.seconds > 0 and res.plot().axes


def test_analytic_se_by_hand():
    d = plan(n_treated=2, n_control=2, years_pre=1, years_post=1, residents=100, sd=1.0, icc=0.5, rho=1.0)
    # rho = 1: the area effect cancels; var(d_a) = 0.5/100 * 2, SE = sqrt(0.01 * (1/2 + 1/2))
    assert K.analytic_se(d) == pytest.approx(0.1)
    assert K.analytic_mde(d, 0.05, 0.8) == pytest.approx((stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) * 0.1)


def test_interpolate_mde():
    table = pd.DataFrame({"effect": [0.0, 1.0, 2.0], "power": [0.05, 0.6, 0.9]})
    assert interpolate_mde(table, 0.8) == pytest.approx(1 + 0.2 / 0.3)
    assert interpolate_mde(table.assign(power=[0.05, 0.1, 0.2]), 0.8) == np.inf


def test_bad_input():
    with pytest.raises(ParameterError, match="icc"):
        plan(**(DESIGN | {"icc": 1.0}))
    with pytest.raises(ParameterError, match="n_treated"):
        plan(**(DESIGN | {"n_treated": 0}))
    with pytest.raises(ParameterError, match="method"):
        simulate_power(plan(**DESIGN), [0.0], method="cr2", reps=5, progress=False)
    with pytest.raises(ParameterError, match="n_jobs"):
        simulate_power(plan(**DESIGN), [0.0], reps=5, n_jobs=0, progress=False)
    with pytest.raises(ParameterError, match="design"):
        simulate_power(DESIGN, [0.0], reps=5, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("method,n_treated", [("cr1", 20), ("wild", 10), ("randomization", 10)])
def test_power_at_zero_is_the_nominal_size(method, n_treated):
    """At effect 0 the rejection rate is alpha within 99.9 % binomial bounds (40 areas). CR1 is
    checked with 20 treated areas: with 10 of 40 it over-rejects (about 6.7 %), with 1 badly (about 70 %)."""
    d = plan(**(DESIGN | {"n_treated": n_treated, "n_control": 40 - n_treated}))
    reps = 1500
    res = simulate_power(d, [0.0], method=method, reps=reps, draws=199, n_jobs=2, progress=False, seed=2024)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, 0.05) / reps
    assert lo <= res.power(0.0) <= hi
