"""BJS imputation against R didimputation::did_imputation (R witness).

Reference: tests/references/didimputation.json, written by tests/references/r/didimputation.R (R 4.2.2,
didimputation 0.5.0, fixest 0.14.2; the JSON records versions, calls and date). Calls (package defaults:
first stage ~ 0 | idname + tname, cluster_var = idname):
    did_imputation(data, yname, gname, tname, idname)                      # static "treat"
    did_imputation(..., horizon = TRUE)                                    # every horizon h >= 0
    did_imputation(..., pretrends = -5:-1)  (mpdta: -3:-1)                 # BJS Test 1 rows + "treat"
on did2s::df_het (as shipped by pyfixest) and did::mpdta (as shipped by moderndid).

Tolerances: estimates 1e-6 relative. Achieved ~3e-8 (df_het) and ~1e-7 (mpdta): didimputation's first stage
is fixest::feols with its default fixef.tol = 1e-6, an iterative demeaning; with
setFixest_estimation(fixef.tol = 1e-11) R gives -0.0477099182784617 for the mpdta static effect, evalkit's
exact solve -0.047709918278460 (R default: -0.047709915109474).
SEs 1e-4 relative; achieved ~2e-9. evalkit follows the same formula as didimputation: BJS Theorem 3 with
v* = -Z (Z0'Z0)^{-1} Z1'w1 on untreated rows, w on treated rows, residuals tau_it - tau_bar with tau_bar the
v^2-weighted mean within cohort x event time (BJS eq. 10), clustered sums, no small-sample factor. The
pre-trend rows (fixest::feols on untreated rows, fixest's default CR1 with nested unit effects counted as
one) match evalkit's pretrends= rows at the same tolerance.
"""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.estimators.imputation import did_imputation
from tests.reference_data import df_het, mpdta, reference

REF = reference("didimputation.json")
CASES = {c["name"]: c for c in REF["cases"]}
EST_RTOL = 1e-6
SE_RTOL = 1e-4


DATA = {"df_het": (df_het, dict(outcome="dep_var", unit="unit", time="year", cohort="g")),
        "mpdta": (mpdta, dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat"))}


@pytest.fixture(scope="module")
def loaded():
    return {name: load() for name, (load, _) in DATA.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_didimputation(name, loaded):
    ref = CASES[name]
    dname = "df_het" if name.startswith("df_het") else "mpdta"
    data, kw = loaded[dname], DATA[dname][1]
    assert len(data) == ref["input"]["nrow"]
    np.testing.assert_allclose(data[kw["outcome"]].sum(), ref["input"]["sum_outcome"], rtol=1e-12)
    leads = [int(t) for t in ref["term"] if t != "treat" and int(t) < 0]
    res = did_imputation(data, **kw, pretrends=leads or None)
    tab = res.tidy().set_index("term")
    terms = ["ATT" if t == "treat" else f"e={t}" for t in ref["term"]]
    if "horizons" in name:  # horizon = TRUE reports every observed horizon h >= 0, and only those
        assert sorted(tab.index.drop("ATT")) == sorted(terms)
    np.testing.assert_allclose(tab.loc[terms, "estimate"], ref["estimate"], rtol=EST_RTOL)
    np.testing.assert_allclose(tab.loc[terms, "std_error"], ref["std_error"], rtol=SE_RTOL)
