"""Surveys (issue 15, parts 1-3): reader and contract, calibration to register margins, and DiD on
repeated cross-sections. Witnesses: pyfixest ``feols(weights=, vcov={"CRV1": "OMR_ID"})`` on the
respondent rows (points 1e-8, live and stored) and moderndid ``att_gt(panel=False)`` (points 1e-6,
live and stored in ``tests/references/survey_witness.json``, written by ``python -m tests.survey_reference``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.domain.survey_config import SurveyConfig, load_survey_config
from evalkit.domain.survey_did import survey_att_gt, survey_did, survey_outcome, survey_twfe, with_cohorts
from evalkit.domain.survey_margins import age_band, register_margins
from evalkit.domain.survey_read import read_survey
from evalkit.domain.survey_weights import calibrate_weights, kish
from evalkit.errors import EvalkitError
from tests import survey_reference as R
from tests import survey_sim as S
from tests.reference_data import reference

pytestmark = pytest.mark.filterwarnings("ignore::evalkit.errors.EvalkitWarning")
CFG = SurveyConfig(weight="VAEGT", origin="HERKOMST")


@pytest.fixture(scope="module")
def sim():
    pop, cohorts, tau = S.world(seed=5, n_areas=8)
    return S.draw(pop, 5), S.margins(pop), cohorts


# ---------------------------------------------------------------- reader

@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".dta", ".xpt"])
def test_reader_formats_give_the_same_frame(tmp_path, sim, suffix):
    import pyreadstat

    survey = sim[0].rename(columns={"VAEGT": "W", "ALDER": "AGE"})
    path = tmp_path / f"svy{suffix}"
    if suffix == ".parquet":
        survey.to_parquet(path)
    elif suffix == ".csv":
        survey.to_csv(path, index=False)
    elif suffix == ".dta":
        pyreadstat.write_dta(survey, str(path))
    else:
        pyreadstat.write_xport(survey, str(path))
    cfg = {"weight": "w", "age": "age", "origin": "HERKOMST"}  # matched case-insensitively
    got = read_survey(path, cfg)
    want = read_survey(sim[0], CFG)
    assert list(got.columns) == list(want.columns) and len(got) == len(sim[0])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


def test_reader_reads_the_simulated_survey_and_yaml_config(tmp_path):
    (tmp_path / "s.yaml").write_text("answers: [TRYG]\nweight: null\n")
    d = read_survey("data/demo/tryghed_survey.parquet", tmp_path / "s.yaml", require_weights=False)
    assert {"RESP_ID", "AAR", "OMR_ID", "KOEN", "ALDER", "TRYG", "VAEGT"} <= set(d.columns)
    assert (d["VAEGT"] == 1).all() and d["OMR_ID"].isna().any()


def test_reader_does_not_mutate(sim):
    before = sim[0].copy()
    read_survey(sim[0], CFG)
    calibrate_weights(sim[0], sim[1])
    pd.testing.assert_frame_equal(sim[0], before)


def test_survey_without_weights_when_required_names_weight(sim):
    with pytest.raises(EvalkitError, match="'weight'"):
        read_survey(sim[0].drop(columns="VAEGT"), SurveyConfig(origin="HERKOMST"))
    with pytest.raises(EvalkitError, match="weight.*VAEGT|VAEGT"):
        read_survey(sim[0].drop(columns="VAEGT"), CFG)


@pytest.mark.parametrize("change, match", [
    (lambda d: d.assign(KOEN=3), "KOEN"),
    (lambda d: d.assign(VAEGT=-1.0), "VAEGT"),
    (lambda d: d.assign(HERKOMST="Danish"), "HERKOMST"),
    (lambda d: pd.concat([d, d.head(1)]), "unique"),
    (lambda d: d.drop(columns="ALDER"), "'age'"),
])
def test_reader_schema_errors_name_the_column(sim, change, match):
    with pytest.raises(EvalkitError, match=match):
        read_survey(change(sim[0]), CFG)


def test_config_errors():
    with pytest.raises(EvalkitError, match="Did you mean 'weight'"):
        load_survey_config({"weigth": "W"})
    with pytest.raises(EvalkitError, match="answers"):
        SurveyConfig(answers=("KOEN",))


# ---------------------------------------------------------------- calibration

def test_calibrated_weights_hit_every_register_margin(sim):
    survey, margins, _ = sim
    cal = calibrate_weights(survey, margins)
    d = cal.data
    for var in ("KOEN", "HERKOMST", "age_band"):
        got = d.groupby(["OMR_ID", "AAR", var])["CAL_VAEGT"].sum()
        want = margins.groupby(["OMR_ID", "AAR", var])["N"].sum().reindex(got.index)
        pooled = cal.diagnostics["levels_pooled"].sum()
        if pooled == 0 or var == "KOEN":
            np.testing.assert_allclose(got, want, rtol=1e-6)
    tot = d.groupby(["OMR_ID", "AAR"])["CAL_VAEGT"].sum()
    np.testing.assert_allclose(tot, margins.groupby(["OMR_ID", "AAR"])["N"].sum().reindex(tot.index), rtol=1e-6)
    assert len(d) == len(survey)  # no row dropped


def test_kish_design_effect_by_hand():
    k = kish(np.array([1.0, 1.0, 2.0, 4.0]))
    assert k.n_eff == pytest.approx(64 / 22) and k.deff == pytest.approx(4 * 22 / 64)
    assert kish(np.ones(7)).deff == pytest.approx(1.0)


def test_diagnostics_report_kish_and_suppress_small_counts(sim):
    survey, margins, _ = sim
    cal = calibrate_weights(survey, margins)
    diag = cal.diagnostics
    assert {"respondents", "n_eff", "deff", "deff_design", "residents", "levels_pooled", "suppressed"} <= set(diag)
    assert (diag["deff"] >= 1 - 1e-12).all() and cal.summary["deff"] > 1
    small = survey[(survey["OMR_ID"] == 1) & (survey["AAR"] == 2016)].head(3)
    rest = survey[(survey["OMR_ID"] != 1) | (survey["AAR"] != 2016)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diag2 = calibrate_weights(pd.concat([small, rest]), margins, min_level=1).diagnostics
    row = diag2[(diag2["OMR_ID"] == 1) & (diag2["AAR"] == 2016)].iloc[0]
    assert row["suppressed"] and np.isnan(row["respondents"]) and np.isnan(row["n_eff"])
    assert diag2["suppressed"].sum() >= 2  # a lone blank would be recoverable from the total


def test_rows_outside_areas_are_kept_uncalibrated_with_a_warning(sim):
    survey = sim[0].copy()
    survey.loc[survey.index[:4], "OMR_ID"] = np.nan
    with pytest.warns(Warning, match="4 survey rows"):
        cal = calibrate_weights(survey, sim[1])
    assert len(cal.data) == len(survey) and cal.data["CAL_VAEGT"].isna().sum() == 4


def test_waves_outside_register_years_are_an_error(sim):
    survey, margins, _ = sim
    with pytest.raises(EvalkitError, match=r"waves \[2016\].*'AAR'"):
        calibrate_weights(survey, margins[margins["AAR"] != 2016])


def test_margins_not_matching_register_categories(sim):
    survey, margins, _ = sim
    with pytest.raises(EvalkitError, match="margin 'HERKOMST'.*not register categories"):
        calibrate_weights(survey, margins.assign(HERKOMST=margins["HERKOMST"].str.upper()))
    with pytest.raises(EvalkitError, match="margins lacks column"):
        calibrate_weights(survey, margins.drop(columns="KOEN"))
    with pytest.raises(EvalkitError, match="margins="):
        calibrate_weights(survey, margins, variables=())


def test_infeasible_raking_names_the_area_wave():
    pop, _, _ = S.world(0)
    extreme = S.draw(pop.assign(r=np.where((pop["_o"] == 2) & (pop["_b"] < 2) & (pop["OMR_ID"] == 2), 0.0, pop["r"])), 1)
    extreme = pd.concat([extreme, extreme[(extreme.OMR_ID == 2) & (extreme.HERKOMST == "ikke_vestlig")].head(0)])
    with pytest.raises(EvalkitError, match="area 2, wave"):
        calibrate_weights(extreme, S.margins(pop), min_level=1)


def test_register_margins_count_distinct_residents():
    m = register_margins("data/demo", years=[2015])
    py = pd.read_parquet("data/demo/person_years", columns=["PERSON_ID", "AAR", "FOED_AAR", "OMR_ID"])
    py = py[(py["AAR"] == 2015) & py["OMR_ID"].notna() & (2015 - py["FOED_AAR"] >= 15)]
    assert m["N"].sum() == py["PERSON_ID"].nunique() and set(m["AAR"]) == {2015}
    assert set(m["age_band"]) == {"15-29", "30-44", "45-64", "65+"}
    assert list(age_band([14, 15, 29, 30, 90])) == [None, "15-29", "15-29", "30-44", "65+"]


# ---------------------------------------------------------------- estimation

def test_outcomes_share_and_mean_score():
    d = pd.DataFrame({"Q": [1, 2, 3, 4, 5, np.nan]})
    assert survey_outcome(d, "Q", cutoff=4).tolist()[:5] == [0, 0, 0, 1, 1]
    assert np.isnan(survey_outcome(d, "Q", cutoff=4).iloc[5]) and survey_outcome(d, "Q").iloc[2] == 3
    with pytest.raises(EvalkitError, match="answer='X'"):
        survey_outcome(d, "X")
    with pytest.raises(EvalkitError, match="cutoff"):
        survey_outcome(d, "Q", cutoff="4")


def _witness():
    return R.data(), reference("survey_witness.json")


def _twfe_checks(fit, pyf, d):
    ours = fit.tidy().set_index("term")
    assert abs(ours.loc["ATT", "estimate"] - pyf["estimate"]) <= R.TOL_POINT_TWFE
    # same cluster scores and the same CR1 factor G/(G-1) (N-1)/(N-K): N counts respondents, as pyfixest's rows
    assert ours.loc["ATT", "std_error"] == pytest.approx(pyf["std_error"], rel=R.TOL_SE)
    assert fit.n_obs == len(d) == pyf.get("n_obs", len(d))
    assert fit.diagnostics["n_cells"] == d.groupby(["OMR_ID", "AAR"]).ngroups


def test_weighted_twfe_equals_pyfixest_live():
    pytest.importorskip("pyfixest")
    d = R.data()
    _twfe_checks(survey_twfe(d, outcome=d["y"], weights="w"), R.pyfixest_twfe(d), d)


def test_weighted_twfe_equals_stored_pyfixest():
    d, ref = _witness()
    assert ref["n_respondents"] == len(d) and ref["weights_sum"] == pytest.approx(d["w"].sum(), rel=1e-12)
    _twfe_checks(survey_twfe(d, outcome=d["y"], weights="w"), ref["pyfixest_twfe"], d)


def _cs_checks(ours, peer):
    assert set(peer) <= set(ours.index)
    diff = max(abs(ours.loc[k, "estimate"] - v["estimate"]) for k, v in peer.items())
    assert diff <= R.TOL_POINT_CS


def test_att_gt_rc_equals_moderndid_live():
    pytest.importorskip("moderndid")
    d = R.data()
    _cs_checks(survey_att_gt(d, outcome=d["y"], weights="w").tidy().set_index("term"), R.moderndid_rc(d))


def test_att_gt_rc_equals_stored_moderndid():
    d, ref = _witness()
    assert ref["packages"]["moderndid"] and ref["tolerance"]["att_gt_point_abs"] == R.TOL_POINT_CS
    _cs_checks(survey_att_gt(d, outcome=d["y"], weights="w").tidy().set_index("term"), ref["moderndid_att_gt_rc"])


def test_weights_matter_in_the_witness():
    d = R.data()
    a = survey_twfe(d, outcome=d["y"], weights="w").estimate("ATT")
    b = survey_twfe(d, outcome=d["y"], weights="VAEGT").estimate("ATT")
    assert not np.isclose(a, b, rtol=1e-3)


def test_survey_did_orchestrates_and_does_not_mutate(sim):
    survey, margins, cohorts = sim
    before = survey.copy()
    res = survey_did(survey, margins, cohorts, answer="TRYG", survey_config=CFG)
    assert set(res.results) == {"twfe", "att_gt"} and "estimator" in res.tidy()
    assert res.calibration.summary["respondents"] == len(survey)
    pd.testing.assert_frame_equal(survey, before)
    assert res.tidy().equals(res.tidy())
    with pytest.raises(EvalkitError, match="estimators"):
        survey_did(survey, margins, cohorts, answer="TRYG", survey_config=CFG, estimators=("ols",))
    with pytest.raises(EvalkitError, match="margins="):
        survey_did(survey, None, cohorts, answer="TRYG", survey_config=CFG)
    with pytest.raises(EvalkitError, match="cohorts"):
        with_cohorts(survey, [1, 2])


def test_the_documented_survey_config_loads():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[1] / "docs" / "data_contract.md").read_text(encoding="utf-8")
    block = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", text, re.S)[2])
    cfg = load_survey_config(block)
    assert cfg.weight == "DESIGNVAEGT" and cfg.answers == ("TRYG", "TRIVSEL")


def test_likert_share_and_mean_score_targets(sim):
    """A Likert item 2 + 2*TRYG (values 2 or 4): its share >= 3 is TRYG, its mean-score effect twice TRYG's."""
    survey, margins, cohorts = sim
    likert = survey.assign(LIK=2 + 2 * survey["TRYG"])
    cfg = SurveyConfig(weight="VAEGT", origin="HERKOMST", answers=("TRYG", "LIK"))
    base = survey_did(likert, margins, cohorts, answer="TRYG", survey_config=cfg, estimators="twfe")
    share = survey_did(likert, margins, cohorts, answer="LIK", cutoff=3, survey_config=cfg, estimators="twfe")
    score = survey_did(likert, margins, cohorts, answer="LIK", survey_config=cfg, estimators="twfe")
    b = base.results["twfe"].estimate("ATT")
    assert share.results["twfe"].estimate("ATT") == pytest.approx(b, abs=1e-12)
    assert score.results["twfe"].estimate("ATT") == pytest.approx(2 * b, abs=1e-12)
    with pytest.raises(TypeError):
        base.results["other"] = None  # read-only
