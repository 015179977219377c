"""tabulate (statistics that carry their persons) and the publication ledger (differencing
across tables): every rule of evalkit.report.sdc has a test that fails without it."""
import numpy as np
import pandas as pd
import pytest

from evalkit import seal
from evalkit.errors import ColumnError, ParameterError, ValidationError
from evalkit.report.disclosure import DisclosureError, SafeTable, count_persons, safe_table
from evalkit.report.sdc import (LEDGER, PublicationLedger, cell_statistic, check_dominance, dominated,
                                percentile_of_many, tabulate)


@pytest.fixture(autouse=True)
def fresh_ledger():
    LEDGER.reset()
    yield
    LEDGER.reset()


def _people(sizes: dict, *, years=(2020,), seed=0) -> pd.DataFrame:
    """Person-year microdata: ``sizes`` persons per area, one row per person and year."""
    rng = np.random.default_rng(seed)
    rows = []
    for area, n in sizes.items():
        for i in range(n):
            income = float(rng.gamma(4, 60_000))
            rows += [{"PERSON_ID": f"{area}{i:03d}", "area": area, "year": y, "income": income,
                      "employed": int(rng.random() < 0.6)} for y in years]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ counting and statistics
def test_tabulate_counts_persons_not_rows():
    micro = _people({"a": 8, "b": 20}, years=(2019, 2020, 2021))
    before = micro.copy(deep=True)
    t = tabulate(micro, "area", values={"income": "mean"}, round_base=None)
    assert isinstance(t, SafeTable) and t.kind == "counts"
    assert t.table["persons"].tolist() == [10, 20]  # 8 persons (24 rows) -> near rounding to 10
    t_exact = tabulate(micro, "area", min_cell=3, dominance=None)
    assert t_exact.table.set_index("area")["persons"].to_dict() == {"a": 8, "b": 20}  # 24 rows of a
    keyless = micro.assign(PERSON_ID=lambda d: d["PERSON_ID"].where(~d["PERSON_ID"].isin(["a000", "a001"])))
    LEDGER.reset()  # 6 next to the 8 published above would be a differencing risk
    raw = tabulate(keyless, "area", min_cell=3)
    assert raw.table["persons"].tolist() == [6, 20]  # rows without a key are not persons
    pd.testing.assert_frame_equal(micro, before)  # never mutates
    for out in (t.html, t.text, str(t.table.columns.tolist())):
        assert "PERSON_ID" not in out and "a001" not in out


def test_tabulate_shows_sealed_statistics():
    micro = _people({"a": 30, "b": 40})
    t = tabulate(micro, ["area"], values={"income": ["mean", "sum", "median"], "employed": "share"}, digits=2)
    expected = micro.groupby("area")["income"].mean()
    assert np.allclose(t.table["income_mean"], expected.to_numpy())
    assert np.allclose(t.table["employed_share"], micro.groupby("area")["employed"].mean().to_numpy())
    data, meta = t._repr_mimebundle_()
    assert seal.verify(data, meta, seal._init()["key"])["n_suppressed"] == 0
    import evalkit.report as er

    assert er.tabulate is tabulate  # the analysts' name for it


def test_statistic_over_fewer_persons_than_min_cell_is_suppressed_at_the_source():
    micro = _people({"a": 6, "b": 30})
    micro["employed"] = (micro["area"] == "a").astype(int)  # a: all 6 employed, b: none (no small count)
    micro.loc[micro["area"].eq("a") & (micro.index % 2 == 1), "income"] = np.nan  # 3 of a's 6 have an income
    t = tabulate(micro, "area", values={"income": ["mean", "median"], "employed": "mean"}, round_base=None)
    row = t.table.set_index("area").loc["a"]
    assert row["persons"] == 5 and pd.isna(row["income_mean"]) and pd.isna(row["income_median"])  # 6 -> "near" 5
    assert row["employed_mean"] == 1.0  # all 6 have a value
    assert t.suppressed.set_index(t.table["area"]).loc["a", "income_mean"]  # marked ".."
    assert t.n_statistics_suppressed == 2 and t.n_suppressed == 0 and "<td>..</td>" in t.html
    assert "dominated by a few persons" in t.html


def test_row_with_a_suppressed_count_has_its_statistics_blanked():
    micro = _people({"a": 4, "b": 30, "c": 40})
    t = tabulate(micro, "area", values={"income": "mean"}, margins=True, round_base=None)
    shown = t.table.set_index("area")
    assert pd.isna(shown.loc["a", "persons"]) and pd.isna(shown.loc["a", "income_mean"])
    assert pd.isna(shown.loc["b", "persons"]) and pd.isna(shown.loc["b", "income_mean"])  # the complement
    assert shown.loc["Total", "persons"] == 74 and shown.loc["c", "persons"] == 40
    assert t.suppressed.loc[0, "income_mean"] and t.suppressed.loc[1, "income_mean"]


