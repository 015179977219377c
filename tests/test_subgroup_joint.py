"""The joint test of equal subgroup effects with few treated areas (issue 15, part 4).

Witnesses of the wild cluster restricted bootstrap of the Wald statistic
(:mod:`evalkit.inference.wild_wald`, :mod:`evalkit.domain.subgroup_joint`):
* one restriction: W = t^2 and, under full enumeration, the p-value of the single-coefficient WCR of
  :func:`evalkit.inference.wild.wild_cluster_bootstrap` (itself checked against boottest/fwildclusterboot);
* brute force: every one of the 2^G sign vectors refitted as the dummy-variable regression
  (linearmodels PanelOLS, clustered) gives the same p-value;
* size: no heterogeneity, 6 of 40 areas treated - the bootstrap rejects at its level, the F test does not.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests import subgroup_sim as G
from evalkit.domain.subgroup_joint import check, joint_equality_test, options
from evalkit.domain.survey_subgroups import survey_subgroup_effects
from evalkit.errors import ParameterError, ValidationError
from evalkit.inference.wild import _enumerate, wild_cluster_bootstrap
from evalkit.inference.wild_wald import wild_wald_test


def few_treated(seed: int, n_areas: int = 40, n_treated: int = 6, groups=("a", "b", "c"), tau=0.05):
    """Cells as :func:`subgroup_sim.cells` (one effect for all subgroups, AR(1) area shocks) with only
    ``n_treated`` areas treated."""
    c = G.cells(seed, n_areas=n_areas, groups=groups, tau=0.0)
    rng = np.random.default_rng([seed, 7])
    treated = rng.permutation(np.arange(1, n_areas + 1))[:n_treated]
    d = (c["OMR_ID"].isin(treated) & (c["AAR"] >= 2018)).astype(int)
    return c.assign(D=d, y=c["y"] + tau * d)


def design(c: pd.DataFrame, groups):
    x = np.column_stack([(c["D"] * (c["subgroup"] == g)).to_numpy(float) for g in groups])
    codes = [pd.factorize(c["OMR_ID"].astype(str) + "|" + c["subgroup"])[0],
             pd.factorize(c["AAR"].astype(str) + "|" + c["subgroup"])[0]]
    return c["y"].to_numpy(float), x, c["OMR_ID"].to_numpy(), codes, c["w"].to_numpy(float)


def test_one_restriction_equals_the_single_coefficient_wcr_under_enumeration():
    c = few_treated(3, n_areas=8, n_treated=3, groups=("a", "b"))
    y, x, cl, codes, w = design(c, ("a", "b"))
    joint = wild_wald_test(y, x, cl, [[-1.0, 1.0]], fe_codes=codes, obs_weights=w, draws=999, seed=1)
    # the same model reparametrised: D and D x b; the coefficient of D x b is b_b - b_a
    single = wild_cluster_bootstrap(y, np.column_stack([x.sum(1), x[:, 1]]), cl, coef_index=1, fe_codes=codes,
                                    obs_weights=w, draws=999, seed=1, ci=False)
    assert joint.enumerated and single.enumerated and joint.B == single.B == 256
    assert joint.statistic == pytest.approx(single.statistic ** 2, rel=1e-10)
    assert joint.p_value == single.p_value


def _restricted_fit(c: pd.DataFrame, groups):
    """Fitted values and residuals of the restricted model (one effect for all subgroups) as the
    dummy-variable weighted regression, by dense least squares."""
    dummies = pd.get_dummies(c["OMR_ID"].astype(str) + "|" + c["subgroup"], dtype=float)
    years = pd.get_dummies(c["AAR"].astype(str) + "|" + c["subgroup"], dtype=float).iloc[:, 1:]
    xr = np.column_stack([c["D"].to_numpy(float), dummies.to_numpy(), years.to_numpy()])
    sw = np.sqrt(c["w"].to_numpy(float))
    beta = np.linalg.lstsq(xr * sw[:, None], c["y"].to_numpy(float) * sw, rcond=None)[0]
    fitted = xr @ beta
    return fitted, c["y"].to_numpy(float) - fitted


def test_p_value_equals_refitting_every_sign_vector_by_brute_force():
    groups = ["a", "b", "c"]
    c = few_treated(5, n_areas=6, n_treated=2, groups=tuple(groups), tau=0.03)
    y, x, cl, codes, w = design(c, groups)
    r = np.array([[-1.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    fast = wild_wald_test(y, x, cl, r, fe_codes=codes, obs_weights=w, draws=999, seed=0)
    assert fast.enumerated and fast.B == 64
    wald = joint_equality_test(c, groups)["wald"]
    fitted, resid = _restricted_fit(c, groups)
    areas = np.sort(c["OMR_ID"].unique())
    slow = []
    for v in _enumerate(len(areas)).T:
        vi = pd.Series(v, index=areas)[c["OMR_ID"]].to_numpy()
        slow.append(joint_equality_test(c.assign(y=fitted + vi * resid), groups)["wald"])
    p_slow = float(np.mean(np.array(slow) > wald * (1 + 1e-9) + 1e-9))
    assert 0 < fast.p_value < 1 and fast.p_value == p_slow


@pytest.mark.slow
def test_wild_joint_test_has_the_right_size_with_few_treated_areas():
    """No heterogeneity, 6 of 40 areas treated, 3 subgroups: 200 worlds, 199 draws each."""
    reps, groups = 200, ["a", "b", "c"]
    p_wild, p_f = [], []
    for seed in range(reps):
        out = joint_equality_test(few_treated(seed), groups, method="wild", draws=199, seed=seed)
        p_wild.append(out["p_value"])
        p_f.append(out["p_value_f"])
    lo, hi = stats.binom.ppf([0.005, 0.995], reps, 0.05) / reps
    rate_wild, rate_f = np.mean(np.array(p_wild) < 0.05), np.mean(np.array(p_f) < 0.05)
    assert lo <= rate_wild <= hi, (rate_wild, rate_f)
    assert rate_f > hi, (rate_wild, rate_f)  # the CR1 F test over-rejects here: why the bootstrap is used


def test_seeded_p_value_does_not_depend_on_row_order_or_id_type():
    groups = ["a", "b", "c"]
    c = few_treated(11)
    base = joint_equality_test(c, groups, method="wild", draws=499, seed=3)
    shuffled = c.sample(frac=1.0, random_state=2).assign(OMR_ID=lambda d: "area" + d["OMR_ID"].astype(str))
    other = joint_equality_test(shuffled, groups, method="wild", draws=499, seed=3)
    assert other["p_value"] == base["p_value"]
    assert other["statistic"] == pytest.approx(base["statistic"], rel=1e-10)


def test_joint_choice_and_options():
    assert options(None, "wild", {"weights": "webb", "seed": 5, "restricted": True}) == \
        {"draws": 9999, "weights": "webb", "seed": 5}
    assert options({"draws": 99}, "wild", {"seed": 5}) == {"draws": 99, "weights": "rademacher", "seed": 0}
    assert options(None, None, None)["seed"] == 0 and options({"seed": None}, None, None)["seed"] is None
    with pytest.raises(ParameterError, match="joint"):
        check("auto", None)
    with pytest.raises(ParameterError, match="restricted"):
        options({"restricted": False}, None, None)
    with pytest.raises(ParameterError, match="draws"):
        options({"draws": 0}, None, None)
    with pytest.raises(ParameterError, match="seed"):
        options({"seed": "x"}, None, None)


def test_bad_inputs_name_what_is_wrong():
    y, x, cl, codes, w = design(few_treated(1), ["a", "b", "c"])
    with pytest.raises(ParameterError, match="R must"):
        wild_wald_test(y, x, cl, [[1.0, -1.0]], fe_codes=codes)
    with pytest.raises(ParameterError, match="full row rank"):
        wild_wald_test(y, x, cl, [[1.0, -1.0, 0.0], [2.0, -2.0, 0.0]], fe_codes=codes)
    with pytest.raises(ValidationError, match="2 clusters"):
        wild_wald_test(y, x, np.zeros(y.size), [[1.0, -1.0, 0.0]], fe_codes=codes)


def test_survey_subgroups_use_the_bootstrap_with_few_treated_areas():
    from tests import survey_sim as S
    from evalkit.domain.survey_weights import calibrate_weights

    pop, cohorts, _ = S.world(seed=2, n_areas=16)
    data = calibrate_weights(S.draw(pop, 2), S.margins(pop)).data
    res = survey_subgroup_effects(data, cohorts, answer="TRYG", cutoff=1, by="origin",
                                  joint_options={"draws": 199, "seed": 4})
    j = res.joint_test()
    assert j["method"] == "wild" and j["draws"] == 199 and 0 <= j["p_value"] <= 1
    assert j["p_value_f"] == pytest.approx(stats.f.sf(j["statistic"], j["df"], j["df_denom"]), rel=1e-10)
    again = survey_subgroup_effects(data, cohorts, answer="TRYG", cutoff=1, by="origin",
                                    joint_options={"draws": 199, "seed": 4})
    assert again.joint_test()["p_value"] == j["p_value"]
    assert "Responses (rounded)" in res.display().columns
