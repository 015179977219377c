"""Disclosure control: counting persons, safe tables (primary and secondary suppression,
rounding, seals, person-count marks, analyst totals), tables of estimates, thin cells and
the display guard."""
import numpy as np
import pandas as pd
import pytest

from evalkit import seal
from evalkit.errors import ColumnError, EvalkitError, ParameterError, ValidationError
from evalkit.report.disclosure import (LEDGER, DisclosureError, SafeTable, _estimates_table, check_threshold,
                                       count_persons, flag_thin, round_counts, safe_table,
                                       secondary_suppression, total_index)
from evalkit.report.sdc import tabulate
from evalkit.report.guard import install_display_guard, refusal


@pytest.fixture(autouse=True)
def fresh_ledger():
    """Each test publishes into an empty ledger (cross-table checks would link unrelated tests)."""
    LEDGER.reset()
    yield
    LEDGER.reset()


def trusted(frame, **kw):
    """safe_table on hand-typed counts, as library code does (``_trusted``): tests the mechanics."""
    return safe_table(frame, _trusted=True, **kw)


@pytest.mark.parametrize("bad", [2, 0, -5, 4.5, "5", True, None])
def test_check_threshold_rejects(bad):
    with pytest.raises(ParameterError):
        check_threshold(bad)


def test_check_threshold_accepts():
    assert check_threshold(3) == 3 and check_threshold(np.int64(10)) == 10


# ------------------------------------------------------------------ counting persons
def test_count_persons_counts_distinct_persons_not_rows():
    micro = pd.DataFrame({"PERSON_ID": ["a", "a", "a", "b", "c", "c", None],
                          "area": [1, 1, 1, 1, 2, 2, 2], "year": [2020, 2021, 2021, 2020, 2020, 2020, 2020]})
    out = count_persons(micro, "area")
    assert out.to_dict("list") == {"area": [1, 2], "persons": [2, 1]}
    assert "PERSON_ID" not in out
    by_two = count_persons(micro, ["area", "year"], name="n")
    assert by_two.set_index(["area", "year"])["n"].to_dict() == {(1, 2020): 2, (1, 2021): 1, (2, 2020): 1}


def test_count_persons_missing_column_names_it():
    with pytest.raises(ColumnError, match="PERSON_ID"):
        count_persons(pd.DataFrame({"area": [1]}), "area")
    with pytest.raises(ColumnError, match="Did you mean 'area'"):
        count_persons(pd.DataFrame({"area": [1], "PERSON_ID": ["a"]}), "aera")


# ------------------------------------------------------------------ safe_table: primary
def _oneway():
    return pd.DataFrame({"group": ["a", "b", "c", "d"], "persons": [120, 4, 5, 0], "mean": [0.3, 0.9, 0.5, np.nan]})


def test_primary_suppression_blanks_row_statistics_and_keeps_zero():
    frame = _oneway()
    before = frame.copy(deep=True)
    t = trusted(frame, count_cols=["persons"], round_to=None)
    pd.testing.assert_frame_equal(frame, before)  # input never mutated
    assert isinstance(t, SafeTable) and t.n_suppressed == 1 and t.n_primary == 1
    assert t.table["persons"].isna().tolist() == [False, True, False, False]
    assert np.isnan(t.table.loc[1, "mean"]) and t.table.loc[0, "mean"] == 0.3
    assert t.table.loc[3, "persons"] == 0 and t.min_count_shown == 5  # 0 rests on nobody
    assert t.suppressed.loc[1, "persons"] and not t.suppressed.loc[1, "mean"]


def test_marker_and_missing_are_distinct_in_html_and_text():
    t = trusted(_oneway(), count_cols=["persons"], round_to=None)
    assert "<td>..</td>" in t.html and "<td>–</td>" in t.html and "<td>4</td>" not in t.html
    assert "fewer than 5 persons" in t.html and ".." in t.text
    custom = trusted(_oneway(), count_cols=["persons"], marker="<5")
    assert "&lt;5" in custom.html


