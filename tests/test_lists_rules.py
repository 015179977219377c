"""Rule engine: hand-built indicator tables at every threshold edge, regime switches,
the 1,000-resident floor and the hård ghetto / omdannelse duration rule (almenboligloven §§ 61 a, 61 b)."""
from __future__ import annotations

import pandas as pd
import pytest

from evalkit import AreaIndicators, ListRules, compute_lists, list_history, load_thresholds
from evalkit.domain.rules import compare, source_years
from evalkit.domain.thresholds import parse_threshold, parse_window
from evalkit.errors import EvalkitError, ParameterError

BASE = dict(residents=1500, n_18_64=900, k1_fte=0.2, k1_headcount=0.2, n_18plus=1100, k2=0.005,
            n_30_59=500, n_30_59_known=450, k3_unknown_basic=0.3, k3_unknown_excluded=0.3,
            k3_unknown_not_basic=0.3, n_taxpayers_15_64=800, income_mean=250e3, region_income_mean=300e3,
            k4=0.9, nw=0.2, REGION=1084)


def indicators(areas: dict[int, dict], years=range(2008, 2025), national=0.009) -> AreaIndicators:
    """``areas``: OMR_ID -> {column: value or {year: value}}; unset columns take BASE."""
    rows = []
    for omr, spec in areas.items():
        for year in years:
            row = {"OMR_ID": omr, "AAR": year, **BASE}
            for col, value in spec.items():
                row[col] = value.get(year, BASE.get(col)) if isinstance(value, dict) else value
            rows.append(row)
    nat = pd.DataFrame({"AAR": list(years), "conviction_share": national, "n_18plus": 10**6})
    return AreaIndicators.from_frames(pd.DataFrame(rows), nat)


def crit(res, year, omr, criterion_id):
    c = res.criteria
    return c.loc[(c["list_year"] == year) & (c["OMR_ID"] == omr) & (c["criterion_id"] == criterion_id)].iloc[0]


def on_list(res, year, omr, category) -> bool:
    h = res.history
    return bool(((h["list_year"] == year) & (h["OMR_ID"] == omr) & (h["category"] == category)).any())


# --- thresholds and primitives -------------------------------------------------------------

def test_packaged_thresholds_parse_with_sources():
    t = load_thresholds()
    by_id = {(c.regime, c.criterion_id): c for c in t.criteria}
    assert by_id[("2010", "C2_convicted")].threshold == pytest.approx(0.027)
    assert by_id[("2010", "C1_no_attachment")].window == 4
    assert by_id[("2018", "K2_convicted")].relative_to == "national"
    assert by_id[("2018", "K2_convicted")].comparison == ">="
    assert by_id[("2021", "F4_income")].threshold == pytest.approx(0.65)
    assert by_id[("2021", "K3_basic_education")].threshold == pytest.approx(0.60)  # copied from 2018 rows
    assert all(c.source.startswith("http") for c in t.criteria)
    assert t.regime_of(2012) == "2010" and t.regime_of(2013) == "2013" and t.regime_of(2021) == "2021"


def test_threshold_text_parsing():
    assert parse_threshold("270 per 10000 (=0.027)") == (0.027, None)
    assert parse_threshold("2 x national average (reported as 1.45% for one list)") == (2.0, "national")
    assert parse_threshold("0.027 (fixed)") == (0.027, None)
    assert parse_window("mean of latest 2 years (area and national)") == 2
    assert parse_window("point-in-time") == 1


def test_compare_is_strict_or_not_as_the_law_says():
    assert not compare([0.40], ">", 0.40, 1e-12)[0]          # overstiger
    assert compare([0.027], ">=", 3 * 0.009, 1e-12)[0]       # mindst (3 * 0.009 = 0.027000000000000003)
    assert not compare([0.55], "<", 0.55, 1e-12)[0]          # mindre end
    assert not compare([float("nan")], ">=", 0.0, 1e-12)[0]


def test_year_mapping():
    assert source_years(2019, "k1", 2) == (2017, 2018)
    assert source_years(2012, "k1", 4) == (2008, 2009, 2010, 2011)
    assert source_years(2019, "k3", 1) == (2018,)
    assert source_years(2019, "nw", 1) == (2019,)


# --- threshold edges (2018 regime, list 2019) ----------------------------------------------

