"""Fourth outside review of the survey capability:

1. ``calibrate_weights`` on a DataFrame applies read_survey's data-contract rules (design weight > 0,
   age 0-120, ...) to the respondent rows of the columns it uses;
2. ``survey_did`` with treated areas that cannot enter (not in the survey, starting after its last wave)
   names them in the error;
3. a cut-off outside the declared scale is the same ParameterError in the library as in the report;
4. the survey results JSON give as ``inference.method`` the method of the p-value and interval, and name
   the method of the standard error.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from evalkit.domain.survey_did import survey_did, survey_outcome, survey_twfe, with_cohorts
from evalkit.domain.survey_read import read_survey
from evalkit.domain.survey_weights import CALIBRATED, calibrate_weights
from evalkit.errors import EvalkitError, ParameterError, ValidationError
from evalkit.report import survey_section as ss
from tests import survey_sim as S


@pytest.fixture(scope="module")
def sim():
    pop, cohorts, _ = S.world(seed=5, n_areas=8)
    return S.draw(pop, 5), S.margins(pop), cohorts


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ------------------------------------------------------------- 1. the data contract in calibrate_weights
@pytest.mark.parametrize("column, value, rule", [("VAEGT", -1.0, "greater_than"), ("VAEGT", 0.0, "greater_than"),
                                                 ("ALDER", 150, "in_range")])
def test_calibrate_weights_checks_the_data_contract(sim, column, value, rule):
    survey, margins, _ = sim
    bad = survey.copy()
    bad.loc[bad.index[:3], column] = value
    with pytest.raises(EvalkitError, match=rf"column '{column}' fails {rule}") as err:
        _quiet(calibrate_weights, bad, margins)
    assert isinstance(err.value, ValidationError)
    assert "RESP_ID" not in str(err.value)


def test_the_contract_applies_to_respondents_only(sim):
    survey, margins, _ = sim
    frame = survey.copy()
    frame["TRYG"] = frame["TRYG"].astype(float)
    rows = frame.index[:2]
    frame.loc[rows, "TRYG"] = np.nan                 # nonrespondents: not calibrated, not checked
    frame.loc[rows, "VAEGT"] = 0.0
    frame.attrs["answers"] = ["TRYG"]
    cal = _quiet(calibrate_weights, frame, margins)
    assert cal.data.loc[rows, CALIBRATED].isna().all()
    assert (cal.data[CALIBRATED].dropna() > 0).all()


# ------------------------------------------------------------- 2. treated areas that cannot enter
def test_a_treated_area_not_in_the_survey_is_named(sim):
    survey, margins, _ = sim
    with pytest.raises(ValidationError, match=r"treated area\(s\) \[999\] are not in the survey") as err:
        _quiet(survey_did, survey, margins, {999: 2018}, answer="TRYG")
    assert "waves 2016..2021" in str(err.value)


def test_a_start_after_the_last_wave_is_named(sim):
    survey, margins, _ = sim
    with pytest.raises(ValidationError, match=r"after the survey's last wave 2021: area 1 in 2030"):
        _quiet(survey_did, survey, margins, {1: 2030}, answer="TRYG")


# ------------------------------------------------------------- 3. a cut-off outside the declared scale
@pytest.fixture(scope="module")
def likert(sim):
    survey = sim[0].copy()
    survey["TRYG5"] = np.where(survey["TRYG"] == 1, 5.0, 2.0)
    return survey.drop(columns="TRYG"), {"answers": ["TRYG5"], "scales": {"TRYG5": [1, 5]}}


def test_survey_did_checks_the_cutoff_against_the_declared_scale(sim, likert):
    survey, config = likert
    with pytest.raises(ParameterError, match=r"cutoff=6 is outside the declared scale \[1, 5\]"):
        _quiet(survey_did, survey, sim[1], sim[2], answer="TRYG5", cutoff=6, survey_config=config)


def test_survey_outcome_checks_the_scale_read_survey_recorded(likert):
    survey, config = likert
    read = _quiet(read_survey, survey, config)
    assert read.attrs["scales"] == {"TRYG5": (1.0, 5.0)}
    with pytest.raises(ParameterError, match=r"cutoff=1 is outside the declared scale \[1, 5\]"):
        survey_outcome(read, "TRYG5", cutoff=1)
    assert survey_outcome(read, "TRYG5", cutoff=4).mean() == pytest.approx((read["TRYG5"] == 5).mean())
    assert survey_outcome(survey, "TRYG5", cutoff=6).sum() == 0    # no declared scale: not checked


# ------------------------------------------------------------- 4. inference.method of the results JSON
@pytest.fixture(scope="module")
def fitted(sim):
    survey, _, cohorts = sim
    data = with_cohorts(survey, cohorts)
    y = survey_outcome(data, "TRYG")
    return data, y


def _fit_with(res, code: str) -> ss.SurveyFit:
    res = res.replace(diagnostics={**dict(res.diagnostics), "report_inference": code,
                                   "report_inference_label": code})
    row = res.tidy().set_index("term").loc["ATT"]
    return ss.SurveyFit(calibrated=row, design=row, calibration=None, rates=None, truth=None, method=code,
                        data=None, results={"calibrated": res, "design": res}, answer="TRYG", measure="share")


@pytest.mark.parametrize("fitted_with, code, se_method", [(None, "randomization", "cr1"),
                                                         ("cr2", "cr2_size_corrected", "cr2")])
def test_results_json_name_the_inference_of_the_p_value(fitted, fitted_with, code, se_method):
    data, y = fitted
    res = _quiet(survey_twfe, data, outcome=y, weights="VAEGT", inference=fitted_with)
    out = ss.json_results(_fit_with(res, code), min_cell=5, round_base=5)
    for written in out.values():
        d = json.loads(written.to_json())
        assert d["inference"]["method"] == code
        assert d["diagnostics"]["std_error_method"] == se_method
        assert d["diagnostics"]["report_inference"] == code
        att = [r for r in d["table"] if r["term"] == "ATT"][0]
        assert att["std_error"] == pytest.approx(res.tidy().set_index("term").at["ATT", "std_error"])


# ------------------------------------------------------------- 5. the data contract says what happens
def test_the_data_contract_does_not_promise_a_run_log_warning_for_unused_waves():
    from pathlib import Path

    text = " ".join((Path(__file__).parents[1] / "docs" / "data_contract.md").read_text().split())
    assert "the run log warns" not in text
    assert "survey effect table says which (a note, also in `diagnostics.notes` of the survey results JSON)" in text
