"""Issue 12: one validation layer for the domain helpers.

Every public domain function checks its inputs before any work: data must be DataFrames; missing
columns are named with the available ones and the closest match; non-numeric, non-finite and
astronomically large values get a clear error; parameters of the wrong type or range, empty frames
and duplicate keys are refused naming the parameter; text and categorical area ids give the same
results as whole numbers; the caller's data are never modified; rows are never dropped silently;
and the domain layer does not import the report layer or the CLI.
"""
from __future__ import annotations

import ast
import copy
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalkit.domain as D
from evalkit import AreaIndicators, ListRules, compute_lists, list_history
from evalkit.domain import (RegisterConfig, area_indicators, attach_cohort, cohort_design_panel, cohorts_from_history,
                            compare_estimands, cost_per_effect, decomposition_parts, estimand_paragraph,
                            goal_attainment, goal_chart, goal_status, load_register_config, load_thresholds,
                            match_areas, minimum_detectable_effect, observed_from_panel, plan, restrict_pool,
                            simulate_power, stayer_share, treatment_cohorts)
from evalkit.errors import ColumnError, EvalkitError, EvalkitWarning, ParameterError, ValidationError
from tests.test_lists_rules import indicators as make_indicators

ROOT = Path(__file__).resolve().parents[1]
IDS = list(range(1, 13))
TREATED = IDS[:4]
YEARS = list(range(2012, 2018))


# ----------------------------------------------------------------- small synthetic inputs
def make_panel(ids=IDS) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [{"OMR_ID": a, "AAR": y, "cov1": rng.normal(0.3 + 0.02 * (a in TREATED), 0.05),
             "cov2": rng.normal(0.1, 0.02), "employment_rate": rng.uniform(0.2, 0.5),
             "residents_18_64": int(rng.integers(600, 2000))} for a in ids for y in YEARS]
    return pd.DataFrame(rows)


def make_cohorts(ids=IDS) -> pd.DataFrame:
    return pd.DataFrame({"OMR_ID": list(ids), "cohort": [2015 if a in TREATED else 0 for a in ids],
                         "role": ["treated" if a in TREATED else "comparison" for a in ids]})


def make_interventions() -> pd.DataFrame:
    return pd.DataFrame({"OMR_ID": [1, 2, 3, 4, 5], "intervention": ["job"] * 4 + ["poa"],
                         "start_year": [2015, 2015, 2016, 2016, 2015], "end_year": [2024] * 5})


HISTORY = pd.DataFrame({"OMR_ID": [1, 1, 2, 2, 3, 5, 6],
                        "list_year": [2016, 2017, 2017, 2018, 2018, 2018, 2019],
                        "category": ["ghetto", "haard", "ghetto", "haard", "forebyggelse", "udsat", "forebyggelse"]})
GOAL = {"goal": "Flere i job", "target_group": "18-64", "indicator": "employment_rate", "baseline_year": 2012,
        "baseline_value": 0.30, "target_year": 2017, "target_value": 0.40}
OBSERVED = pd.DataFrame({"indicator": "employment_rate", "AAR": YEARS, "value": np.linspace(0.3, 0.42, len(YEARS))})
COUNTS = pd.DataFrame({"group": ["treated"], "year0": [2014], "year1": [2016], "n0": [100], "n1": [110],
                       "n_stayers": [80], "n_in": [30], "n_out": [20], "n_in_aged": [2], "n_out_aged": [1],
                       "value0": [0.30], "value1": [0.33], "mean_stayers0": [0.31], "mean_stayers1": [0.34],
                       "mean_in1": [0.30], "mean_out0": [0.26]})
COHORT_PANEL = pd.DataFrame({"PERSON_ID": [1, 1, 2, 2], "AAR": [2014, 2016, 2014, 2016],
                             "OMR_ID_BASE": [1, 1, 5, 5], "OMR_ID": [1, 2, 5, 5], "y": [0.0, 1.0, 0.0, 0.0]})


def national(years=YEARS) -> pd.DataFrame:
    return pd.DataFrame({"AAR": years, "conviction_share": 0.009})


def area_years(ids=(1, 2)) -> pd.DataFrame:
    return pd.DataFrame([{"OMR_ID": a, "AAR": y, "residents": 1500, "k1_fte": 0.3} for a in ids for y in YEARS])


def hard_history_inputs():
    """Two areas that become hårdt ghettoområde (2018, 2019) and two never listed; lists 2014-2024."""
    ghetto13 = {"k1_headcount": 0.45, "k1_fte": 0.45, "nw": 0.55, "k3_unknown_basic": 0.65}
    late = dict(ghetto13, nw={y: 0.2 if y < 2015 else 0.55 for y in range(2008, 2025)})
    return make_indicators({1: ghetto13, 2: late, 3: {}, 4: {}}, years=range(2012, 2025))


# ----------------------------------------------------------------- 1. data must be a DataFrame
FRAME_CALLS = {
    "attach_cohort.panel": lambda bad: attach_cohort(bad, make_cohorts()),
    "attach_cohort.cohorts": lambda bad: attach_cohort(make_panel(), bad),
    "treatment_cohorts.interventions": lambda bad: treatment_cohorts(bad, IDS, intervention="job"),
    "cohorts_from_history.history": lambda bad: cohorts_from_history(bad, IDS),
    "restrict_pool.cohorts": lambda bad: restrict_pool(bad, HISTORY, comparison="never_listed"),
    "restrict_pool.history": lambda bad: restrict_pool(make_cohorts(), bad, comparison="never_listed"),
    "match_areas.panel": lambda bad: match_areas(bad, make_cohorts(), covariates=["cov1"]),
    "match_areas.cohorts": lambda bad: match_areas(make_panel(), bad, covariates=["cov1"]),
    "observed_from_panel.area_panel": lambda bad: observed_from_panel(bad, TREATED, ["employment_rate"]),
    "goal_attainment.observed": lambda bad: goal_attainment([GOAL], bad),
    "cohort_design_panel.cohort_panel": lambda bad: cohort_design_panel(bad, make_cohorts()),
    "stayer_share.cohort_panel": lambda bad: stayer_share(bad),
    "compare_estimands.area_panel": lambda bad: compare_estimands(bad, COHORT_PANEL, outcome="y", person_outcome="y"),
    "decomposition_parts.counts": lambda bad: decomposition_parts(bad),
    "goal_chart.table": lambda bad: goal_chart(bad),
    "AreaIndicators.from_frames.area_years": lambda bad: AreaIndicators.from_frames(bad, national()),
    "AreaIndicators.from_frames.national": lambda bad: AreaIndicators.from_frames(area_years(), bad),
}


