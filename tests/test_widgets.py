"""The disclosure preview (issue 16, item 2): evalkit.report.widgets.

The pure functions (what a report would publish of a table of person counts) and the widget that
wires a threshold slider and a rounding choice to them. ipywidgets is part of the ``dev`` extra, so
these tests never skip.
"""
from __future__ import annotations

import re
import sys

import ipywidgets
import numpy as np
import pandas as pd
import pytest

from evalkit import seal
from evalkit.domain.survey_weights import MissingDependencyError
from evalkit.errors import ColumnError, EvalkitError, ParameterError, ValidationError
from evalkit.i18n import WIDGET_LABELS
from evalkit.privacy import complementary_parts
from evalkit.report.disclosure import MARKER, round_counts
from evalkit.report.textcheck import DisclosureError
from evalkit.report.widgets import STATUS, STATUS_COLUMNS, disclosure_preview, disclosure_widget, preview_html

#: counts chosen so that the suppressed values (4, 7) and their statistics (317.25, 402.75) are distinctive
COUNTS = [4, 123, 7, 0, 1238, 56]


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame({"area": list("ABCDEF"), "year": [2020] * 6, "persons": COUNTS,
                         "mean_income": [317.25, 290.5, 402.75, np.nan, 280.0, 1234.5]})


@pytest.fixture
def outside_run(monkeypatch):
    """Not a report run, whatever the process's state."""
    seal._init()
    monkeypatch.setitem(seal._STATE, "report_run", False)


