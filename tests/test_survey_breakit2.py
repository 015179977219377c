"""Second outside review of the survey capability (breakit 15):

A. a mean-score (Likert, no cut-off) outcome is labelled as a mean score on its scale, without the
   simulated truth of the share, and the results JSON record the measure;
B. the survey's warnings (waves left out, a design-weight column not mapped) are notes of the report,
   not warnings on the report cell's stderr;
C. calibration diagnostics blank every column of a suppressed area-wave the count can be recomputed from;
D. ``survey_did(..., answer=X)`` reads X even when the configuration does not list it;
E. a margin cell missing for a category with respondents is warned (area, year, category);
F. the run manifest hashes survey files outside ``data_dir``;
G. without design weights the "design weights only" row says it is unweighted.

Fast: one Study on the demo data (stand-in studies with the advisor off, as in
``test_survey_report_fixes.py``), three survey fits.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.domain.survey_did import survey_did
from evalkit.domain.survey_read import read_survey
from evalkit.domain.survey_weights import calibrate_weights
from evalkit.errors import EvalkitWarning
from evalkit.report import manifest as mf
from evalkit.report import survey_section as ss
from tests import survey_sim as S
from tests.test_survey_report_fixes import DEMO, _standin, study  # noqa: F401 (the module's Study fixture)


def _evalkit_warnings(seen) -> list[str]:
    return [str(w.message) for w in seen if issubclass(w.category, EvalkitWarning)]


# ------------------------------------------------------------- A. mean score vs share
@pytest.fixture(scope="module")
def likert(study, tmp_path_factory):  # noqa: F811
    """A Likert (1-5) copy of the demo survey's answer, fitted as a mean score (cut-off null)."""
    folder = tmp_path_factory.mktemp("likert")
    frame = pd.read_parquet(DEMO / "tryghed_survey.parquet")
    rng = np.random.default_rng(15)
    score = np.where(frame["TRYG"] == 1, rng.integers(4, 6, len(frame)), rng.integers(1, 4, len(frame)))
    frame["TRYG5"] = pd.Series(score, dtype="float").where(frame["TRYG"].notna())
    path = folder / "likert.parquet"
    frame.drop(columns=["TRYG"]).to_parquet(path)
    survey = {"path": str(path), "columns": {"answers": ["TRYG5"], "scales": {"TRYG5": [1, 5]}},
              "answer": "TRYG5", "cutoff": None}
    fake = _standin(study, survey=survey)
    return fake, ss.report_fit(fake)


def test_measure_names_share_cutoff_and_mean_score():
    assert ss.measure(pd.Series([0, 1, 1, np.nan]), None) == "share"
    assert ss.measure(pd.Series([1, 3, 5]), 4) == "share >= 4"
    assert ss.measure(pd.Series([1, 3, 5]), None) == "mean score"


def test_a_mean_score_is_labelled_in_points_without_the_share_truth(likert, tmp_path):
    from evalkit.report.outputs import write_results

    fake, fit = likert
    assert fit.measure == "mean score" and fit.cutoff is None
    assert fit.truth is None                                         # the truth is of the share of TRYG = 1
    text = ss.effect_text(fit, "Tryghed", lang="en", alpha=0.05)
    assert "percentage points" not in text and "points on the TRYG5 scale (mean score)" in text
    assert "true effect" not in text
    assert "procentpoint" not in ss.effect_text(fit, "Tryghed", lang="da", alpha=0.05)
    assert "Truth" not in ss.effects_table(fit, lang="en").columns
    fake.survey_fit = fit
    shown = ss.effect_table(fake)
    assert "the effect on the mean score" in shown.text and "percentage points" not in shown.text
    assert shown.text.count("Mean score of TRYG5 (safety survey): the effect is") == 1
    assert "Share feeling safe" not in shown.text
    written = write_results(tmp_path, ss.json_results(fit, min_cell=5, round_base=5), min_cell=5)
    for path in written:
        diag = json.loads(path.read_text())["diagnostics"]
        assert diag["measure"] == "mean score" and diag["cutoff"] is None and diag["answer"] == "TRYG5"