@pytest.mark.parametrize("bad", [None, [1, 2], {"OMR_ID": [1]}, np.zeros((2, 2))], ids=["None", "list", "dict", "array"])
@pytest.mark.parametrize("call", list(FRAME_CALLS.values()), ids=list(FRAME_CALLS))
def test_data_must_be_a_dataframe(call, bad):
    with pytest.raises(EvalkitError, match="DataFrame|lack"):
        call(bad)


# ----------------------------------------------------------------- 2. missing columns: named, available, closest
MISSING = [
    ("attach_cohort", lambda: attach_cohort(make_panel().rename(columns={"AAR": "AR"}), make_cohorts()), "AAR", "AR"),
    ("attach_cohort.cohorts", lambda: attach_cohort(make_panel(), make_cohorts().rename(columns={"role": "rolle"})),
     "role", "rolle"),
    ("match_areas.covariates", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov_1"]), "cov_1", "cov1"),
    ("observed_from_panel.indicators", lambda: observed_from_panel(make_panel(), TREATED, ["employment_rat"]),
     "employment_rat", "employment_rate"),
    ("cohorts_from_history", lambda: cohorts_from_history(HISTORY.rename(columns={"list_year": "listyear"}), IDS),
     "list_year", "listyear"),
    ("goal_attainment", lambda: goal_attainment([GOAL], OBSERVED.rename(columns={"value": "values"})), "value", "values"),
    ("compare_estimands", lambda: compare_estimands(make_panel(), COHORT_PANEL, outcome="employment_rat",
                                                    person_outcome="y"), "employment_rat", "employment_rate"),
    ("treatment_cohorts", lambda: treatment_cohorts(make_interventions().rename(columns={"start_year": "start"}), IDS,
                                                    intervention="job"), "start_year", "start"),
]


@pytest.mark.parametrize("call,missing,close", [m[1:] for m in MISSING], ids=[m[0] for m in MISSING])
def test_missing_column_is_named_with_the_closest(call, missing, close):
    with pytest.raises(ColumnError) as info:
        call()
    text = str(info.value)
    assert repr(missing) in text and close in text


# ----------------------------------------------------------------- 3. non-numeric, non-finite, huge values
def _with(frame: pd.DataFrame, col: str, value, row: int = 0) -> pd.DataFrame:
    out = frame.copy()
    if isinstance(value, str) and pd.api.types.is_numeric_dtype(out[col]):
        out[col] = out[col].astype(object)
    elif isinstance(value, float) and pd.api.types.is_integer_dtype(out[col]):
        out[col] = out[col].astype(float)
    elif isinstance(value, (int, float)) and not pd.api.types.is_numeric_dtype(out[col]):
        out[col] = out[col].astype(object)
    out.loc[row, col] = value
    return out


BAD_VALUES = [
    ("match_areas.cov1=inf", lambda: match_areas(_with(make_panel(), "cov1", np.inf), make_cohorts(), covariates=["cov1"],
                                                 method="mahalanobis"), "cov1"),
    ("match_areas.cov1=1e300", lambda: match_areas(_with(make_panel(), "cov1", 1e300), make_cohorts(),
                                                   covariates=["cov1"], method="mahalanobis"), "cov1"),
    ("match_areas.cov1=text", lambda: match_areas(_with(make_panel(), "cov1", "high"), make_cohorts(),
                                                  covariates=["cov1"]), "cov1"),
    ("match_areas.AAR=text", lambda: match_areas(make_panel().astype({"AAR": str}), make_cohorts(),
                                                 covariates=["cov1"]), "AAR"),
    ("goal_attainment.value=inf", lambda: goal_attainment([GOAL], _with(OBSERVED, "value", np.inf)), "value"),
    ("goal_attainment.AAR=2012.5", lambda: goal_attainment([GOAL], _with(OBSERVED, "AAR", 2012.5)), "AAR"),
    ("observed_from_panel.weight<0", lambda: observed_from_panel(_with(make_panel(), "residents_18_64", -5), TREATED,
                                                                 ["employment_rate"]), "residents_18_64"),
    ("observed_from_panel.value=1e300", lambda: observed_from_panel(_with(make_panel(), "employment_rate", 1e300),
                                                                    TREATED, ["employment_rate"]), "employment_rate"),
    ("from_frames.residents=1e300", lambda: AreaIndicators.from_frames(_with(area_years(), "residents", 1e300),
                                                                       national()), "residents"),
    ("from_frames.k1=-inf", lambda: AreaIndicators.from_frames(_with(area_years(), "k1_fte", -np.inf), national()),
     "k1_fte"),
    ("from_frames.conviction_share=2", lambda: AreaIndicators.from_frames(area_years(),
                                                                          _with(national(), "conviction_share", 2.0)),
     "conviction_share"),
    ("attach_cohort.cohort=inf", lambda: attach_cohort(make_panel(), _with(make_cohorts(), "cohort", np.inf)), "cohort"),
    ("attach_cohort.cohort=-1", lambda: attach_cohort(make_panel(), _with(make_cohorts(), "cohort", -1)), "cohort"),
    ("attach_cohort.cohort=2015.5", lambda: attach_cohort(make_panel(), _with(make_cohorts(), "cohort", 2015.5)),
     "cohort"),
    ("attach_cohort.role=typo", lambda: attach_cohort(make_panel(), _with(make_cohorts(), "role", "treatd")), "role"),
    ("attach_cohort.AAR=1e300", lambda: attach_cohort(_with(make_panel(), "AAR", 1e300), make_cohorts()), "AAR"),
    ("treatment_cohorts.start_year=2015.5", lambda: treatment_cohorts(_with(make_interventions(), "start_year", 2015.5),
                                                                     IDS, intervention="job"), "start_year"),
    ("cohorts_from_history.list_year=text", lambda: cohorts_from_history(HISTORY.astype({"list_year": str}), IDS),
     "list_year"),
    ("cohorts_from_history.list_year=2016.5", lambda: cohorts_from_history(_with(HISTORY, "list_year", 2016.5), IDS),
     "list_year"),
    ("cohorts_from_history.category=number", lambda: cohorts_from_history(_with(HISTORY, "category", 3), IDS),
     "category"),
    ("decomposition_parts.n0=inf", lambda: decomposition_parts(_with(COUNTS, "n0", np.inf)), "n0"),
    ("compare_estimands.outcome=inf", lambda: compare_estimands(_with(make_panel().assign(cohort=0, treat=0),
                                                                      "employment_rate", np.inf),
                                                                COHORT_PANEL.assign(cohort=0, treat=0),
                                                                outcome="employment_rate", person_outcome="y"),
     "employment_rate"),
]


@pytest.mark.parametrize("call,column", [b[1:] for b in BAD_VALUES], ids=[b[0] for b in BAD_VALUES])
def test_bad_values_in_columns_are_named(call, column):
    with pytest.raises(EvalkitError, match=repr(column)):
        call()


# ----------------------------------------------------------------- 4. parameters of the wrong type or range
DESIGN = {"n_treated": 5, "n_control": 20, "years_pre": 3, "years_post": 3, "residents": 1500, "sd": 0.45, "icc": 0.05}


def _design():
    return plan(**DESIGN)


BAD_PARAMS = [
    # power
    ("plan.n_treated<0", lambda: plan(**(DESIGN | {"n_treated": -3})), "n_treated"),
    ("plan.n_treated=2.5", lambda: plan(**(DESIGN | {"n_treated": 2.5})), "n_treated"),
    ("plan.residents=1e12", lambda: plan(**(DESIGN | {"residents": 10 ** 12})), "residents"),
    ("plan.sd=inf", lambda: plan(**(DESIGN | {"sd": np.inf})), "sd"),
    ("plan.icc=1", lambda: plan(**(DESIGN | {"icc": 1.0})), "icc"),
    ("plan.icc=text", lambda: plan(**(DESIGN | {"icc": "0.05"})), "icc"),
    ("mde.power=0", lambda: minimum_detectable_effect(_design(), power=0.0), "power"),
    ("mde.power=1", lambda: minimum_detectable_effect(_design(), power=1.0), "power"),
    ("mde.power=text", lambda: minimum_detectable_effect(_design(), power="0.8"), "power"),
    ("mde.alpha=1.5", lambda: minimum_detectable_effect(_design(), alpha=1.5), "alpha"),
    ("mde.alpha=0", lambda: minimum_detectable_effect(_design(), alpha=0), "alpha"),
    ("mde.design=dict", lambda: minimum_detectable_effect(DESIGN), "design"),
    ("mde.reps=0", lambda: minimum_detectable_effect(_design(), reps=0), "reps"),
    ("mde.seed=-1", lambda: minimum_detectable_effect(_design(), seed=-1), "seed"),
    ("mde.seed=text", lambda: minimum_detectable_effect(_design(), seed="1"), "seed"),
    ("mde.weights=typo", lambda: minimum_detectable_effect(_design(), method="wild", weights="radem"), "weights"),
    ("mde.progress=text", lambda: minimum_detectable_effect(_design(), progress="no"), "progress"),
    ("simulate_power.effects=text", lambda: simulate_power(_design(), "big", reps=2), "effects"),
    ("simulate_power.effects=inf", lambda: simulate_power(_design(), [0.1, np.inf], reps=2), "effects"),
    ("simulate_power.effects=1e300", lambda: simulate_power(_design(), [1e300], reps=2), "effects"),
    ("simulate_power.draws=5", lambda: simulate_power(_design(), [0.1], method="wild", draws=5), "draws"),
    ("simulate_power.n_jobs=0", lambda: simulate_power(_design(), [0.1], n_jobs=0), "n_jobs"),
    # costs
    ("cost.budget=1e300", lambda: cost_per_effect(budget_dkk=1e300, n_persons=100, effect=0.1, conf_low=0.0,
                                                  conf_high=0.2), "budget_dkk"),
    ("cost.n_persons<0", lambda: cost_per_effect(budget_dkk=1e6, n_persons=-5, effect=0.1, conf_low=0.0,
                                                 conf_high=0.2), "n_persons"),
    ("cost.effect=text", lambda: cost_per_effect(budget_dkk=1e6, n_persons=5, effect="0.1", conf_low=0.0,
                                                 conf_high=0.2), "effect"),
    ("cost.alpha=1", lambda: cost_per_effect(budget_dkk=1e6, n_persons=5, effect=0.1, conf_low=0.0, conf_high=0.2,
                                             alpha=1.0), "alpha"),
    ("cost.result=dict", lambda: cost_per_effect(budget_dkk=1e6, n_persons=5, result={"ATT": 1}), "result"),
    ("cost.outcome_unit=None", lambda: cost_per_effect(budget_dkk=1e6, n_persons=5, effect=0.1, conf_low=0.0,
                                                       conf_high=0.2, outcome_unit=None), "outcome_unit"),
    # cohorts, pools, timing
    ("history.lag=-1", lambda: cohorts_from_history(HISTORY, IDS, lag=-1), "lag"),
    ("history.lag=text", lambda: cohorts_from_history(HISTORY, IDS, lag="1"), "lag"),
    ("history.lag=1e6", lambda: cohorts_from_history(HISTORY, IDS, lag=10 ** 6), "lag"),
    ("history.categories=[]", lambda: cohorts_from_history(HISTORY, IDS, categories=[]), "categories"),
    ("history.categories=int", lambda: cohorts_from_history(HISTORY, IDS, categories=3), "categories"),
    ("history.pool_categories unused", lambda: cohorts_from_history(HISTORY, IDS, pool_categories=["udsat"]),
     "pool_categories"),
    ("history.areas=str", lambda: cohorts_from_history(HISTORY, "1,2,3"), "areas"),
    ("history.areas=int", lambda: cohorts_from_history(HISTORY, 12), "areas"),
    ("timing.intervention=None", lambda: treatment_cohorts(make_interventions(), IDS, intervention=None), "intervention"),
    ("timing.area=int", lambda: attach_cohort(make_panel(), make_cohorts(), area=1), "area"),
    ("timing.panel has cohort", lambda: attach_cohort(make_panel().assign(cohort=0), make_cohorts()), "cohort"),
    # matching
    ("match.ratio=0", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], ratio=0), "ratio"),
    ("match.ratio=1.5", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], ratio=1.5), "ratio"),
    ("match.seed=-1", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], seed=-1), "seed"),
    ("match.replace=text", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], replace="yes"),
     "replace"),
    ("match.caliper=inf", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], caliper=np.inf),
     "caliper"),
    ("match.covariates=[]", lambda: match_areas(make_panel(), make_cohorts(), covariates=[]), "covariates"),
    ("match.covariates=[1]", lambda: match_areas(make_panel(), make_cohorts(), covariates=[1]), "covariates"),
    ("match.covariates=key", lambda: match_areas(make_panel(), make_cohorts(), covariates=["AAR"]), "covariates"),
    ("match.pre_years=text", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"],
                                                 pre_years=["2013", "2014"]), "pre_years"),
    ("match.pre_years=int", lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], pre_years=2014),
     "pre_years"),
    ("match.no treated", lambda: match_areas(make_panel(), make_cohorts().assign(cohort=0, role="comparison"),
                                             covariates=["cov1"]), "treated"),
    # goals
    ("goal_attainment.as_of=text", lambda: goal_attainment([GOAL], OBSERVED, as_of="2015"), "as_of"),
    ("goal_attainment.goals=dict", lambda: goal_attainment(GOAL, OBSERVED), "goals"),
    ("goal.target_year=text", lambda: goal_attainment([GOAL | {"target_year": "2017"}], OBSERVED), "target_year"),
    ("goal.baseline_value=inf", lambda: goal_attainment([GOAL | {"baseline_value": np.inf}], OBSERVED),
     "baseline_value"),
    ("goal.direction=typo", lambda: goal_attainment([GOAL | {"direction": "up"}], OBSERVED), "direction"),
    ("goal_status.year=text", lambda: goal_status(0.3, 0.4, 0.35, "increase", baseline_year=2012, target_year=2017,
                                                  year="2015"), "year"),
    ("goal_status.observed=nan", lambda: goal_status(0.3, 0.4, np.nan, "increase", baseline_year=2012,
                                                     target_year=2017, year=2015), "observed"),
    ("goal_status.direction", lambda: goal_status(0.3, 0.4, 0.35, "more", baseline_year=2012, target_year=2017,
                                                  year=2015), "direction"),
    ("observed_from_panel.indicators=int", lambda: observed_from_panel(make_panel(), TREATED, 3), "indicators"),
    ("observed_from_panel.areas=int", lambda: observed_from_panel(make_panel(), 3, ["employment_rate"]), "areas"),
    ("goal_chart.lang", lambda: goal_chart(pd.DataFrame(columns=["goal", "target_group", "status", "progress", "year",
                                                                  "target_year", "path", "baseline_value",
                                                                  "target_value"]), lang="de"), "lang"),
    # estimands
    ("compare_estimands.leads=-1", lambda: compare_estimands(make_panel(), COHORT_PANEL, outcome="employment_rate",
                                                             person_outcome="y", leads=-1), "leads"),
    ("compare_estimands.alpha=5", lambda: compare_estimands(make_panel(), COHORT_PANEL, outcome="employment_rate",
                                                            person_outcome="y", alpha=5), "alpha"),
    ("compare_estimands.outcome=list", lambda: compare_estimands(make_panel(), COHORT_PANEL, outcome=["y"],
                                                                 person_outcome="y"), "outcome"),
    ("estimand_paragraph.comparison", lambda: estimand_paragraph({"area": 1}), "comparison"),
    ("cohort_design_panel.OMR_ID_CUR", lambda: cohort_design_panel(COHORT_PANEL.assign(OMR_ID_CUR=1), make_cohorts()),
     "OMR_ID_CUR"),
    # lists
    ("compute_lists.indicators=frame", lambda: compute_lists(area_years()), "indicators"),
    ("compute_lists.list_years=text", lambda: compute_lists(hard_history_inputs(), list_years=["2019"]), "list_years"),
    ("compute_lists.list_years=[]", lambda: compute_lists(hard_history_inputs(), list_years=[]), "list_years"),
    ("compute_lists.list_years=reversed range", lambda: compute_lists(hard_history_inputs(),
                                                                      list_years=range(2024, 2018)), "list_years"),
    ("compute_lists.list_years=bool", lambda: compute_lists(hard_history_inputs(), list_years=[True]), "list_years"),
    ("compute_lists.rules=dict", lambda: compute_lists(hard_history_inputs(), rules={"hard_years_2018": 4}), "rules"),
    ("compute_lists.thresholds=int", lambda: compute_lists(hard_history_inputs(), thresholds=3), "thresholds"),
    ("compute_lists.prior_history lacks", lambda: compute_lists(hard_history_inputs(),
                                                                prior_history=HISTORY.drop(columns="category")),
     "category"),
    ("ListRules.tolerance=text", lambda: ListRules(tolerance="0"), "tolerance"),
    ("ListRules.hard_years_2018=1000", lambda: ListRules(hard_years_2018=1000), "hard_years_2018"),
    ("ListRules.forebyggelse=text", lambda: ListRules(forebyggelse_excludes_udsat="yes"), "forebyggelse_excludes_udsat"),
    ("list_history.result", lambda: list_history(HISTORY), "result"),
    ("list_history.wide=text", lambda: list_history(compute_lists(hard_history_inputs(), list_years=[2018]),
                                                    wide="yes"), "wide"),
    # register indicators (checked before any file is read)
    ("area_indicators.data=None", lambda: area_indicators(None), "data"),
    ("area_indicators.cutoff=text", lambda: area_indicators(ROOT, in_education_cutoff="0.5"), "in_education_cutoff"),
    ("area_indicators.cutoff=2", lambda: area_indicators(ROOT, k1_headcount_cutoff=2), "k1_headcount_cutoff"),
    ("area_indicators.memory_limit", lambda: area_indicators(ROOT, memory_limit="lots"), "memory_limit"),
    ("area_indicators.threads=0", lambda: area_indicators(ROOT, threads=0), "threads"),
    ("area_indicators.config=int", lambda: area_indicators(ROOT, config=3), "config"),
    ("RegisterConfig.area=int", lambda: RegisterConfig(area=3), "area"),
    ("RegisterConfig.from_mapping.files", lambda: load_register_config({"files": [1, 2]}), "files"),
    ("RegisterConfig.from_mapping.list", lambda: RegisterConfig.from_mapping(["area"]), "mapping"),
    ("load_thresholds.int", lambda: load_thresholds(3), "thresholds"),
]