def _rows(html: str) -> list[list[str]]:
    """The body rows of the preview's HTML table, as cell texts."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td>(.*?)</td>", row, flags=re.S) for row in body.split("</tr>") if "<td>" in row]


# ----------------------------------------------------------------------------- the pure function
def test_counts_below_the_threshold_are_blanked_with_their_statistics(table):
    out = disclosure_preview(table, "persons", total=False)
    assert out[STATUS].tolist() == ["suppressed (n < 5)"] + ["shown"] * 5
    assert out["persons"].isna().tolist() == [True, False, False, False, False, False]
    assert np.isnan(out["mean_income"].iat[0]) and out["mean_income"].iat[1] == 290.5
    assert out["area"].tolist() == list("ABCDEF") and out["year"].tolist() == [2020] * 6  # labels stay
    assert out["persons"].iat[3] == 0  # a count of 0 rests on nobody and is shown
    assert str(out["persons"].dtype) == "Int64"


def test_secondary_suppression_is_the_librarys_against_the_total(table):
    out = disclosure_preview(table, "persons")  # the total is published: 4 hidden persons could be recovered
    expected = complementary_parts({i: n for i, n in enumerate(COUNTS) if n >= 5}, 4, 5)
    assert expected == [2]
    assert out[STATUS].tolist() == ["suppressed (n < 5)", "shown", "suppressed (secondary)", "shown", "shown",
                                    "shown"]
    assert out["persons"].isna().tolist() == [True, False, True, False, False, False]
    assert np.isnan(out["mean_income"].iat[2])
    # two rows of 1 and 2 persons hide 3 < 5 together: one more row is blanked
    two = pd.DataFrame({"g": list("abcd"), "n": [1, 2, 30, 40]})
    assert disclosure_preview(two, "n")["n"].isna().tolist() == [True, True, True, False]


@pytest.mark.parametrize("min_cell", [3, 5, 10])
@pytest.mark.parametrize("round_base", [1, 3, 5, 10])
def test_rounding_equals_the_librarys_rule(table, min_cell, round_base):
    out = disclosure_preview(table, "persons", min_cell=min_cell, round_base=round_base, total=False)
    shown = out["persons"].notna().to_numpy()
    expected = round_counts(table["persons"].astype("float64"), min_cell, round_base)
    assert out["persons"][shown].astype("float64").tolist() == expected[shown].tolist()
    assert ((table["persons"] > 0) & (table["persons"] < min_cell)).tolist() == (~shown).tolist()


def test_the_callers_frame_is_never_changed(table):
    table.index = pd.Index([10, 11, 12, 13, 14, 15], name="row")
    table.attrs["note"] = "mine"
    before = table.copy(deep=True)
    out = disclosure_preview(table, "persons", min_cell=10, round_base=10)
    preview_html(table, "persons", min_cell=10)
    pd.testing.assert_frame_equal(table, before)
    assert table.attrs == {"note": "mine"} and STATUS not in table
    assert out is not table and out.index.equals(table.index) and out.attrs == {}


def test_danish_status_texts(table):
    out = disclosure_preview(table, "persons", min_cell=10, lang="da", total=False)
    danish = STATUS_COLUMNS["da"]
    assert out[danish].tolist() == ["undertrykt (n < 10)", "vist", "undertrykt (n < 10)", "vist", "vist", "vist"]
    assert disclosure_preview(table, "persons", lang="da")[danish].iat[2] == "undertrykt (sekundær)"


def test_labels_parameter_keeps_a_numeric_label_column():
    frame = pd.DataFrame({"code": [11, 12, 13], "n": [2, 50, 60], "share": [0.5, 0.25, 0.125]})
    default = disclosure_preview(frame, "n", total=False)
    assert np.isnan(default["code"].iat[0])  # a numeric column is a statistic unless named a label
    named = disclosure_preview(frame, "n", labels="code", total=False)
    assert named["code"].tolist() == [11, 12, 13] and np.isnan(named["share"].iat[0])


@pytest.mark.parametrize("kwargs, error, words", [
    ({"count": "person"}, ColumnError, ["count='person'", "Did you mean 'persons'"]),
    ({"count": "area"}, ColumnError, ["count='area'", "numeric"]),
    ({"count": 3}, ParameterError, ["count=3", "name"]),
    ({"min_cell": 2}, ParameterError, ["min_cell=2", ">= 3"]),
    ({"min_cell": 5.0}, ParameterError, ["min_cell=5.0"]),
    ({"round_base": 0}, ParameterError, ["round_base=0", "between 1 and 100"]),
    ({"round_base": "5"}, ParameterError, ["round_base='5'"]),
    ({"round_base": True}, ParameterError, ["round_base=True"]),
    ({"lang": "de"}, ParameterError, ["lang='de'", "'da'", "'en'"]),
    ({"total": "yes"}, ParameterError, ["total='yes'", "True or False"]),
    ({"labels": ["aera"]}, ColumnError, ["labels", "'aera'", "Did you mean 'area'"]),
    ({"labels": ["persons"]}, ColumnError, ["labels", "count column"]),
])
def test_bad_parameters_name_the_parameter_and_what_is_allowed(table, kwargs, error, words):
    call = {"count": "persons"} | kwargs
    with pytest.raises(error) as info:
        disclosure_preview(table, **call)
    assert isinstance(info.value, EvalkitError)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("values, words", [
    ([4, -1, 7], ["count='n'", ">= 0"]),
    ([4, 2.5, 7], ["count='n'", "whole numbers"]),
    ([4, np.nan, 7], ["count='n'", "1 missing value"]),
])
def test_bad_counts_are_validation_errors_naming_the_column(values, words):
    with pytest.raises(ValidationError) as info:
        disclosure_preview(pd.DataFrame({"g": list("abc"), "n": values}), "n")
    for word in words:
        assert word in str(info.value)


def test_bad_tables_are_refused(table):
    with pytest.raises(ParameterError, match="table must be a pandas DataFrame"):
        disclosure_preview(table.to_dict(), "persons")
    with pytest.raises(ValidationError, match="table has no rows"):
        disclosure_preview(table.iloc[:0], "persons")
    with pytest.raises(ColumnError, match="already has a column 'status'"):
        disclosure_preview(table.assign(status="x"), "persons")
    with pytest.raises(ColumnError, match="True/False"):
        disclosure_preview(table.assign(flag=True), "flag")
    with pytest.raises(DisclosureError, match="PERSON_ID"):  # a report never shows a person key
        disclosure_preview(table.assign(PERSON_ID=range(6)), "persons")


# ----------------------------------------------------------------------------- the HTML
def test_the_html_never_shows_what_it_says_is_suppressed(table):
    html = preview_html(table, "persons")
    rows = _rows(html)
    assert rows[0] == ["A", "2020", MARKER, MARKER, "suppressed (n &lt; 5)"]
    assert rows[2] == ["C", "2020", MARKER, MARKER, "suppressed (secondary)"]
    assert rows[1][:3] == ["B", "2020", "125"] and rows[4][2] == "1,240"  # rounded to 5, grouped
    assert "317.25" not in html and "402.75" not in html  # statistics of suppressed rows
    assert "4 rows shown, 1 suppressed (n &lt; 5), 1 suppressed (secondary)" in html


def test_the_html_in_danish_and_escaped():
    frame = pd.DataFrame({"område": ["<b>Nord</b>", "Syd"], "n": [1744, 60], "andel": [0.048, 0.5]})
    html = preview_html(frame, "n", round_base=1, lang="da")
    assert _rows(html)[0] == ["&lt;b&gt;Nord&lt;/b&gt;", "1.744", "0,048", "vist"]
    assert "<b>" not in html and "ikke afrundet" in html


# ----------------------------------------------------------------------------- the widget
def test_the_widget_rerenders_when_the_controls_change(table, outside_run):
    box = disclosure_widget(table, "persons")
    assert isinstance(box, ipywidgets.VBox)
    controls, shown = box.children
    slider, base = controls.children
    assert isinstance(slider, ipywidgets.IntSlider) and (slider.min, slider.max, slider.value) == (3, 20, 5)
    assert isinstance(base, ipywidgets.Dropdown) and [v for _, v in base.options] == [1, 3, 5, 10]
    assert isinstance(shown, ipywidgets.HTML) and shown.value == preview_html(table, "persons")

    slider.value = 10  # 7 persons are now too few themselves; 4 + 7 = 11 hidden persons need no partner
    assert shown.value == preview_html(table, "persons", min_cell=10) != preview_html(table, "persons")
    assert _rows(shown.value)[2] == ["C", "2020", MARKER, MARKER, "suppressed (n &lt; 10)"]
    assert _rows(shown.value)[5] == ["F", "2020", "55", "1,234.5", "shown"]  # 56 rounded to 5; the decimals needed
    slider.value = 20  # 11 hidden persons < 20: the smallest shown row (56) protects them
    assert _rows(shown.value)[5] == ["F", "2020", MARKER, MARKER, "suppressed (secondary)"]
    base.value = 1
    assert shown.value == preview_html(table, "persons", min_cell=20, round_base=1)
    assert _rows(shown.value)[4][2] == "1,238"
    for row in _rows(shown.value):  # no suppressed row shows its count or statistics
        if row[-1].startswith("suppressed"):
            assert row[2:4] == [MARKER, MARKER]
    assert "317.25" not in shown.value and ">56<" not in shown.value


def test_the_widget_uses_a_copy_and_danish_labels(table, outside_run):
    box = disclosure_widget(table, "persons", min_cell=3, round_base=10, lang="da")
    slider, base = box.children[0].children
    assert slider.description.startswith("Mindst antal personer") and base.value == 10
    table.loc[0, "persons"] = 900  # a change after building does not reach the preview
    slider.value = 5
    assert _rows(box.children[1].value)[0][2] == MARKER


@pytest.mark.parametrize("kwargs, words", [({"min_cell": 21}, ["min_cell=21", "between 3 and 20"]),
                                           ({"round_base": 7}, ["round_base=7", "[1, 3, 5, 10]"]),
                                           ({"count": "nope"}, ["count='nope'"])])
def test_the_widget_refuses_values_its_controls_do_not_offer(table, outside_run, kwargs, words):
    with pytest.raises(EvalkitError) as info:
        disclosure_widget(table, **({"count": "persons"} | kwargs))
    for word in words:
        assert word in str(info.value)


def test_without_ipywidgets_the_error_names_the_extra(table, outside_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets raises ImportError
    with pytest.raises(MissingDependencyError) as info:
        disclosure_widget(table, "persons")
    assert isinstance(info.value, EvalkitError) and isinstance(info.value, ImportError)
    assert 'pip install "evalkit[lab]"' in str(info.value)


def test_the_widget_is_refused_in_a_report_run(table, monkeypatch):
    seal._init()
    monkeypatch.setitem(seal._STATE, "report_run", True)
    with pytest.raises(DisclosureError, match="refused in a report run"):
        disclosure_widget(table, "persons")


def test_a_report_run_is_known_before_the_key_is_read(table, monkeypatch):
    monkeypatch.setattr(seal, "_STATE", {})
    monkeypatch.setenv(seal.KEY_ENV, "0" * 64)
    with pytest.raises(DisclosureError, match="report run"):
        disclosure_widget(table, "persons")
    assert seal._STATE == {}  # the check read no key


def test_public_names_have_complete_numpydoc_docstrings():
    """tests/test_docstrings.py checks ``evalkit.__all__``; this module is not exported there."""
    from tests.test_docstrings import problems

    from evalkit.report import widgets

    for name in ("disclosure_preview", "preview_html", "disclosure_widget"):
        assert problems(getattr(widgets, name)) == [], name


# ----------------------------------------------------------------------------- reviewer's defects (issue 16 review)
def test_danish_preview_has_danish_headers_and_labels(table, outside_run):
    """1. lang="da": the added column's header is Danish, and so is every text the preview adds."""
    out = disclosure_preview(table, "persons", lang="da")
    added = [c for c in out.columns if c not in table.columns]
    assert added == [STATUS_COLUMNS["da"]] and STATUS_COLUMNS["da"] != STATUS and STATUS not in out
    html = preview_html(table, "persons", lang="da")
    headers = re.findall(r"<th>(.*?)</th>", html)
    assert headers == ["area", "year", "persons", "mean_income", STATUS_COLUMNS["da"]]
    notes = " ".join(re.findall(r"<p class='evalkit-note'>(.*?)</p>", html))
    for english in ("shown", "suppressed", "rows", "rounded", "preview", "release", "status"):
        assert english not in notes.lower() and english not in html.split("</thead>")[1].lower(), english
    slider, base = disclosure_widget(table, "persons", lang="da").children[0].children
    assert (slider.description, base.description) == (WIDGET_LABELS["min_cell"]["da"],
                                                        WIDGET_LABELS["round_base"]["da"])
    # the English preview keeps its column name; a table that already has the Danish name is refused in Danish
    assert STATUS in disclosure_preview(table, "persons")
    with pytest.raises(ColumnError, match=STATUS_COLUMNS["da"]):
        disclosure_preview(table.assign(**{STATUS_COLUMNS["da"]: "x"}), "persons", lang="da")


