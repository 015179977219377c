"""Report parameters are validated before any execution."""
import pytest

from evalkit.errors import EvalkitError, ParameterError
from evalkit.report.params import defaults, describe, load_params, validate_params


def test_defaults_validate():
    assert validate_params({}) == defaults()


def test_unknown_parameter_suggests_closest():
    with pytest.raises(ParameterError, match=r"unknown report parameter 'outcom'.*Did you mean 'outcome'"):
        validate_params({"outcom": "employment_rate"})


@pytest.mark.parametrize("given, match", [
    ({"lang": "de"}, r"choose one of \['da', 'en'\]"),
    ({"baseline_year": "2014"}, "must be int"),
    ({"alpha": 0.9}, "outside"),
    ({"min_cell": 2}, "outside"),
    ({"outcome": "employment"}, "Did you mean 'employment_rate'"),
    ({"baseline_year": 2020, "evaluation_year": 2019}, "must be before"),
    ({"leads": True}, "must be int"),
])
def test_bad_values(given, match):
    with pytest.raises(ParameterError, match=match):
        validate_params(given)


def test_yaml_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("lang: da\nalpha: 0.1\nevaluation_year: 2020\n")
    assert load_params(path)["lang"] == "da"
    path.write_text("- just a list\n")
    with pytest.raises(EvalkitError, match="mapping"):
        load_params(path)
    with pytest.raises(ParameterError, match="does not exist"):
        load_params(tmp_path / "missing.yaml")


def test_describe_lists_every_parameter():
    text = describe()
    for name in defaults():
        assert name in text


# --- issue 12: every problem of a parameter set at once, goals included, before any execution ----------------

GOAL = {"goal": "Flere i job", "target_group": "Beboere", "indicator": "employment_rate", "baseline_year": 2014,
        "baseline_value": 0.32, "target_year": 2024, "target_value": 0.40}


def test_every_problem_is_reported_at_once():
    given = {"outcom": "x", "lang": "de", "alpha": 2, "leads": "4", "seed": -1,
             "goals": [GOAL | {"indicator": "employment_rte"}, GOAL | {"target_value": "high", "taget": 1}, 7]}
    with pytest.raises(ParameterError) as info:
        validate_params(given)
    text = str(info.value)
    assert text.startswith("9 problems in the report parameters: ")
    for fragment in ("'outcom'", "Did you mean 'outcome'", "'lang'='de'", "'alpha'=2.0", "'leads' must be int",
                     "'seed'=-1", "indicator='employment_rte'", "Did you mean 'employment_rate'",
                     "target_value='high'", "unknown keys ['taget']", "goals[2] must be a mapping"):
        assert fragment in text, fragment
    assert "\n" not in text


@pytest.mark.parametrize("goal, match", [
    ({"indicator": "employment"}, r"goals\[0\].*indicator='employment' is not a known indicator.*employment_rate"),
    ({"indicator": "residents"}, "not a known indicator"),
    ({"indicator": 3}, "indicator=3 must be an indicator name"),
    ({"baseline_year": "2014"}, "baseline_year='2014' must be a whole year"),
    ({"baseline_year": True}, "baseline_year=True must be a whole year"),
    ({"target_year": 3000}, "target_year=3000 must be a year in 1900-2100"),
    ({"target_value": float("inf")}, "target_value=inf must be a finite number"),
    ({"baseline_value": None}, "baseline_value=None must be a finite number"),
    ({"direction": "up"}, "direction='up' is not allowed"),
    ({"goal": ""}, "goal='' must be non-empty text"),
    ({"target_year": 2010}, "target_year=2010 must be after baseline_year=2014"),
])
def test_goals_are_checked_before_the_notebook_starts(goal, match):
    with pytest.raises(ParameterError, match=match):
        validate_params({"goals": [GOAL | goal]})


def test_known_goal_indicators_are_the_area_panel_indicators():
    from evalkit.data.panels import AREA_INDICATORS
    from evalkit.report.params import goal_indicators

    assert set(goal_indicators()) == set(AREA_INDICATORS) - {"residents"}
    assert validate_params({"goals": [GOAL | {"indicator": "k1_share", "target_value": 0.2}]})["goals"][0]["indicator"] == "k1_share"


@pytest.mark.parametrize("given, match", [
    ({"lang": False}, "quote the text"),
    ({"alpha": float("nan")}, "'alpha'=nan must be a finite number"),
    ({"goals_as_of": 2030}, "goals_as_of=2030 must lie between"),
    ({"budget_dkk": 1e300}, "outside"),
    ({"min_cell": 2.5}, "must be int"),
])
def test_more_bad_values(given, match):
    with pytest.raises(ParameterError, match=match):
        validate_params(given)


def test_parameter_set_must_be_a_mapping():
    with pytest.raises(ParameterError, match="mapping"):
        validate_params(["lang", "da"])


@pytest.mark.parametrize("content, match", [
    ("lang: da\nlang: en\n", "the key 'lang' is given twice"),
    ("lang: [da\n", r"not valid YAML \(line 2"),
    ("langauge: da\nalpha: 7\n", r"2 problems.*'langauge'.*'alpha'=7"),
])
def test_yaml_file_errors_name_the_file(tmp_path, content, match):
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(ParameterError, match=match) as info:
        load_params(path)
    assert "p.yaml" in str(info.value)


def test_folder_and_undecodable_parameter_files(tmp_path):
    with pytest.raises(ParameterError, match="is a folder"):
        load_params(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes("title: Område\n".encode("latin-1"))
    with pytest.raises(ParameterError, match="UTF-8"):
        load_params(tmp_path / "latin1.yaml")


def test_the_shipped_parameter_files_validate():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "params").glob("*.yaml")):
        assert load_params(path)["goals"] is not None