@pytest.mark.parametrize("call,name", [b[1:] for b in BAD_PARAMS], ids=[b[0] for b in BAD_PARAMS])
def test_bad_parameters_are_named(call, name):
    with pytest.raises(EvalkitError, match=name):
        call()


# ----------------------------------------------------------------- 5. empty frames
EMPTY = [
    ("attach_cohort.panel", lambda: attach_cohort(make_panel().iloc[:0], make_cohorts())),
    ("attach_cohort.cohorts", lambda: attach_cohort(make_panel(), make_cohorts().iloc[:0])),
    ("treatment_cohorts.interventions", lambda: treatment_cohorts(make_interventions().iloc[:0], IDS, intervention="job")),
    ("treatment_cohorts.areas", lambda: treatment_cohorts(make_interventions(), [], intervention="job")),
    ("cohorts_from_history.areas", lambda: cohorts_from_history(HISTORY, [])),
    ("match_areas.panel", lambda: match_areas(make_panel().iloc[:0], make_cohorts(), covariates=["cov1"])),
    ("observed_from_panel.areas", lambda: observed_from_panel(make_panel(), [], ["employment_rate"])),
    ("goal_attainment.observed", lambda: goal_attainment([GOAL], OBSERVED.iloc[:0])),
    ("from_frames.area_years", lambda: AreaIndicators.from_frames(area_years().iloc[:0], national())),
]


