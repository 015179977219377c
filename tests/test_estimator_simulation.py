"""Monte Carlo checks against a known truth: bias and 95 % interval coverage.

Acceptance regions come from the binomial distribution: with R replications
and nominal coverage 0.95 the number of covering intervals is Binomial(R, 0.95)
if the intervals are exact; we accept the central 99.9 % of that distribution,
so a correct method fails with probability about 0.001 for a new seed set.
Bias must be below 4 Monte Carlo standard errors.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.data.synthetic import staggered_panel
from evalkit.estimators import did2x2, event_study, twfe

R = 200
TAU = 1.0
LEVEL = 0.95


def coverage_bounds(reps: int, level: float = LEVEL, tail: float = 0.0005) -> tuple[float, float]:
    """Central (1 - 2*tail) region of Binomial(reps, level), as shares."""
    dist = stats.binom(reps, level)
    return dist.ppf(tail) / reps, dist.isf(tail) / reps


def check(estimates: np.ndarray, lows: np.ndarray, highs: np.ndarray, truth: float) -> None:
    mc_se = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - truth) < 4 * mc_se, (estimates.mean(), mc_se)
    cover = np.mean((lows <= truth) & (truth <= highs))
    lo, hi = coverage_bounds(len(estimates))
    assert lo <= cover <= hi, (cover, lo, hi)


def test_coverage_bounds_are_binomial():
    lo, hi = coverage_bounds(200)
    assert 0.88 < lo < 0.92 and 0.98 < hi <= 1.0


def simulate(fit, **panel_args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = []
    for seed in range(R):
        d = staggered_panel(seed=seed, **panel_args)
        row = fit(d).table.set_index("term").loc[fit.term]
        rows.append((row["estimate"], row["conf_low"], row["conf_high"]))
    return tuple(np.array(c) for c in zip(*rows))


def _twfe(d):
    return twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")


def _did(d):
    d = d.assign(post=(d["time"] >= 5).astype(int), g=(d["cohort"] > 0).astype(int))
    return did2x2(d, outcome="y", treatment="g", post="post", cluster="cluster")


def _es(d):
    return event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=2, cluster="cluster")


_twfe.term = "ATT"
_did.term = "ATT"
_es.term = "e=1"


@pytest.mark.slow
def test_twfe_unbiased_and_covers_with_staggered_homogeneous_effect():
    est, lo, hi = simulate(_twfe, n_units=60, n_periods=8, cohorts={0: 0.4, 4: 0.3, 6: 0.3}, effect=TAU,
                           n_clusters=30)
    check(est, lo, hi, TAU)


@pytest.mark.slow
def test_did2x2_unbiased_and_covers():
    est, lo, hi = simulate(_did, n_units=60, n_periods=6, cohorts={0: 0.5, 5: 0.5}, effect=TAU, n_clusters=30)
    check(est, lo, hi, TAU)


@pytest.mark.slow
def test_event_study_unbiased_and_covers_single_cohort():
    est, lo, hi = simulate(_es, n_units=60, n_periods=8, cohorts={0: 0.5, 5: 0.5}, effect=TAU, n_clusters=30)
    check(est, lo, hi, TAU)


@pytest.mark.slow
def test_simulation_check_can_fail():
    """The same check rejects a wrong truth (effect off by 0.25), so it has power."""
    est, lo, hi = simulate(_did, n_units=60, n_periods=6, cohorts={0: 0.5, 5: 0.5}, effect=TAU, n_clusters=30)
    with pytest.raises(AssertionError):
        check(est, lo, hi, TAU + 0.25)
