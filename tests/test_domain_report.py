"""The domain sections of the final report: stamped safe tables, figures with alt text, parameters."""
from pathlib import Path

import matplotlib
import pytest
from evalkit import seal
from evalkit.seal import Sealed

from evalkit.errors import ParameterError
from evalkit.report.disclosure import SafeTable
from evalkit.report.params import validate_params
from evalkit.report.study import Study

matplotlib.use("Agg")
DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
GOALS = [{"goal": "Flere i job", "target_group": "Beboere 18-64", "indicator": "employment_rate",
          "baseline_year": 2014, "baseline_value": 0.32, "target_year": 2022, "target_value": 0.36},
         {"goal": "Færre dømte", "target_group": "Beboere 18+", "indicator": "conviction_share",
          "baseline_year": 2014, "baseline_value": 0.03, "target_year": 2024, "target_value": 0.02}]


@pytest.fixture(scope="module", params=["da", "en"])
def study(request):
    return Study.load("final", data_dir=str(DEMO), lang=request.param, goals=GOALS, goals_as_of=2020)


def test_sections_are_safe_tables_and_figures(study):
    for name in ("movers_table", "estimand_comparison", "goals_table", "cost_per_effect"):
        out = getattr(study, name)()
        assert isinstance(out, SafeTable), name
        data, meta = out._repr_mimebundle_()
        assert seal.verify(data, meta, seal._init()["key"])["kind"] == "table"
        assert "PERSON_ID" not in out.html
    for name in ("movers_figure", "goals_chart"):
        out = getattr(study, name)()
        assert isinstance(out, Sealed) and 'alt="' in out.data["text/html"]
    text = study.estimand_text()
    assert isinstance(text, Sealed) and ("diluted" in text.data["text/markdown"] or "fortyndes" in text.data["text/markdown"])


def test_goal_statuses_and_cost_sentence(study):
    goals = study.goals_table().to_frame()
    assert len(goals) == 2
    cost = study.cost_per_effect()
    assert ("DKK" in cost.text) and ("interval" in cost.text)


def test_no_goals_gives_a_note():
    s = Study.load("final", data_dir=str(DEMO))
    assert "goals" in s.goals_table().data["text/markdown"]


def test_goal_parameters_are_validated():
    with pytest.raises(ParameterError, match="goals\\[0\\].*missing keys"):
        validate_params({"goals": [{"goal": "x"}]})
    with pytest.raises(ParameterError, match="'goals' must be list"):
        validate_params({"goals": "employment up"})
    with pytest.raises(ParameterError, match="budget_dkk"):
        validate_params({"budget_dkk": -5.0})
    given = {"goals": [dict(GOALS[0])]}
    out = validate_params(given)
    out["goals"][0]["goal"] = "changed"
    assert given["goals"][0]["goal"] == "Flere i job"  # the caller's parameters are not shared


def test_target_year_outside_the_data_is_refused_before_running():
    with pytest.raises(ParameterError, match="goal 'Flere i job': target_year=2030 is outside the data years 2010-2024"):
        Study.load("final", data_dir=str(DEMO), goals=[GOALS[0] | {"target_year": 2030}])
    # a midterm status (goals_as_of in the data) may look ahead to a later target year
    s = Study.load("final", data_dir=str(DEMO), goals=[GOALS[0] | {"target_year": 2030}], goals_as_of=2020)
    assert s.goals_table().to_frame().shape[0] == 1
