"""Design check: treated/comparison cluster counts, assignment within clusters, few-cluster inference."""
import pandas as pd
import pytest

from evalkit.data.synthetic import staggered_panel
from evalkit.diagnostics.design import design_check, twfe_wild_p
from evalkit.errors import ColumnError, ValidationError
from evalkit.report.text import design_sentence


def test_counts_and_recommendation():
    df = staggered_panel(n_units=60, n_periods=8, cohorts={0: 0.5, 5: 0.5}, n_clusters=30, seed=1)
    check = design_check(df, cohort="cohort", cluster="cluster")
    assert check.n_treated_clusters + check.n_control_clusters == df["cluster"].nunique()
    few = df[(df["cohort"] == 0) | df["cluster"].isin(df.loc[df["cohort"] > 0, "cluster"].unique()[:3])]
    small = design_check(few, cohort="cohort", cluster="cluster")
    assert small.n_treated_clusters == 3 and not small.cr1_reliable and small.recommended == "wild"


def test_assignment_must_be_constant_within_cluster():
    df = pd.DataFrame({"area": [1, 1, 2], "cohort": [2015, 0, 0]})
    with pytest.raises(ValidationError, match="varies within cluster"):
        design_check(df, cohort="cohort", cluster="area")
    with pytest.raises(ColumnError, match="cohort"):
        design_check(df.drop(columns="cohort"), cohort="cohort", cluster="area")


def test_wild_p_is_less_optimistic_than_cr1_with_one_treated_cluster():
    df = staggered_panel(n_units=40, n_periods=8, cohorts={0: 0.9, 5: 0.1}, n_clusters=40, effect=0.0, seed=3)
    wild = twfe_wild_p(df, outcome="y", treatment="treat", unit="unit", time="time", cluster="cluster", seed=1)
    assert 0.0 <= wild.p_value <= 1.0 and wild.ci_low < wild.ci_high
    text = design_sentence(1, 36, False, lang="en", alpha=0.05, cr1_p=0.001, wild_p=wild.p_value,
                           wild_ci=(wild.ci_low, wild.ci_high), outcome="employment_rate")
    assert "wild cluster bootstrap" in text and "too narrow" in text