def test_threshold_is_configurable():
    t = trusted(_oneway(), count_cols=["persons"], min_cell=3, round_to=None)
    assert t.n_suppressed == 0 and t.min_count_shown == 4
    LEDGER.reset()  # the 4 shown at threshold 3 would make the 0 below a differencing risk
    t10 = trusted(_oneway(), count_cols=["persons"], min_cell=10)
    assert t10.n_suppressed == 2
    with pytest.raises(ParameterError, match=">= 3"):
        trusted(_oneway(), count_cols=["persons"], min_cell=2)


@pytest.mark.parametrize("col", ["PERSON_ID", "person_id", "CPR", "cvr", "RESP_ID", "Adresse_ID"])
def test_identifier_columns_refused(col):
    frame = pd.DataFrame({col: ["x", "y"], "persons": [10, 20]})
    with pytest.raises(DisclosureError, match=col):
        safe_table(frame, count_cols=["persons"])
    with pytest.raises(DisclosureError, match=col):
        safe_table(frame.set_index(col), count_cols=["persons"])


def test_key_like_values_and_long_tables_refused():
    keys = pd.DataFrame({"who": ["a3f9c2e17b6d0845", "ffff000011112222"], "persons": [10, 20]})
    with pytest.raises(DisclosureError, match="key"):
        safe_table(keys, count_cols=["persons"])
    cpr = pd.DataFrame({"who": ["010190-1234"], "persons": [10]})
    with pytest.raises(DisclosureError):
        safe_table(cpr, count_cols=["persons"])
    with pytest.raises(DisclosureError, match="rows"):
        safe_table(pd.DataFrame({"persons": range(10, 80)}), count_cols=["persons"])


def test_bad_count_columns():
    with pytest.raises(ColumnError, match="persns"):
        safe_table(_oneway(), count_cols=["persns"])
    with pytest.raises(ValidationError, match="whole numbers"):
        safe_table(pd.DataFrame({"persons": [1.5, 10]}), count_cols=["persons"])
    with pytest.raises(ValidationError, match="whole numbers"):
        safe_table(pd.DataFrame({"persons": [-1, 10]}), count_cols=["persons"])
    with pytest.raises(ValidationError, match="DataFrame"):
        safe_table([1, 2], count_cols=[])


# ------------------------------------------------------------------ secondary suppression
def _twoway():
    return pd.DataFrame({"area": ["a", "b", "c", "d"], "men": [12, 2, 30, 7], "women": [9, 14, 3, 40]})


def _recoverable(mask: np.ndarray) -> bool:
    """Brute force: some row or column (margins included) has exactly one suppressed cell."""
    return any(m.sum() == 1 for m in mask) or any(m.sum() == 1 for m in mask.T)


def test_secondary_suppression_protects_against_subtraction():
    t = trusted(_twoway(), count_cols=["men", "women"], margins=True, round_to=None)
    mask = t.suppressed[["men", "women", "Total"]].to_numpy()
    assert mask.shape == (5, 3)  # 4 areas + total row, 2 columns + total column
    assert t.n_primary == 2 and t.n_suppressed == 4
    assert not _recoverable(mask)
    # the complements are the smallest other cells of the lines
    assert mask[1, 1] and mask[2, 0] and not mask[:, 2].any() and not mask[4].any()
    assert t.table.loc[4, "men"] == 51 and t.table.loc[4, "Total"] == 117  # totals from true counts


def test_secondary_suppression_random_tables_never_single_suppressed_line():
    rng = np.random.default_rng(7)
    for _ in range(200):
        body = rng.integers(0, 25, size=(rng.integers(2, 7), rng.integers(2, 6))).astype(float)
        full = np.vstack([np.column_stack([body, body.sum(1)]),
                          np.append(body.sum(0), body.sum())])
        primary = (full > 0) & (full < 5)
        mask = secondary_suppression(full, primary, row_total=True, col_total=True)
        assert (mask >= primary).all()
        lines = [mask[i] for i in range(mask.shape[0])] + [mask[:, j] for j in range(mask.shape[1])]
        assert all(line.sum() != 1 for line in lines)


