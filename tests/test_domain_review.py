"""User-level review of the domain layer: constructors check their keywords, results are immutable
values, matching says why treated areas were dropped and names bad covariates, year parameters
must be whole numbers, and messages name the parameter at fault with plain ids.

Each test failed before its fix (the review's items 1-7)."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalkit.domain as D
from evalkit.data.panels import (
    Microdata,
    build_cohort_panel,
    open_microdata,
    read_data_years,
)
from evalkit.data.truth import cohort_truth
from evalkit.domain import _power_kernels as K
from evalkit.domain.costs import CostPerEffect, cost_per_effect
from evalkit.domain.estimands import EstimandComparison
from evalkit.domain.movers import Decomposition, decompose_change, decomposition_parts
from evalkit.domain.power import PowerResult
from evalkit.domain.register import RegisterSpec
from evalkit.domain.thresholds import Criterion, ListSpec
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError
from tests.test_domain_validation import (
    COUNTS,
    GOAL,
    HISTORY,
    IDS,
    OBSERVED,
    TREATED,
    hard_history_inputs,
    make_cohorts,
    make_interventions,
    make_panel,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="module")
def demo():
    return open_microdata(DEMO)


# ----------------------------------------------------------------- 1. constructors check their keywords
CLASSES = [D.ListRules, D.RegisterConfig, RegisterSpec, D.Thresholds, Criterion, ListSpec, D.AreaIndicators,
           D.ListResult, D.MatchResult, D.GoalAttainment, EstimandComparison, CostPerEffect, Decomposition,
           PowerResult, K.Design, Microdata]


def test_list_rules_misspelled_keyword_names_the_closest_field():
    with pytest.raises(ParameterError, match="ListRules") as info:
        D.ListRules(hard_year_2018=4)
    assert "Did you mean 'hard_years_2018'?" in str(info.value)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_public_constructor_names_the_closest_keyword(cls):
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(ParameterError) as info:
        cls(**{first + "x": 1})
    assert f"{cls.__name__}()" in str(info.value) and f"Did you mean {first!r}?" in str(info.value)


@pytest.mark.parametrize("cls", [D.Thresholds, D.MatchResult, K.Design], ids=lambda c: c.__name__)
def test_missing_or_surplus_constructor_arguments_are_parameter_errors(cls):
    with pytest.raises(ParameterError, match="needs"):
        cls()
    with pytest.raises(ParameterError, match="positional"):
        cls(*range(len(dataclasses.fields(cls)) + 1))


def test_valid_constructors_still_work():
    rules = D.ListRules(hard_years_2018=4)
    assert rules.hard_years_2018 == 4 and dataclasses.replace(rules, tolerance=0.0).hard_years_2018 == 4
    assert D.RegisterConfig(person_id="PNR").person_id == "PNR"


def test_methods_of_microdata_check_their_keywords(demo):
    with pytest.raises(ParameterError, match="baseline_year"):
        demo.cohort_panel(baseline_yr=2014)
    with pytest.raises(ParameterError, match="unknown_education"):
        demo.area_panel(unknown_educaton="basic")


# ----------------------------------------------------------------- 2. results are immutable values
def _assert_immutable(obj, attr: str, column: str, value) -> None:
    """Changing what ``obj.attr`` hands out leaves ``obj`` as it was."""
    before = getattr(obj, attr).copy(deep=True)
    got = getattr(obj, attr)
    got[column] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' chained-assignment notice
        getattr(obj, attr)[column] = value
    got.loc[got.index[0], column] = value
    pd.testing.assert_frame_equal(getattr(obj, attr), before)


def test_match_result_is_immutable():
    m = D.match_areas(make_panel(), make_cohorts(), covariates=["cov1", "cov2"])
    for attr, col, value in (("cohorts", "role", "x"), ("pairs", "distance", -1.0), ("balance", "smd_after", 9.0),
                             ("weights", "weight", 99.0)):
        _assert_immutable(m, attr, col, value)
    assert m.tidy() is not m.tidy()


def test_list_result_and_indicators_are_immutable():
    ind = hard_history_inputs()
    lists = D.compute_lists(ind, list_years=[2019, 2020])
    _assert_immutable(lists, "criteria", "met", False)
    _assert_immutable(lists, "status", "residents", -1)
    _assert_immutable(lists, "history", "category", "x")
    _assert_immutable(ind, "area_years", "residents", -1)
    with contextlib.suppress(TypeError):
        lists.params["regime"] = "2010"
    with contextlib.suppress(TypeError, AttributeError):
        lists.params["list_years"].append(1999)
    assert lists.params["regime"] == "auto" and list(lists.params["list_years"]) == [2019, 2020]


def test_other_domain_results_are_immutable():
    goals = D.goal_attainment([GOAL], OBSERVED)
    _assert_immutable(goals, "table", "status", "x")
    cost = cost_per_effect(budget_dkk=1e6, n_persons=100, effect=0.1, conf_low=0.05, conf_high=0.15)
    _assert_immutable(cost, "table", "cost_dkk" if "cost_dkk" in cost.table else cost.table.columns[1], -1.0)
    dec = Decomposition(table=decomposition_parts(pd.concat([COUNTS, COUNTS.assign(group="other")])),
                        indicator="BESK_FTE", year0=2014, year1=2016)
    _assert_immutable(dec, "table", "total_change", 9.0)
    comp = EstimandComparison(table=pd.DataFrame({"estimand": ["area", "cohort"], "estimate": [0.1, 0.05]}),
                              outcome="y", estimator="twfe", alpha=0.05)
    _assert_immutable(comp, "table", "estimate", 9.0)
    power = PowerResult(table=pd.DataFrame({"effect": [0.0, 0.1], "power": [0.05, 0.8]}),
                        design=D.plan(n_treated=5, n_control=5, years_pre=3, years_post=3, residents=1000, sd=0.45,
                                      icc=0.05), method="cr1", alpha=0.05, seed=0, draws=0)
    _assert_immutable(power, "table", "power", 9.0)


# ----------------------------------------------------------------- 3. an exhausted pool is not a caliper drop
def test_an_exhausted_comparison_pool_is_reported_as_such():
    # 4 treated, 8 comparison areas; ratio=3 without replacement needs 12
    with pytest.warns(EvalkitWarning) as record:
        m = D.match_areas(make_panel(), make_cohorts(), covariates=["cov1"], ratio=3)
    texts = [str(w.message) for w in record if issubclass(w.category, EvalkitWarning)]
    dropped = [t for t in texts if "dropped" in t]
    assert len(dropped) == 1 and len(m.unmatched) == 1
    assert "pool ran out" in dropped[0] and "ratio=3" in dropped[0] and "replace=False" in dropped[0]
    assert "caliper" not in dropped[0] and str(m.unmatched[0]) in dropped[0]
    assert any("fewer than ratio=3" in t and "pool ran out" in t for t in texts)  # the third got 2 of 3
    assert tuple(texts) == m.notes


def test_caliper_drops_still_name_the_caliper():
    with pytest.warns(EvalkitWarning, match="within caliper=0.1") as record:
        m = D.match_areas(make_panel(), make_cohorts(), covariates=["cov1"], caliper=0.1)
    assert m.unmatched and not any("pool ran out" in str(w.message) for w in record)


def test_a_caliper_that_drops_every_treated_area_is_a_clear_error():
    with pytest.raises(ValidationError, match="no treated area has a comparison area within caliper=0.001"):
        D.match_areas(make_panel(), make_cohorts(), covariates=["cov1"], caliper=0.001)


def test_replacement_pool_smaller_than_ratio_is_reported():
    with pytest.warns(EvalkitWarning, match="fewer than ratio=10 .* pool ran out"):
        D.match_areas(make_panel(), make_cohorts(), covariates=["cov1"], ratio=10, replace=True)


# ----------------------------------------------------------------- 4. constant and collinear covariates are named
@pytest.mark.parametrize("method", ["propensity", "mahalanobis"])
def test_constant_covariate_is_named(method):
    panel = make_panel().assign(flat=0.25)
    with pytest.raises(ValidationError, match="'flat' is constant"):
        D.match_areas(panel, make_cohorts(), covariates=["cov1", "flat"], method=method)


@pytest.mark.parametrize("method", ["propensity", "mahalanobis"])
def test_collinear_covariates_are_named(method):
    panel = make_panel()
    panel["cov3"] = 2 * panel["cov1"] - 3 * panel["cov2"] + 1
    with pytest.raises(ValidationError, match="collinear") as info:
        D.match_areas(panel, make_cohorts(), covariates=["cov1", "cov2", "cov3"], method=method)
    assert all(c in str(info.value) for c in ("cov1", "cov2", "cov3"))


def test_the_covariate_check_is_scale_invariant():
    panel = make_panel()
    panel["kroner"] = panel["cov1"] * 1e6 + 3e5
    panel["tiny"] = panel["cov2"] * 1e-9
    a = D.match_areas(panel, make_cohorts(), covariates=["kroner", "tiny"], seed=2)
    b = D.match_areas(panel, make_cohorts(), covariates=["cov1", "cov2"], seed=2)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)


# ----------------------------------------------------------------- 5. covariates missing in some pre-years warn
def test_covariate_missing_in_some_pre_years_warns_with_counts():
    panel = make_panel()  # 12 areas; default pre_years 2012-2014 (before the first cohort, 2015): 36 area-years
    panel.loc[(panel["AAR"] == 2013) & panel["OMR_ID"].isin([1, 2, 3, 4]), "cov1"] = np.nan
    panel = panel[~((panel["AAR"] == 2012) & (panel["OMR_ID"] == 9))]  # no row at all: both covariates missing
    with pytest.warns(EvalkitWarning, match=r"'cov1' in 5, 'cov2' in 1 of the 36 area-years.*years it has"):
        m = D.match_areas(panel, make_cohorts(), covariates=["cov1", "cov2"])
    # the average uses the observed years
    means = panel[panel["AAR"].isin([2012, 2013, 2014])].groupby("OMR_ID")["cov1"].mean()
    balance = m.balance.set_index("covariate")
    assert balance.loc["cov1", "mean_treated_before"] == pytest.approx(means.loc[TREATED].mean())


def test_complete_covariates_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvalkitWarning)
        D.match_areas(make_panel(), make_cohorts(), covariates=["cov1"])


# ----------------------------------------------------------------- 6. year parameters are whole numbers
@pytest.mark.parametrize("bad,kind", [("2014", "str"), (2014.5, "float"), (2014.0, "float"), (True, "bool")])
def test_cohort_panel_baseline_year_must_be_a_whole_number(demo, bad, kind):
    with pytest.raises(ParameterError, match="baseline_year") as info:
        demo.cohort_panel(bad)
    assert "whole number" in str(info.value) and f"got {kind}" in str(info.value)
    assert "outside the data years" not in str(info.value)


@pytest.mark.parametrize("call", [
    lambda: build_cohort_panel(DEMO, baseline_year="2014"),
    lambda: cohort_truth(DEMO, 2014.5, "fremskudt_beskaeftigelse", "employment_rate"),
    lambda: decompose_change(DEMO, "employment_rate", "2014", 2016),
    lambda: D.goal_status(0.3, 0.4, 0.35, "increase", baseline_year=2012, target_year=2017.0, year=2015),
    lambda: D.goal_attainment([GOAL], OBSERVED, as_of="2016"),
    lambda: D.goal_attainment([GOAL | {"target_year": 2017.0}], OBSERVED),
    lambda: D.match_areas(make_panel(), make_cohorts(), covariates=["cov1"], pre_years=["2014"]),
    lambda: D.compute_lists(hard_history_inputs(), list_years=[2019.0]),
    lambda: D.load_thresholds().regime_of("2019"),
], ids=["build_cohort_panel", "cohort_truth", "decompose_change", "goal_status", "goal_attainment.as_of",
        "goals.target_year", "match_areas.pre_years", "compute_lists.list_years", "Thresholds.regime_of"])
def test_year_parameters_name_the_type_they_got(call):
    with pytest.raises(ParameterError, match=r"must be a (whole year \(a )?year as a whole number.*, got (str|float)"):
        call()


# ----------------------------------------------------------------- 7. messages name the parameter, ids are plain
def test_a_missing_data_dir_is_named_data_dir(tmp_path):
    with pytest.raises(ParameterError, match=r"^data_dir='.*nope' does not exist"):
        read_data_years(tmp_path / "nope")
    with pytest.raises(ParameterError, match=r"^source='.*nope' does not exist"):  # open_microdata's own name
        open_microdata(tmp_path / "nope")


def _report_run(params: Path, cwd: Path, tmp_path: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "evalkit", "report", "run", "midterm", "--params", str(params),
                          "--reports-root", str(tmp_path / "reports")], capture_output=True, text=True, cwd=cwd, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})  # this tree's evalkit, from any cwd
    assert out.returncode == 2, out.stderr
    return out.stderr.strip().splitlines()


def test_cli_report_run_names_a_missing_data_dir(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {tmp_path / 'nope'}\n")
    lines = _report_run(params, ROOT, tmp_path)
    assert len(lines) == 1 and f"data_dir='{tmp_path / 'nope'}' does not exist" in lines[0], lines


def test_cli_report_run_with_empty_params_names_the_default_data_dir(tmp_path):
    project = tmp_path / "project"  # an evalkit project without data/demo
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    params = project / "minimal.yaml"
    params.write_text("lang: en\n")
    lines = _report_run(params, project, tmp_path)
    assert len(lines) == 1 and "data_dir=" in lines[0] and "data/demo" in lines[0], lines
    assert "source=" not in lines[0]


def test_cli_report_run_refuses_an_empty_params_file(tmp_path):
    """Break-it finding: an empty (or comments-only) file rendered a full report from the defaults."""
    for text in ("", "# only a comment\n"):
        params = tmp_path / "empty.yaml"
        params.write_text(text)
        lines = _report_run(params, ROOT, tmp_path)
        assert len(lines) == 1 and "is empty" in lines[0], lines


def test_duplicated_area_in_treatment_cohorts_is_a_plain_id():
    iv = pd.concat([make_interventions(), make_interventions().iloc[[0]]], ignore_index=True)
    iv["OMR_ID"] = iv["OMR_ID"].astype("int64")
    with pytest.raises(ParameterError, match="lists area 1 twice") as info:
        D.treatment_cohorts(iv, IDS, intervention="job")
    assert "np." not in str(info.value)


def _message(call) -> str:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            call()
        except (ParameterError, ValidationError) as err:
            return str(err)
    return " ".join(str(w.message) for w in record)


@pytest.mark.parametrize("call", [
    lambda: D.treatment_cohorts(make_interventions(), np.array(IDS[2:], dtype="int64"), intervention="job"),
    lambda: D.cohorts_from_history(HISTORY, np.array([2, 3, 4], dtype="int64")),
    lambda: D.observed_from_panel(make_panel(), np.array([1, 99], dtype="int64"), ["employment_rate"]),
    lambda: D.match_areas(make_panel(range(3, 13)), make_cohorts(), covariates=["cov1"]),
    lambda: D.attach_cohort(make_panel(), make_cohorts(TREATED + [5])),
], ids=["treatment_cohorts.outside", "cohorts_from_history.unknown", "observed_from_panel.missing",
        "match_areas.absent", "attach_cohort.unknown"])
def test_area_ids_in_messages_are_plain_values(call):
    text = _message(call)
    assert text and "np.int" not in text and "np.float" not in text, text