@pytest.mark.parametrize("call", [e[1] for e in EMPTY], ids=[e[0] for e in EMPTY])
def test_empty_inputs_are_refused(call):
    with pytest.raises(EvalkitError, match="no rows|no area ids|holds no"):
        call()


def test_an_empty_history_is_allowed_and_means_never_treated():
    out = cohorts_from_history(HISTORY.iloc[:0], IDS)
    assert out["cohort"].eq(0).all() and out["role"].eq("comparison").all() and len(out) == len(IDS)


# ----------------------------------------------------------------- 6. duplicate keys
DUPLICATES = [
    ("attach_cohort.cohorts", lambda: attach_cohort(make_panel(), pd.concat([make_cohorts(), make_cohorts().iloc[:1]]))),
    ("restrict_pool.cohorts", lambda: restrict_pool(pd.concat([make_cohorts(), make_cohorts().iloc[:1]]), HISTORY,
                                                    comparison="never_listed")),
    ("cohorts_from_history.history", lambda: cohorts_from_history(pd.concat([HISTORY, HISTORY.iloc[:1]]), IDS)),
    ("match_areas.panel", lambda: match_areas(pd.concat([make_panel(), make_panel().iloc[:1]]), make_cohorts(),
                                              covariates=["cov1"])),
    ("observed_from_panel.panel", lambda: observed_from_panel(pd.concat([make_panel(), make_panel().iloc[:1]]), TREATED,
                                                              ["employment_rate"])),
    ("from_frames.national", lambda: AreaIndicators.from_frames(area_years(), pd.concat([national(), national()]))),
    ("from_frames.area_years", lambda: AreaIndicators.from_frames(pd.concat([area_years(), area_years().iloc[:1]]),
                                                                  national())),
    ("treatment_cohorts.interventions", lambda: treatment_cohorts(
        pd.concat([make_interventions(), make_interventions().iloc[:1]]), IDS, intervention="job")),
    ("goals.twice-named-column", lambda: goal_attainment([GOAL], pd.concat([OBSERVED, OBSERVED[["value"]]], axis=1))),
]


