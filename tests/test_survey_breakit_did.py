"""Outside review of ``survey_did`` (items 1, 5, 6, 7, 13, 14, 19): disclosure of thin area-waves,
inference of att_gt, cohort values, misspelled keywords, respondent-level CR1 and honest labels,
degenerate designs and boolean flags. Small simulated surveys of :mod:`tests.survey_sim` with the
design weights (``calibrate=False``), so every test runs in seconds."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.domain.survey_config import SurveyConfig
from evalkit.domain.survey_did import survey_did
from evalkit.errors import EvalkitError, ParameterError
from tests import survey_sim as S

CFG = SurveyConfig(weight="VAEGT", origin="HERKOMST")


@pytest.fixture(scope="module")
def world():
    pop, cohorts, _ = S.world(seed=5, n_areas=8)  # areas 1-4 treated from 2019, waves 2016-2021
    return S.draw(pop, 5), cohorts


def did(survey, cohorts, **kw):
    return survey_did(survey, None, cohorts, answer="TRYG", survey_config=CFG, calibrate=False, **kw)


def quiet(f, *args, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(*args, **kw)
    return out, [str(w.message) for w in caught]


def thin_area_1(survey):
    """One respondent per wave in treated area 1."""
    return survey[(survey["OMR_ID"] != 1) | ~survey.duplicated(["OMR_ID", "AAR"])]


# ------------------------------------------------------------------ 1. disclosure at the source

def test_area_waves_below_min_cell_are_left_out_with_a_note(world):
    survey, cohorts = world
    thin = thin_area_1(survey)
    before = thin.copy()
    res, msgs = quiet(did, thin, cohorts)
    pd.testing.assert_frame_equal(thin, before)  # the caller's frame is untouched
    assert any("fewer than 5 respondents" in m and "[1]" in m for m in msgs), msgs
    assert res.meta["notes"] and res.results["twfe"].diagnostics["disclosure"]["min_cell"] == 5
    assert res.results["twfe"].tidy().loc[0, "n_treated"] == 3  # area 1 is gone
    same, _ = quiet(did, survey[survey["OMR_ID"] != 1], cohorts)
    for name in ("twfe", "att_gt"):
        np.testing.assert_allclose(res.results[name].tidy()["estimate"], same.results[name].tidy()["estimate"])
    cells = res.results["att_gt"].tidy()
    assert (cells["n_treated"] >= 5).all() and (cells["n_control"] >= 5).all()


def test_only_thin_treated_area_is_an_error(world):
    survey, _ = world
    with pytest.raises(EvalkitError, match="min_cell=5"):
        quiet(did, thin_area_1(survey), {1: 2019})


def test_att_gt_counts_are_the_respondents_of_the_cell(world):
    survey, cohorts = world
    res, _ = quiet(did, survey, cohorts, estimators="att_gt")
    t = res.results["att_gt"].tidy().set_index("term")
    treated = survey["OMR_ID"].isin(cohorts)
    per_wave = survey[treated].groupby("AAR").size()
    comparison = survey[~treated].groupby("AAR").size()
    row = t.loc["ATT(g=2019,t=2021)"]  # base wave 2018
    assert row["n_treated"] == per_wave[2021] + per_wave[2018]
    assert row["n_control"] == comparison[2021] + comparison[2018]
    assert t.loc["ATT(g=2019,t=2017)", "n_treated"] == per_wave[2017] + per_wave[2016]  # varying base
    assert (t["n_treated"] < treated.sum()).all()  # not the total over waves


def test_min_cell_is_checked(world):
    survey, cohorts = world
    for bad in (2, 4.0, True, "5"):
        with pytest.raises(ParameterError, match="min_cell"):
            did(survey, cohorts, min_cell=bad)


# ------------------------------------------------------------------ 5. inference of att_gt

def test_att_gt_warns_with_few_treated_areas(world):
    survey, cohorts = world
    _, msgs = quiet(did, survey, cohorts, estimators="att_gt")
    assert any("Only 4 treated area(s)" in m and "randomization" in m for m in msgs), msgs


def test_att_gt_inference_applied_or_refused(world):
    survey, cohorts = world
    with pytest.raises(ParameterError, match=r"'wild' is not available for estimator 'att_gt'.*'randomization'"):
        did(survey, cohorts, estimators="att_gt", inference="wild")
    with pytest.raises(ParameterError, match="Did you mean 'draws'"):
        did(survey, cohorts, estimators="att_gt", inference="multiplier", inference_options={"drawz": 5})
    with pytest.raises(ParameterError, match="inference_options"):
        did(survey, cohorts, estimators="att_gt", inference_options={"draws": 50})
    boot, _ = quiet(did, survey, cohorts, estimators="att_gt", inference="multiplier",
                    inference_options={"draws": 50, "seed": 1})
    assert boot.results["att_gt"].inference.method == "multiplier" and boot.results["att_gt"].inference.draws == 50
    ri, _ = quiet(did, survey, cohorts, estimators="att_gt", inference="randomization",
                  inference_options={"draws": 9, "seed": 1})
    assert ri.results["att_gt"].inference.method == "randomization"


def test_inference_by_estimator(world):
    survey, cohorts = world
    with pytest.raises(ParameterError, match="inference=\\{'twfe': 'wild'\\}"):
        did(survey, cohorts, inference="wild")
    res, _ = quiet(did, survey, cohorts, inference={"twfe": "wild"}, inference_options={"seed": 1, "draws": 99})
    assert res.results["twfe"].inference.method == "wild" and res.results["att_gt"].inference.method == "analytic"
    with pytest.raises(ParameterError, match="hc1"):
        did(survey, cohorts, estimators="twfe", inference="hc1")


# ------------------------------------------------------------------ 6. cohort values

@pytest.mark.parametrize("value", [np.nan, None, 2019.5, -1, "2019"])
def test_bad_first_treated_year_names_the_area(world, value):
    survey, cohorts = world
    with pytest.raises(EvalkitError, match="area 3 has first treated year"):
        did(survey, {**cohorts, 3: value})


@pytest.mark.parametrize("estimators", ["twfe", "att_gt"])
def test_area_treated_from_its_first_wave_warns_for_every_estimator(world, estimators):
    survey, cohorts = world
    res, msgs = quiet(did, survey, {**cohorts, 6: 2016}, estimators=estimators)
    assert any("areas [6] are treated from their first wave" in m for m in msgs), msgs
    without, _ = quiet(did, survey[survey["OMR_ID"] != 6], cohorts, estimators=estimators)
    np.testing.assert_allclose(res.results[estimators].tidy()["estimate"],
                               without.results[estimators].tidy()["estimate"])


# ------------------------------------------------------------------ 7, 19. keywords and flags

def test_misspelled_keyword_names_the_closest(world):
    survey, cohorts = world
    with pytest.raises(ParameterError, match="Did you mean 'answer'"):
        survey_did(survey, None, cohorts, answr="TRYG", calibrate=False)


@pytest.mark.parametrize("flag", ["calibrate", "require_weights"])
def test_flags_must_be_booleans(world, flag):
    survey, cohorts = world
    with pytest.raises(ParameterError, match=f"{flag}='no' must be True or False"):
        survey_did(survey, None, cohorts, answer="TRYG", survey_config=CFG, **{"calibrate": False, flag: "no"})


# ------------------------------------------------------------------ 13. respondent-level TWFE

def _respondent_cr1(d: pd.DataFrame) -> tuple[float, float]:
    """Weighted dummy regression TRYG ~ D + area + year on the respondents, CR1 by area by hand."""
    x = pd.get_dummies(d[["OMR_ID", "AAR"]].astype(str), drop_first=True).astype(float)
    x.insert(0, "D", d["D"].astype(float))
    x.insert(1, "const", 1.0)
    xn, y, w, g = x.to_numpy(), d["TRYG"].to_numpy(float), d["VAEGT"].to_numpy(float), d["OMR_ID"].to_numpy()
    bread = np.linalg.inv((xn * w[:, None]).T @ xn)
    b = bread @ (xn * w[:, None]).T @ y
    e = y - xn @ b
    scores = np.array([(xn[g == k] * (w[g == k] * e[g == k])[:, None]).sum(0) for k in np.unique(g)])
    n, groups, k = len(d), len(np.unique(g)), 1 + d["AAR"].nunique()  # area effects nest in the clusters
    v = bread @ scores.T @ scores @ bread * groups / (groups - 1) * (n - 1) / (n - k)
    return float(b[0]), float(np.sqrt(v[0, 0]))


def test_twfe_is_respondent_level_with_honest_labels(world):
    survey, cohorts = world
    res, _ = quiet(did, survey, cohorts, estimators="twfe")
    fit = res.results["twfe"]
    d = survey.assign(D=(survey["OMR_ID"].isin(cohorts) & (survey["AAR"] >= 2019)).astype(int))
    b, se = _respondent_cr1(d)
    assert fit.estimate() == pytest.approx(b, abs=1e-10)
    assert fit.tidy().loc[0, "std_error"] == pytest.approx(se, rel=1e-8)
    assert fit.n_obs == len(survey) and fit.diagnostics["n_cells"] == survey.groupby(["OMR_ID", "AAR"]).ngroups
    assert fit.outcome == "TRYG" and fit.meta["weights"] == "VAEGT"
    head = fit.summary()
    assert f"{len(survey):,}" in head and "Outcome    TRYG" in head and "VAEGT" in head
    share, _ = quiet(did, survey, cohorts, estimators="twfe", cutoff=1)
    assert share.results["twfe"].outcome == "TRYG >= 1"


# ------------------------------------------------------------------ 14. degenerate designs

def test_one_treated_and_one_comparison_area_warn_about_nan_se(world):
    survey, _ = world
    res, msgs = quiet(did, survey[survey["OMR_ID"].isin([1, 8])], {1: 2019}, estimators="att_gt")
    assert res.results["att_gt"].tidy()["std_error"].isna().all()
    assert any("no standard error (NaN)" in m for m in msgs), msgs


@pytest.mark.parametrize("change", [lambda d: d.iloc[:0], lambda d: d.assign(TRYG=np.nan)])
def test_no_respondents_is_said_plainly(world, change):
    survey, cohorts = world
    with pytest.raises(EvalkitError, match="no respondents"):
        quiet(did, change(survey), cohorts)


def test_survey_twfe_without_the_timing_columns_names_them(world):
    from evalkit.domain.survey_did import survey_outcome, survey_twfe

    survey, _ = world
    with pytest.raises(EvalkitError, match=r"lack columns \['cohort', 'D'\].*with_cohorts"):
        survey_twfe(survey, outcome=survey_outcome(survey, "TRYG"), weights="VAEGT")
