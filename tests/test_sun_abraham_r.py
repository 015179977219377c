"""Sun & Abraham against R fixest::sunab (R witness).

Reference: tests/references/sunab_fixest.json, written by tests/references/r/sunab.R (R 4.2.2, fixest 0.14.2;
the JSON records versions, calls and date). Calls:
    est <- feols(y ~ sunab(cohort, year) | unit + year, data, cluster = ~...); summary(est, agg = "att")
on did2s::df_het (as shipped by pyfixest) clustered by state and by unit, and on did::mpdta (as shipped by
moderndid) clustered by county. fixest reports the relative-period coefficients aggregated over cohorts with
cell-count shares; "vcov" in the JSON is the covariance of those aggregates (W V W', see the script).

Tolerances: estimates 1e-6 relative (achieved ~6e-8 on df_het, where one coefficient is -1.7e-4 and fixest's
iterative demeaning converges to ~1e-11 absolute; ~3e-12 on mpdta). SEs and covariances 1e-4 relative
(achieved ~1e-11): fixest's default small-sample correction, ssc(K.adj = TRUE, K.fixef = "nonnested",
G.adj = TRUE), is evalkit's CR1 G/(G-1) (N-1)/(N-K) with unit effects nested in the clusters counted as one
parameter, so no factor separates the two.
"""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.estimators.sun_abraham import sun_abraham
from tests.reference_data import df_het, mpdta, reference

REF = reference("sunab_fixest.json")
CASES = {c["name"]: c for c in REF["cases"]}
EST_RTOL = 1e-6
SE_RTOL = 1e-4


SPECS = {
    "df_het_cluster_state": (df_het, dict(outcome="dep_var", unit="unit", time="year", cohort="g", cluster="state")),
    "df_het_cluster_unit": (df_het, dict(outcome="dep_var", unit="unit", time="year", cohort="g", cluster="unit")),
    "mpdta_cluster_county": (mpdta, dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat")),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    ref = CASES[request.param]
    load, kw = SPECS[request.param]
    data = load()
    assert len(data) == ref["input"]["nrow"]  # same data as R read
    np.testing.assert_allclose(data[kw["outcome"]].sum(), ref["input"]["sum_outcome"], rtol=1e-12)
    return ref, sun_abraham(data, **kw)


def test_relative_period_estimates(case):
    ref, res = case
    tab = res.tidy().set_index("term")
    terms = [f"e={e}" for e in ref["event_time"]]
    assert sorted(tab.index[tab["event_time"].notna() & ~tab["reference"].astype(bool)]) == sorted(terms)
    np.testing.assert_allclose(tab.loc[terms, "estimate"], ref["estimate"], rtol=EST_RTOL)
    np.testing.assert_allclose(tab.loc[terms, "std_error"], ref["std_error"], rtol=SE_RTOL)
    assert res.n_obs == ref["nobs"] and res.inference.n_clusters == ref["n_clusters"]


def test_relative_period_covariance(case):
    ref, res = case
    terms = [f"e={e}" for e in ref["event_time"]]
    np.testing.assert_allclose(res.vcov.loc[terms, terms].to_numpy(), np.array(ref["vcov"]), rtol=SE_RTOL, atol=0)


def test_att_aggregate(case):
    ref, res = case
    tab = res.tidy().set_index("term")
    np.testing.assert_allclose(tab.loc["ATT", "estimate"], ref["att_estimate"], rtol=EST_RTOL)
    np.testing.assert_allclose(tab.loc["ATT", "std_error"], ref["att_std_error"], rtol=SE_RTOL)