@pytest.mark.parametrize("call", [d[1] for d in DUPLICATES], ids=[d[0] for d in DUPLICATES])
def test_duplicate_keys_are_refused(call):
    with pytest.raises(EvalkitError, match="one row per|twice|duplicate|duplicated"):
        call()


# ----------------------------------------------------------------- 7. text and categorical area ids
def _text(i):
    return f"A{i:02d}"


RELABEL = {
    "text": lambda ids: [_text(i) for i in ids],
    "categorical_text": lambda ids: pd.Categorical([_text(i) for i in ids], categories=[_text(i) for i in IDS]),
    "categorical_int": lambda ids: pd.Categorical(list(ids), categories=IDS),
    "numpy_int32": lambda ids: np.asarray(list(ids), dtype="int32"),
}


def _relabel_frame(frame: pd.DataFrame, how: str, cols=("OMR_ID",)) -> pd.DataFrame:
    out = frame.copy()
    for col in cols:
        out[col] = RELABEL[how](out[col].tolist())
    return out


def _back(values) -> list:
    """Ids of any kind -> ints (A03 -> 3), for comparing results across id types."""
    return [int(str(v).lstrip("A")) for v in values]


@pytest.mark.parametrize("how", list(RELABEL))
def test_cohorts_from_history_and_restrict_pool_with_any_ids(how):
    base = cohorts_from_history(HISTORY, IDS, comparison="forebyggelse")
    out = cohorts_from_history(_relabel_frame(HISTORY, how), RELABEL[how](IDS), comparison="forebyggelse")
    assert _back(out["OMR_ID"]) == base["OMR_ID"].tolist()
    assert out["cohort"].tolist() == base["cohort"].tolist() and out["role"].tolist() == base["role"].tolist()
    if how.startswith("categorical"):
        assert isinstance(out["OMR_ID"].dtype, pd.CategoricalDtype)      # the caller's type
    elif how == "text":
        assert out["OMR_ID"].map(type).eq(str).all()
    pooled = restrict_pool(_relabel_frame(make_cohorts(), how), _relabel_frame(HISTORY, how), comparison="never_listed")
    base_pool = restrict_pool(make_cohorts(), HISTORY, comparison="never_listed")
    assert pooled["role"].tolist() == base_pool["role"].tolist()


