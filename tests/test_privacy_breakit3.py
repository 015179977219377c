"""Outside review, issue 15 (break-it round 3): person keys of every input a run reads, and
subgroup counts that, with a published total, give away what was suppressed."""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import EvalkitError, ParameterError
from evalkit.privacy import complementary_parts
from evalkit.report import postrun
from evalkit.report.keyscan import collect_keys, collect_run_keys, run_inputs, scan_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import survey_sim as S  # noqa: E402

REGISTER_KEY = "a1b2c3d4e5f60718"
SURVEY_KEY = "resp-77aa99bb00cc"


# --------------------------------------------------------------------------- item 1: key scan inputs
@pytest.fixture()
def run(tmp_path) -> dict:
    """A data folder with a register (person key renamed to LOEBENR_P) and a survey outside it whose
    respondent key column is called resp_nr (mapped by survey.columns)."""
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"LOEBENR_P": [REGISTER_KEY, "ffee0011ffee0011"], "AAR": [2016, 2016]}).to_parquet(
        data / "register.parquet")
    pd.DataFrame({"PERSON_ID": ["0123456789abcdef"], "AAR": [2016]}).to_parquet(data / "other.parquet")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    pd.DataFrame({"resp_nr": [SURVEY_KEY, "resp-000011112222"], "wave": [2016, 2017], "omr": [1, 2],
                  "vaegt": [1.0, 1.0], "koen": [1, 2], "alder": [40, 50], "tryg": [1, 0]}).to_csv(
        outside / "tryg.csv", index=False)
    columns = {"respondent_id": "resp_nr", "year": "wave", "area": "omr", "weight": "vaegt", "sex": "koen",
               "age": "alder", "origin": None, "answers": ["tryg"]}
    params = {"data_dir": str(data), "survey_outcome": "tryghed",
              "survey": {"path": str(outside / "tryg.csv"), "columns": columns, "answer": "tryg"}}
    return {"params": params, "data": data, "outside": outside, "tmp": tmp_path}


def _rendered(tmp: Path, key: str) -> tuple[Path, Path, Path]:
    """A stored rendered report (run folder) with ``key`` planted in a table cell."""
    run_dir, private = tmp / "reports" / "r" / "p" / "run", tmp / "restricted"
    run_dir.mkdir(parents=True)
    private.mkdir()
    html = run_dir / "final.html"
    html.write_text(f"<html><table><tr><td>respondent</td><td>{key}</td></tr></table></html>", encoding="utf-8")
    return run_dir, private, html


def test_survey_outside_data_dir_with_renamed_id_is_caught_in_the_rendered_html(run):
    keys = collect_run_keys(run["params"])
    run_dir, private, html = _rendered(run["tmp"], SURVEY_KEY)
    hits = postrun.scan_or_quarantine(html, run_dir, private, keys)
    assert list(hits) == ["final.html"] and "key" in hits["final.html"]
    assert not html.exists() and (private / "withheld" / "final.html").is_file()
    assert SURVEY_KEY not in repr(hits)


def test_register_person_id_renamed_by_the_column_configuration_is_collected(run):
    keys = collect_run_keys(run["params"], register={"person_id": "LOEBENR_P"})
    assert scan_text(f"id {REGISTER_KEY}", keys) == ["key"]
    assert "key" in scan_text(f"id {SURVEY_KEY}", keys)
    assert scan_text("id 0123456789abcdef", keys) == ["key"]  # standard names are still read
    # a YAML register configuration works the same way
    yaml_path = run["tmp"] / "register.yaml"
    yaml_path.write_text("person_id: LOEBENR_P\n", encoding="utf-8")
    assert scan_text(f"id {REGISTER_KEY}", collect_run_keys(run["params"], register=yaml_path)) == ["key"]


def test_survey_config_yaml_and_survey_folder_relative_to_data_dir(run):
    folder = run["data"] / "surveys"
    folder.mkdir()
    (run["outside"] / "tryg.csv").rename(folder / "wave1.csv")
    config = run["data"] / "survey.yaml"
    config.write_text("respondent_id: resp_nr\nyear: wave\narea: omr\nweight: vaegt\nsex: koen\nage: alder\n"
                      "origin: null\nanswers: [tryg]\n", encoding="utf-8")
    params = {**run["params"], "survey": {"path": "surveys", "config": "survey.yaml", "answer": "tryg"}}
    inputs = dict(run_inputs(params))
    assert "RESP_NR" in inputs[(folder / "wave1.csv").resolve()]
    assert "key" in scan_text(f"x {SURVEY_KEY} y", collect_run_keys(params))


def test_without_a_survey_outcome_the_survey_parameter_is_not_read(run):
    params = {**run["params"], "survey_outcome": "", "survey": {}}
    assert [p.name for p, _ in run_inputs(params)] == ["other.parquet", "register.parquet"]


def test_a_survey_path_that_does_not_exist_is_an_evalkit_error(run):
    params = {**run["params"], "survey": {**run["params"]["survey"], "path": str(run["tmp"] / "nope.csv")}}
    with pytest.raises(ParameterError, match="survey.path"):
        collect_run_keys(params)
    (run["tmp"] / "notes.txt").write_text("resp_nr\nresp-77aa99bb00cc\n", encoding="utf-8")
    params["survey"]["path"] = str(run["tmp"] / "notes.txt")
    with pytest.raises(ParameterError, match="survey.path") as info:
        collect_run_keys(params)
    assert SURVEY_KEY not in str(info.value)
    assert issubclass(ParameterError, EvalkitError)