def test_one_way_table_with_total_row():
    frame = pd.DataFrame({"cohort": ["2019", "2020", "2021"], "persons": [3, 50, 80]})
    t = trusted(frame, count_cols=["persons"], margins={"rows": True, "label": "I alt"}, round_to=None)
    assert t.table["persons"].isna().tolist() == [True, True, False, False]  # 50 protects the 3
    assert t.table["cohort"].tolist()[-1] == "I alt" and t.table["persons"].iloc[-1] == 133


def test_hidden_margins_still_protect():
    frame = pd.DataFrame({"cohort": ["2019", "2020", "2021"], "persons": [3, 50, 80]})
    t = trusted(frame, count_cols=["persons"], margins={"rows": True, "show": False}, round_to=None)
    assert len(t.table) == 3 and t.n_suppressed == 2


def test_margins_validation():
    with pytest.raises(ParameterError, match="unknown"):
        trusted(_twoway(), count_cols=["men", "women"], margins={"row": True})
    with pytest.raises(ParameterError, match="two count columns"):
        trusted(_oneway(), count_cols=["persons"], margins={"columns": True})


# ------------------------------------------------------------------ rounding
def test_rounding_near_threshold_default():
    values = pd.Series([0, 5, 6, 7, 8, 9, 10, 11, 123], dtype="float64")
    near = round_counts(values, 5).tolist()
    assert near == [0, 5, 5, 5, 10, 10, 10, 11, 123]
    assert round_counts(values, 5, 10).tolist() == [0, 10, 10, 10, 10, 10, 10, 10, 120]
    assert round_counts(values, 5, None).tolist() == values.tolist()
    with pytest.raises(ParameterError, match="round_to"):
        round_counts(values, 5, "up")


def test_safe_table_rounds_shown_counts_but_suppresses_on_true_counts():
    frame = pd.DataFrame({"g": ["a", "b", "c"], "persons": [4, 7, 8]})
    t = trusted(frame, count_cols=["persons"])
    assert t.table["persons"].tolist()[1:] == [5, 10] and t.table["persons"].isna().tolist()[0]
    assert t.min_count_shown == 5 and t.rounding == "near"


# ------------------------------------------------------------------ seals
def _key():
    return seal._init()["key"]


def test_mimebundle_is_sealed_with_the_run_key():
    t = trusted(_twoway(), count_cols=["men", "women"], margins=True)
    data, meta = t._repr_mimebundle_()
    assert set(data) == {"text/html", "text/plain"}
    stamp = meta["evalkit_release"]
    assert isinstance(stamp["mac"], str) and stamp["kind"] == "table"
    fields = seal.verify(data, meta, _key())
    assert fields == {"kind": "table", "min_cell": 5, "n_suppressed": 4, "min_count_shown": t.min_count_shown,
                      "rounding": "near"}
    assert "<table" in data["text/html"] and "Total" in data["text/plain"]
    tampered = dict(data, **{"text/html": data["text/html"].replace("117", "118", 1)})
    assert seal.verify(tampered, meta, _key()) is None
    assert seal.verify({**data, "text/plain": data["text/plain"][:-1] + "x"}, meta, _key()) is None
    assert seal.verify(data, meta, b"another run's key") is None
    assert "evalkit_safe" not in str(meta) and "digest" not in str(meta)


def test_no_public_html_stamp_and_sealed_estimates_tables():
    import evalkit.report.disclosure as d

    assert not hasattr(d, "safe_html") and not hasattr(d, "stamp")   # the escape hatch is release()
    est = _estimates_table(pd.DataFrame({"term": ["e0", "e1"], "estimate": [0.0251, -0.01]}), digits=4, note="n")
    assert est.kind == "estimates" and est.n_suppressed == 0 and est.min_count_shown is None
    assert "0.0251" in est.html
    data, meta = est._repr_mimebundle_()
    assert seal.verify(data, meta, _key())["min_cell"] == seal.run_min_cell()


