"""Third outside review of the survey part of the report (issue 15, breakit 3):

1. a requested survey section that cannot be estimated ends the run ``needs_review`` (exit code 3) with
   its reason in run.log and the manifest; SAS/Stata survey columns and a cut-off outside the declared
   scale are checked before the run;
2. margin codes of another type on the two sides (1 vs '1') are matched, or the error names both dtypes;
3. the calibrated-weights note does not say "design weights" when the survey has none;
4. the survey results JSON are the same in a Danish and an English report (codes, not labels);
(5. is documentation: docs/data_contract.md, "Cells on one side only".)

Fast except one report run (the midterm template, ~1 min) in ``test_a_run_whose_survey_section_fails_*``.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.domain.survey_weights import CALIBRATED, calibrate_weights
from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError
from evalkit.report import runner, sections_failed
from evalkit.report import survey_section as ss
from evalkit.report.params import validate_params
from evalkit.report.preflight import preflight
from tests import survey_sim as S
from tests.test_survey_report_fixes import DEMO, POA, _standin, study  # noqa: F401 (the module's Study fixture)

ROOT = Path(__file__).resolve().parents[1]


def _likert(folder: Path, suffix: str = ".csv", **rename) -> Path:
    """The demo survey with a 1-5 answer TRYG5 (columns renamed by ``rename``) as a ``suffix`` file."""
    frame = pd.read_parquet(DEMO / "tryghed_survey.parquet")
    score = np.where(frame["TRYG"] == 1, 4.0, 2.0)
    frame["TRYG5"] = pd.Series(score).where(frame["TRYG"].notna())
    frame = frame.drop(columns=["TRYG"]).rename(columns=rename)
    path = folder / f"likert{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        import pyreadstat

        frame["RESP_ID"] = frame["RESP_ID"].astype(str)
        frame["HERKOMST"] = frame["HERKOMST"].astype(str)
        writer = {".dta": pyreadstat.write_dta, ".xpt": pyreadstat.write_xport}[suffix]
        writer(frame, str(path))
    return path


# ------------------------------------------------------------- 1a. cut-off outside the declared scale
@pytest.mark.parametrize("scale, cutoff, allowed", [([1, 5], 6, r"1 < parameter survey.cutoff <= 5"),
                                                    ([1, 5], 1, r"1 < parameter survey.cutoff <= 5"),
                                                    ("binary", 2, r"0 < parameter survey.cutoff <= 1")])
def test_cutoff_outside_the_declared_scale_is_a_parameter_error_before_the_run(tmp_path, scale, cutoff, allowed):
    path = _likert(tmp_path)
    survey = {"path": str(path), "answer": "TRYG5", "cutoff": cutoff,
              "columns": {"answers": ["TRYG5"], "scales": {"TRYG5": scale}}}
    with pytest.raises(ParameterError, match=rf"survey.cutoff={cutoff}.*outside the declared scale.*'TRYG5'.*"
                                             rf"{allowed}") as info:
        preflight(validate_params({**POA, "survey": survey}))
    assert isinstance(info.value, EvalkitError)
    ok = {**survey, "cutoff": 4} if scale != "binary" else None
    if ok:   # inside the scale: the preflight passes
        preflight(validate_params({**POA, "survey": ok}))


# ------------------------------------------------------------- 1b. SAS/Stata columns checked up front
@pytest.mark.parametrize("suffix", [".dta", ".xpt"])
def test_a_readstat_survey_with_an_unknown_column_fails_before_the_run_from_its_header(tmp_path, monkeypatch,
                                                                                      suffix):
    from evalkit.data import io

    path = _likert(tmp_path, suffix, VAEGT="DESIGNW")

    def no_rows(*args, **kwargs):
        raise AssertionError("the preflight read the survey's rows")

    monkeypatch.setattr(io, "_load_readstat", no_rows)   # the header only: no rows streamed into DuckDB
    survey = {"path": str(path), "answer": "TRYG5", "columns": {"answers": ["TRYG5"]}}
    with pytest.raises(ColumnError, match=r"parameter survey.columns: likert.*survey variable 'weight'.*no "
                                          r"column 'VAEGT'.*columns: \[.*'DESIGNW'.*'TRYG5'") as info:
        preflight(validate_params({**POA, "survey": survey}))
    assert isinstance(info.value, EvalkitError)
    fixed = {**survey, "columns": {**survey["columns"], "weight": "DESIGNW"}}
    preflight(validate_params({**POA, "survey": fixed}))   # the right name passes, still without reading rows


# ------------------------------------------------------------- 1c. the run's status
def test_section_failures_recorded_in_the_kernel_make_an_ok_run_need_review(tmp_path, monkeypatch):
    target = tmp_path / sections_failed.SECTIONS_FILE
    monkeypatch.delenv(sections_failed.SECTIONS_ENV, raising=False)
    sections_failed.record_section_failure("survey", "not run: no file")   # outside a run: nothing recorded
    assert sections_failed.failed_sections(target) == [] and sections_failed.section_status("ok", []) == "ok"
    monkeypatch.setenv(sections_failed.SECTIONS_ENV, str(target))
    sections_failed.record_section_failure("survey", "ValidationError: the answer\nis out of scale")
    sections_failed.record_section_failure("survey", "ValidationError: the answer\nis out of scale")   # once
    with target.open("a") as fh:
        fh.write("not json\n")
    failed = sections_failed.failed_sections(target)
    assert failed == [{"section": "survey", "reason": "ValidationError: the answer is out of scale"}]
    assert [sections_failed.section_status(s, failed) for s in ("ok", "needs_review", "failed")] == \
        ["needs_review", "needs_review", "failed"]


@pytest.fixture(scope="module")
def failed_survey_run(tmp_path_factory):
    """A midterm run asking for a survey whose answers lie outside their declared scale (found when read)."""
    folder = tmp_path_factory.mktemp("badsurvey")
    frame = pd.read_parquet(DEMO / "tryghed_survey.parquet")
    frame["TRYG"] = frame["TRYG"] * 7   # 0/7, declared binary: a ValidationError when the kernel reads it
    frame.to_csv(folder / "tryg.csv", index=False)
    params = {"intervention": "fremskudt_beskaeftigelse", "outcome": "employment_rate", "data_dir": str(DEMO),
              "baseline_year": 2014, "evaluation_year": 2019, "comparison": "never_treated", "leads": 4, "lags": 3,
              "lang": "en",
              "survey_outcome": "tryghed",
              "survey": {"path": str(folder / "tryg.csv"), "columns": {"scales": {"TRYG": "binary"}}}}
    return runner.run_report("midterm", params, report="badsurvey", period="2026-06-01",
                             reports_root=folder / "reports", progress=False)


def test_a_run_whose_survey_section_fails_needs_review_with_its_reason(failed_survey_run):
    run = failed_survey_run
    assert run.status == "needs_review" and run.exit_code == 3
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "needs_review" and manifest["disclosure"]["ok"] is True   # nothing withheld
    (failed,) = manifest["sections_failed"]
    assert failed["section"] == "survey" and failed["reason"].startswith("ValidationError")
    assert "sections_failed.jsonl" in failed["reason"]   # the message holds small numbers: withheld from reviewers
    assert "detail" not in failed and "outside its scale" not in json.dumps(manifest)
    log = (run.run_dir / "run.log").read_text().splitlines()
    assert "status: needs_review" in log
    (line,) = [x for x in log if x.startswith("section not estimated: survey: ValidationError")]
    (kept,) = (Path(manifest["restricted"]) / sections_failed.SECTIONS_FILE).read_text().splitlines()
    assert json.loads(kept)["detail"].startswith("ValidationError: survey: answer column 'TRYG' holds")
    assert "outside its scale" in kept   # the full message, in the restricted folder only
    assert run.html is not None and "could not be estimated" in run.html.read_text(encoding="utf-8")


# ------------------------------------------------------------- 2. 1 vs '1' in the margins
@pytest.fixture(scope="module")
def calibration_world():
    pop, _, _ = S.world(seed=1, n_areas=4)
    survey, margins = S.draw(pop, seed=2), S.margins(pop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        base = calibrate_weights(survey, margins)
    return survey, margins, base


@pytest.mark.parametrize("side", ["margins", "survey"])
def test_sex_as_numbers_on_one_side_and_text_on_the_other_is_matched(calibration_world, side):
    survey, margins, base = calibration_world
    if side == "margins":
        margins = margins.assign(KOEN=margins["KOEN"].astype(str))   # '1', '2' vs the survey's 1, 2
    else:
        survey = survey.assign(KOEN=survey["KOEN"].astype(str))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        got = calibrate_weights(survey, margins)
    np.testing.assert_allclose(got.data[CALIBRATED], base.data[CALIBRATED], rtol=1e-12)


@pytest.mark.parametrize("side, codes", [("survey", {1: "M", 2: "K"}), ("margins", {1: "01", 2: "02"})])
def test_unmatchable_margin_types_name_the_column_and_both_dtypes(calibration_world, side, codes):
    survey, margins, _ = calibration_world
    if side == "survey":
        survey = survey.assign(KOEN=survey["KOEN"].map(codes))
    else:
        margins = margins.assign(KOEN=margins["KOEN"].map(codes))
    kinds = ("text", "numbers") if side == "survey" else ("numbers", "text")
    with pytest.raises(ColumnError, match=rf"margin 'KOEN': the survey column 'KOEN' holds {kinds[0]} \(dtype "
                                          rf".+\) but the margins column 'KOEN' holds {kinds[1]} \(dtype .+\)") as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)
            calibrate_weights(survey, margins)
    assert "are not register categories" not in str(info.value) and isinstance(info.value, EvalkitError)


# ------------------------------------------------------------- 3. and 4. need a fit in each language
@pytest.fixture(scope="module")
def fits(study):  # noqa: F811
    out = {}
    for lang in ("da", "en"):
        fake = _standin(study, evaluation_year=2020, lang=lang)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)
            out[lang] = (fake, ss.fit(fake))
    return out


@pytest.mark.parametrize("lang, design, equal", [("en", "Design weights raked", "Equal starting weights"),
                                                 ("da", "Designvægte kalibreret (raking)", "Lige startvægte")])
def test_weights_note_says_design_weights_only_when_there_are_some(fits, lang, design, equal):
    fake, fit = fits[lang]
    for has_design, says, not_says in ((True, design, equal), (False, equal, design)):
        shown = dataclasses.replace(fit, design_weights=has_design)
        stand = type(fake)(**{**vars(fake), "survey_fit": shown, "_survey_error": None})
        table = ss.weights_table(stand)
        assert says in table.text and not_says not in table.text
        assert says in table.html and not_says not in table.html


def _results(fit, tmp_path: Path) -> dict:
    from evalkit.report.outputs import write_results

    written = write_results(tmp_path, ss.json_results(fit, min_cell=5, round_base=5), min_cell=5)
    return {p.name: json.loads(p.read_text()) for p in written}


def test_survey_results_json_are_the_same_in_danish_and_english(fits, tmp_path):
    da, en = (_results(fits[lang][1], tmp_path / lang) for lang in ("da", "en"))
    assert set(da) == set(en) == {"survey_twfe_calibrated.json", "survey_twfe_design.json"}
    labels = {}
    for name in da:
        labels[name] = (da[name]["diagnostics"].pop("report_inference_label"),
                        en[name]["diagnostics"].pop("report_inference_label"))
        assert da[name] == en[name]
        assert da[name]["diagnostics"]["report_inference"] == "wild_restricted"   # a code, not a label
        assert da[name]["diagnostics"]["notes"], "the evaluation year 2020 leaves waves out: a note"
    assert labels["survey_twfe_calibrated.json"] == (fits["da"][1].method, fits["en"][1].method)
    assert labels["survey_twfe_calibrated.json"][0] != labels["survey_twfe_calibrated.json"][1]


def test_method_code_follows_the_advisor_and_the_design_rule():
    from types import SimpleNamespace as NS

    def code(advice=None, method=None, cr1=False):
        return ss.method_code(NS(advised=NS(advice=advice, method=method), check=NS(cr1_reliable=cr1)))

    assert code() == "wild_restricted" and code(cr1=True) == "cr1"
    assert code(NS(size_corrected=True), "cr2") == "cr2_size_corrected"
    assert code(NS(size_corrected=False), "wcr_webb") == "wild_restricted_webb"
    assert code(NS(size_corrected=False), "wcu") == "wild_unrestricted"
    assert code(NS(size_corrected=False), "randomization") == "randomization"


def test_a_survey_report_without_the_survey_extra_is_refused_before_the_run(monkeypatch):
    """Review of issue 16: example parameter files with survey_outcome ran 1-2 minutes on a plain wheel
    install, then ended needs_review with an English exception in a Danish report."""
    import importlib.util

    from evalkit.report import preflight

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "svy" else real(name, *a))
    with pytest.raises(ParameterError, match=r"survey_outcome='tryghed'.*\['svy'\].*evalkit\[survey\]"):
        preflight._check_survey_extra("tryghed")


def test_relative_data_dir_is_the_parameter_files_project(tmp_path, monkeypatch):
    """Review of issue 16: run from outside the project, a relative data_dir was looked up from the cwd."""
    from evalkit.report.runner import _params_project

    proj = tmp_path / "proj"
    (proj / "notebooks").mkdir(parents=True)
    (proj / "params").mkdir()
    (proj / "reports.yaml").write_text("reports: {}\n")
    params = proj / "params" / "x.yaml"
    params.write_text("intervention: poa\n")
    monkeypatch.chdir(tmp_path)
    assert _params_project(params) == proj.resolve() and _params_project({"a": 1}) is None
    assert _params_project(tmp_path / "missing.yaml") is None
