"""Every input error raises an evalkit error with a clear message; inputs are never changed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.data.synthetic import staggered_panel
from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators import did2x2, event_study, twfe


@pytest.fixture
def panel() -> pd.DataFrame:
    d = staggered_panel(n_units=30, n_periods=8, cohorts={0: 0.4, 4: 0.3, 6: 0.3}, n_clusters=10, seed=3)
    d["post"] = (d["time"] >= 5).astype(int)
    d["g"] = (d["cohort"] > 0).astype(int)
    return d


def run_twfe(d, **kw):
    args = dict(outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster") | kw
    return twfe(d, **args)


def run_es(d, **kw):
    args = dict(outcome="y", unit="unit", time="time", cohort="cohort", cluster="cluster", leads=2, lags=2) | kw
    return event_study(d, **args)


def run_did(d, **kw):
    args = dict(outcome="y", treatment="g", post="post", cluster="cluster") | kw
    return did2x2(d, **args)


RUNNERS = [run_twfe, run_es, run_did]


# ---------------------------------------------------------- columns
@pytest.mark.parametrize("run", RUNNERS)
def test_missing_column_names_parameter_and_suggests(panel, run):
    with pytest.raises(ColumnError) as err:
        run(panel, outcome="yy")
    msg = str(err.value)
    assert "outcome='yy'" in msg and "Available columns" in msg and "Did you mean 'y'" in msg


def test_missing_cluster_column(panel):
    with pytest.raises(ColumnError, match="cluster='area'"):
        run_twfe(panel, cluster="area")


def test_non_numeric_outcome(panel):
    d = panel.assign(y=panel["y"].map(lambda v: f"{v:.2f}"))
    with pytest.raises(ColumnError, match="must be numeric"):
        run_twfe(d)


def test_data_must_be_dataframe(panel):
    with pytest.raises(ParameterError, match="DataFrame"):
        twfe(panel.to_dict(), outcome="y", unit="unit", time="time", treatment="treat")


# ---------------------------------------------------------- structure
@pytest.mark.parametrize("run", [run_twfe, run_es])
def test_duplicate_unit_time(panel, run):
    d = pd.concat([panel, panel.iloc[[0, 5]]], ignore_index=True)
    before = d.copy(deep=True)
    with pytest.raises(ValidationError) as err:
        run(d)
    msg = str(err.value)
    assert "2 duplicate" in msg and "unit='unit'" in msg and "(unit=0, time=1)" in msg
    pd.testing.assert_frame_equal(d, before)


def test_twfe_treatment_varies_within_cluster_time(panel):
    d = panel.copy()
    d.loc[d.index[0], "treat"] = 1  # unit 0's cluster, time 1
    with pytest.raises(ValidationError) as err:
        run_twfe(d)
    msg = str(err.value)
    assert "treatment='treat'" in msg and "(cluster, time)" in msg and "cluster=0, time=1" in msg


def test_did_treatment_varies_within_cluster(panel):
    d = panel.copy()
    d.loc[d.index[0], "g"] = 1 - d.loc[d.index[0], "g"]
    with pytest.raises(ValidationError, match="treatment='g' must be constant within \\(cluster\\)"):
        run_did(d)


def test_cohort_varies_within_unit(panel):
    d = panel.copy()
    d.loc[d.index[0], "cohort"] = d.loc[d.index[0], "cohort"] + 1
    with pytest.raises(ValidationError, match="cohort='cohort' must be constant within \\(unit\\)"):
        run_es(d)


def test_negative_cohort(panel):
    d = panel.assign(cohort=lambda x: x["cohort"].where(x["cohort"] > 0, -1))
    with pytest.raises(ValidationError, match="negative"):
        run_es(d)


@pytest.mark.parametrize("param", ["leads", "lags"])
@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_leads_lags(panel, param, value):
    with pytest.raises(ParameterError, match=param):
        run_es(panel, **{param: value})


def test_reference_outside_pre_window(panel):
    with pytest.raises(ParameterError, match="reference"):
        run_es(panel, reference=0)


def test_event_window_beyond_data(panel):
    with pytest.raises(ValidationError, match="No treated unit is observed"):
        run_es(panel, lags=9, bin_endpoints=False)


def test_all_treated_not_identified(panel):
    d = panel[panel["cohort"] > 0]
    with pytest.raises(ValidationError, match="never-treated"):
        run_es(d)


# ---------------------------------------------------------- values
@pytest.mark.parametrize("bad", [2, 0.5, "yes"])
def test_treatment_not_binary(panel, bad):
    d = panel.astype({"treat": object})
    d.loc[d.index[3], "treat"] = bad
    with pytest.raises(ValidationError, match="0/1 or boolean"):
        run_twfe(d, cluster=None)


def test_boolean_treatment_accepted_and_input_kept(panel):
    d = panel.assign(treat=panel["treat"].astype(bool))
    before = d.copy(deep=True)
    res = run_twfe(d)
    ref = run_twfe(panel)
    assert res.estimate() == pytest.approx(ref.estimate(), abs=1e-12)
    pd.testing.assert_frame_equal(d, before)


def test_outcome_all_missing(panel):
    with pytest.raises(ValidationError, match="missing on all"):
        run_twfe(panel.assign(y=np.nan))


@pytest.mark.parametrize("run", RUNNERS)
def test_some_missing_outcome_dropped_with_warning(panel, run):
    d = panel.copy()
    d.loc[d.index[[1, 7, 20]], "y"] = np.nan
    before = d.copy(deep=True)
    with pytest.warns(EvalkitWarning, match="Dropped 3 of 240 rows"):
        res = run(d)
    assert res.diagnostics["n_dropped_missing"] == 3 and res.n_obs == len(d) - 3
    pd.testing.assert_frame_equal(d, before)


def test_missing_key_is_an_error_not_a_drop(panel):
    d = panel.astype({"cluster": float})
    d.loc[d.index[0], "cluster"] = np.nan
    with pytest.raises(ValidationError, match="cluster='cluster' has 1 missing"):
        run_twfe(d)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, "0.05", None])
def test_bad_alpha(panel, alpha):
    with pytest.raises(ParameterError, match="alpha"):
        run_did(panel, alpha=alpha)


def test_empty_did_cell(panel):
    d = panel[~((panel["g"] == 1) & (panel["post"] == 1))]
    with pytest.raises(ValidationError, match="treated_post"):
        run_did(d)


@pytest.mark.parametrize("run", RUNNERS)
def test_successful_runs_leave_input_unchanged(panel, run):
    d = panel.copy()
    d.index = d.index * 3 + 7  # non-default index must survive too
    before = d.copy(deep=True)
    run(d)
    pd.testing.assert_frame_equal(d, before)


def test_all_errors_share_the_base_class(panel):
    with pytest.raises(EvalkitError):
        run_twfe(panel, outcome="nope")
