"""Issue 15 review fixes: the report's survey section uses the library's ``survey_twfe`` (one code path),
reads any survey file through the report parameter ``survey``, says which waves it leaves out, writes
its numbers (and the subgroup tables) to the results folder; ``subgroup_effects`` with a treated area
that is not in the data says so instead of advising a lower ``min_cell``.

Fast: one Study opens the demo data (no inference advisor run: a stand-in study carries its parameters,
cohorts, area panel and design check), the survey is fitted three times (~3 s each). The POA report's
results files are checked in ``test_report_runs.py`` (its ``poa`` fixture).
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from evalkit.domain.subgroups import subgroup_effects
from evalkit.domain.survey_subgroups import survey_subgroup_effects
from evalkit.domain.survey_did import survey_outcome, survey_twfe
from evalkit.domain.survey_weights import CALIBRATED
from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError
from evalkit.report import survey_section as ss
from evalkit.report.params import describe, validate_params
from evalkit.report.preflight import preflight
from tests import subgroup_sim as G
from tests import survey_sim as S

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
POA = {"intervention": "poa", "outcome": "conviction_share", "data_dir": str(DEMO),
       "comparison": "never_treated_no_other", "survey_outcome": "tryghed"}
COLUMNS = ["estimate", "std_error", "conf_low", "conf_high", "p_value"]


def _standin(study, *, cr1: bool = False, **params) -> SimpleNamespace:
    """The parts of a Study the survey section reads, with the advisor off (restricted wild bootstrap below
    10 treated areas, or CR1 with ``cr1``) and the area panel cut at ``evaluation_year`` as the Study does."""
    p = {**study.p, **params}
    area = study.area[lambda a: a["AAR"] <= p["evaluation_year"]]
    return SimpleNamespace(p=p, cohorts=study.cohorts, area=area, advised=SimpleNamespace(advice=None, method=None),
                           check=SimpleNamespace(cr1_reliable=cr1))


@pytest.fixture(scope="module")
def study():
    from evalkit.report.study import Study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        s = Study.load("final", **POA)
        s.area  # the area panel, once
    return s


@pytest.fixture(scope="module")
def fitted(study):
    """The survey fit of a report evaluating up to 2020 (the demo survey has waves to 2024), with its warnings."""
    fake = _standin(study, evaluation_year=2020)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", EvalkitWarning)
        fit = ss.fit(fake)
    return fake, fit, [str(w.message) for w in seen if issubclass(w.category, EvalkitWarning)]


# ------------------------------------------------------------- 1. one code path: survey_twfe
def test_report_survey_effect_table_equals_survey_twfe(fitted):
    fake, fit, _ = fitted
    table = ss.effects_table(fit, lang="en").set_index("Weights")
    y = survey_outcome(fit.data, "TRYG")
    for row, weights in (("Calibrated weights (TWFE)", CALIBRATED), ("Design weights only (TWFE)", "VAEGT")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)
            lib = survey_twfe(fit.data, outcome=y, weights=weights, alpha=fake.p["alpha"], inference="wild",
                              inference_options={"seed": fake.p["seed"]}).tidy().set_index("term").loc["ATT"]
        shown = table.loc[row, ["Estimate", "Std. error", "Lower", "Upper", "p-value"]].to_numpy(float)
        np.testing.assert_allclose(shown, lib[COLUMNS].to_numpy(float), rtol=0, atol=1e-10)
    assert fit.results["calibrated"].diagnostics["se_basis"] == "respondents"   # the respondent-level CR1 factor


def test_report_cr1_effect_is_survey_twfe_cr1(fitted, study):
    _, fit, _ = fitted
    y = survey_outcome(fit.data, "TRYG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        report = ss.survey_effect(_standin(study, cr1=True), fit.data, y, CALIBRATED).tidy()
        lib = survey_twfe(fit.data, outcome=y, weights=CALIBRATED).tidy()
    np.testing.assert_allclose(report[COLUMNS].to_numpy(float), lib[COLUMNS].to_numpy(float), rtol=0, atol=1e-10)


# ------------------------------------------------------------- 2. the report parameter `survey`
def test_default_survey_parameter_keeps_the_demo(study):
    src = ss.survey_source({**study.p, "survey": {}}, check_columns=True)
    assert src.path == DEMO / "tryghed_survey.parquet" and src.answer == "TRYG" and src.cutoff is None
    assert src.config.weight == "VAEGT" and src.config.origin == "HERKOMST"
    assert validate_params({})["survey"] == {}


def test_a_csv_with_other_column_names_gives_the_same_effect(fitted, study, tmp_path):
    _, fit, _ = fitted
    names = {"RESP_ID": "LOEBENR", "AAR": "BOELGE", "OMR_ID": "BOLIGOMR", "KOEN": "SEX", "ALDER": "AGE",
             "HERKOMST": "ORIGIN", "VAEGT": "DESIGNW", "TRYG": "Q_SAFE"}
    (tmp_path / "surveys").mkdir()
    pd.read_parquet(DEMO / "tryghed_survey.parquet").rename(columns=names).to_csv(tmp_path / "surveys" / "t.csv",
                                                                                    index=False)
    survey = {"path": str(tmp_path / "surveys" / "t.csv"), "answer": "Q_SAFE",
              "columns": {"respondent_id": "LOEBENR", "year": "BOELGE", "area": "BOLIGOMR", "sex": "SEX",
                          "age": "AGE", "origin": "ORIGIN", "weight": "DESIGNW"}}
    params = validate_params({**POA, "survey": survey})
    preflight(params)   # the file and its columns are checked before a run
    fake = _standin(study, survey=params["survey"], evaluation_year=2020)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        other = ss.fit(fake)
    cols = ["Estimate", "Std. error", "Lower", "Upper", "p-value"]
    np.testing.assert_allclose(ss.effects_table(other, lang="en")[cols].to_numpy(float),
                               ss.effects_table(fit, lang="en")[cols].to_numpy(float), rtol=0, atol=1e-10)


@pytest.mark.parametrize("survey, error, match", [
    ({"pth": "x.csv"}, ParameterError, r"unknown key 'pth'.*\['path', 'config', 'columns', 'answer', 'cutoff'\]"
                                       r".*Did you mean 'path'"),
    ({"columns": {"wieght": "W"}}, ParameterError, r"survey.columns.*unknown survey configuration key 'wieght'.*"
                                                  r"Did you mean 'weight'"),
    ({"columns": {"weight": 3}}, ParameterError, r"survey.columns.*'weight' must be a column name or null"),
    ({"cutoff": "high"}, ParameterError, r"survey.cutoff' must be a number or null"),
    ({"path": 7}, ParameterError, r"survey.path' must be text"),
])
def test_bad_survey_parameters_name_the_parameter_and_what_is_allowed(survey, error, match):
    with pytest.raises(error, match=match) as info:
        validate_params({**POA, "survey": survey})
    assert isinstance(info.value, EvalkitError)


def test_survey_without_survey_outcome_is_refused():
    with pytest.raises(ParameterError, match=r"'survey' is set but survey_outcome is empty"):
        validate_params({"survey": {"path": "t.csv"}})


def test_bad_survey_files_are_refused_before_running(tmp_path):
    with pytest.raises(ParameterError, match=r"survey.path='nope.csv' does not exist.*relative path is taken from "
                                             r"data_dir.*\.sas7bdat"):
        preflight(validate_params({**POA, "survey": {"path": "nope.csv"}}))
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(ParameterError, match=r"survey.path=.*suffix '.xlsx'; allowed: .*\.dta"):
        preflight(validate_params({**POA, "survey": {"path": str(tmp_path / "t.xlsx")}}))
    pd.DataFrame({"RESP_ID": ["a"] * 5, "AAR": 2020, "OMR_ID": 1, "KOEN": 1, "ALDER": 40, "HERKOMST": "dansk",
                  "W": 1.0, "TRYG": 1.0}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ColumnError, match=r"parameter survey.columns: .*survey variable 'weight'.*no column "
                                          r"'VAEGT'.*configuration key 'weight'") as info:
        preflight(validate_params({**POA, "survey": {"path": str(tmp_path / "t.csv")}}))
    assert isinstance(info.value, EvalkitError)
    with pytest.raises(ParameterError, match=r"survey.config.*does not exist"):
        preflight(validate_params({**POA, "survey": {"path": str(tmp_path / "t.csv"), "config": "none.yaml"}}))


def test_survey_parameter_is_documented():
    text = describe()
    assert re.search(r"^survey\s+dict\s", text, re.M)
    for key in ("path", "config", "columns", "answer", "cutoff", "sas7bdat", "data_dir"):
        assert key in text.split("\nsurvey ")[1].split("\n")[0]
    doc = (ROOT / "docs" / "data_contract.md").read_text(encoding="utf-8")
    assert "report parameter `survey`" in doc
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "survey_outcome:" in b)
    assert validate_params(yaml.safe_load(block))["survey"]["answer"] == "TRYG5"


# ------------------------------------------------------------- 4. waves the report leaves out
def test_waves_after_the_evaluation_year_are_stated_and_warned(fitted):
    fake, fit, seen = fitted
    said = "Survey waves after the evaluation year 2020 ([2021, 2022, 2023, 2024]) are not used"
    assert any(said in m for m in seen)                       # the run log
    fake.survey_fit = fit
    shown = ss.effect_table(fake)
    assert said in shown.text + shown.html                    # the report's note under the effect table
    assert fit.data["AAR"].max() == 2020


def test_waves_outside_the_register_years_are_named():
    notes = ss.wave_notes([2008, 2010, 2011, 2025], evaluation_year=2024, register_years=range(2010, 2025),
                          lang="da")
    assert notes == ["Spørgeskemabølger efter evalueringsåret 2024 ([2025]) indgår ikke.",
                     "Spørgeskemabølger uden for registrets år 2010-2024 ([2008]) indgår ikke: der er ingen "
                     "registerfordeling at kalibrere til."]
    assert ss.wave_notes(range(2010, 2025), evaluation_year=2024, register_years=range(2010, 2025), lang="en") == []


# ------------------------------------------------------------- 4. numbers in the results folder
def test_survey_results_json_are_the_shown_numbers_without_respondent_detail(fitted, tmp_path):
    from evalkit.report.outputs import write_results
    from evalkit.report.study import Study

    fake, fit, _ = fitted
    fake.survey_fit = fit
    found = Study.results(fake)   # the Study's own collector, on the stand-in
    assert {"survey_twfe_calibrated", "survey_twfe_design"} <= set(found)
    written = write_results(tmp_path, {k: found[k] for k in ("survey_twfe_calibrated", "survey_twfe_design")},
                            min_cell=5)
    table = ss.effects_table(fit, lang="en").set_index("Weights")
    for path, row in zip(written, ("Calibrated weights (TWFE)", "Design weights only (TWFE)")):
        data = json.loads(path.read_text())
        att = next(r for r in data["table"] if r["term"] == "ATT")
        assert [att[c] for c in COLUMNS] == pytest.approx(
            list(table.loc[row, ["Estimate", "Std. error", "Lower", "Upper", "p-value"]]), abs=1e-12)
        assert data["n_obs"] % 5 == 0 and data["diagnostics"]["n_respondents"] == data["n_obs"]   # rounded
        assert "sum_weights" not in data["diagnostics"] and "RESP_ID" not in path.read_text()
        assert data["diagnostics"]["report_inference_label"] == fit.method


def test_subgroup_results_json(tmp_path):
    from evalkit.report.outputs import write_results
    from evalkit.report.subgroup_section import SubgroupFits, json_results

    world = G.person_years(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = subgroup_effects(world[0], world[1], outcome="employment_rate", by="origin", min_cell=5, round_base=5)
    fits = SubgroupFits(results={"register": res}, truths={"register": {"nonwestern": 0.08}}, skipped={})
    payload = json_results(fits, inference="cr1", inference_label="CR1")
    (path,) = write_results(tmp_path, payload, min_cell=5)
    data = json.loads(path.read_text())
    assert path.name == "subgroups_register.json" and data["by"] == "origin" and data["inference"] == "cr1"
    assert data["inference_label"] == "CR1"
    assert [r["subgroup"] for r in data["table"]] == list(res.tidy()["subgroup"])
    assert [r["estimate"] for r in data["table"]] == pytest.approx(list(res.tidy()["estimate"]))
    assert all(r["n"] % 5 == 0 and r["n"] >= 5 for r in data["table"])
    assert data["table"][0]["truth"] == 0.08 and data["table"][1]["truth"] is None
    assert data["joint_test"] == pytest.approx(res.joint_test())
    assert json_results(None, inference="cr1") == {}


def test_subgroup_inference_code_is_language_free():
    from evalkit.report.subgroup_section import inference_code

    assert inference_code(None, {}) == "cr1" and inference_code("cr2", {}) == "cr2"
    assert inference_code("wild", {"seed": 1}) == "wild_restricted"
    assert inference_code("wild", {"weights": "webb"}) == "wild_restricted_webb"
    assert inference_code("wild", {"restricted": False}) == "wild_unrestricted"


# ------------------------------------------------------------- 3. an area that is not in the data
def test_subgroup_effects_with_an_area_not_in_the_data_says_so():
    people, cohorts = G.person_years(seed=1)
    with pytest.raises(ValidationError) as info:
        subgroup_effects(people, {9999: 2018}, outcome="employment_rate", by="origin")
    text = str(info.value)
    assert "[9999]" in text and "not in the register data" in text and "min_cell" not in text
    assert re.search(r"areas in the data are \[1, 2, 3, 4, 5, 6, 7, 8\] \.\.\. \(30 in all\)", text)
    with pytest.warns(EvalkitWarning, match=r"\[9999\] that are not in the register data.*left out"):
        subgroup_effects(people, {**cohorts, 9999: 2018}, outcome="employment_rate", by="origin")
    with pytest.raises(ParameterError, match=r"areas lists \[9999\].*areas in the data are \[1, 2,"):
        subgroup_effects(people, cohorts, outcome="employment_rate", by="origin", areas=[1, 2, 9999])


def test_survey_subgroup_effects_with_an_area_not_in_the_data_says_so():
    pop, cohorts, _ = S.world(seed=2, n_areas=8)
    survey = S.draw(pop, 2)
    with pytest.raises(ValidationError, match=r"\[9999\] that are not in the survey data.*areas in the data are "
                                              r"\[") as info:
        survey_subgroup_effects(survey, {9999: 2018}, answer="TRYG", weights="VAEGT", by="sex")
    assert "min_cell" not in str(info.value)
