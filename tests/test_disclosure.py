"""Disclosure control: counting persons, safe tables (primary and secondary suppression,
rounding, stamps), thin cells and the display guard."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ColumnError, EvalkitError, ParameterError, ValidationError
from evalkit.report.disclosure import (DisclosureError, SafeTable, check_threshold, count_persons, flag_thin,
                                       round_counts, safe_html, safe_table, secondary_suppression)
from evalkit.report.guard import install_display_guard, refusal


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
    t = safe_table(frame, count_cols=["persons"], round_to=None)
    pd.testing.assert_frame_equal(frame, before)  # input never mutated
    assert isinstance(t, SafeTable) and t.n_suppressed == 1 and t.n_primary == 1
    assert t.table["persons"].isna().tolist() == [False, True, False, False]
    assert np.isnan(t.table.loc[1, "mean"]) and t.table.loc[0, "mean"] == 0.3
    assert t.table.loc[3, "persons"] == 0 and t.min_count_shown == 5  # 0 rests on nobody
    assert t.suppressed.loc[1, "persons"] and not t.suppressed.loc[1, "mean"]


def test_marker_and_missing_are_distinct_in_html_and_text():
    t = safe_table(_oneway(), count_cols=["persons"], round_to=None)
    assert "<td>..</td>" in t.html and "<td>–</td>" in t.html and "<td>4</td>" not in t.html
    assert "fewer than 5 persons" in t.html and ".." in t.text
    custom = safe_table(_oneway(), count_cols=["persons"], marker="<5")
    assert "&lt;5" in custom.html


def test_threshold_is_configurable():
    t = safe_table(_oneway(), count_cols=["persons"], min_cell=3, round_to=None)
    assert t.n_suppressed == 0 and t.min_count_shown == 4
    t10 = safe_table(_oneway(), count_cols=["persons"], min_cell=10)
    assert t10.n_suppressed == 2
    with pytest.raises(ParameterError, match=">= 3"):
        safe_table(_oneway(), count_cols=["persons"], min_cell=2)


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
    t = safe_table(_twoway(), count_cols=["men", "women"], margins=True, round_to=None)
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
    t = safe_table(frame, count_cols=["persons"], margins={"rows": True, "label": "I alt"}, round_to=None)
    assert t.table["persons"].isna().tolist() == [True, True, False, False]  # 50 protects the 3
    assert t.table["cohort"].tolist()[-1] == "I alt" and t.table["persons"].iloc[-1] == 133


def test_hidden_margins_still_protect():
    frame = pd.DataFrame({"cohort": ["2019", "2020", "2021"], "persons": [3, 50, 80]})
    t = safe_table(frame, count_cols=["persons"], margins={"rows": True, "show": False}, round_to=None)
    assert len(t.table) == 3 and t.n_suppressed == 2


def test_margins_validation():
    with pytest.raises(ParameterError, match="unknown"):
        safe_table(_twoway(), count_cols=["men", "women"], margins={"row": True})
    with pytest.raises(ParameterError, match="two count columns"):
        safe_table(_oneway(), count_cols=["persons"], margins={"columns": True})


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
    t = safe_table(frame, count_cols=["persons"])
    assert t.table["persons"].tolist()[1:] == [5, 10] and t.table["persons"].isna().tolist()[0]
    assert t.min_count_shown == 5 and t.rounding == "near"


# ------------------------------------------------------------------ stamps
def test_mimebundle_carries_a_stamp_with_the_html_digest():
    t = safe_table(_twoway(), count_cols=["men", "women"], margins=True)
    data, meta = t._repr_mimebundle_()
    stamp = meta["text/html"]["evalkit_safe"]
    assert stamp["digest"] == hashlib.sha256(data["text/html"].encode()).hexdigest()
    assert stamp["min_cell"] == 5 and stamp["min_count_shown"] == t.min_count_shown >= 5
    assert stamp["n_suppressed"] == 4
    assert "<table" in data["text/html"] and "Total" in data["text/plain"]


def test_tables_without_person_counts():
    est = pd.DataFrame({"term": ["e0", "e1"], "estimate": [0.0251, -0.01], "n_treated": [3, 3]})
    t = safe_table(est, count_cols=[], index=list(est.columns), digits=4)
    assert t.kind == "estimates" and t.n_suppressed == 0 and t.min_count_shown is None
    assert "0.0251" in t.html
    stamped = safe_html("<table><tr><td>0.3</td></tr></table>")
    data, meta = stamped._repr_mimebundle_()
    assert meta["text/html"]["evalkit_safe"]["kind"] == "estimates"
    with pytest.raises(DisclosureError):
        safe_html("<table><tr><th>PERSON_ID</th></tr></table>")
    with pytest.raises(ParameterError):
        safe_html("<table></table>", kind="counts")


def test_safe_table_is_frozen():
    t = safe_table(_oneway(), count_cols=["persons"])
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
    from evalkit.report.tables import design_safe, estimates_safe

    panel = pd.DataFrame({"AAR": [2014] * 5 + [2015], "OMR_ID": [1, 2, 3, 4, 5, 1],
                          "cohort": [0, 0, 2016, 2017, 2017, 0], "residents": [800, 700, 3, 400, 500, 810]})
    t = design_safe(panel, 2014, lang="en", note="Years: 2014-2019.")  # cohort 2016: 3 residents
    assert t.table["First treated year"].tolist() == ["Comparison areas", "2016", "2017", "Total"]
    assert t.table["Number of areas"].tolist()[::2] == [2, 2] and "<td>2</td>" in t.html
    assert t.table["Residents"].isna().sum() == 2 and t.table["Residents"].iloc[-1] == 2403
    data, meta = t._repr_mimebundle_()
    assert "evalkit_safe" in meta["text/html"] and "Years: 2014-2019." in data["text/html"]
    est = estimates_safe(pd.DataFrame({"term": ["e0"], "estimate": [0.1]}), digits=4)
    assert est.kind == "estimates" and "0.1000" in est.html
