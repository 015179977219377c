"""The report's sample truth (pandas, on the estimation panel) agrees with the simulator's
own truth readers (DuckDB, on the raw files): two independent computations."""
from pathlib import Path

import numpy as np
import pytest

from evalkit.data.truth import area_truth, cohort_truth
from evalkit.report.study import Study

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


@pytest.fixture(scope="module")
def study():
    return Study.load("final", data_dir=str(DEMO), evaluation_year=2024, lags=5, leads=4)


def test_area_truth_by_event_time_agrees(study):
    unweighted = study._truth_by_e(study.area.drop(columns="area_weight"))
    theirs = area_truth(DEMO, "fremskudt_beskaeftigelse", "employment_rate").set_index("event_time")["effect"]
    for e in range(0, 5):  # unbinned event times
        assert unweighted.loc[e] == pytest.approx(theirs.loc[e], abs=1e-6)
    assert np.allclose(unweighted.loc[[-3, -2, -1]], 0.0)


def test_area_truth_is_weighted_like_the_area_estimates(study):
    """The area estimates weight areas by their mean residents; their truth is weighted alike."""
    area = study.area
    mine = study._truth_by_e(area)
    treated = area[(area["cohort"] > 0) & (area["AAR"] == area["cohort"] + 2)]   # event time 2 (unbinned)
    assert mine.loc[2] == pytest.approx(np.average(treated["effect"], weights=treated["area_weight"]), abs=1e-12)
    assert np.allclose(mine.loc[[-3, -2, -1]], 0.0)


def test_cohort_truth_by_event_time_agrees(study):
    mine = study._truth_by_e(study.cohort)
    theirs = cohort_truth(DEMO, 2014, "fremskudt_beskaeftigelse", "employment_rate").set_index("event_time")["effect"]
    for e in range(0, 5):
        assert mine.loc[e] == pytest.approx(theirs.loc[e], abs=1e-6)
    # following movers dilutes the effect: cohort truth below the area truth after 2 years
    assert theirs.loc[3] < study._truth_by_e(study.area).loc[3]
