"""Sun & Abraham (2021): peer comparison with pyfixest, exact equivalences, bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import EvalkitWarning, ValidationError
from evalkit.estimators.event_study import event_study
from evalkit.estimators.sun_abraham import sun_abraham
from tests.reference_data import DF_HET  # did2s::df_het as shipped by pyfixest



@pytest.fixture(scope="module")
def df_het() -> pd.DataFrame:
    return pd.read_csv(DF_HET)


@pytest.fixture(scope="module")
def sa_het(df_het):
    return sun_abraham(df_het, outcome="dep_var", unit="unit", time="year", cohort="g", cluster="state")


def _panel(seed=1, n=300, periods=range(2000, 2012), unbalanced=True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n), len(periods))
    year = np.tile(np.asarray(periods), n)
    g_area = np.array([0, 2004, 2007] * 8 + [0])  # treatment timing assigned by area (unit % 25)
    g = g_area[unit % 25]
    effect = np.where((g > 0) & (year >= g), 1.0 + 0.2 * (year - g) + 0.5 * (g == 2007), 0.0)
    df = pd.DataFrame({"unit": unit, "year": year, "g": g, "area": unit % 25,
                       "y": rng.normal(size=n)[unit] + 0.1 * (year - 2000) + effect + rng.normal(size=len(unit))})
    if unbalanced:
        df = df.sample(frac=0.85, random_state=seed).sort_index()
    return df.reset_index(drop=True)


def test_matches_pyfixest_sunab_aggregation(df_het, sa_het):
    """PEER oracle (not R): pyfixest 0.60 saturated event study + aggregate() (its tests compare it to
    fixest::sunab). Estimates: tolerance 1e-6 abs, achieved ~1e-12. SEs: rtol 1e-3; pyfixest's interaction
    SEs differ from the exact dummy-variable / linearmodels CR1 by up to 2.4e-4 (relative), evalkit's
    equal the exact ones to 1e-10 (see test_single_cohort_equals_twfe_event_study)."""
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.event_study(data=df_het, yname="dep_var", idname="unit", tname="year", gname="g",
                             estimator="saturated", cluster="state")
        agg = fit.aggregate()
    peer = pd.DataFrame({"event_time": agg.index.astype(float).astype(int),
                         "est": agg["Estimate"].astype(float).to_numpy(),
                         "se": agg["Std. Error"].astype(float).to_numpy()})
    ours = sa_het.tidy().dropna(subset=["std_error"]).dropna(subset=["event_time"])
    merged = ours.merge(peer, on="event_time")
    assert len(merged) == len(peer) == 40
    np.testing.assert_allclose(merged["estimate"], merged["est"], atol=1e-6)
    np.testing.assert_allclose(merged["std_error"], merged["se"], rtol=1e-3)


def test_table_shape(sa_het):
    tab = sa_het.tidy()
    ref = tab[tab["reference"]]
    assert ref["event_time"].tolist() == [-1] and ref["estimate"].tolist() == [0.0]
    assert tab["term"].iloc[-1] == "ATT"
    assert sa_het.inference.df == sa_het.inference.n_clusters - 1 == 39
    assert sa_het.influence.shape == (40, len(sa_het.vcov))
    np.testing.assert_allclose(sa_het.diagnostics["cr1_factor"] * sa_het.influence.T @ sa_het.influence,
                               sa_het.vcov, rtol=1e-12)


@pytest.mark.parametrize("cluster", ["unit", "area"])
def test_single_cohort_equals_twfe_event_study(cluster):
    """Exact equivalence: with one treated cohort SA = TWFE event study with every relative period
    (Sun & Abraham 2021, sec. 3). Oracle: evalkit.event_study (linearmodels PanelOLS), unbalanced panel,
    CR1; tolerance 1e-8 (estimates) and 1e-8 relative (SEs)."""
    df = _panel(unbalanced=True)
    df = df[df["g"] != 2007].reset_index(drop=True)
    sa = sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g", cluster=cluster)
    es = event_study(df, outcome="y", unit="unit", time="year", cohort="g", leads=4, lags=7,
                     bin_endpoints=False, cluster=cluster)
    a = sa.tidy().set_index("term")
    b = es.tidy().set_index("term")
    terms = [t for t in b.index if not b.loc[t, "reference"]]
    np.testing.assert_allclose(a.loc[terms, "estimate"], b.loc[terms, "estimate"], atol=1e-8)
    np.testing.assert_allclose(a.loc[terms, "std_error"], b.loc[terms, "std_error"], rtol=1e-8)


def test_recovers_truth_without_noise():
    """Hand-built: y = unit + time + effect(g, e), no noise -> aggregates equal the share-weighted truth."""
    df = _panel(unbalanced=False)
    rng = np.random.default_rng(5)
    g, e = df["g"].to_numpy(), (df["year"] - df["g"]).to_numpy()
    eff = np.where((g > 0) & (e >= 0), 1.0 + 0.2 * e + 0.5 * (g == 2007), 0.0)
    df["y"] = rng.normal(size=300)[df["unit"]] + 0.1 * (df["year"] - 2000) + eff
    res = sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g")
    tab = res.tidy().set_index("term")
    n04, n07 = (df.loc[df.year == 2000, "g"] == 2004).sum(), (df.loc[df.year == 2000, "g"] == 2007).sum()
    assert n04 > 0 and n07 > 0
    np.testing.assert_allclose(tab.loc["e=0", "estimate"], 1.0 + 0.5 * n07 / (n04 + n07), atol=1e-10)
    np.testing.assert_allclose(tab.loc["e=5", "estimate"], 2.0, atol=1e-10)  # only cohort 2004 reaches e=5
    np.testing.assert_allclose(tab.loc["e=-3", "estimate"], 0.0, atol=1e-10)


def test_leads_lags_select_reported_rows(sa_het):
    df = pd.read_csv(DF_HET)
    res = sun_abraham(df, outcome="dep_var", unit="unit", time="year", cohort="g", cluster="state", leads=3, lags=2)
    assert res.tidy()["term"].tolist() == ["e=-3", "e=-2", "e=-1", "e=0", "e=1", "e=2", "ATT"]
    full = sa_het.tidy().set_index("term")
    np.testing.assert_allclose(res.tidy().set_index("term").loc[["e=0", "ATT"], "estimate"],
                               full.loc[["e=0", "ATT"], "estimate"], atol=1e-12)


def test_does_not_mutate_and_json_roundtrip(df_het):
    before = df_het.copy(deep=True)
    res = sun_abraham(df_het, outcome="dep_var", unit="unit", time="year", cohort="g", cluster="state", leads=2, lags=2)
    pd.testing.assert_frame_equal(df_het, before)
    from evalkit.results import Result
    back = Result.from_json(res.to_json())
    pd.testing.assert_frame_equal(back.tidy(), res.tidy())
    res.plot()


def test_no_never_treated_errors_and_last_works():
    df = _panel()
    df = df[df["g"] > 0].reset_index(drop=True)
    with pytest.raises(ValidationError, match="never-treated"):
        sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g", control_group="never")
    with pytest.warns(EvalkitWarning, match="excluded"):
        res = sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g", control_group="last")
    assert res.diagnostics["n_dropped_after_last"] == int((df["year"] >= 2007).sum())
    assert res.tidy()["event_time"].max() == 2  # 2004 cohort observed until 2006


def test_single_unit_cohort_warns_and_always_treated_errors():
    df = _panel(unbalanced=False)
    df.loc[df["unit"] == 0, "g"] = 2009
    with pytest.warns(EvalkitWarning, match="single unit"):
        sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g")
    df.loc[df["unit"] == 0, "g"] = 1999
    with pytest.raises(ValidationError, match="reference period"):
        sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g")


def test_bad_parameters():
    df = _panel()
    with pytest.raises(Exception, match="control"):
        sun_abraham(df, outcome="y", unit="unit", time="year", cohort="g", control_group="notyet")
    with pytest.raises(Exception, match="no such column"):
        sun_abraham(df, outcome="yy", unit="unit", time="year", cohort="g")