@pytest.mark.parametrize("how", list(RELABEL))
def test_treatment_cohorts_and_attach_cohort_with_any_ids(how):
    iv = make_interventions()
    base = treatment_cohorts(iv, IDS, intervention="job", comparison="never_treated_no_other")
    out = treatment_cohorts(_relabel_frame(iv, how), RELABEL[how](IDS), intervention="job",
                            comparison="never_treated_no_other")
    assert _back(out["OMR_ID"]) == base["OMR_ID"].tolist()
    assert out[["cohort", "role"]].equals(base[["cohort", "role"]])
    attached = attach_cohort(_relabel_frame(make_panel(), how), out)
    base_attached = attach_cohort(make_panel(), base)
    assert _back(attached["OMR_ID"]) == base_attached["OMR_ID"].tolist()
    assert attached[["cohort", "treated", "treat"]].equals(base_attached[["cohort", "treated", "treat"]])


@pytest.mark.parametrize("how", list(RELABEL))
def test_match_areas_with_any_ids(how):
    base = match_areas(make_panel(), make_cohorts(), covariates=["cov1", "cov2"], method="mahalanobis", seed=2)
    out = match_areas(_relabel_frame(make_panel(), how), _relabel_frame(make_cohorts(), how),
                      covariates=["cov1", "cov2"], method="mahalanobis", seed=2)
    assert _back(out.pairs["treated_OMR_ID"]) == base.pairs["treated_OMR_ID"].tolist()
    assert _back(out.pairs["comparison_OMR_ID"]) == base.pairs["comparison_OMR_ID"].tolist()
    pd.testing.assert_frame_equal(out.balance, base.balance)
    assert out.cohorts["role"].tolist() == base.cohorts["role"].tolist()


def test_match_areas_keeps_areas_excluded_before_matching():
    cohorts = make_cohorts()
    cohorts.loc[cohorts["OMR_ID"] == 12, "role"] = "excluded"
    out = match_areas(make_panel(), cohorts, covariates=["cov1"], method="mahalanobis")
    assert 12 in set(out.cohorts["OMR_ID"]) and out.cohorts.set_index("OMR_ID").loc[12, "role"] == "excluded"


@pytest.mark.parametrize("how", list(RELABEL))
def test_observed_from_panel_with_any_ids(how):
    base = observed_from_panel(make_panel(), TREATED, ["employment_rate"])
    out = observed_from_panel(_relabel_frame(make_panel(), how), RELABEL[how](TREATED), ["employment_rate"])
    pd.testing.assert_frame_equal(out, base)


@pytest.mark.parametrize("how", ["text", "categorical_text"])
def test_compute_lists_and_cohorts_with_text_ids(how):
    ind = hard_history_inputs()
    text = AreaIndicators.from_frames(_relabel_frame(ind.area_years, how), ind.national)
    base, out = compute_lists(ind), compute_lists(text)
    assert _back(out.history["OMR_ID"]) == base.history["OMR_ID"].tolist()
    assert out.history["category"].tolist() == base.history["category"].tolist()
    cohorts = cohorts_from_history(list_history(out), sorted(text.area_years["OMR_ID"].unique()))
    assert dict(zip(_back(cohorts["OMR_ID"]), cohorts["cohort"])) == {1: 2019, 2: 2020, 3: 0, 4: 0}


