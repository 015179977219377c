"""Monte Carlo checks of synthetic DiD (evalkit.sdid) with known truth.

DGP: y_it = a_i + b_t + l_i' f_t + e_it with two AR(1) factors (rho 0.7), standard normal
loadings and noise for every unit (treatment assigned at random), and a constant effect
tau = 1 on the treated units in the post periods. Checks (fixed seeds, so deterministic):

* |mean(estimate) - tau| < 4 Monte Carlo SE (150 draws, 3 treated of 33 units);
* 95 % placebo intervals (Algorithm 4; 40 draws x 19 placebos, the few-treated case)
  and bootstrap and jackknife intervals (Algorithms 2-3; 30 draws with 10 treated units,
  19 bootstrap replications) cover tau at rates inside the central 99.9 % binomial
  range for a true rate of 0.95.

The numbers of draws and replications are modest so the module runs in well under a
minute; the coverage bounds are therefore wide (about 0.80-1.00).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.estimators.sdid import sdid

pytestmark = pytest.mark.slow
TAU = 1.0


def draw(rng, n0=30, n1=3, t0=10, t1=4):
    n, t = n0 + n1, t0 + t1
    f, e = np.zeros((t, 2)), rng.normal(size=(t, 2))
    for s in range(t):
        f[s] = (0.7 * f[s - 1] if s else 0.0) + e[s]
    y = rng.normal(size=(n, 1)) + rng.normal(size=t) + rng.normal(size=(n, 2)) @ f.T + rng.normal(size=(n, t))
    g = np.r_[np.zeros(n0, int), np.full(n1, 2000 + t0)]
    y[n0:, t0:] += TAU
    return pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(2000, 2000 + t), n),
                         "y": y.ravel(), "g": np.repeat(g, t)})


ARGS = dict(outcome="y", unit="u", time="t", cohort="g")


def _covered(results) -> tuple[int, int]:
    rows = [r.tidy().iloc[-1] for r in results]
    return sum(bool(r["conf_low"] <= TAU <= r["conf_high"]) for r in rows), len(rows)


def _within_binomial(hits: int, n: int) -> bool:
    lo, hi = stats.binom.ppf(0.0005, n, 0.95), stats.binom.isf(0.0005, n, 0.95)
    return lo <= hits <= hi


def test_bias_and_placebo_coverage():
    rng = np.random.default_rng(2024)
    panels = [draw(rng) for _ in range(150)]
    est = np.array([sdid(p, **ARGS, se=None).estimate() for p in panels])
    mcse = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - TAU) < 4 * mcse, (est.mean(), mcse)
    placebo = [sdid(p, **ARGS, se="placebo", draws=19, seed=i) for i, p in enumerate(panels[:40])]
    hits, n = _covered(placebo)
    assert _within_binomial(hits, n), (hits, n)


def test_bootstrap_and_jackknife_coverage_with_more_treated_units():
    rng = np.random.default_rng(7)
    panels = [draw(rng, n1=10) for _ in range(30)]
    boot = [sdid(p, **ARGS, se="bootstrap", draws=19, seed=i) for i, p in enumerate(panels)]
    jack = [sdid(p, **ARGS, se="jackknife") for p in panels]
    for name, res in (("bootstrap", boot), ("jackknife", jack)):
        hits, n = _covered(res)
        assert _within_binomial(hits, n), (name, hits, n)