@pytest.mark.parametrize("lang, expected", [
    ("da", [["250.000", "1.234,5", "0,048"], ["312.500", "20,0", "0,500"], ["1.000.000", "3,5", "0,333"]]),
    ("en", [["250,000", "1,234.5", "0.048"], ["312,500", "20.0", "0.500"], ["1,000,000", "3.5", "0.333"]]),
])
def test_non_count_numbers_are_shown_sensibly(lang, expected):
    """2. Whole kroner without decimals, other numbers with the decimals they need (at most 3)."""
    frame = pd.DataFrame({"area": ["A", "B", "C"], "n": [60, 70, 80], "income_dkk": [250000.0, 312500.0, 1.0e6],
                          "mean": [1234.5, 20.0, 3.5], "andel": [0.048, 0.5, 1 / 3]})
    rows = _rows(preview_html(frame, "n", round_base=1, total=False, lang=lang))
    assert [r[2:5] for r in rows] == expected


@pytest.mark.parametrize("kwargs, words", [
    ({"min_cell": 10**9}, ["min_cell=1000000000", "between 3 and 1,000"]),
    ({"min_cell": 1001}, ["min_cell=1001", "between 3 and 1,000"]),
])
def test_min_cell_and_round_base_have_the_report_parameters_bounds(table, kwargs, words):
    """3. The bounds are the report run's (evalkit.report.params), named in the error."""
    for func in (disclosure_preview, preview_html):
        with pytest.raises(ParameterError) as info:
            func(table, "persons", **kwargs)
        for word in words:
            assert word in str(info.value), (word, str(info.value))
    from evalkit.report.params import BY_NAME
    assert BY_NAME["min_cell"].bounds == (3, 1000) and BY_NAME["round_base"].bounds == (1, 100)
    disclosure_preview(table, "persons", min_cell=1000, round_base=7)  # a report run may use both