def test_missing_by_values_form_their_own_group():
    micro = _people({"a": 10, "b": 12})
    micro.loc[micro["area"] == "b", "area"] = None
    t = tabulate(micro, "area", round_base=None)
    assert len(t.table) == 2 and t.table["persons"].tolist() == [10, 12] and pd.isna(t.table["area"].iloc[1])


def test_median_is_the_mean_of_min_cell_nearest_values():
    values = [1, 2, 3, 4, 10, 20, 30, 100, 200]
    micro = pd.DataFrame({"PERSON_ID": [f"p{i}" for i in range(9)], "g": "x", "income": values})
    t = tabulate(micro, "g", values={"income": ["median", "p10", "p90"]}, dominance=None)
    row = t.table.iloc[0]
    assert row["income_median"] == pytest.approx((3 + 4 + 10 + 20 + 30) / 5)  # not the person with 10
    assert row["income_p10"] == pytest.approx((1 + 2 + 3 + 4 + 10) / 5)
    assert row["income_p90"] == pytest.approx((10 + 20 + 30 + 100 + 200) / 5)
    assert 10 not in t.table.iloc[0, 2:].tolist()


def test_percentile_window_needs_min_cell_distinct_persons():
    values = np.array([1.0, 50, 50, 50, 50, 50, 60, 70, 90])  # one person holds five middle values
    persons = np.array([0, 1, 1, 1, 1, 1, 2, 3, 4])
    assert percentile_of_many(values, persons, 0.5, 5) == pytest.approx(values.mean())  # widened to all
    assert np.isnan(cell_statistic("median", values, persons, 6)[0])
    assert cell_statistic("median", np.arange(5.0), np.arange(5), 5) == (2.0, False)
    assert cell_statistic("p25", np.arange(4.0), np.arange(4), 5)[1]  # 4 persons: refused


@pytest.mark.parametrize("stat", ["min", "max"])
def test_min_and_max_are_refused(stat):
    with pytest.raises(DisclosureError, match="one person's value.*percentile"):
        tabulate(_people({"a": 30}), "area", values={"income": ["mean", stat]})


def test_dominance_suppresses_a_cell_where_one_person_earns_90_percent():
    micro = _people({"a": 20, "b": 20}, years=(2020, 2021))
    rich = micro["PERSON_ID"] == "a000"
    others = micro.loc[micro["area"].eq("a") & ~rich, "income"].sum()
    micro.loc[rich, "income"] = 9 * others / 2  # two rows: 90 % of area a's income
    micro["employed"] = micro["PERSON_ID"].str[-1].astype(int) % 2  # 10 of 20 employed in each area
    t = tabulate(micro, "area", values={"income": ["sum", "mean", "median"], "employed": "mean"})
    shown = t.table.set_index("area")
    assert pd.isna(shown.loc["a", "income_sum"]) and pd.isna(shown.loc["a", "income_mean"])
    assert not pd.isna(shown.loc["a", "income_median"]) and not pd.isna(shown.loc["a", "employed_mean"])
    assert not pd.isna(shown.loc["b", "income_sum"]) and shown.loc["a", "persons"] == 20
    off = tabulate(micro, "area", values={"income": "sum"}, dominance=None)
    assert not off.table["income_sum"].isna().any()
    assert dominated(np.array([90.0, 5, 5]), np.array([0, 1, 2]), 1, 0.85)
    assert not dominated(np.array([40.0, 40, 20]), np.array([0, 1, 2]), 1, 0.85)
    assert dominated(np.array([50.0, 50, 10]), np.array([0, 0, 1]), 1, 0.85)  # a person's rows add up


@pytest.mark.parametrize("bad", [(0, 0.85), (2, 1.0), (2, 0), ("2", 0.5), (2,), 0.85, (True, 0.5)])
def test_dominance_is_validated(bad):
    with pytest.raises(ParameterError, match="dominance"):
        check_dominance(bad)


def test_tabulate_validation():
    micro = _people({"a": 30})
    with pytest.raises(ColumnError, match=r"person column 'PNR' is not in the data; columns are \['PERSON_ID'"):
        tabulate(micro, "area", person="PNR")
    with pytest.raises(ColumnError, match="Did you mean 'area'"):
        tabulate(micro, "aera")
    with pytest.raises(DisclosureError, match="identifier"):
        tabulate(micro.assign(CPR=micro["PERSON_ID"]), "CPR")
    with pytest.raises(DisclosureError, match="identifier"):
        tabulate(micro, "PERSON_ID")
    with pytest.raises(ParameterError, match=r"choose from \['mean', 'sum', 'share', 'median'"):
        tabulate(micro, "area", values={"income": "average"})
    with pytest.raises(ColumnError, match="numeric"):
        tabulate(micro.assign(job=micro["employed"].map({0: "no", 1: "yes"})), "area", values={"job": "mean"})
    with pytest.raises(ValidationError, match="0/1"):
        tabulate(micro, "area", values={"income": "share"})
    with pytest.raises(ParameterError, match=">= 3"):
        tabulate(micro, "area", min_cell=2)
    with pytest.raises(DisclosureError, match="rows"):
        tabulate(_people({"a": 70}), "income")