def test_a_share_with_a_cutoff_says_so_and_a_binary_share_keeps_its_truth():
    row = pd.Series({"estimate": 0.05, "conf_low": 0.01, "conf_high": 0.09})
    base = dict(calibrated=row, design=row, calibration=None, rates=None, method="CR1", data=None)
    cut = ss.SurveyFit(**base, truth=None, answer="TRYG5", cutoff=4, measure="share >= 4")
    text = ss.effect_text(cut, "Tryghed", lang="en", alpha=0.05)
    assert "+5.0 percentage points (share with TRYG5 >= 4)" in text
    assert ss.outcome_label(cut, "tryghed", "en") == "Share with TRYG5 >= 4 (safety survey)"
    share = ss.SurveyFit(**base, truth=0.04, answer="TRYG", cutoff=None, measure="share")
    assert "The simulated true effect is +4.0 percentage points." in ss.effect_text(share, "T", lang="en", alpha=0.05)
    assert ss._truth_applies(pd.Series([0, 1]), None) and not ss._truth_applies(pd.Series([1, 5]), 4)


# ------------------------------------------------------------- B and G. notes, not stderr; unweighted
@pytest.fixture(scope="module")
def unweighted(study):  # noqa: F811
    """The demo survey with its design weight not mapped, in a report evaluating up to 2020."""
    fake = _standin(study, evaluation_year=2020, survey={"columns": {"weight": None}})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit = ss.report_fit(fake)
    return fake, fit, seen


def test_survey_warnings_become_notes_not_cell_stderr(unweighted):
    fake, fit, seen = unweighted
    assert _evalkit_warnings(seen) == []                             # nothing on the cell's stderr
    notes = " ".join(fit.notes)
    assert "Survey waves after the evaluation year 2020" in notes
    assert "the column 'VAEGT' is not read (weight: null in survey.columns)" in notes
    fake.survey_fit = fit
    shown = ss.effect_table(fake)
    assert "the column 'VAEGT' is not read" in shown.text


def test_the_library_fit_still_warns(study):  # noqa: F811
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", EvalkitWarning)
        read_survey(DEMO / "tryghed_survey.parquet", {"weight": None}, require_weights=False)
    assert any("'VAEGT' that is not read" in m for m in _evalkit_warnings(seen))


def test_without_design_weights_the_row_is_labelled_unweighted(unweighted):
    fake, fit, _ = unweighted
    assert fit.design_weights is False
    rows = list(ss.effects_table(fit, lang="en")["Weights"])
    assert rows == ["Calibrated weights (TWFE)", "Unweighted (TWFE; no design weights)"]
    assert any("no design weights (weight: null)" in n for n in fit.notes)
    assert json.loads(json.dumps(ss.json_results(fit, min_cell=5, round_base=5)["survey_twfe_design"]
                                 .diagnostics["design_weights"])) is False


# ------------------------------------------------------------- C, D, E. library
@pytest.fixture(scope="module")
def sim():
    pop, cohorts, _ = S.world(seed=5, n_areas=8)
    return S.draw(pop, 5), S.margins(pop), cohorts