# ------------------------------------------------------------------ no table without person counts
def test_count_cols_empty_is_refused():
    raw = pd.DataFrame({"age": [34, 71], "income": [412_000.0, 188_500.0]})  # two persons' rows
    with pytest.raises(DisclosureError, match=r"tabulate\(\.\.\.\).*displaying the Result"):
        safe_table(raw, count_cols=[])
    with pytest.raises(DisclosureError, match="tabulate"):
        safe_table(raw, count_cols=[], index=list(raw.columns), _trusted=True)


@pytest.mark.parametrize("col", ["n", "persons", "Personer", "Antal personer", "count", "residents", "Beboere",
                                 "n_treated", "N_obs"])
def test_estimates_table_refuses_count_like_columns(col):
    frame = pd.DataFrame({"term": ["e0", "e1"], "estimate": [0.1, 0.2], col: [3, 40]})
    with pytest.raises(DisclosureError, match="look like counts"):
        _estimates_table(frame, digits=3, note="")
    floats = frame.assign(**{col: [3.0, np.nan]})
    with pytest.raises(DisclosureError):
        _estimates_table(floats, digits=3, note="")


def test_estimates_table_other_refusals_and_what_passes():
    ok = pd.DataFrame({"term": ["e0"], "estimate": [0.1], "n_eff": [12.5], "clusters": [14], "year": [2020]})
    assert _estimates_table(ok, digits=2, note="").table.shape == (1, 5)
    with pytest.raises(DisclosureError, match="PERSON_ID"):
        _estimates_table(ok.assign(PERSON_ID=["x"]), digits=3, note="")
    with pytest.raises(DisclosureError, match="key"):
        _estimates_table(ok.assign(term=["a3f9c2e17b6d0845"]), digits=3, note="")
    with pytest.raises(DisclosureError, match="rows"):
        _estimates_table(pd.DataFrame({"estimate": np.linspace(0, 1, 61)}), digits=3, note="")
    with pytest.raises(ValidationError, match="DataFrame"):
        _estimates_table([1, 2], digits=3, note="")


# ------------------------------------------------------------------ person counts are evalkit's
def _micro():
    """Person-year rows: 14 persons in area a (3 of them also in b), 3 persons only in b."""
    ids = [f"p{i:02d}" for i in range(17)]
    rows = [(p, "a", y) for p in ids[:14] for y in (2020, 2021)] + [(p, "b", 2021) for p in ids[11:]]
    return pd.DataFrame(rows, columns=["PERSON_ID", "area", "year"])


def test_row_counts_are_never_person_counts():
    micro = _micro()
    rows = micro.groupby("area").size().rename("n").reset_index()
    with pytest.raises(DisclosureError, match="column 'n' is not a person count computed by evalkit: count "
                                              r"distinct persons with count_persons\(\) or tabulate\(\)"):
        safe_table(rows, count_cols=["n"])
    by_hand = micro.groupby("area")["PERSON_ID"].nunique().rename("persons").reset_index()
    with pytest.raises(DisclosureError, match="not a person count"):
        safe_table(by_hand, count_cols=["persons"])
    assert safe_table(count_persons(micro, "area"), count_cols=["persons"], round_to=None) \
        .table["persons"].tolist() == [14, 6]


def test_changed_counts_rows_labels_or_names_are_refused():
    counts = count_persons(_micro(), "area")
    changed = {"a count": counts.assign(persons=[14, 7]),
               "a label": counts.assign(area=["A", "b"]),
               "a removed row": counts.iloc[:1],
               "an added row": pd.concat([counts, counts.iloc[:1].assign(area="c")], ignore_index=True),
               "a renamed column": counts.rename(columns={"persons": "n"})}
    for what, frame in changed.items():
        col = "n" if what == "a renamed column" else "persons"
        with pytest.raises(DisclosureError, match="not a person count"):
            safe_table(frame, count_cols=[col])
    forged = counts.assign(persons=[14, 7])
    forged.attrs = {k: dict(v) for k, v in counts.attrs.items()}
    with pytest.raises(DisclosureError, match="not a person count"):
        safe_table(forged, count_cols=["persons"])
    # order and index moves keep the mark valid; an extra column (a maximum, a row count) is refused
    with pytest.raises(DisclosureError, match="neither labels nor person counts"):
        safe_table(counts.assign(top_income=[910_000.0, 45_000.0]), count_cols=["persons"])
    reordered = counts.iloc[::-1].set_index("area")
    assert safe_table(reordered, count_cols=["persons"]).table["area"].tolist() == ["b", "a"]
    LEDGER.reset()  # b = 6 was published above: 7 would be a differencing risk
    assert trusted(counts.assign(persons=[14, 7]), count_cols=["persons"]).n_suppressed == 0


