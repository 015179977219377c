"""Every area outcome (issue 15, part 5): the young people's share and the movers' composition by hand
on a tiny register, small mover groups suppressed at the source, the simulator's truth of every outcome
equal to the panel built from its data, and the letting rule's effect on in-movers recovered by TWFE
and Callaway-Sant'Anna with the truth inside the 95 % interval."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit import att_gt, twfe
from evalkit.data import _sim_params as P
from evalkit.data.composition import composition_sql
from evalkit.data.outcomes import OUTCOMES, check_outcome, outcome_labels, outcome_panel
from evalkit.data.panels import build_area_panel, open_microdata
from evalkit.data.simulate import _simulate_worlds, simulate_sized
from evalkit.data.truth import area_truth
from evalkit.domain.timing import attach_cohort, treatment_cohorts
from evalkit.errors import EvalkitError, ParameterError
from evalkit.estimators.staggered import aggregate

SEED = 2024


def person(pid, year, born, area, herkomst="dansk", besk=1.0, uddfte=0.0, income=300_000.0):
    return dict(PERSON_ID=pid, AAR=year, FOED_AAR=born, KOEN=1, HERKOMST=herkomst, IE_TYPE=1, HFAUDD="grundskole",
                OMR_ID=area, REGION=1084, BESK_FTE=besk, UDD_FTE=uddfte, UDENFOR_FTE=1.0 - besk - uddfte,
                PERINDKIALT=income, DOMFAELDT=0)


@pytest.fixture
def tiny() -> pd.DataFrame:
    nw = "ikke_vestlig"
    rows = [
        person("a", 2015, 1980, 1),                                   # 35, employed; moves out in 2016
        person("b", 2015, 1990, 1, besk=0.0),                         # 25, outside; stays
        person("c", 2015, 1995, 1, besk=0.0, uddfte=1.0, herkomst=nw),  # 20, student; dies (no 2016 row)
        person("d", 2015, 1945, 1, besk=0.0),                         # 70; stays
        person("x", 2015, 1975, 2, besk=0.5, herkomst=nw),            # 40, area 2; moves to area 1
        person("a", 2016, 1980, None),
        person("b", 2016, 1990, 1, besk=0.0),
        person("d", 2016, 1945, 1, besk=0.0),
        person("x", 2016, 1975, 1, besk=1.0, herkomst=nw),            # in-mover from area 2
        person("n", 2016, 1986, 1, besk=0.0, uddfte=0.25),            # 30, new in the register: an in-mover
        person("k", 2016, 2000, 1, besk=0.0, uddfte=1.0, herkomst=nw),  # 16: in-mover outside 18-64
    ]
    frame = pd.DataFrame(rows)
    frame["OMR_ID"] = frame["OMR_ID"].astype("Int64")
    return frame


# --- (a) hand computations on a tiny register ------------------------------------------------------

def test_mover_composition_by_hand(tiny):
    before = tiny.copy(deep=True)
    md = open_microdata(tiny)
    raw = md.con.execute(composition_sql(md.relation)).df().set_index(["OMR_ID", "AAR"])
    pd.testing.assert_frame_equal(tiny, before)
    one = raw.loc[(1, 2016)]
    assert one["n_in_movers"] == 2                                  # x (from area 2) and n (new); k is 16
    assert one["in_emp_edu_share"] == pytest.approx((1.0 + 0.25) / 2)
    assert one["in_nonwestern_share"] == pytest.approx(1 / 2)
    assert one["n_out_movers"] == 1                                 # a; c died, which is not a move
    assert one["out_emp_edu_share"] == pytest.approx(1.0)            # a's status in 2015, the last year there
    assert one["out_nonwestern_share"] == pytest.approx(0.0)
    two = raw.loc[(2, 2016)]                                       # emptied area: kept, from its out-mover
    assert two["n_in_movers"] == 0 and pd.isna(two["in_emp_edu_share"])
    assert two["n_out_movers"] == 1 and two["out_emp_edu_share"] == pytest.approx(0.5)
    assert two["out_nonwestern_share"] == pytest.approx(1.0)
    first = raw.loc[(1, 2015)]                                      # no previous year: unknown, not zero
    assert first[["n_in_movers", "in_emp_edu_share", "n_out_movers", "out_emp_edu_share"]].isna().all()


def test_youth_share_by_hand(tiny):
    panel = build_area_panel(tiny).set_index(["OMR_ID", "AAR"])
    assert panel.loc[(1, 2015), "residents_15_24"] == 1            # c (20); b is 25
    assert panel.loc[(1, 2015), "youth_emp_edu_share"] == pytest.approx(1.0)
    assert panel.loc[(1, 2016), "residents_15_24"] == 1            # k (16), in school
    capped = tiny.assign(UDD_FTE=np.where(tiny["PERSON_ID"] == "k", 0.75, tiny["UDD_FTE"]),
                         BESK_FTE=np.where(tiny["PERSON_ID"] == "k", 0.5, tiny["BESK_FTE"]),
                         UDENFOR_FTE=np.where(tiny["PERSON_ID"] == "k", 0.0, tiny["UDENFOR_FTE"]))
    assert build_area_panel(capped, validate=False).set_index(["OMR_ID", "AAR"]).loc[
        (1, 2016), "youth_emp_edu_share"] == pytest.approx(1.0)       # 0.5 + 0.75 counts one full year


# --- (d) disclosure at the source ------------------------------------------------------------------

def test_small_mover_groups_are_suppressed_at_the_source(tiny):
    before = tiny.copy(deep=True)
    panel = outcome_panel(tiny, min_cell=3).set_index(["OMR_ID", "AAR"])
    pd.testing.assert_frame_equal(tiny, before)
    assert len(panel) == 4                                          # (1, 2015), (1, 2016), (2, 2015), (2, 2016)
    one = panel.loc[(1, 2016)]
    assert one["in_movers_suppressed"] and one["out_movers_suppressed"] and one["youth_suppressed"]
    shown = ["n_in_movers", "in_emp_edu_share", "in_nonwestern_share", "n_out_movers", "out_emp_edu_share",
             "out_nonwestern_share", "residents_15_24", "youth_emp_edu_share"]
    assert one[shown].isna().all()
    two = panel.loc[(2, 2016)]
    assert two["n_in_movers"] == 0 and not two["in_movers_suppressed"]   # zero persons reveal nobody
    assert two["out_movers_suppressed"] and np.isnan(two["residents"])   # row kept, no residents
    assert not panel.loc[(1, 2015), "in_movers_suppressed"]              # unknown (first year), not small


def test_mover_groups_at_the_threshold_are_shown(tiny):
    extra = [person(f"m{i}", 2016, 1980, 1, besk=float(i % 2)) for i in range(2)]
    frame = pd.concat([tiny, pd.DataFrame(extra).astype({"OMR_ID": "Int64"})], ignore_index=True)
    row = outcome_panel(frame, min_cell=4).set_index(["OMR_ID", "AAR"]).loc[(1, 2016)]
    assert row["n_in_movers"] == 4 and not row["in_movers_suppressed"]
    assert row["in_emp_edu_share"] == pytest.approx((1.0 + 0.25 + 0.0 + 1.0) / 4)
    assert row["out_movers_suppressed"] and np.isnan(row["n_out_movers"])


def test_labels_and_attrs(tiny):
    panel = outcome_panel(tiny, min_cell=3)
    assert set(OUTCOMES) <= set(panel.columns)
    labels = panel.attrs["labels"]
    assert labels["in_emp_edu_share"]["da"].startswith("Tilflytteres") and labels["in_emp_edu_share"]["en"]
    assert all(labels[o]["da"] != o and labels[o]["en"] != o for o in OUTCOMES)
    assert outcome_labels("en")["n_in_movers"] == "In-movers 18-64"
    assert list(outcome_panel(tiny, outcomes="in_emp_edu_share", min_cell=3).columns[-4:]) == [
        "in_emp_edu_share", "in_movers_suppressed", "out_movers_suppressed", "youth_suppressed"]


# --- (c) bad input -------------------------------------------------------------------------------

def test_an_outcome_that_is_not_an_indicator_names_the_allowed_ones(tiny):
    with pytest.raises(ParameterError, match="not an area outcome") as err:
        outcome_panel(tiny, outcomes=["employment_rate", "income"])
    assert all(o in str(err.value) for o in OUTCOMES)
    with pytest.raises(ParameterError, match="Did you mean 'in_emp_edu_share'"):
        check_outcome("in_emp_edu_shares")
    for bad in (None, 3, ["k1_share"]):
        with pytest.raises(EvalkitError, match="choose one of"):
            check_outcome(bad)
    with pytest.raises(ParameterError, match="non-empty list"):
        outcome_panel(tiny, outcomes=[])
    for min_cell in (2, 5.0, True):
        with pytest.raises(ParameterError, match="min_cell"):
            outcome_panel(tiny, min_cell=min_cell)


# --- the simulator: truth of every outcome, the letting rule --------------------------------------

@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate_sized(tmp_path_factory.mktemp("outcomes") / "sim", seed=SEED, size="small", chunk_persons=250_000,
                          progress=False, n_outside=500)


@pytest.fixture(scope="module")
def panel(sim):
    return outcome_panel(sim)


@pytest.fixture(scope="module")
def effects(sim):
    return pd.read_parquet(sim / "truth" / "area_effects.parquet")


def test_truth_of_every_outcome_equals_the_panel(panel, effects):
    """The treated world's value in the truth file is the panel's value, area-year by area-year."""
    for outcome in OUTCOMES:
        e = effects[effects["outcome"] == outcome].merge(panel[["OMR_ID", "AAR", outcome]], on=["OMR_ID", "AAR"],
                                                          how="outer", validate="one_to_one")
        assert len(e) == 80 * 15, outcome
        assert (e["y_treated_world"].isna() == e[outcome].isna()).all(), outcome
        assert np.nanmax(np.abs(e["y_treated_world"] - e[outcome])) < 1e-12, outcome
    assert panel.loc[panel["AAR"] > 2010, "n_in_movers"].min() > 50          # no small cells in the demo
    assert not panel[["in_movers_suppressed", "out_movers_suppressed", "youth_suppressed"]].any().any()


def test_letting_rule_design_and_truth(sim, effects):
    iv = pd.read_csv(sim / "interventions.csv")
    let = iv[iv["intervention"] == P.LETTING]
    assert sorted(let["start_year"].value_counts().items()) == [(2018, 4), (2020, 4)]
    assert not set(let["OMR_ID"]) & set(iv.loc[iv["intervention"] != P.LETTING, "OMR_ID"])
    doc = json.loads((sim / "truth" / "truth.json").read_text())
    assert doc["parameters"][P.LETTING]["employment_probability_delta"] == P.LETTING_DELTA
    truth = area_truth(sim, P.LETTING, "in_emp_edu_share").set_index("event_time")["effect"]
    assert (truth.loc[truth.index < 0] == 0).all() and truth.loc[0:].between(0.025, 0.06).all()
    assert abs(area_truth(sim, P.LETTING, "in_nonwestern_share").query("event_time >= 0")["effect"].mean()) < 0.005
    free = ~effects["OMR_ID"].isin(iv["OMR_ID"]) & (effects["outcome"] == "in_emp_edu_share")
    assert (effects.loc[free, "effect"].fillna(0) == 0).all()
    with pytest.raises(ParameterError, match="in_emp_edu_share"):
        area_truth(sim, P.LETTING, "in_mover_share")


def _letting_panel(panel, sim, outcome, effects):
    iv = pd.read_csv(sim / "interventions.csv")
    cohorts = treatment_cohorts(iv, panel["OMR_ID"], intervention=P.LETTING, comparison="never_treated_no_other")
    data = attach_cohort(panel.dropna(subset=[outcome]), cohorts)
    return data.merge(effects.loc[effects["outcome"] == outcome, ["OMR_ID", "AAR", "effect"]], on=["OMR_ID", "AAR"])


def test_letting_rule_effect_on_in_movers_is_recovered(panel, sim, effects):
    """TWFE and CS (never-treated areas without other interventions) cover the truth: the mean true
    effect over the treated post-period area-years (equal cohort sizes, so also CS's simple weights)."""
    data = _letting_panel(panel, sim, "in_emp_edu_share", effects)
    truth = data.loc[data["treat"] == 1, "effect"].mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = twfe(data, outcome="in_emp_edu_share", unit="OMR_ID", time="AAR", treatment="treat", cluster="OMR_ID")
        cs = aggregate(att_gt(data, outcome="in_emp_edu_share", unit="OMR_ID", time="AAR", cohort="cohort",
                              control_group="never", cluster="OMR_ID"), "simple")
    for result in (fit, cs):
        row = result.tidy().iloc[0]
        assert row["conf_low"] <= truth <= row["conf_high"], (result, truth)
    assert fit.tidy().iloc[0]["conf_low"] > 0       # TWFE detects it (CS, on one base year, is noisier)
    assert 0.03 < truth < 0.05


def test_letting_rule_uses_its_own_random_stream(monkeypatch):
    """Without the rule, persons who never lived in a letting-rule area are simulated exactly alike."""
    areas, iv, _, rec1, _ = _simulate_worlds(SEED, lambda s: None)
    monkeypatch.setattr(P, "LETTING_COHORTS", {})
    _, iv0, _, rec0, _ = _simulate_worlds(SEED, lambda s: None)
    pd.testing.assert_frame_equal(iv0, iv[iv["intervention"] != P.LETTING].reset_index(drop=True))
    let = set(iv.loc[iv["intervention"] == P.LETTING, "OMR_ID"])
    touched = np.unique(np.concatenate([r["id"][np.isin(r["omr"], list(let))] for w in (rec1, rec0)
                                        for r in w.values()]))
    for year in rec1:
        a, b = (take(w[year], ~np.isin(w[year]["id"], touched)) for w in (rec1, rec0))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), year


def take(rec: dict, mask: np.ndarray) -> dict:
    return {k: v[mask] for k, v in rec.items()}