def test_k1_exactly_040_is_not_over_040():
    ind = indicators({1: dict(k1_fte=0.40, k3_unknown_basic=0.7), 2: dict(k1_fte=0.40 + 1e-9, k3_unknown_basic=0.7)})
    res = compute_lists(ind, list_years=[2019])
    assert not crit(res, 2019, 1, "K1_no_attachment")["met"]
    assert crit(res, 2019, 1, "K1_no_attachment")["margin"] == pytest.approx(0.0)
    assert crit(res, 2019, 2, "K1_no_attachment")["met"]
    assert not on_list(res, 2019, 1, "udsat_boligomraade") and on_list(res, 2019, 2, "udsat_boligomraade")


def test_k2_exactly_three_times_national_is_at_least():
    ind = indicators({1: dict(k2=0.027, k1_fte=0.5), 2: dict(k2=0.0269, k1_fte=0.5)}, national=0.009)
    res = compute_lists(ind, list_years=[2019])
    row = crit(res, 2019, 1, "K2_convicted")
    assert row["met"] and row["threshold"] == pytest.approx(0.027) and row["reference"] == pytest.approx(0.009)
    assert row["multiplier"] == 3.0
    assert not crit(res, 2019, 2, "K2_convicted")["met"]
    assert on_list(res, 2019, 1, "udsat_boligomraade") and not on_list(res, 2019, 2, "udsat_boligomraade")


def test_k2_national_reference_is_averaged_over_two_years():
    ind = indicators({1: dict(k2=0.03)}, national=0.009)
    nat = ind.national.assign(conviction_share=lambda d: d["AAR"].map({2017: 0.008, 2018: 0.012}).fillna(0.009))
    res = compute_lists(AreaIndicators.from_frames(ind.area_years, nat), list_years=[2019])
    assert crit(res, 2019, 1, "K2_convicted")["threshold"] == pytest.approx(3 * 0.010)


@pytest.mark.parametrize("column,criterion,edge,inside", [
    ("k3_unknown_basic", "K3_basic_education", 0.60, 0.6001),
    ("k4", "K4_income", 0.55, 0.5499),
])
def test_k3_k4_edges(column, criterion, edge, inside):
    ind = indicators({1: {column: edge, "k1_fte": 0.5}, 2: {column: inside, "k1_fte": 0.5}})
    res = compute_lists(ind, list_years=[2019])
    assert not crit(res, 2019, 1, criterion)["met"] and crit(res, 2019, 2, criterion)["met"]
    assert crit(res, 2019, 2, criterion)["margin"] > 0
    assert not on_list(res, 2019, 1, "udsat_boligomraade") and on_list(res, 2019, 2, "udsat_boligomraade")


def test_nonwestern_exactly_050_is_not_ghetto():
    udsat = dict(k1_fte=0.5, k4=0.5)
    ind = indicators({1: dict(udsat, nw=0.50), 2: dict(udsat, nw=0.5001)})
    res = compute_lists(ind, list_years=[2019])
    assert on_list(res, 2019, 1, "udsat_boligomraade") and not on_list(res, 2019, 1, "ghettoomraade")
    assert on_list(res, 2019, 2, "ghettoomraade")


def test_resident_floor_999_vs_1000():
    udsat = dict(k1_fte=0.5, k4=0.5, nw=0.6)
    ind = indicators({1: dict(udsat, residents={2019: 999}), 2: dict(udsat, residents={2019: 1000})})
    res = compute_lists(ind, list_years=[2019])
    assert not on_list(res, 2019, 1, "udsat_boligomraade") and not on_list(res, 2019, 1, "ghettoomraade")
    assert on_list(res, 2019, 2, "ghettoomraade")
    # the floor is the residents on 1 January of the list year: 999 in 2018 does not matter for 2019
    ind = indicators({1: dict(udsat, residents={2018: 999})})
    assert on_list(compute_lists(ind, list_years=[2019]), 2019, 1, "udsat_boligomraade")


def test_2013_floor_and_three_of_five():
    ghetto = dict(k1_headcount=0.45, nw=0.55, k3_unknown_basic=0.55)  # 3 of 5
    ind = indicators({1: dict(ghetto, residents=999), 2: dict(ghetto, residents=1000),
                      3: dict(ghetto, k3_unknown_basic=0.50)})              # basic exactly 0.50: 2 of 5
    res = compute_lists(ind, list_years=[2015])
    assert [on_list(res, 2015, a, "ghettoomraade") for a in (1, 2, 3)] == [False, True, False]