def test_tabulate_uses_the_run_threshold(monkeypatch):
    seal._init()
    monkeypatch.setitem(seal._STATE, "min_cell", 10)
    t = tabulate(_people({"a": 8, "b": 30}), "area", values={"income": "mean"})
    assert t.min_cell == 10 and t.table["persons"].isna().tolist() == [True, False]


def test_tabulate_rounds_to_a_base():
    t = tabulate(_people({"a": 12, "b": 31, "c": 2}), "area", margins=True, round_base=5)
    shown = t.table.set_index("area")["persons"]
    assert shown["Total"] == 45 and shown["b"] == 30 and pd.isna(shown["a"]) and pd.isna(shown["c"])
    assert t.rounding == "5"


# ------------------------------------------------------------------ the publication ledger
def _ages(seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ages = np.r_[rng.integers(60, 90, 400), rng.integers(90, 98, 100), [98, 99, 101]]
    return pd.DataFrame({"PERSON_ID": [f"k{i:04d}" for i in range(len(ages))], "age": ages})


def test_ledger_catches_differencing_of_nested_groups_when_unrounded():
    micro = _ages()
    old = micro.assign(band=np.where(micro["age"] >= 90, "90+", "60-89"))
    first = tabulate(old, "band", round_base=None, label="ages")
    assert first.table.set_index("band")["persons"]["90+"] == 103
    nested = micro[micro["age"].between(90, 97)].assign(band="90-97")
    second = tabulate(nested, "band", round_base=None)
    assert second.table["persons"].isna().all()  # 103 - 100 = 3 persons aged 98+
    LEDGER.reset()
    tabulate(old, "band", round_base=5)
    rounded = tabulate(nested, "band", round_base=5)
    assert rounded.table["persons"].tolist() == [100]  # rounding to 5 blurs the difference


def _sexes() -> pd.DataFrame:
    """Area x: 42 men and 3 women; area y: 30 other persons."""
    x = pd.DataFrame({"PERSON_ID": [f"m{i}" for i in range(45)], "area": "x", "sex": ["w"] * 3 + ["m"] * 42})
    y = pd.DataFrame({"PERSON_ID": [f"y{i}" for i in range(30)], "area": "y", "sex": "m"})
    return pd.concat([x, y], ignore_index=True)


def test_ledger_protects_a_line_whose_total_was_published_elsewhere():
    micro = _sexes()
    residents = count_persons(micro, "area", name="residents")  # another column name: rule (c) is silent
    safe_table(residents, count_cols=["residents"], round_to=None)  # x: 45 residents published
    by_sex = tabulate(micro[micro["area"] == "x"], "sex", round_base=None)  # 42 + 3 = 45
    assert by_sex.table["persons"].isna().all()
    LEDGER.reset()
    alone = tabulate(micro[micro["area"] == "x"], "sex", round_base=None)
    assert alone.table["persons"].tolist()[0] == 42 and pd.isna(alone.table["persons"].iloc[1])


def test_ledger_suppresses_a_count_that_reveals_an_earlier_suppressed_cell():
    micro = _sexes()
    by_sex = tabulate(micro[micro["area"] == "x"], "sex", round_base=5)  # rounded: rule (c) is silent
    assert by_sex.table["persons"].tolist()[0] == 40 and pd.isna(by_sex.table["persons"].iloc[1])
    whole = tabulate(micro, "area", round_base=5)
    assert pd.isna(whole.table["persons"].iloc[0]) and whole.table["persons"].iloc[1] == 30  # x: 45 - 42 = 3
    LEDGER.reset()
    assert tabulate(micro, "area", round_base=5).table["persons"].tolist() == [45, 30]


def test_ledger_records_hold_true_counts_but_never_reach_the_table():
    micro = pd.DataFrame({"PERSON_ID": [f"m{i}" for i in range(47)], "sex": ["w"] * 4 + ["m"] * 43})
    t = tabulate(micro, "sex", round_base=None, label="sex of residents")
    records = LEDGER.records()
    assert records == [{"table": "sex of residents", "row": ("m",), "column": "persons", "true": 43, "shown": 43,
                        "suppressed": False},
                       {"table": "sex of residents", "row": ("w",), "column": "persons", "true": 4, "shown": None,
                        "suppressed": True}]
    data, meta = t._repr_mimebundle_()
    for text in (*data.values(), str(meta), repr(t)):
        assert "sex of residents" not in text and ">4<" not in text and "true" not in text
    tabulate(micro, "sex", round_base=None)
    assert LEDGER.records()[-1]["table"] == "table 2"
    LEDGER.reset()
    assert LEDGER.records() == []


def test_ledger_unit_rules():
    ledger = PublicationLedger()
    from evalkit.report.sdc import Cell

    old = [Cell("", ("a",), "persons", 40, 40, False, (0, 0)), Cell("", ("b",), "persons", 3, None, True, (1, 0))]
    ledger.register(old, min_cell=5)
    new = [Cell("", ("all",), "persons", 43, 43, False, (0, 0))]
    assert ledger.check_new(new, min_cell=5) == {(0, 0)}  # rule (b): 43 - 40 = 3
    near = [Cell("", ("x",), "persons", 38, 38, False, (0, 0)), Cell("", ("x",), "men", 38, 38, False, (0, 1))]
    # rule (c) compares every column: renaming the count column must not dodge it (found by a user)
    assert ledger.check_new(near, min_cell=5) == {(0, 0), (0, 1)}
    assert ledger.check_new(near, min_cell=5, round_base=5) == {(0, 0), (0, 1)}  # earlier table unrounded
    line = [Cell("", ("p",), "persons", 37, 35, False, (0, 0)), Cell("", ("q",), "persons", 3, None, True, (1, 0))]
    assert (0, 0) in ledger.check_new(line, min_cell=5)  # rule (a): 37 + 3 = 40 published
    assert ledger.check_new(line, min_cell=5, covered=(False, True)) == {(0, 0)}  # (c) still: |37 - 40| < 5


def test_zero_one_statistics_never_hide_a_small_count():
    """A share of 1 convicted in 74 is a count of one person (found by a user trying to break it)."""
    micro = _people({"a": 74, "b": 74, "c": 74})
    micro["convicted"] = 0
    micro.loc[micro["PERSON_ID"] == "a000", "convicted"] = 1                                  # 1 of 74
    micro.loc[micro["area"].eq("b") & (micro["PERSON_ID"].str[-2:].astype(int) < 10), "convicted"] = 1  # 10 of 74
    micro.loc[micro["area"].eq("c") & (micro["PERSON_ID"].str[-2:].astype(int) < 72), "convicted"] = 1  # 72 of 74
    t = tabulate(micro, "area", values={"convicted": ["sum", "share"]}).table.set_index("area")
    assert pd.isna(t.loc["a", "convicted_sum"]) and pd.isna(t.loc["a", "convicted_share"])
    assert t.loc["b", "convicted_sum"] == 10 and pd.isna(t.loc["c", "convicted_share"])   # 2 not convicted


def test_tabulate_and_safe_table_refuse_odd_arguments():
    micro = _people({"a": 10})
    with pytest.raises(ParameterError, match="by=5"):
        tabulate(micro, 5)
    counts = count_persons(micro, "area")
    assert safe_table(counts, count_cols="persons").table["persons"].tolist() == [10]


def test_two_valued_columns_are_counts_in_disguise():
    """Found by a user: the mean of DOMFAELDT + 1, or of DOMFAELDT * 1000, reveals 1-4 convicted."""
    micro = _people({"a": 74, "b": 74})
    micro["convicted"] = 0
    micro.loc[micro["PERSON_ID"].isin(["a000", "a001"]), "convicted"] = 1
    micro.loc[micro["area"].eq("b") & (micro["PERSON_ID"].str[-2:].astype(int) < 10), "convicted"] = 1
    for shifted in (micro["convicted"] + 1, micro["convicted"] * 1000, micro["convicted"].map({0: 1, 1: 2})):
        t = tabulate(micro.assign(d=shifted), "area", values={"d": ["mean", "sum"]}).table.set_index("area")
        assert pd.isna(t.loc["a", "d_mean"]) and pd.isna(t.loc["a", "d_sum"]) and not pd.isna(t.loc["b", "d_mean"])


def test_persons_are_counted_by_a_person_key_only():
    """A row id or a recoded key as ``person`` would let a row count pass as a person count."""
    micro = _people({"a": 3}, years=(2019, 2020, 2021)).reset_index()
    with pytest.raises(DisclosureError, match="person-key column"):
        count_persons(micro, "area", person="index")
    with pytest.raises(DisclosureError, match="person-key column"):
        tabulate(micro.assign(pid=micro["PERSON_ID"].factorize()[0]), "area", person="pid")
