"""Survey reader, configuration, margins and calibration under hostile inputs (outside review): thin
area-waves, missing codes and scales, nonrespondents, duplicated or malformed margins, misspelled keywords,
non-integer keys, and privacy of error messages."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.domain.survey_config import SurveyConfig, load_survey_config
from evalkit.domain.survey_margins import register_margins
from evalkit.domain.survey_read import read_survey
from evalkit.domain.survey_weights import calibrate_weights
from evalkit.errors import EvalkitError, EvalkitWarning, ParameterError, ValidationError
from tests import survey_sim as S

CFG = {"weight": "VAEGT", "origin": "HERKOMST"}


@pytest.fixture(scope="module")
def sim():
    pop, cohorts, _ = S.world(seed=5, n_areas=8)
    return S.draw(pop, 5), S.margins(pop)


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return func(*args, **kwargs)


# ------------------------------------------------------------------ 2: a thin area-wave
def test_thin_area_wave_is_pooled_to_its_total_with_a_warning(sim):
    survey, margins = sim
    thin = (survey["OMR_ID"] == 2) & (survey["AAR"] == 2017)
    data = pd.concat([survey[~thin], survey[thin].head(3)], ignore_index=True)
    with pytest.warns(EvalkitWarning, match=r"1 area-wave.*fewer than min_level=5"):
        cal = calibrate_weights(data, margins)
    got = cal.data.loc[(cal.data["OMR_ID"] == 2) & (cal.data["AAR"] == 2017), "CAL_VAEGT"]
    want = margins.loc[(margins["OMR_ID"] == 2) & (margins["AAR"] == 2017), "N"].sum()
    assert len(got) == 3 and got.sum() == pytest.approx(want, rel=1e-6)
    assert cal.summary["area_waves_pooled_to_total"] == 1


def test_margins_of_more_years_and_areas_than_the_survey_calibrate(sim):
    """Found after the pooling fix: margins covering area-waves the survey does not have made the
    pooled-to-total plan raise svy's 'extra keys' (the plan is now limited to the surveyed area-waves)."""
    survey, margins = sim
    part = survey[survey["AAR"].isin(sorted(survey["AAR"].unique())[1:-1]) & (survey["OMR_ID"] != 3)]
    cal = _quiet(calibrate_weights, part, margins)
    assert cal.summary["area_waves_pooled_to_total"] == 0 and cal.data["CAL_VAEGT"].notna().any()


