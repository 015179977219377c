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