def test_the_widget_refuses_float_bases_it_does_not_offer(table, outside_run):
    """3. The widget's choice is 1, 3, 5 or 10 as integers; 5.0 is not silently taken."""
    with pytest.raises(ParameterError, match=r"round_base=5\.0 .*\[1, 3, 5, 10\]"):
        disclosure_widget(table, "persons", round_base=5.0)


@pytest.mark.parametrize("func", [disclosure_preview, preview_html, disclosure_widget])
def test_a_misspelled_keyword_names_the_right_one(table, outside_run, func):
    """4. @checked: a misspelled keyword is a ParameterError with "did you mean"."""
    with pytest.raises(ParameterError) as info:
        func(table, "persons", min_cel=5)
    assert "min_cel=" in str(info.value) and "Did you mean 'min_cell'" in str(info.value)


@pytest.mark.parametrize("call, words", [
    (lambda t: disclosure_preview(t.assign(persons=[4, 123.4, 7, 0, 1238, 56]), "persons"), ["123.4"]),
    (lambda t: disclosure_preview(t, "persons", min_cell=np.float64(5.5)), ["min_cell=5.5"]),
    (lambda t: disclosure_preview(t, "persons", round_base=np.float64(2.5)), ["round_base=2.5"]),
    (lambda t: disclosure_preview(t, "persons", min_cell=np.int64(2)), ["min_cell=2"]),
    (lambda t: disclosure_preview(t, np.int64(3)), ["count=3"]),
    (lambda t: disclosure_preview(t, "persons", lang=np.str_("de")), ["lang='de'"]),
    (lambda t: disclosure_widget(t, "persons", round_base=np.int64(7)), ["round_base=7"]),
])
def test_messages_show_plain_numbers(table, outside_run, call, words):
    """5. No numpy repr (np.float64(123.4)) in an error message."""
    with pytest.raises(EvalkitError) as info:
        call(table)
    assert "np." not in str(info.value), str(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_an_empty_table_is_named_as_such_for_a_preview(table, outside_run):
    """6. An empty table: "table has no rows", not "nothing to estimate"."""
    for call in (lambda: disclosure_preview(table.iloc[:0], "persons"), lambda: preview_html(table.iloc[:0], "persons"),
                 lambda: disclosure_widget(table.iloc[:0], "persons")):
        with pytest.raises(ValidationError) as info:
            call()
        assert "table has no rows" in str(info.value) and "estimate" not in str(info.value)
        assert "preview" in str(info.value)