# ------------------------------------------------------------------ 3: missing codes and scales
def _likert(survey):
    rng = np.random.default_rng(1)
    lik = rng.integers(1, 6, len(survey)).astype(float)
    lik[: len(lik) // 20] = 9
    return survey.assign(LIK=lik)


def test_missing_codes_become_missing_and_are_counted(sim):
    data = _likert(sim[0])
    cfg = {**CFG, "answers": ["TRYG", "LIK"], "missing_codes": {"LIK": [9]}, "scales": {"LIK": [1, 5], "TRYG": "binary"}}
    with pytest.warns(EvalkitWarning, match=r"LIK.*\b343 rows\b.*missing code"):
        got = read_survey(data, cfg)
    assert got["LIK"].isna().sum() == 343 and got["LIK"].max() == 5
    assert data["LIK"].max() == 9  # the caller's frame is untouched


def test_values_outside_the_declared_scale_are_an_error(sim):
    data = _likert(sim[0])
    with pytest.raises(ValidationError, match=r"'LIK'.*\[9\.?0?\].*343 rows.*\[1, 5\]"):
        read_survey(data, {**CFG, "answers": ["LIK"], "scales": {"LIK": [1, 5]}})
    bad = sim[0].assign(TRYG=sim[0]["TRYG"].where(sim[0].index % 50 != 0, 7))
    with pytest.raises(ValidationError, match=r"'TRYG'.*\[7.*binary"):
        read_survey(bad, {**CFG, "scales": {"TRYG": "binary"}})
    neg = sim[0].assign(TRYG=sim[0]["TRYG"].where(sim[0].index % 50 != 0, -1))
    with pytest.raises(ValidationError, match=r"'TRYG'.*-1"):
        read_survey(neg, {**CFG, "scales": {"TRYG": "binary"}})


def test_undeclared_answer_with_outlying_codes_warns(sim):
    with pytest.warns(EvalkitWarning, match=r"'LIK'.*no declared scale.*9.*missing_codes"):
        read_survey(_likert(sim[0]), {**CFG, "answers": ["LIK"]})


@pytest.mark.parametrize("cfg, match", [
    ({"scales": {"TRYG": [5, 1]}}, "scales"),
    ({"scales": {"NOPE": "binary"}}, "scales.*NOPE"),
    ({"missing_codes": {"TRYG": ["x"]}}, "missing_codes"),
    ({"scales": {"TRYG": "likert"}}, "binary"),
])
def test_bad_scale_or_missing_code_keys(cfg, match):
    with pytest.raises(ParameterError, match=match):
        load_survey_config(cfg)


def test_the_documented_scale_yaml_loads(tmp_path):
    (tmp_path / "s.yaml").write_text("answers: [TRYG, TRIVSEL]\nmissing_codes: {TRIVSEL: [8, 9]}\n"
                                     "scales: {TRYG: binary, TRIVSEL: [1, 5]}\n")
    cfg = load_survey_config(tmp_path / "s.yaml")
    assert cfg.scales == {"TRYG": "binary", "TRIVSEL": (1.0, 5.0)} and cfg.missing_codes == {"TRIVSEL": (8.0, 9.0)}


# ------------------------------------------------------------------ 4: only respondents are calibrated
def test_only_respondents_are_calibrated(sim):
    survey, margins = sim
    data = survey.assign(TRYG=survey["TRYG"].astype(float).where(survey.index % 3 != 0))
    n_resp = int(data["TRYG"].notna().sum())
    cal = _quiet(calibrate_weights, _quiet(read_survey, data, CFG), margins)
    assert cal.summary["respondents"] == n_resp and cal.summary["nonrespondents"] == len(data) - n_resp
    assert cal.data.loc[data["TRYG"].isna().to_numpy(), "CAL_VAEGT"].isna().all()
    assert cal.diagnostics["respondents"].sum() == n_resp and len(cal.data) == len(data)
    explicit = _quiet(calibrate_weights, data, margins, answer="TRYG")
    np.testing.assert_allclose(explicit.data["CAL_VAEGT"], cal.data["CAL_VAEGT"])


# ------------------------------------------------------------------ 9, 8: malformed margins
def test_duplicate_margin_rows_are_an_error(sim):
    survey, margins = sim
    extra = margins[(margins["OMR_ID"] == 2) & (margins["AAR"] == 2017)]
    with pytest.raises(ValidationError, match=rf"margins: {2 * len(extra)} rows are duplicates.*{len(extra)} keys"):
        calibrate_weights(survey, pd.concat([margins, extra]))


def test_numeric_text_counts_are_read_as_numbers(sim):
    survey, margins = sim
    a = _quiet(calibrate_weights, survey, margins).data["CAL_VAEGT"]
    b = _quiet(calibrate_weights, survey, margins.assign(N=margins["N"].astype(str))).data["CAL_VAEGT"]
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("change, match", [
    (lambda m: m.assign(N=np.where(m.index % 7 == 0, "n/a", m["N"].astype(str))), "'N'.*numbers.*cannot be read"),
    (lambda m: m.assign(OMR_ID=m["OMR_ID"] + 0.5), "'OMR_ID'.*whole"),
    (lambda m: m.iloc[:0], "margins.*empty|no rows"),
])
def test_malformed_margins_name_the_column(sim, change, match):
    with pytest.raises(EvalkitError, match=match):
        calibrate_weights(sim[0], change(sim[1]))


# ------------------------------------------------------------------ 11: defaults know the simulator's file
def test_default_config_reads_the_simulator_weight_and_origin(sim):
    got = read_survey(sim[0])
    np.testing.assert_allclose(got["VAEGT"], sim[0]["VAEGT"]) and None
    assert "HERKOMST" in got
    with pytest.warns(EvalkitWarning, match=r"'VAEGT'.*not read.*weight"):
        read_survey(sim[0], {"weight": None}, require_weights=False)


# ------------------------------------------------------------------ 12: non-integer keys
@pytest.mark.parametrize("col, value", [("AAR", 0.5), ("OMR_ID", 0.3), ("KOEN", 0.5)])
def test_non_integer_keys_are_an_error(sim, col, value):
    data = sim[0].assign(**{col: sim[0][col] + value})
    with pytest.raises(ValidationError, match=f"'{col}'.*whole"):
        read_survey(data, CFG)


# ------------------------------------------------------------------ 7: misspelled keywords
@pytest.mark.parametrize("call", [
    lambda s, m: calibrate_weights(s, m, varables=("KOEN",)),
    lambda s, m: read_survey(s, CFG, require_weight=False),
    lambda s, m: register_margins("data/demo", year=[2015]),
])
def test_misspelled_keywords_name_the_closest(sim, call):
    with pytest.raises(ParameterError, match="Did you mean"):
        call(*sim)


# ------------------------------------------------------------------ 16: no respondent ids in errors
def test_area_mapped_to_the_id_column_shows_no_ids(sim):
    with pytest.raises(ValidationError) as err:
        read_survey(sim[0], {**CFG, "area": "RESP_ID"})
    assert "'RESP_ID'" in str(err.value) and "r5_" not in str(err.value) and "SELECT" not in str(err.value)


# ------------------------------------------------------------------ 20: nonrespondents and incomplete rows
def test_nonrespondents_may_lack_a_weight(sim):
    survey = sim[0].assign(TRYG=sim[0]["TRYG"].astype(float))
    survey.loc[survey.index % 4 == 0, ["TRYG", "VAEGT"]] = np.nan
    got = _quiet(read_survey, survey, CFG)
    assert len(got) == len(survey)
    survey.loc[1, "VAEGT"] = np.nan  # a respondent
    with pytest.raises(ValidationError, match="VAEGT"):
        read_survey(survey, CFG)


def test_incomplete_background_is_an_error_or_dropped_on_request(sim):
    survey = sim[0].copy()
    survey.loc[[1, 2, 3, 4], "HERKOMST"] = None
    with pytest.raises(ValidationError, match=r"HERKOMST.*4 respondent rows.*drop_incomplete=True"):
        read_survey(survey, CFG)
    with pytest.warns(EvalkitWarning, match="4 respondent rows"):
        got = read_survey(survey, CFG, drop_incomplete=True)
    assert len(got) == len(survey) - 4


# ------------------------------------------------------------------ 15: wording
def test_text_answers_and_numeric_strings(sim):
    text = sim[0].assign(TRYG=np.where(sim[0].index % 2 == 0, "ja", "nej"))
    with pytest.raises(ValidationError, match=r"'TRYG'.*cannot be read as a number.*6869 rows.*'ja'"):
        read_survey(text, CFG)
    strings = sim[0].assign(TRYG=sim[0]["TRYG"].astype(str))
    assert read_survey(strings, CFG)["TRYG"].tolist() == sim[0]["TRYG"].tolist()


def test_wording_of_variables_and_missing_respondent_id(sim):
    with pytest.raises(ParameterError, match="variables="):
        calibrate_weights(sim[0], sim[1], variables=())
    with pytest.raises(EvalkitError) as err:
        read_survey(sim[0].drop(columns="RESP_ID"), CFG)
    assert "Did you mean 'OMR_ID'" not in str(err.value)


def test_answers_may_not_take_a_canonical_name():
    with pytest.raises(ParameterError, match="VAEGT"):
        SurveyConfig(weight=None, answers=("VAEGT",))


def test_nullable_dtypes_are_read(sim):
    data = sim[0].astype({"TRYG": "Int64", "KOEN": "Int64", "HERKOMST": "string"})
    data.loc[3, "TRYG"] = pd.NA
    got = read_survey(data, CFG)
    assert got["TRYG"].isna().sum() == 1 and got["KOEN"].dtype == "int64"


def test_margin_levels_are_named_as_codes():
    from evalkit.domain.survey_weights import _level

    assert _level(2.0) == "2" and _level("15-29") == "15-29" and _level(np.float64(1)) == "1"