def test_averaged_window_uses_the_two_preceding_years():
    ind = indicators({1: dict(k1_fte={2017: 0.5, 2018: 0.5, 2019: 0.1}, k4=0.5)})
    row = crit(compute_lists(ind, list_years=[2019]), 2019, 1, "K1_no_attachment")
    assert row["years"] == "2017-2018" and row["value"] == pytest.approx(0.5) and row["met"]
    row = crit(compute_lists(ind, list_years=[2020]), 2020, 1, "K1_no_attachment")
    assert row["value"] == pytest.approx(0.3)


# --- regimes ---------------------------------------------------------------------------------

def test_regime_switches_2012_2013_2018_2021():
    # area 1: K1, NW, basic -> ghetto under every regime
    # area 2: K1 and convictions, NW 0.35 -> 2010 ghetto (2 of 3), not 2013 (2 of 5), udsat from 2018
    a1 = dict(k1_headcount=0.45, k1_fte=0.45, nw=0.55, k3_unknown_basic=0.65, k4=0.6)
    a2 = dict(k1_headcount=0.45, k1_fte=0.45, k2=0.03, nw=0.35)
    res = compute_lists(indicators({1: a1, 2: a2}), list_years=[2012, 2013, 2018, 2021])
    regimes = res.status.drop_duplicates("list_year").set_index("list_year")["regime"].to_dict()
    assert regimes == {2012: "2010", 2013: "2013", 2018: "2018", 2021: "2021"}
    assert [on_list(res, y, 1, "ghettoomraade") for y in (2012, 2013, 2018)] == [True, True, True]
    assert on_list(res, 2021, 1, "parallelsamfund") and on_list(res, 2021, 1, "udsat_boligomraade")
    assert on_list(res, 2012, 2, "ghettoomraade") and not on_list(res, 2013, 2, "ghettoomraade")
    assert on_list(res, 2018, 2, "udsat_boligomraade") and not on_list(res, 2018, 2, "ghettoomraade")
    assert crit(res, 2012, 1, "C1_no_attachment")["years"] == "2008-2011"      # 4-year mean in 2010
    assert crit(res, 2013, 1, "C1_no_attachment")["column"] == "k1_headcount"   # headcount before 2018
    assert crit(res, 2018, 1, "K1_no_attachment")["column"] == "k1_fte"         # full-time persons from 2018
    # forebyggelse: area 2 is udsat, so not forebyggelse unless the open rule says otherwise
    assert not on_list(res, 2021, 2, "forebyggelsesomraade")
    both = compute_lists(indicators({2: a2}), list_years=[2021], rules=ListRules(forebyggelse_excludes_udsat=False))
    assert on_list(both, 2021, 2, "forebyggelsesomraade")


def test_forebyggelse_thresholds():
    f = dict(nw=0.31, k1_fte=0.31, k2=0.018)  # F1 > 0.30 and F2 >= 2 x 0.009, not udsat
    res = compute_lists(indicators({1: f, 2: dict(f, nw=0.30), 3: dict(f, k2=0.0179)}), list_years=[2022])
    assert [on_list(res, 2022, a, "forebyggelsesomraade") for a in (1, 2, 3)] == [True, False, False]


def test_2013_counts_unknown_education_as_basic_whatever_the_open_rule():
    a = dict(k1_headcount=0.45, nw=0.55, k3_unknown_basic=0.55, k3_unknown_excluded=0.45)
    res = compute_lists(indicators({1: a}), list_years=[2015, 2019], rules=ListRules(unknown_education="excluded"))
    assert crit(res, 2015, 1, "C4_basic_education")["column"] == "k3_unknown_basic"
    assert crit(res, 2019, 1, "K3_basic_education")["column"] == "k3_unknown_excluded"
    assert crit(res, 2019, 1, "K3_basic_education")["n_persons"] == 450  # n_30_59_known


def test_forced_regime_applies_its_rules_to_every_year():
    res = compute_lists(indicators({1: dict(k1_fte=0.5, k4=0.5)}), list_years=[2015], regime="2018")
    assert on_list(res, 2015, 1, "udsat_boligomraade")


# --- duration rule across the regime change ------------------------------------------------

