"""List history -> cohorts and comparison pools."""
import pandas as pd
import pytest

from evalkit.domain.pools import cohorts_from_history, restrict_pool
from evalkit.errors import ColumnError, ParameterError, ValidationError

HISTORY = pd.DataFrame({
    "OMR_ID":    [1, 1, 1, 2, 2, 3, 4, 4],
    "list_year": [2018, 2019, 2020, 2019, 2021, 2021, 2021, 2022],
    "category":  ["ghetto", "haard", "haard", "ghetto", "haard", "forebyggelse", "udsat", "forebyggelse"],
})
AREAS = [1, 2, 3, 4, 5, 6]


def test_first_haard_year_plus_lag_is_the_cohort():
    out = cohorts_from_history(HISTORY, AREAS, categories="haard").set_index("OMR_ID")
    assert out["cohort"].to_dict() == {1: 2020, 2: 2022, 3: 0, 4: 0, 5: 0, 6: 0}
    assert out.loc[[1, 2], "role"].eq("treated").all() and out.loc[[3, 4, 5, 6], "role"].eq("comparison").all()
    lag0 = cohorts_from_history(HISTORY, AREAS, categories=["haard", "ghetto"], lag=0).set_index("OMR_ID")
    assert lag0.loc[1, "cohort"] == 2018 and lag0.loc[2, "cohort"] == 2019


@pytest.mark.parametrize("comparison,kept", [("never_treated", {3, 4, 5, 6}), ("never_listed", {5, 6}),
                                             ("forebyggelse", {3, 4})])
def test_pools(comparison, kept):
    out = cohorts_from_history(HISTORY, AREAS, comparison=comparison)
    assert set(out.loc[out["role"] == "comparison", "OMR_ID"]) == kept
    assert len(out) == len(AREAS)  # excluded areas stay in the table
    assert set(out.loc[out["role"] == "excluded", "OMR_ID"]) == {3, 4, 5, 6} - kept


def test_custom_categories_pool_and_restrict_existing_cohorts():
    out = cohorts_from_history(HISTORY, AREAS, comparison="categories", pool_categories=["udsat"])
    assert set(out.loc[out["role"] == "comparison", "OMR_ID"]) == {4}
    cohorts = pd.DataFrame({"OMR_ID": AREAS, "cohort": [2016, 0, 0, 0, 0, 0], "role": ["treated"] + ["comparison"] * 5})
    before = cohorts.copy()
    restricted = restrict_pool(cohorts, HISTORY, comparison="never_listed")
    pd.testing.assert_frame_equal(cohorts, before)
    assert set(restricted.loc[restricted["role"] == "comparison", "OMR_ID"]) == {5, 6}
    assert restricted.loc[0, "role"] == "treated"


def test_bad_input():
    with pytest.raises(ParameterError, match="categories='hard'.*haard"):
        cohorts_from_history(HISTORY, AREAS, categories="hard")
    with pytest.raises(ParameterError, match="comparison"):
        cohorts_from_history(HISTORY, AREAS, comparison="never")
    with pytest.raises(ColumnError, match="list_year"):
        cohorts_from_history(HISTORY.rename(columns={"list_year": "year"}), AREAS)
    with pytest.raises(ValidationError, match="not in areas"):
        cohorts_from_history(HISTORY, [1, 2, 3])
    with pytest.raises(ParameterError, match="lag"):
        cohorts_from_history(HISTORY, AREAS, lag=-1)
    with pytest.raises(ParameterError, match="pool_categories"):
        cohorts_from_history(HISTORY, AREAS, comparison="categories")
