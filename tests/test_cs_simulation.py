"""Monte Carlo check of Callaway & Sant'Anna against a known truth; TWFE is biased in the same design.

Design: staggered cohorts {0, 4, 7} over 9 periods, assignment by cluster, heterogeneous dynamic effects
tau(e) = 1 + 0.5 e (e >= 0), parallel trends hold. Estimand: the simple aggregate (group-share weighted
mean of the post-treatment ATT(g,t)), whose true value is fixed by the cohort sizes.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.data.synthetic import staggered_panel, true_effect
from evalkit.estimators import twfe
from evalkit.estimators.staggered import aggregate, att_gt

N_REP = 500
DESIGN = dict(n_units=120, n_periods=9, cohorts={0: 0.4, 4: 0.3, 7: 0.3}, effect=lambda e: 1 + 0.5 * e, n_clusters=30)


def _truth(df):
    units = df.drop_duplicates("unit")
    share = units["cohort"].value_counts(normalize=True)
    post = df[(df["cohort"] > 0) & (df["time"] >= df["cohort"])].drop_duplicates(["cohort", "time"])
    w = post["cohort"].map(share)
    tau = true_effect(DESIGN["effect"], (post["time"] - post["cohort"]).to_numpy())
    return float((w * tau).sum() / w.sum())


@pytest.mark.slow
def test_cs_unbiased_and_covers_twfe_biased():
    est, se, cover, tw = [], [], [], []
    truth = None
    for rep in range(N_REP):
        df = staggered_panel(**DESIGN, seed=1000 + rep)
        truth = _truth(df) if truth is None else truth
        assert _truth(df) == pytest.approx(truth)  # cohort sizes are fixed by the design
        a = aggregate(att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster"), "simple")
        row = a.table.iloc[0]
        est.append(row["estimate"]); se.append(row["std_error"])
        cover.append(row["conf_low"] <= truth <= row["conf_high"])
        if rep < 200:  # TWFE is slower; its bias is large relative to its Monte Carlo SE
            tw.append(twfe(df, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster").estimate("ATT"))
    est, tw = np.array(est), np.array(tw)
    mc_se = est.std(ddof=1) / np.sqrt(N_REP)
    assert abs(est.mean() - truth) < 4 * mc_se, (est.mean(), truth, mc_se)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], N_REP, 0.95) / N_REP  # 99.9 % binomial bounds
    assert lo <= np.mean(cover) <= hi, (np.mean(cover), lo, hi)
    assert np.mean(se) == pytest.approx(est.std(ddof=1), rel=0.15)
    tw_mc = tw.std(ddof=1) / np.sqrt(tw.size)
    assert abs(tw.mean() - truth) > 4 * tw_mc, (tw.mean(), truth, tw_mc)