def test_count_persons_wide_marks_every_column():
    micro = _micro().assign(sex=lambda d: np.where(d["PERSON_ID"] < "p08", "m", "w"))
    wide = count_persons(micro, "area", columns="sex")
    assert wide.to_dict("list") == {"area": ["a", "b"], "m": [8, 0], "w": [6, 6]}
    t = safe_table(wide, count_cols=["m", "w"], margins=True, round_to=None)
    assert t.table["Total"].tolist() == [14, 6, 20]
    assert micro.columns.tolist() == ["PERSON_ID", "area", "year", "sex"]  # input untouched


def test_run_threshold_is_the_default(monkeypatch):
    seal._init()
    monkeypatch.setitem(seal._STATE, "min_cell", 10)
    t = safe_table(count_persons(_micro(), "area"), count_cols=["persons"], round_to=None)
    assert t.min_cell == 10 and t.table["persons"].isna().tolist() == [False, True]


# ------------------------------------------------------------------ analyst-supplied totals
def _with_total(micro, col, label="Total"):
    """Microdata stacked with an all-persons copy: an analyst's way to get a total category."""
    return pd.concat([micro, micro.assign(**{col: label})], ignore_index=True)


def _one_way_micro():
    sizes = {"2019": 3, "2020": 50, "2021": 80}
    groups = [g for g, n in sizes.items() for _ in range(n)]
    return pd.DataFrame({"PERSON_ID": [f"q{i:03d}" for i in range(len(groups))], "cohort": groups})


@pytest.mark.parametrize("label", ["Total", "I alt", "everyone"])
def test_analyst_total_row_cannot_reveal_the_small_cell(label):
    counts = count_persons(_with_total(_one_way_micro(), "cohort", label), "cohort")
    assert counts.set_index("cohort")["persons"].to_dict() == {"2019": 3, "2020": 50, "2021": 80, label: 133}
    t = safe_table(counts, count_cols=["persons"], round_to=None)
    shown = t.table.set_index("cohort")["persons"]
    assert shown.isna().sum() == 2 and pd.isna(shown["2019"]) and pd.isna(shown["2020"])  # 133-80 = 53 = two cells
    assert shown[label] == 133 and shown["2021"] == 80
    tab = tabulate(_with_total(_one_way_micro(), "cohort", label), "cohort", round_base=None).table
    assert tab.set_index("cohort")["persons"].isna().to_dict() == {"2019": True, "2020": True, "2021": False,
                                                                  label: False}


def test_analyst_total_row_with_margins_and_total_column():
    micro = _one_way_micro().assign(sex=lambda d: np.where(d.index % 2 == 0, "m", "w"))
    wide = count_persons(_with_total(micro, "sex", "all"), "cohort", columns="sex")
    assert (wide["all"] == wide["m"] + wide["w"]).all()
    t = safe_table(wide, count_cols=["all", "m", "w"], round_to=None)
    mask = t.suppressed[["m", "w", "all"]].to_numpy()
    assert not any(row.sum() == 1 for row in mask)  # no row line with one suppressed cell
    assert mask[0].all()  # 2019: 2 men, 1 woman, 3 in all
    both = count_persons(_with_total(_one_way_micro(), "cohort"), "cohort")
    t2 = safe_table(both, count_cols=["persons"], margins=True, round_to=None)  # computed total 2 x 133
    assert t2.suppressed["persons"].tolist()[:2] == [True, True]