def test_mixed_and_mismatched_id_types_are_refused():
    with pytest.raises(ValidationError, match="mixes id types"):
        cohorts_from_history(HISTORY, [1, 2, "A3"])
    with pytest.raises(ValidationError, match="number area ids.*text ids"):
        cohorts_from_history(HISTORY, RELABEL["text"](IDS))
    with pytest.raises(ValidationError, match="text area ids.*number ids"):
        attach_cohort(_relabel_frame(make_panel(), "text"), make_cohorts())
    with pytest.raises(ValidationError, match="not whole numbers"):
        treatment_cohorts(make_interventions(), [1.5, 2.0], intervention="job")
    with pytest.raises(ValidationError, match="missing area id"):
        cohorts_from_history(HISTORY, [1, 2, None])


# ----------------------------------------------------------------- 8. compute_lists and cohorts_from_history agree
def test_default_categories_accept_the_history_compute_lists_writes():
    ind = hard_history_inputs()
    history = list_history(compute_lists(ind))
    assert "haardt_ghettoomraade" in set(history["category"]) and "haard" not in set(history["category"])
    out = cohorts_from_history(history, [1, 2, 3, 4]).set_index("OMR_ID")       # default categories="haard"
    assert out["cohort"].to_dict() == {1: 2019, 2: 2020, 3: 0, 4: 0}            # first hård list + 1
    assert out["role"].to_dict() == {1: "treated", 2: "treated", 3: "comparison", 4: "comparison"}
    exact = cohorts_from_history(history, [1, 2, 3, 4], categories="haardt_ghettoomraade")
    assert exact["cohort"].tolist() == out["cohort"].tolist()
    # "ghetto" spans ghettoområde (to 2020) and its successor parallelsamfund (2021-): area 1 from the 2014 list
    ghetto = cohorts_from_history(history, [1, 2, 3, 4], categories="ghetto", lag=0).set_index("OMR_ID")
    assert ghetto.loc[1, "cohort"] == 2014 and ghetto.loc[2, "cohort"] == 2015
    with pytest.raises(ParameterError, match="categories='haardt'.*Did you mean 'haard'"):
        cohorts_from_history(history, [1, 2, 3, 4], categories="haardt")


def test_a_known_category_absent_from_the_history_warns_that_nobody_is_treated():
    hist = HISTORY[HISTORY["category"] != "haard"]
    with pytest.warns(EvalkitWarning, match="never treated"):
        out = cohorts_from_history(hist, IDS)
    assert out["cohort"].eq(0).all()


# ----------------------------------------------------------------- 9. inputs are never mutated
def _mutation_calls():
    panel, cohorts, iv = make_panel(), make_cohorts(), make_interventions()
    text_hist = _relabel_frame(HISTORY, "categorical_text")
    return [
        ("attach_cohort", (panel, cohorts), lambda p, c: attach_cohort(p, c)),
        ("treatment_cohorts", (iv,), lambda i: treatment_cohorts(i, IDS, intervention="job")),
        ("cohorts_from_history", (text_hist,), lambda h: cohorts_from_history(h, RELABEL["categorical_text"](IDS))),
        ("restrict_pool", (cohorts, HISTORY), lambda c, h: restrict_pool(c, h, comparison="forebyggelse")),
        ("match_areas", (panel, cohorts), lambda p, c: match_areas(p, c, covariates=["cov1"], method="mahalanobis")),
        ("observed_from_panel", (panel,), lambda p: observed_from_panel(p, TREATED, ["employment_rate"])),
        ("goal_attainment", (OBSERVED,), lambda o: goal_attainment([dict(GOAL)], o, as_of=2015)),
        ("decomposition_parts", (COUNTS,), lambda c: decomposition_parts(c)),
        ("cohort_design_panel", (COHORT_PANEL, cohorts), lambda p, c: cohort_design_panel(p, c)),
        ("from_frames", (_relabel_frame(area_years(), "categorical_int"), national()),
         lambda a, n: AreaIndicators.from_frames(a, n)),
    ]


@pytest.mark.parametrize("case", _mutation_calls(), ids=[c[0] for c in _mutation_calls()])
def test_inputs_are_never_mutated(case):
    _, frames, call = case
    before = [copy.deepcopy(f) for f in frames]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        call(*frames)
    for old, new in zip(before, frames):
        pd.testing.assert_frame_equal(old, new)


def test_goals_are_never_mutated():
    goals = [dict(GOAL)]
    goal_attainment(goals, OBSERVED)
    assert goals == [GOAL] and "direction" not in goals[0]


# ----------------------------------------------------------------- 10. rows are never dropped silently
def test_attach_cohort_warns_about_areas_missing_from_cohorts_and_rows_without_an_area():
    panel = make_panel()
    with pytest.warns(EvalkitWarning, match=rf"left out {2 * len(YEARS)} of {len(panel)} rows of 2 area\(s\) not in cohorts"):
        out = attach_cohort(panel, make_cohorts(IDS[:-2]))
    assert len(out) == len(panel) - 2 * len(YEARS)
    panel.loc[0, "OMR_ID"] = np.nan
    with pytest.warns(EvalkitWarning, match="left out 1 of .* rows without an area"):
        attach_cohort(panel, make_cohorts())


def test_excluded_areas_are_left_out_as_asked_without_a_warning():
    cohorts = make_cohorts()
    cohorts.loc[cohorts["OMR_ID"] == 12, "role"] = "excluded"
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvalkitWarning)
        out = attach_cohort(make_panel(), cohorts)
    assert 12 not in set(out["OMR_ID"])