def test_hard_ghetto_counts_lists_under_the_2013_rules():
    ghetto13 = dict(k1_headcount=0.45, k1_fte=0.45, nw=0.55, k3_unknown_basic=0.65)   # ghetto in both regimes
    late = dict(ghetto13, nw={y: 0.2 if y < 2015 else 0.55 for y in range(2008, 2025)})      # ghetto from the 2015 list
    ind = indicators({1: ghetto13, 2: late}, years=range(2012, 2025))
    res = compute_lists(ind)                                        # lists 2014-2024
    assert res.status["list_year"].min() == 2014
    assert all(on_list(res, y, 1, "ghettoomraade") for y in range(2014, 2018))
    assert on_list(res, 2018, 1, "haardt_ghettoomraade")            # ghetto 2014-2018: 5 lists
    assert not on_list(res, 2018, 2, "haardt_ghettoomraade")        # ghetto 2015-2018: 4 lists
    assert on_list(res, 2019, 2, "haardt_ghettoomraade")
    assert on_list(res, 2021, 2, "omdannelsesomraade")
    four = compute_lists(ind, rules=ListRules(hard_years_2018=4))   # the 2018 law's 4 years
    assert on_list(four, 2018, 2, "haardt_ghettoomraade")
    # nesting: omdannelse/hård are parallelsamfund/ghetto, which are udsat
    h = list_history(res, wide=True)
    assert h.loc[1, 2018] == "haardt_ghettoomraade" and h.loc[1, 2021] == "omdannelsesomraade"


def test_duration_unknown_when_history_is_too_short_and_prior_history_fills_it():
    ghetto = dict(k1_fte=0.45, nw=0.55, k3_unknown_basic=0.65)
    ind = indicators({1: ghetto}, years=range(2016, 2025))         # lists 2018-2024
    res = compute_lists(ind)
    row = res.status.loc[res.status["list_year"] == 2018].iloc[0]
    assert not row["haardt_ghettoomraade"] and not row["duration_known"]
    assert on_list(res, 2022, 1, "omdannelsesomraade")              # 2018-2022 computed
    prior = pd.DataFrame({"list_year": [2014, 2015, 2016, 2017], "OMR_ID": 1, "category": "ghettoomraade"})
    res = compute_lists(ind, prior_history=prior)
    assert on_list(res, 2018, 1, "haardt_ghettoomraade")


# --- bad input ------------------------------------------------------------------------------

def test_unknown_regime_lists_the_allowed_ones():
    with pytest.raises(ParameterError, match=r"regime='2019'.*\['auto', '2010', '2013', '2018', '2021'\]"):
        compute_lists(indicators({1: {}}), regime="2019")


def test_list_year_outside_the_data():
    with pytest.raises(ParameterError, match="list year 2010 .*needs register years"):
        compute_lists(indicators({1: {}}, years=range(2012, 2025)), list_years=[2010])


def test_bad_open_rule_values():
    with pytest.raises(ParameterError, match="unknown_education"):
        ListRules(unknown_education="maybe")
    with pytest.raises(EvalkitError, match="hard_years_2018"):
        ListRules(hard_years_2018=0)


def test_inputs_are_not_mutated_and_result_renders():
    ind = indicators({1: dict(k1_fte=0.5, k4=0.5)})
    before = ind.area_years.copy(deep=True)
    res = compute_lists(ind)
    pd.testing.assert_frame_equal(ind.area_years, before)
    assert "ListResult" in res._repr_html_() and "AreaIndicators" in ind._repr_html_()
    with pytest.raises(AttributeError):
        res.history = None  # frozen


def test_hand_made_indicator_frames_are_checked():
    ind = indicators({1: {}})
    with pytest.raises(EvalkitError, match="one row per"):
        AreaIndicators.from_frames(pd.concat([ind.area_years, ind.area_years.iloc[[0]]]), ind.national)
    with pytest.raises(EvalkitError, match=r"lack column\(s\) \['k4'\]"):
        compute_lists(AreaIndicators.from_frames(ind.area_years.drop(columns="k4"), ind.national), list_years=[2019])


def test_own_thresholds_file(tmp_path):
    from importlib import resources

    text = resources.files("evalkit.domain").joinpath("data/criteria_thresholds_by_regime.csv").read_text()
    own = pd.read_csv(pd.io.common.StringIO(text), dtype=str)
    own.loc[own["criterion_id"] == "K1_no_attachment", "threshold"] = "0.45"
    own.to_csv(tmp_path / "own.csv", index=False)
    ind = indicators({1: dict(k1_fte=0.44, k4=0.5)})
    assert on_list(compute_lists(ind, list_years=[2019]), 2019, 1, "udsat_boligomraade")
    assert not on_list(compute_lists(ind, list_years=[2019], thresholds=tmp_path / "own.csv"), 2019, 1,
                       "udsat_boligomraade")
    own.loc[own["criterion_id"] == "K1_no_attachment", "criterion_id"] = "K1_jobless"
    own.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(EvalkitError, match="unknown indicator 'jobless'"):
        load_thresholds(tmp_path / "bad.csv")