def test_total_index_finds_the_margin_row():
    m = np.array([[3, 1], [50, 9], [53, 10]], dtype=float)
    assert total_index(m) == 2 and total_index(m[:2]) is None
    assert total_index(np.array([[4.0], [4.0]])) == 0 and total_index(np.array([[4.0], [4.0]]), ["x", "Sum"]) == 1
    assert total_index(np.zeros((3, 2))) is None and total_index(np.array([[np.nan], [1.0]])) is None


# ------------------------------------------------------------------ rounding to a base
def test_round_base_rounds_every_count_consistently():
    micro = _one_way_micro()
    micro = pd.concat([micro, pd.DataFrame({"PERSON_ID": [f"r{i}" for i in range(63)], "cohort": "2022"})])
    counts = count_persons(micro, "cohort")  # 3, 50, 80, 63
    t = safe_table(counts, count_cols=["persons"], margins=True, round_base=5, round_to=None)
    shown = t.table.set_index("cohort")["persons"]
    assert pd.isna(shown["2019"]) and pd.isna(shown["2020"])  # primary, and its complement
    assert shown["2022"] == 65 and shown["2021"] == 80 and shown["Total"] == 195  # total of the true 196
    assert all(v % 5 == 0 for v in shown.dropna())
    assert t.rounding == "5" and t.n_primary == 1
    t4 = safe_table(count_persons(_micro(), "area"), count_cols=["persons"], round_base=5, min_cell=3)
    assert t4.table["persons"].tolist() == [15, 5]  # 14 -> 15, 6 -> 5
    assert safe_table(count_persons(_micro(), "area"), count_cols=["persons"], round_base=10).rounding == "10"
    for bad in (0, 2.5, True, "5"):
        with pytest.raises(ParameterError, match="round_base"):
            safe_table(counts, count_cols=["persons"], round_base=bad)
    data, meta = t._repr_mimebundle_()
    assert seal.verify(data, meta, _key())["rounding"] == "5"


def test_rounding_keeps_suppression_on_true_counts():
    counts = count_persons(_micro().assign(area=lambda d: np.where(d["PERSON_ID"] < "p04", "x", d["area"])), "area")
    t = safe_table(counts, count_cols=["persons"], round_base=5, round_to=None)
    assert pd.isna(t.table.set_index("area").loc["x", "persons"])  # 4 persons round to 5 but stay suppressed


def test_safe_table_is_frozen():
    t = trusted(_oneway(), count_cols=["persons"])
    with pytest.raises(AttributeError):
        t.min_cell = 3


# ------------------------------------------------------------------ thin cells
def _event_counts():
    return pd.DataFrame({"event_time": [-4, -3, -2, -1, 0, 1, 2, 3], "n": [2, 6, 40, 50, 50, 40, 8, 3]})


def test_flag_thin_flags_without_mutating():
    frame = _event_counts()
    out = flag_thin(frame, "n", 5)
    assert "thin" not in frame and out["thin"].tolist() == [True, False, False, False, False, False, False, True]


def test_flag_thin_pools_into_nearest_non_thin_bin():
    out = flag_thin(_event_counts(), "n", 5, pool_into="event_time")
    assert out["event_time_pooled"].tolist() == [-3, -3, -2, -1, 0, 1, 2, 2]
    assert out["n_pooled"].tolist() == [8, 8, 40, 50, 50, 40, 11, 11] and not out["thin"].any()


def test_flag_thin_by_group_and_all_thin_group():
    frame = pd.DataFrame({"area": ["x"] * 3 + ["y"] * 2, "event_time": [-1, 0, 1, 0, 1], "n": [9, 2, 20, 1, 2]})
    out = flag_thin(frame, "n", 5, pool_into="event_time", by="area")
    assert out["event_time_pooled"].tolist() == [-1, -1, 1, 1, 1]  # tie at 0: the bin nearer 0 (-1 and 1 tie: lower)
    assert out["thin"].tolist() == [False, False, False, True, True]  # y has 3 persons in all


