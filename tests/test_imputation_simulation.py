"""Monte Carlo check of the Borusyak-Jaravel-Spiess imputation estimator against a known truth.

Same staggered design as the Callaway-Sant'Anna simulation (heterogeneous, dynamic effects
tau(e) = 1 + 0.5 e, parallel trends hold, assignment by cluster). Estimand of the overall ATT:
the mean of tau over all treated observations (t >= g), fixed by the design.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.data.synthetic import staggered_panel, true_effect
from evalkit.estimators import did_imputation

N_REP = 500
DESIGN = dict(n_units=120, n_periods=9, cohorts={0: 0.4, 4: 0.3, 7: 0.3}, effect=lambda e: 1 + 0.5 * e, n_clusters=30)


def _truth(df) -> float:
    treated = df[(df["cohort"] > 0) & (df["time"] >= df["cohort"])]
    return float(true_effect(DESIGN["effect"], (treated["time"] - treated["cohort"]).to_numpy()).mean())


@pytest.mark.slow
def test_imputation_unbiased_with_nominal_coverage():
    est, cover, truth = [], [], None
    for rep in range(N_REP):
        df = staggered_panel(**DESIGN, seed=5000 + rep)
        truth = _truth(df) if truth is None else truth
        assert _truth(df) == pytest.approx(truth)
        row = did_imputation(df, outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster").tidy()
        row = row.set_index("term").loc["ATT"]
        est.append(row["estimate"])
        cover.append(row["conf_low"] <= truth <= row["conf_high"])
    est = np.array(est)
    mc_se = est.std(ddof=1) / np.sqrt(N_REP)
    assert abs(est.mean() - truth) < 4 * mc_se, (est.mean(), truth, mc_se)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], N_REP, 0.95) / N_REP  # 99.9 % binomial bounds
    assert lo <= np.mean(cover) <= hi, (np.mean(cover), lo, hi)
