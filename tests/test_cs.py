"""Unit, equivalence, contract and bad-input tests of Callaway & Sant'Anna (evalkit.estimators.staggered)."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from evalkit.data.synthetic import staggered_panel
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators import did2x2, twfe
from evalkit.estimators.staggered import aggregate, att_gt
from evalkit.results import Result

KW = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def panel():
    df = staggered_panel(n_units=300, n_periods=6, cohorts={0: 0.4, 3: 0.3, 5: 0.3}, effect=lambda e: 1 + 0.5 * e,
                         n_clusters=40, seed=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    df["x"] = x[df["unit"]]
    df["x2"] = rng.normal(size=300)[df["unit"]]
    return df


# ------------------------------------------------------------------------------ equivalence
def test_two_by_two_equals_did2x2_twfe_and_difference_of_means():
    df = staggered_panel(n_units=80, n_periods=2, cohorts={0: 0.5, 2: 0.5}, seed=1)
    cs = att_gt(df, **KW).estimate("ATT(g=2,t=2)")
    d = df.assign(treated=(df["cohort"] == 2).astype(int), post=(df["time"] == 2).astype(int))
    m = d.groupby(["treated", "post"])["y"].mean()
    dim = (m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0])
    assert cs == pytest.approx(dim, abs=1e-10)
    assert cs == pytest.approx(did2x2(d, outcome="y", treatment="treated", post="post").estimate("ATT"), abs=1e-10)
    assert cs == pytest.approx(twfe(d, outcome="y", unit="unit", time="time", treatment="treat").estimate("ATT"), abs=1e-10)


@pytest.mark.parametrize("control_group", ["never", "notyet"])
def test_reg_ipw_dr_coincide_without_covariates(panel, control_group):
    res = {m: att_gt(panel, **KW, method=m, control_group=control_group).table for m in ("dr", "ipw", "reg")}
    for m in ("ipw", "reg"):
        np.testing.assert_allclose(res[m]["estimate"], res["dr"]["estimate"], atol=1e-10)
        np.testing.assert_allclose(res[m]["std_error"], res["dr"]["std_error"], atol=1e-10)


def test_simple_aggregate_is_group_size_weighted_mean(panel):
    r = att_gt(panel, **KW)
    t = r.table
    post = t[t["group"] <= t["time"]]
    sizes = panel.drop_duplicates("unit")["cohort"].value_counts()
    w = post["group"].map(sizes).astype(float)
    assert aggregate(r, "simple").estimate("ATT") == pytest.approx(float((post["estimate"] * w).sum() / w.sum()), abs=1e-12)


def test_influence_gives_the_standard_errors(panel):
    r = att_gt(panel, **KW, covariates=["x"])
    psi = r.influence[list(r.table["term"])].to_numpy()
    n = psi.shape[0]
    np.testing.assert_allclose(np.sqrt((psi**2).sum(axis=0)) / n, r.table["std_error"], rtol=1e-12)
    assert r.influence.shape[0] == panel["unit"].nunique()
    np.testing.assert_allclose(psi.mean(axis=0), 0, atol=1e-10)


# ------------------------------------------------------------------------------ clustering
def test_cluster_sums_with_unequal_cluster_sizes():
    """R did >= 2.3.1.906 (test-cluster-analytic.R): se = sqrt(colSums(rowsum(inffunc, cl)^2)) / n."""
    rng = np.random.default_rng(5)
    sizes = np.tile([1, 2, 4, 10], 15)
    cl_of_unit = np.repeat(np.arange(sizes.size), sizes)
    g_cl = rng.choice([0, 3, 4], size=sizes.size)
    n = cl_of_unit.size
    rows = []
    shock = rng.normal(0, 1.5, (sizes.size, 5))
    for i in range(n):
        c = cl_of_unit[i]
        for t in range(1, 6):
            rows.append((i, t, c, g_cl[c], rng.normal() + 0.3 * t + shock[c, t - 1] + (g_cl[c] > 0 and t >= g_cl[c])))
    df = pd.DataFrame(rows, columns=["unit", "time", "area", "cohort", "y"])
    r = att_gt(df, **KW, cluster="area")
    psi = r.influence[list(r.table["term"])].to_numpy()
    sums = pd.DataFrame(psi).groupby(cl_of_unit).sum().to_numpy()
    target = np.sqrt((sums**2).sum(axis=0)) / n
    np.testing.assert_allclose(r.table["std_error"], target, rtol=1e-12)
    # the older cluster-MEAN convention gives different SEs when clusters are unequal
    means = pd.DataFrame(psi).groupby(cl_of_unit).mean().to_numpy()
    old = np.sqrt((means**2).sum(axis=0)) / sizes.size
    assert np.max(np.abs(old / target - 1)) > 0.05
    # aggregation uses the same cluster sums
    a = aggregate(r, "simple")
    s = pd.Series(a.influence["ATT"].to_numpy()).groupby(cl_of_unit).sum().to_numpy()
    assert a.table["std_error"].iloc[0] == pytest.approx(np.sqrt((s**2).sum()) / n, rel=1e-12)
    # bootstrap on cluster sums agrees with the analytic SE
    b = att_gt(df, **KW, cluster="area", bootstrap=True, draws=4000, seed=1)
    np.testing.assert_allclose(b.table["std_error"], r.table["std_error"], rtol=0.15)
    assert r.inference.n_clusters == sizes.size and b.inference.method == "multiplier"


# ------------------------------------------------------------------------------ bootstrap
def test_bootstrap_seeded_and_bands(panel):
    a = att_gt(panel, **KW, cluster="cluster", bootstrap=True, draws=499, seed=7)
    b = att_gt(panel, **KW, cluster="cluster", bootstrap=True, draws=499, seed=7)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    t = a.table
    assert (t["band_high"] - t["band_low"] >= t["conf_high"] - t["conf_low"] - 1e-12).all()
    dyn = aggregate(a, "dynamic", seed=3)
    assert dyn.table["band_low"].iloc[:-1].notna().all() and np.isnan(dyn.table["band_low"].iloc[-1])
    assert aggregate(a, "dynamic", seed=3).tidy().equals(dyn.tidy())
    # without a seed, aggregate takes the result's: two identical calls agree (issue 12: SEs 0.01677 vs 0.01736)
    assert aggregate(a, "simple").tidy().equals(aggregate(a, "simple").tidy())
    assert aggregate(a, "simple").inference.seed == 7
    mam = att_gt(panel, **KW, bootstrap=True, draws=499, seed=7, boot_weights="mammen")
    np.testing.assert_allclose(mam.table["std_error"], att_gt(panel, **KW).table["std_error"], rtol=0.2)


def test_bootstrap_results_carry_a_bootstrap_vcov(panel):
    """Issue 12: the table's std_error was the bootstrap SE but vcov stayed analytic, so lincom,
    wald_test and HonestDiD read another uncertainty than the table shows."""
    from evalkit.estimators.combine import lincom

    a = att_gt(panel, **KW, cluster="cluster", bootstrap=True, draws=499, seed=7)
    analytic = att_gt(panel, **KW, cluster="cluster")
    for res in (a, aggregate(a, "dynamic"), aggregate(a, "simple")):
        se = res.table.set_index("term")["std_error"].dropna()
        np.testing.assert_allclose(np.sqrt(np.diag(res.vcov.loc[se.index, se.index])), se, rtol=1e-12)
    dyn = aggregate(a, "dynamic")
    row = dyn.table.set_index("term").loc["ATT(e=0)"]
    one = lincom(dyn, {"ATT(e=0)": 1.0}, term="e0", estimand="e=0").table.iloc[0]
    assert one["std_error"] == pytest.approx(row["std_error"], rel=1e-12)
    # not the analytic covariance any more (the bootstrap differs from it by Monte Carlo error)
    assert not np.allclose(a.vcov.to_numpy(), analytic.vcov.to_numpy(), rtol=1e-6)
    # the pre-test keeps R did's analytic W with or without the bootstrap
    assert a.diagnostics["pretest"]["W"] == pytest.approx(analytic.diagnostics["pretest"]["W"], rel=1e-12)


def test_bootstrap_progress(panel, capsys):
    att_gt(panel, **KW, bootstrap=True, draws=200, seed=1, progress=True)
    assert "bootstrap" in capsys.readouterr().err


# ------------------------------------------------------------------------------ settings
def test_unbalanced_panel_keeps_every_unit(panel):
    df = panel.drop(index=[0, 7, 20, 33]).reset_index(drop=True)
    r = att_gt(df, **KW, covariates=["x"])
    assert r.diagnostics["panel_mode"] == "unbalanced" and not r.diagnostics["balanced"]
    assert r.influence.shape[0] == df["unit"].nunique() == panel["unit"].nunique()
    full = att_gt(panel, **KW, covariates=["x"])
    np.testing.assert_allclose(r.table["estimate"], full.table["estimate"], atol=0.1)


def test_repeated_cross_sections_and_weights(panel):
    rc = att_gt(panel, outcome="y", unit=None, time="time", cohort="cohort", panel=False, covariates=["x"])
    assert rc.influence.shape[0] == len(panel)
    w = panel.assign(w=np.random.default_rng(1).uniform(0.5, 2, 300)[panel["unit"]])
    rw = att_gt(w, **KW, weights="w")
    assert not np.allclose(rw.table["estimate"], att_gt(panel, **KW).table["estimate"])
    const = att_gt(panel.assign(w=3.0), **KW, weights="w")
    np.testing.assert_allclose(const.table["estimate"], att_gt(panel, **KW).table["estimate"], atol=1e-12)


def test_universal_base_period_and_anticipation(panel):
    r = att_gt(panel, **KW, base_period="universal")
    ref = r.table[r.table["reference"]]
    assert (ref["event_time"] == -1).all() and (ref["estimate"] == 0).all() and ref["std_error"].isna().all()
    post = r.table[r.table["event_time"] >= 0]
    var = att_gt(panel, **KW).table
    np.testing.assert_allclose(post["estimate"], var[var["event_time"] >= 0]["estimate"], atol=1e-12)
    ant = att_gt(panel, **KW, anticipation=1)
    assert set(ant.table["group"]) == {3, 5}
    assert aggregate(r, "dynamic").estimate("ATT(e=-1)") == 0


def test_aggregate_options(panel):
    r = att_gt(panel, **KW)
    dyn = aggregate(r, "dynamic", min_e=-1, max_e=1)
    assert list(dyn.table["event_time"].iloc[:-1]) == [-1, 0, 1]
    bal = aggregate(r, "dynamic", balance_e=1)
    assert list(bal.table["event_time"].iloc[:-1]) == [-2, -1, 0, 1] or bal.table["event_time"].iloc[:-1].max() == 1
    assert set(aggregate(r, "group").table["group"].dropna()) == {3, 5}
    with pytest.raises(ParameterError, match="kind"):
        aggregate(r, "dynamc")


# ------------------------------------------------------------------------------ bad input
def test_no_never_treated_errors_for_never_and_warns_for_notyet(panel):
    df = panel[panel["cohort"] > 0]
    with pytest.raises(ValidationError, match="never-treated"):
        att_gt(df, **KW)
    with pytest.warns(EvalkitWarning, match="No never-treated"):
        r = att_gt(df, **KW, control_group="notyet")
    assert set(r.table["group"]) == {3}


def test_switching_treatment_cohort_not_constant_errors(panel):
    df = panel.copy()
    df.loc[(df["unit"] == df.loc[df["cohort"] == 3, "unit"].iloc[0]) & (df["time"] == 6), "cohort"] = 0
    with pytest.raises(ValidationError, match="constant within"):
        att_gt(df, **KW)


def test_collinear_covariates_error(panel):
    with pytest.raises(ValidationError, match="collinear"):
        att_gt(panel.assign(x3=2 * panel["x"] + 1), **KW, covariates=["x", "x3"])


def test_time_varying_covariate_errors(panel):
    with pytest.raises(ValidationError, match="time-invariant"):
        att_gt(panel.assign(z=np.arange(len(panel), dtype=float)), **KW, covariates=["z"])


def test_single_unit_cohort_warns_and_empty_cell_dropped(panel):
    df = panel.copy()
    one = df["unit"] == df.loc[df["cohort"] == 0, "unit"].iloc[0]
    df.loc[one, "cohort"] = 4
    with pytest.warns(EvalkitWarning, match="Small cohorts"):
        r = att_gt(df, **KW)
    assert r.diagnostics["cohort_sizes"][4] == 1
    # remove cohort 5 in period 4: cell (g=5, t=4) and (g=5, t=5) lose their treated base rows
    gap = panel[~((panel["cohort"] == 5) & (panel["time"] == 4))]
    with pytest.warns(EvalkitWarning, match="dropped"):
        g = att_gt(gap, **KW)
    dropped = {(d["group"], d["time"]) for d in g.diagnostics["dropped_cells"]}
    assert (5, 4) in dropped and "ATT(g=5,t=4)" not in set(g.table["term"])
    assert g.table["estimate"].notna().all()


def test_bad_parameters(panel):
    with pytest.raises(ParameterError, match="method"):
        att_gt(panel, **KW, method="aipw")
    with pytest.raises(ParameterError, match="control_group"):
        att_gt(panel, **KW, control_group="nevertreated")
    with pytest.raises(ParameterError):
        att_gt(panel, outcome="y", unit=None, time="time", cohort="cohort")


# ------------------------------------------------------------------------------ contract
def test_contract_unmutated_json_roundtrip(panel):
    before = panel.copy(deep=True)
    r = att_gt(panel, **KW, covariates=["x", "x2"], cluster="cluster")
    pd.testing.assert_frame_equal(panel, before)
    back = Result.from_json(r.to_json())
    assert back.to_dict() == r.to_dict()
    a = aggregate(r, "group")
    assert Result.from_json(a.to_json()).to_dict() == a.to_dict()
    assert isinstance(r, Result) and list(r.table.columns)[:3] == ["term", "estimate", "std_error"]
    assert r.diagnostics["pretest"]["df"] > 0


# ------------------------------------------------------------------ the fast unbalanced path
@pytest.fixture(scope="module")
def big_unbalanced():
    """120k rows (above the two-thread threshold), unbalanced, two covariates."""
    df = staggered_panel(n_units=12_000, n_periods=12, cohorts={0: 0.4, 4: 0.2, 7: 0.2, 9: 0.2},
                         effect=lambda e: 1 + 0.2 * e, n_clusters=60, seed=11)
    rng = np.random.default_rng(5)
    df["x"] = rng.normal(size=12_000)[df["unit"]]
    df["x2"] = (rng.random(12_000) < 0.4).astype(float)[df["unit"]]
    return df.loc[rng.random(len(df)) < 0.85].reset_index(drop=True)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_unbalanced_two_threads_row_order_and_warm_start_do_not_change_results(big_unbalanced, method, monkeypatch):
    """Two threads, logit warm starts and block-sorted rows are speed-ups only: the
    results equal a one-thread run on shuffled rows (to 1e-9, float summation order)."""
    kw = dict(KW, covariates=["x", "x2"], method=method, cluster="cluster")
    fast = att_gt(big_unbalanced, **kw)
    assert fast.meta["panel_mode"] == "unbalanced"
    shuffled = big_unbalanced.sample(frac=1.0, random_state=1)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    slow = att_gt(shuffled, **kw)
    np.testing.assert_allclose(fast.table["estimate"], slow.table["estimate"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.table["std_error"], slow.table["std_error"], rtol=1e-9, atol=1e-12)


def test_logit_warm_start_converges_to_the_same_fit():
    from evalkit.estimators.staggered._drdid import Warm, logit

    rng = np.random.default_rng(2)
    x = np.column_stack([np.ones(5000), rng.normal(size=5000)])
    d = (rng.random(5000) < 1 / (1 + np.exp(-0.3 - 0.8 * x[:, 1]))).astype(float)
    w = rng.uniform(0.5, 2, 5000)
    cold = logit(x, d, w)
    assert isinstance(cold[2], Warm) and 0 < cold[2].share < 1
    for start in (Warm(cold[2].beta + 0.3, cold[2].share), Warm(cold[2].beta, 0.4)):
        warm = logit(x, d, w, start=start)
        np.testing.assert_allclose(cold[0], warm[0], atol=1e-12)
        np.testing.assert_allclose(cold[2].beta, warm[2].beta, atol=1e-9)


def _newton_steps(monkeypatch, *args, start):
    import evalkit.estimators.staggered._drdid as mod

    calls, orig = [], mod.newton_sums
    monkeypatch.setattr(mod, "newton_sums", lambda *a, **k: (calls.append(1), orig(*a, **k))[1])
    mod.logit(*args, start=start)
    monkeypatch.setattr(mod, "newton_sums", orig)
    return len(calls)


def test_warm_start_moves_the_intercept_by_the_change_in_log_odds(monkeypatch):
    """The next pool (not-yet-treated controls: fewer controls, a higher treated share) starts from
    the last fit's slopes and its intercept moved by log-odds(new share) - log-odds(old share):
    Newton needs fewer steps than from the unmoved coefficients."""
    from evalkit.estimators.staggered._drdid import Warm, logit, warm_start

    np.testing.assert_allclose(warm_start(Warm(np.array([0.5, 1.0, -2.0]), 0.5), 0.2), [0.5 + np.log(0.25), 1.0, -2.0])
    assert warm_start(None, 0.3) is None
    rng = np.random.default_rng(5)
    x = np.column_stack([np.ones(20_000), rng.normal(size=20_000)])
    d = (rng.random(20_000) < 1 / (1 + np.exp(0.2 - 0.7 * x[:, 1]))).astype(float)
    fit = logit(x, d, np.ones(20_000))[2]
    keep = (d == 1) | (rng.random(20_000) < 0.3)
    args = (x[keep], d[keep], np.ones(int(keep.sum())))
    shifted = _newton_steps(monkeypatch, *args, start=fit)
    unmoved = _newton_steps(monkeypatch, *args, start=Warm(fit.beta, float(np.mean(d[keep]))))
    assert shifted < unmoved, (shifted, unmoved)


def test_aggregate_takes_the_draws_of_its_result():
    """Like seed and bootstrap, draws defaults to the att_gt result's (a result bootstrapped with 99
    draws was aggregated with 999 and said so); an explicit draws still wins."""
    import evalkit as ek
    from evalkit.data.synthetic import staggered_panel

    cells = ek.att_gt(staggered_panel(seed=1), outcome="y", unit="unit", time="time", cohort="cohort",
                      bootstrap=True, draws=99, seed=1)
    assert ek.aggregate(cells, "dynamic").inference.draws == 99
    assert ek.aggregate(cells, "simple", draws=50).inference.draws == 50


def test_clustered_pretest_with_few_treated_clusters_is_flagged():
    """Review of issue 15: with 3 treated areas the clustered Wald pre-test rejected true parallel trends in
    every simulated world; it is flagged as unreliable (and says why), not shown as evidence."""
    import evalkit as ek

    rng = np.random.default_rng(3)
    n_units, years = 240, np.arange(2010, 2018)
    unit = np.repeat(np.arange(n_units), years.size)
    area = unit // 8  # 30 areas
    cohort = np.where(area < 3, 2015, 0)  # 3 treated areas
    y = rng.normal(size=unit.size) + rng.normal(size=30)[area]
    panel = pd.DataFrame({"id": unit, "t": np.tile(years, n_units), "g": cohort, "area": area, "y": y})
    few = ek.att_gt(panel, outcome="y", unit="id", time="t", cohort="g", cluster="area").diagnostics["pretest"]
    assert few["reliable"] is False and "NOT RELIABLE with only 3 treated clusters" in few["note"]
    many = ek.att_gt(panel.assign(g=np.where(area < 15, 2015, 0)), outcome="y", unit="id", time="t",
                     cohort="g", cluster="area").diagnostics["pretest"]
    assert many["reliable"] is True and "NOT RELIABLE" not in many["note"]