def test_the_runner_key_collection_reads_the_survey_outside_data_dir(run):
    assert "key" in scan_text(f"id {SURVEY_KEY}", postrun.run_keys(run["params"]))


def test_data_dir_only_collection_is_unchanged(run):
    """collect_keys keeps its contract: the standard names under data_dir only."""
    keys = collect_keys(run["data"])
    assert scan_text("id 0123456789abcdef", keys) == ["key"] and scan_text(f"id {REGISTER_KEY}", keys) == []


# --------------------------------------------------------------------------- item 2: differencing
def test_complementary_parts_hides_a_small_remainder_behind_the_smallest_part():
    parts = {"men": 5109, "women": 5070}
    assert complementary_parts(parts, 3, 5) == ["women"]
    assert complementary_parts(parts, 0, 5) == []  # nothing hidden: nothing to protect
    assert complementary_parts(parts, 12, 5) == []  # the hidden persons are not a small count
    assert complementary_parts({"a": 7, "b": np.nan, "c": 9}, 1, 5) == ["a"]  # a blank part is not blanked again
    assert complementary_parts({"a": 6}, 2, 5) == ["a"]


@pytest.mark.parametrize("seed", range(20))
def test_after_complementary_suppression_subtraction_never_gives_a_small_count(seed):
    rng = np.random.default_rng(seed)
    min_cell = int(rng.integers(3, 11))
    parts = {f"g{i}": int(rng.integers(min_cell, 60)) for i in range(int(rng.integers(1, 5)))}
    hidden = int(rng.integers(1, min_cell))
    total = sum(parts.values()) + hidden
    blank = set(complementary_parts(parts, hidden, min_cell))
    left = total - sum(v for k, v in parts.items() if k not in blank)
    assert left == 0 or left >= min_cell


# the published numbers of a survey section and its subgroup table (issue 15): one area-wave x sex cell
# of the survey is thin and left out at the source; the rest of the survey is as drawn
THIN_CELL = {"OMR_ID": 1, "AAR": 2016, "KOEN": 1, "keep": 1}


def _published(round_base: int, min_cell: int = 5) -> dict:
    from evalkit import survey_subgroup_effects
    from evalkit.domain.survey_did import _disclosed, survey_outcome, survey_twfe, with_cohorts
    from evalkit.domain.survey_weights import CALIBRATED, calibrate_weights
    from evalkit.report.survey_section import _rounded_count, weight_diagnostics

    pop, cohorts, _ = S.world(seed=3, n_areas=12)
    survey = S.draw(pop, 3)
    c = THIN_CELL
    cell = ((survey["OMR_ID"] == c["OMR_ID"]) & (survey["AAR"] == c["AAR"]) & (survey["KOEN"] == c["KOEN"])
            & survey["TRYG"].notna())
    survey = survey.drop(survey.index[cell][c["keep"]:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate_weights(survey, S.margins(pop), min_cell=min_cell)
        data = with_cohorts(cal.data, cohorts)
        y = survey_outcome(data, "TRYG", cutoff=1)
        data, y, _ = _disclosed(data, y, CALIBRATED, min_cell)  # as the report's survey fit
        fit = survey_twfe(data, outcome=y, weights=CALIBRATED)
        res = survey_subgroup_effects(data.drop(columns=["cohort", "D"]), cohorts, answer="TRYG", cutoff=1, by="sex",
                                      min_cell=min_cell, round_base=round_base)
    arms = weight_diagnostics(cal.diagnostics, set(cohorts), min_cell=min_cell, round_base=round_base)
    return {"total": _rounded_count(fit.n_obs, min_cell=min_cell, round_base=round_base),
            "arms": [float(v) for v in arms["respondents"]], "parts": res.tidy()["n"].tolist(),
            "cells_left_out": sum("left out at the source" in n for n in res.notes)}


def _preimage(shown: float, base: int) -> range:
    """The counts that round (half up) to ``shown``."""
    if base == 1:
        return range(int(shown), int(shown) + 1)
    return range(math.ceil(shown - base / 2), math.ceil(shown + base / 2))


def _recoverable(pub: dict, base: int, min_cell: int = 5) -> set[int]:
    """What an outsider learns about the respondents left out: every hidden count from 1 to min_cell - 1
    consistent with the published total, its split by arm and the subgroup counts (blank = unknown)."""
    totals = set(_preimage(pub["total"], base))
    if pub["arms"]:
        t_range, c_range = _preimage(pub["arms"][0], base), _preimage(pub["arms"][1], base)
        totals &= {t + c for t in t_range for c in c_range}
    shown = [p for p in pub["parts"] if not pd.isna(p)]
    lo = sum(_preimage(p, base)[0] for p in shown)
    hi = sum(_preimage(p, base)[-1] for p in shown)
    blank = len(pub["parts"]) - len(shown)
    lo += blank * min_cell
    return {h for h in range(1, min_cell) if any(lo <= t - h and (blank or t - h <= hi) for t in totals)}


@pytest.mark.parametrize("round_base", [1, 5])
def test_a_left_out_survey_cell_cannot_be_recovered_from_the_total_minus_the_subgroups(round_base):
    pub = _published(round_base)
    assert pub["cells_left_out"] == 1  # the report says one cell (of 1 to 4 respondents) was left out
    assert _recoverable(pub, round_base) == {1, 2, 3, 4}, pub