def test_flag_thin_validation():
    with pytest.raises(ColumnError):
        flag_thin(_event_counts(), "persons", 5)
    with pytest.raises(ValidationError, match="numeric"):
        flag_thin(_event_counts().assign(event_time=lambda d: d["event_time"].astype(str)), "n", 5,
                  pool_into="event_time")


# ------------------------------------------------------------------ display guard
@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def test_guard_refuses_identifiers_raw_rows_and_small_counts(shell):
    micro = pd.DataFrame({"PERSON_ID": ["a3f9c2e17b6d0845"], "x": [1]})
    big = pd.DataFrame({"x": range(200)})
    small = pd.DataFrame({"g": ["a"], "persons": [2]})
    fine = pd.DataFrame({"g": ["a", "b"], "persons": [20, 30]})
    with install_display_guard(shell=shell) as guard:
        assert guard.installed
        for frame, why in ((micro, "PERSON_ID"), (big, "200 rows"), (small, "below 5"),
                           (micro.set_index("PERSON_ID")["x"], "PERSON_ID")):
            data, _ = shell.display_formatter.format(frame)
            assert why in data["text/plain"] and why in data["text/html"]
            assert "a3f9c2e17b6d0845" not in data["text/plain"] + data["text/html"]
        data, _ = shell.display_formatter.format(fine)
        assert "<table" in data["text/html"] and "30" in data["text/plain"]
    assert not guard.installed
    data, _ = shell.display_formatter.format(big)
    assert "<table" in data["text/html"]  # restored


def test_guard_refusal_rules_and_no_shell():
    assert refusal(pd.DataFrame({"x": [1]})) is None
    assert "key-like" in refusal(pd.DataFrame({"k": ["00a1b2c3d4e5f607"]}))
    assert refusal(pd.DataFrame({"x": range(61)}), max_rows=100) is None
    import IPython

    if IPython.get_ipython() is None:
        with pytest.raises(EvalkitError, match="IPython"):
            install_display_guard()


def test_groupby_index_becomes_labels():
    micro = pd.DataFrame({"PERSON_ID": list("abcdefgh"), "cohort": [2019] * 2 + [2020] * 6, "y": range(8)})
    counts = count_persons(micro, "cohort").set_index("cohort")
    t = safe_table(counts, count_cols=["persons"], round_to=None)
    assert t.table["cohort"].tolist() == [2019, 2020] and t.table["persons"].isna().tolist() == [True, False]


def test_design_safe_is_stamped_and_suppresses_residents():
    from evalkit.report.tables import _estimates_safe, design_safe

    panel = pd.DataFrame({"AAR": [2014] * 5 + [2015], "OMR_ID": [1, 2, 3, 4, 5, 1],
                          "cohort": [0, 0, 2016, 2017, 2017, 0], "residents": [800, 700, 3, 400, 500, 810]})
    t = design_safe(panel, 2014, lang="en", note="Years: 2014-2019.")  # cohort 2016: 3 residents
    assert t.table["First treated year"].tolist() == ["Comparison areas", "2016", "2017", "Total"]
    assert t.table["Number of areas"].tolist()[::2] == [2, 2] and "<td>2</td>" in t.html
    assert t.table["Residents"].isna().sum() == 2 and t.table["Residents"].iloc[-1] == 2403
    data, meta = t._repr_mimebundle_()
    assert seal.verify(data, meta, seal._init()["key"]) and "Years: 2014-2019." in data["text/html"]
    est = _estimates_safe(pd.DataFrame({"term": ["e0"], "estimate": [0.1]}), digits=4)
    assert est.kind == "estimates" and "0.1000" in est.html


def test_numeric_count_by_columns_stay_labels_with_margins():
    micro = pd.DataFrame({"PERSON_ID": [f"p{i}" for i in range(30)], "KOEN": [1] * 12 + [2] * 18})
    t = safe_table(count_persons(micro, "KOEN"), count_cols=["persons"], margins=True, round_to=None)
    assert t.table["KOEN"].tolist()[-1] == "Total" and t.table["persons"].tolist() == [12, 18, 30]
