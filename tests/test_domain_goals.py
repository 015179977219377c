"""Goal attainment: the status rule at its edges, errors for years outside the data, the chart."""
import matplotlib
import pandas as pd
import pytest

from evalkit.domain.goals import goal_attainment, goal_status
from evalkit.errors import ColumnError, ParameterError

matplotlib.use("Agg")

OBSERVED = pd.DataFrame({"indicator": ["employment_rate"] * 5 + ["k1_share"] * 5,
                         "AAR": [2014, 2016, 2018, 2020, 2022] * 2,
                         "value": [0.30, 0.32, 0.35, 0.40, 0.39, 0.50, 0.47, 0.46, 0.40, 0.41]})


def goal(**kw):
    base = {"goal": "Flere i job", "target_group": "18-64", "indicator": "employment_rate", "baseline_year": 2014,
            "baseline_value": 0.30, "target_year": 2022, "target_value": 0.40}
    return base | kw


@pytest.mark.parametrize("observed,year,status", [
    (0.40, 2022, "achieved"),        # exactly the target at the target year
    (0.3999, 2022, "not_achieved"),  # just below
    (0.40, 2018, "achieved"),        # reached early
    (0.35, 2018, "on_track"),        # exactly on the straight path (half way in time, half way in value)
    (0.3499, 2018, "not_on_track"),
])
def test_status_edges_increase(observed, year, status):
    assert goal_status(0.30, 0.40, observed, "increase", baseline_year=2014, target_year=2022, year=year)[0] == status


@pytest.mark.parametrize("observed,year,status", [
    (0.40, 2022, "achieved"), (0.4001, 2022, "not_achieved"), (0.45, 2018, "on_track"), (0.4501, 2018, "not_on_track"),
])
def test_status_edges_decrease(observed, year, status):
    assert goal_status(0.50, 0.40, observed, "decrease", baseline_year=2014, target_year=2022, year=year)[0] == status


def test_table_progress_and_as_of():
    res = goal_attainment([goal(), goal(goal="Færre udenfor", indicator="k1_share", baseline_value=0.50,
                                        target_value=0.40)], OBSERVED)
    t = res.tidy().set_index("goal")
    assert t.loc["Flere i job", "status"] == "not_achieved" and t.loc["Flere i job", "observed"] == 0.39
    assert t.loc["Flere i job", "progress"] == pytest.approx(0.9)
    assert t.loc["Færre udenfor", "status"] == "not_achieved"
    mid = goal_attainment([goal(target_year=2026, target_value=0.44)], OBSERVED, as_of=2018).tidy().iloc[0]
    assert mid["year"] == 2018 and mid["status"] == "on_track"  # path at 2018: 0.30 + 0.14 * 4/12 = 0.3467
    fig = res.plot(lang="da")
    assert len(fig.axes) == 1
    shown = res.display("da")
    assert list(shown.columns[:2]) == ["Mål", "Målgruppe"] and set(shown["Status"]) == {"Ikke opfyldt"}


def test_target_year_outside_the_data_names_goal_and_years():
    with pytest.raises(ParameterError, match=r"goal 'Flere i job': target_year=2026 is outside the data years 2014-2022"):
        goal_attainment([goal(target_year=2026)], OBSERVED)
    with pytest.raises(ParameterError, match="as_of=2015 is outside the data years"):
        goal_attainment([goal()], OBSERVED, as_of=2015)


def test_bad_goals():
    with pytest.raises(ParameterError, match="missing keys \\['target_value'\\]"):
        goal_attainment([{k: v for k, v in goal().items() if k != "target_value"}], OBSERVED)
    with pytest.raises(ParameterError, match="unknown keys \\['taget'\\]"):
        goal_attainment([goal(taget=1)], OBSERVED)
    with pytest.raises(ParameterError, match="set direction"):
        goal_attainment([goal(target_value=0.30)], OBSERVED)
    with pytest.raises(ParameterError, match="contradicts"):
        goal_attainment([goal(direction="decrease")], OBSERVED)
    with pytest.raises(ParameterError, match="indicator"):
        goal_attainment([goal(indicator="employment")], OBSERVED)
    with pytest.raises(ColumnError, match="'value'"):
        goal_attainment([goal()], OBSERVED.rename(columns={"value": "v"}))
    with pytest.raises(ParameterError, match="after"):
        goal_attainment([goal(target_year=2014)], OBSERVED)


def test_inputs_untouched_and_maintain_goal():
    goals, obs = [goal(target_value=0.30, direction="increase")], OBSERVED.copy()
    before = [dict(g) for g in goals]
    res = goal_attainment(goals, obs)
    assert goals == before
    pd.testing.assert_frame_equal(obs, OBSERVED)
    assert res.tidy().iloc[0]["status"] == "achieved"  # maintain at least 0.30: 0.39 observed