def test_treatment_cohorts_warns_about_intervention_areas_outside_the_panel():
    with pytest.warns(EvalkitWarning, match=r"lists 2 area\(s\) that are not in areas"):
        out = treatment_cohorts(make_interventions(), [1, 2, 6, 7], intervention="job")
    assert out["OMR_ID"].tolist() == [1, 2, 6, 7]


def test_observed_from_panel_warns_about_missing_indicator_values():
    panel = make_panel()
    panel.loc[panel["OMR_ID"] == 1, "employment_rate"] = np.nan
    with pytest.warns(EvalkitWarning, match=f"left out {len(YEARS)} of"):
        observed_from_panel(panel, TREATED, ["employment_rate"])


# ----------------------------------------------------------------- 11. goals: every problem at once
def test_goal_attainment_names_every_problem_of_every_goal_at_once():
    goals = [GOAL | {"indicator": "employment_rat", "target_year": "2017"}, GOAL | {"taget": 1, "baseline_value": "x"}]
    with pytest.raises(ParameterError) as info:
        goal_attainment(goals, OBSERVED)
    text = str(info.value)
    for fragment in ("goals[0]", "Did you mean 'employment_rate'", "target_year='2017'", "goals[1]",
                     "unknown keys ['taget']", "baseline_value='x'"):
        assert fragment in text
    assert "\n" not in text


# ----------------------------------------------------------------- 12. files: register configuration and thresholds
@pytest.mark.parametrize("content,match", [
    ("area: [OMR\n", "not valid YAML \\(line"),
    ("area: OMR\narea: OMR2\n", "the key 'area' is given twice"),
    ("- area\n", "mapping"),
    ("aera: OMR\n", "Did you mean 'area'"),
    ("area: 3\n", "'area' must be a column name"),
    ("files: [1, 2]\n", "'files'"),
    ("areas_file: [a]\n", "areas_file"),
], ids=["yaml", "duplicate-key", "list", "unknown-key", "int-column", "files-int", "areas_file-list"])
def test_register_config_file_errors(tmp_path, content, match):
    path = tmp_path / "config.yaml"
    path.write_text(content)
    with pytest.raises(ParameterError, match=match):
        load_register_config(path)


def test_register_config_and_thresholds_paths(tmp_path):
    with pytest.raises(ParameterError, match="is a folder"):
        load_register_config(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes("område: x\n".encode("latin-1"))
    with pytest.raises(ParameterError, match="UTF-8"):
        load_register_config(tmp_path / "latin1.yaml")
    with pytest.raises(ParameterError, match="not a file"):
        load_thresholds(tmp_path)
    (tmp_path / "binary.csv").write_bytes(b"\x00\xff\xfe\x00garbage")
    with pytest.raises(EvalkitError, match="binary.csv"):
        load_thresholds(tmp_path / "binary.csv")
    packaged = Path(D.__file__).parent / "data" / "criteria_thresholds_by_regime.csv"
    table = pd.read_csv(packaged, dtype=str)
    table.loc[0, "valid_lists"] = "from 2010"
    table.to_csv(tmp_path / "own.csv", index=False)
    with pytest.raises(ValidationError, match="valid_lists='from 2010'"):
        load_thresholds(tmp_path / "own.csv")


def test_register_file_with_an_unsupported_suffix(tmp_path):
    path = tmp_path / "notes.yaml"
    path.write_text("a: 1\n")
    with pytest.raises(ParameterError, match="suffix must be one of"):
        area_indicators(path)


def test_register_files_that_cannot_be_read_are_a_clear_error(tmp_path):
    (tmp_path / "person_years.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(ValidationError, match="cannot be read"):
        area_indicators(tmp_path)


# ----------------------------------------------------------------- 13. layering and signatures
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "evalkit" / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_modules_import_neither_report_nor_cli(path):
    bad = {m for m in _imports(path) if m.startswith(("evalkit.report", "evalkit.cli"))}
    assert not bad, f"{path.name} imports {bad} (lazy imports included)"


def test_labels_live_below_the_domain_layer():
    assert not {m for m in _imports(ROOT / "evalkit" / "i18n.py") if m.startswith("evalkit.") and m != "evalkit.errors"}
    from evalkit import i18n
    from evalkit.domain._common import dlabel
    from evalkit.report import i18n as report_i18n

    assert report_i18n.label is i18n.label and report_i18n.LABELS is i18n.LABELS
    assert dlabel("employment_rate", "da") == i18n.label("employment_rate", "da")


def test_importing_and_using_the_domain_layer_loads_no_report_module():
    code = ("import sys, evalkit.domain as D, evalkit.domain.estimands, evalkit.domain._common as C;"
            "C.dlabel('employment_rate', 'en');"
            "bad = sorted(m for m in sys.modules if m.startswith(('evalkit.report', 'evalkit.cli')));"
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _public_functions():
    return [(n, getattr(D, n)) for n in D.__all__ if inspect.isfunction(getattr(D, n))]


@pytest.mark.parametrize("name,func", _public_functions(), ids=[n for n, _ in _public_functions()])
def test_public_functions_take_no_catch_all_keywords(name, func):
    kinds = {p.kind for p in inspect.signature(func).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds


@pytest.mark.parametrize("call", [
    lambda: cohorts_from_history(HISTORY, IDS, categoris="haard"),
    lambda: match_areas(make_panel(), make_cohorts(), covariates=["cov1"], calliper=0.2),
    lambda: minimum_detectable_effect(_design(), powr=0.8),
    lambda: attach_cohort(make_panel(), make_cohorts(), areas="OMR_ID"),
], ids=["categoris", "calliper", "powr", "areas"])
def test_misspelled_keywords_raise(call):
    """A misspelled keyword is a ParameterError that names the closest valid keyword."""
    with pytest.raises(ParameterError, match="has no parameter .*Did you mean"):
        call()