def test_suppressed_area_waves_blank_everything_the_count_follows_from(sim):
    survey, margins, _ = sim
    small = survey[~((survey["OMR_ID"] == 1) & (survey["AAR"] == 2016)) | (survey.index % 40 == 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        diag = calibrate_weights(small, margins, variables=("KOEN",), min_cell=30).diagnostics
    hidden = diag[diag["suppressed"]]
    assert len(hidden) >= 2
    for col in ("respondents", "n_eff_design", "deff_design", "n_eff", "deff", "max_adjustment"):
        assert hidden[col].isna().all(), col
        assert diag.loc[~diag["suppressed"], col].notna().all(), col


def test_survey_did_reads_the_requested_answer_without_it_in_the_configuration(sim):
    survey, margins, cohorts = sim
    renamed = survey.rename(columns={"TRYG": "TRYG5"}).assign(TRYG5=lambda d: 1 + 4 * d["TRYG5"])
    read = read_survey(renamed, {"answers": ["TRYG5"], "scales": {"TRYG5": [1, 5]}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = survey_did(read, margins, cohorts, answer="TRYG5", cutoff=4, estimators="twfe")
        other = survey_did(renamed.assign(OTHER=1.0), margins, cohorts, answer="TRYG5", cutoff=4, estimators="twfe",
                           survey_config={"answers": ["OTHER"]})
    assert np.isfinite(res.results["twfe"].table.set_index("term").loc["ATT", "estimate"])
    assert np.isfinite(other.results["twfe"].table.set_index("term").loc["ATT", "estimate"])


def test_a_missing_margin_cell_with_respondents_is_warned(sim):
    survey, margins, _ = sim
    gone = (margins["OMR_ID"] == 2) & (margins["AAR"] == 2017) & (margins["HERKOMST"] == "vestlig")
    assert ((survey["OMR_ID"] == 2) & (survey["AAR"] == 2017) & (survey["HERKOMST"] == "vestlig")).any()
    with pytest.warns(EvalkitWarning, match=r"margin cell\(s\) missing .*area 2, year 2017, HERKOMST 'vestlig'"):
        calibrate_weights(survey, margins[~gone])
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvalkitWarning)
        try:
            calibrate_weights(survey, margins)
        except EvalkitWarning as w:
            assert "margin cell" not in str(w)


# ------------------------------------------------------------- F. manifest
def test_manifest_hashes_survey_files_outside_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.parquet").write_bytes(b"a")
    (data / "inside.csv").write_bytes(b"in")
    survey, config = tmp_path / "survey.csv", tmp_path / "survey.yaml"
    survey.write_bytes(b"s")
    config.write_bytes(b"c")
    found = mf.hash_run_inputs({"data_dir": str(data), "survey": {"path": str(survey), "config": "../survey.yaml"}})
    assert found[survey.resolve().as_posix()] == mf.sha256_file(survey)
    assert found[config.resolve().as_posix()] == mf.sha256_file(config)
    assert set(found) - {survey.resolve().as_posix(), config.resolve().as_posix()} == {"a.parquet", "inside.csv"}
    inside = mf.hash_run_inputs({"data_dir": str(data), "survey": {"path": "inside.csv"}})
    assert inside == mf.hash_inputs(data)                           # hashed once, under its relative path
    assert mf.hash_run_inputs({"data_dir": str(data), "survey": {}}) == mf.hash_inputs(data)


def test_manifest_of_a_run_uses_the_survey_hashes(tmp_path):
    """The run's manifest (runner._start_manifest, as a report run writes it) lists the survey file
    outside data_dir with its hash, and data_sha256 covers it."""
    from evalkit.report import runner

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.parquet").write_bytes(b"a")
    survey, notebook, run_dir = tmp_path / "s.csv", tmp_path / "t.ipynb", tmp_path / "run"
    survey.write_bytes(b"s")
    notebook.write_text("{}")
    run_dir.mkdir()
    params = {"data_dir": str(data), "survey": {"path": str(survey)}}
    record = runner._start_manifest("final", "r", "2024", run_dir, params, {"commit": None}, notebook)
    assert record["inputs"][survey.resolve().as_posix()] == mf.sha256_file(survey)
    assert json.loads((run_dir / "manifest.json").read_text())["inputs"] == record["inputs"]
    survey.write_bytes(b"changed")
    again = runner._start_manifest("final", "r", "2024", run_dir, params, {"commit": None}, notebook)
    assert again["data_sha256"] != record["data_sha256"]


def test_report_cells_use_the_quiet_fit(monkeypatch, recwarn):
    """Study.survey_fit goes through report_fit: an EvalkitWarning of the fit goes to the run log (not
    the cell's stderr, which would withhold the report); other warnings are warned again."""
    from evalkit import progress
    from evalkit.errors import EvalkitWarning
    from evalkit.report import survey_section
    from evalkit.report.study import Study

    def noisy_fit(study):
        warnings.warn("waves after the evaluation year", EvalkitWarning)
        warnings.warn("something else", UserWarning)
        return "fit"
    logged = []
    monkeypatch.setattr(survey_section, "fit", noisy_fit)
    monkeypatch.setattr(progress, "logger", lambda name: logged.append)
    assert Study.survey_fit.func(object()) == "fit"
    assert logged == ["note: waves after the evaluation year"]
    assert [str(w.message) for w in recwarn] == ["something else"]
