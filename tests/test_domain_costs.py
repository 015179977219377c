"""Cost per effect: a hand-computed example and honest intervals that cross zero."""
import math

import pandas as pd
import pytest

from evalkit.domain.costs import cost_per_effect
from evalkit.errors import ParameterError
from evalkit.results import Result
from evalkit.results.result import InferenceInfo


def test_hand_computed():
    # 10 million DKK, 4,000 residents, +2.5 pp [1.0; 4.0] -> 100 more employed, 100,000 DKK each
    row = cost_per_effect(budget_dkk=10e6, n_persons=4000, effect=0.025, conf_low=0.01, conf_high=0.04).tidy().iloc[0]
    assert row["additional"] == pytest.approx(100)
    assert row["cost"] == pytest.approx(100_000)
    assert row["cost_low"] == pytest.approx(10e6 / (0.04 * 4000)) and row["cost_high"] == pytest.approx(250_000)
    assert bool(row["bounded"]) and row["status"] == "bounded"


def test_interval_crossing_zero_is_unbounded_and_said_so():
    res = cost_per_effect(budget_dkk=10e6, n_persons=4000, effect=0.02, conf_low=-0.01, conf_high=0.05)
    row = res.tidy().iloc[0]
    assert row["status"] == "unbounded" and math.isinf(row["cost_high"])
    assert row["cost_low"] == pytest.approx(50_000)
    assert "no upper bound" in res.sentence("en") and "ingen øvre grænse" in res.sentence("da")
    assert "inf" not in res.sentence("en").lower().replace("infinite", "")


def test_no_beneficial_effect_gives_no_cost():
    res = cost_per_effect(budget_dkk=1e6, n_persons=100, effect=-0.02, conf_low=-0.03, conf_high=-0.01)
    row = res.tidy().iloc[0]
    assert row["status"] == "no_beneficial_effect" and math.isnan(row["cost"]) and math.isnan(row["cost_low"])
    assert "no cost per effect" in res.sentence("en")


def test_convictions_avoided_from_a_result():
    table = pd.DataFrame({"term": ["ATT"], "estimate": [-0.005], "std_error": [0.001],
                          "conf_low": [-0.008], "conf_high": [-0.002]})
    result = Result(estimator="twfe", estimand="ATT", table=table, vcov=None, alpha=0.1,
                    inference=InferenceInfo(method="cluster"), n_obs=100, outcome="conviction_share")
    res = cost_per_effect(budget_dkk=2e6, n_persons=2000, result=result, desired="decrease",
                          outcome_unit="conviction_avoided")
    row = res.tidy().iloc[0]
    assert row["additional"] == pytest.approx(10) and row["cost"] == pytest.approx(200_000)
    assert row["cost_low"] == pytest.approx(2e6 / 16) and row["cost_high"] == pytest.approx(2e6 / 4)
    assert res.alpha == 0.1 and "90 %" in res.sentence("da") and "undgået dom" in res.sentence("da")


def test_bad_input():
    with pytest.raises(ParameterError, match="budget_dkk"):
        cost_per_effect(budget_dkk=0, n_persons=10, effect=0.1, conf_low=0, conf_high=0.2)
    with pytest.raises(ParameterError, match="n_persons"):
        cost_per_effect(budget_dkk=1, n_persons=-1, effect=0.1, conf_low=0, conf_high=0.2)
    with pytest.raises(ParameterError, match="conf_low"):
        cost_per_effect(budget_dkk=1, n_persons=1, effect=0.1, conf_low=0.2, conf_high=0.3)
    with pytest.raises(ParameterError, match="desired"):
        cost_per_effect(budget_dkk=1, n_persons=1, effect=0.1, conf_low=0, conf_high=0.2, desired="up")
    with pytest.raises(ParameterError, match="result"):
        cost_per_effect(budget_dkk=1, n_persons=1)
