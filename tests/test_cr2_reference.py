"""External witness for CR2 / Bell-McCaffrey df / CR3: R clubSandwich.

Source: ``tests/references/clubsandwich_cr2.json``, written by
``tests/references/r/clubsandwich.R`` with R 4.2.2 (Debian) and clubSandwich 0.5.8 (Debian
package r-cran-clubsandwich): ``vcovCR(fit, cluster, type = "CR2")`` with
``coef_test(..., test = "Satterthwaite")`` and ``vcovCR(..., type = "CR3")``
(see ``tests/references/README.md`` to regenerate).

Data: causaldata's ``organ_donations`` (27 states, 6 quarters, California the only treated
cluster; skipped without causaldata) and ``tests/references/cr2_panel.csv`` (our simulated,
unbalanced panel: 36 areas nested in 14 municipalities of 1 to 5 areas, staggered
treatment of 4 municipalities, one covariate), clustered by municipality (unequal cluster
sizes) and by area.

Which clubSandwich model evalkit matches: evalkit partials the unit effects out (they are
nested in the clusters) and keeps the time effects as dummies (``nested_partial``). R fits
the same regression three ways: all effects as dummies (``lm``), unit effects absorbed
(``lm`` on within-unit demeaned data) and ``plm(model = "within")``. For CR2, SE and
Satterthwaite df agree across the three to ~1e-13 (Pustejovsky & Tipton 2018, sec. 3), and
evalkit matches all of them. For CR3 the dummy fit fails in clubSandwich (I - H_gg is
singular: the unit dummies live inside the cluster) while the absorbed and plm fits give
the leave-one-cluster-out jackknife; evalkit matches those.

Conventions pinned (not differences in the computation):
* CR3 scale: clubSandwich's CR3 has no (G-1)/G factor; evalkit's ``with_inference("cr3")``
  uses MacKinnon-Nielsen-Webb CV3 = (G-1)/G x that. ``cr3_vcov(convention="bm")`` is
  clubSandwich's CR3 exactly, and the evalkit SE is sqrt((G-1)/G) x clubSandwich's SE.
* One treated cluster (organ donations): CR2 uses the pseudo-inverse square root for the
  treated cluster in both (clubSandwich zeroes eigenvalues of I - H_gg below 1e-12, evalkit
  eigenvalues of H_gg above 1 - 1e-10); CR3 is undefined: clubSandwich stops with
  "system is computationally singular", evalkit raises ValidationError.

Tolerance: 1e-6 relative on SE, df, p-values and covariance entries (issue 5); measured
agreement is ~1e-12 or better.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.errors import ValidationError
from evalkit.estimators import did2x2, twfe
from evalkit.estimators._designs import linear_design, nested_partial
from evalkit.inference.small_sample import cr2_dof, cr2_vcov, cr3_vcov

REF_DIR = Path(__file__).parent / "references"
REF = json.loads((REF_DIR / "clubsandwich_cr2.json").read_text())
CASES = REF["cases"]
RTOL = 1e-6


def _organ():
    causaldata = pytest.importorskip("causaldata")
    d = causaldata.organ_donations.load_pandas().data
    ca = (d["State"] == "California").astype(float)
    post = (d["Quarter_Num"] >= 4).astype(float)
    return d.assign(D=ca * post, ca=ca, post=post)


def _panel():
    return pd.read_csv(REF_DIR / "cr2_panel.csv")


def _fit(case):
    """(data, evalkit result, evalkit names of the R coefficients) of a case."""
    if case == "organ_twfe":
        d = _organ()
        return d, twfe(d, outcome="Rate", unit="State", time="Quarter_Num", treatment="D", cluster="State"), ["ATT"]
    if case == "organ_did2x2":
        d = _organ()
        return d, did2x2(d, outcome="Rate", treatment="ca", post="post", cluster="State"), \
            ["treatment", "post", "ATT"]
    d = _panel()
    cluster = {"panel_twfe": "municipality", "panel_twfe_area": "area"}[case]
    return d, twfe(d, outcome="y", unit="area", time="year", treatment="D", covariates=["x"],
                   cluster=cluster), ["ATT", "x"]


def _ref(case, form, kind):
    r = CASES[case][form][kind]
    assert "error" not in r, r
    return {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in r.items()}


FE_CASES = ["organ_twfe", "panel_twfe", "panel_twfe_area"]
ALL_CASES = [*FE_CASES, "organ_did2x2"]


def _forms(case):
    return ["lm"] if case == "organ_did2x2" else ["dummies", "absorbed", "plm"]


def _design(result, data):
    design = linear_design(result, data)
    y, x = nested_partial(design)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return x, y - x @ beta, design.clusters, list(design.X.columns), beta


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", ALL_CASES)
def test_cr2_matches_clubsandwich(case):
    data, res, names = _fit(case)
    x, resid, clusters, cols, beta = _design(res, data)
    idx = [cols.index(n) for n in names]
    V = cr2_vcov(x, resid, clusters)[np.ix_(idx, idx)]
    dof = np.array([cr2_dof(x, clusters, np.eye(x.shape[1])[j]) for j in idx])
    se = np.sqrt(np.diag(V))
    p = 2 * stats.t.sf(np.abs(beta[idx] / se), dof)
    for form in _forms(case):
        r = _ref(case, form, "CR2")
        np.testing.assert_allclose(beta[idx], r["beta"], rtol=RTOL)
        np.testing.assert_allclose(V, np.asarray(CASES[case][form]["CR2"]["vcov"], float).reshape(V.shape),
                                   rtol=RTOL, atol=1e-14)
        np.testing.assert_allclose(se, r["se"], rtol=RTOL)
        np.testing.assert_allclose(dof, r["df"], rtol=RTOL)
        np.testing.assert_allclose(p, r["p"], rtol=RTOL)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", ALL_CASES)
def test_with_inference_cr2_matches_clubsandwich(case):
    """The user-facing path: result.with_inference("cr2", data) on the estimated terms."""
    data, res, names = _fit(case)
    out = res.with_inference("cr2", data).table.set_index("term")
    form = _forms(case)[0]
    r = _ref(case, form, "CR2")
    details = res.with_inference("cr2", data).diagnostics["inference_details"]["dof"]
    for j, name in enumerate(names):
        if name not in details:  # did2x2 reports only ATT
            continue
        assert out.loc[name, "std_error"] == pytest.approx(r["se"][j], rel=RTOL)
        assert details[name] == pytest.approx(r["df"][j], rel=RTOL)
        assert out.loc[name, "p_value"] == pytest.approx(r["p"][j], rel=RTOL)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", ["panel_twfe", "panel_twfe_area"])
def test_cr3_matches_clubsandwich_absorbed(case):
    data, res, names = _fit(case)
    x, resid, clusters, cols, beta = _design(res, data)
    idx = [cols.index(n) for n in names]
    G = CASES[case]["G"]
    assert G == len(np.unique(clusters))
    V_bm = cr3_vcov(x, resid, clusters, convention="bm")[np.ix_(idx, idx)]
    for form in ("absorbed", "plm"):
        r = _ref(case, form, "CR3")
        np.testing.assert_allclose(V_bm, np.asarray(CASES[case][form]["CR3"]["vcov"], float).reshape(V_bm.shape),
                                   rtol=RTOL)
        np.testing.assert_allclose(np.sqrt(np.diag(V_bm)), r["se"], rtol=RTOL)
        p = 2 * stats.t.sf(np.abs(beta[idx] / np.sqrt(np.diag(V_bm))), G - 1)
        np.testing.assert_allclose(p, r["p_naive_t"], rtol=RTOL)
    # the dummy-variable fit is where clubSandwich's CR3 breaks down (unit dummies inside clusters)
    assert "singular" in CASES[case]["dummies"]["CR3"]["error"]
    # user-facing CR3 is the MNW convention: sqrt((G - 1) / G) x clubSandwich's SE
    out = res.with_inference("cr3", data).table.set_index("term")
    r = _ref(case, "absorbed", "CR3")
    for j, name in enumerate(names):
        assert out.loc[name, "std_error"] == pytest.approx(np.sqrt((G - 1) / G) * r["se"][j], rel=RTOL)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", ["organ_twfe", "organ_did2x2"])
def test_cr3_single_treated_cluster_undefined_in_both(case):
    data, res, _ = _fit(case)
    for form in _forms(case):
        assert "singular" in CASES[case][form]["CR3"]["error"]
    with pytest.raises(ValidationError, match="rank deficient"):
        res.with_inference("cr3", data)


def test_reference_provenance():
    assert REF["clubSandwich_version"] == "0.5.8"
    assert REF["r_version"].startswith("R version 4.2.2")
    assert {"organ_twfe", "organ_did2x2", "panel_twfe", "panel_twfe_area"} <= set(CASES)
    # the unbalanced-cluster case really is unbalanced
    sizes = _panel().groupby("municipality").size()
    assert sizes.min() < sizes.max() / 3
