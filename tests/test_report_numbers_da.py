"""Issue 16, part 6: with ``lang: da`` every number a report shows follows the Danish convention
(decimal comma, dot between thousands: "1.744,360", "0,048", "p < 0,001"); English stays as it was.

Cheap checks of the one place tables are drawn (:mod:`evalkit.report.disclosure`) and of the text
helpers; the executed Danish report is checked in ``test_report_outcomes.py`` (its ``letting``
fixture), so no report is run here.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import EvalkitError
from evalkit.i18n import format_p, localize_numbers, p_equals
from evalkit.report import text as rtext
from evalkit.report.disclosure import LEDGER, _estimates_table, count_persons, is_year_column, safe_table
from evalkit.report.param_header import header_parameters
from evalkit.report.sdc import tabulate
from evalkit.report.tables import _estimates_safe, format_p_columns


@pytest.fixture(autouse=True)
def fresh_ledger():
    """Each test publishes into an empty ledger (cross-table checks would link unrelated tests)."""
    LEDGER.reset()
    yield
    LEDGER.reset()


def _cells(html: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", html)


def _estimates() -> pd.DataFrame:
    return pd.DataFrame({"term": ["K1", "e=-1", "e=0"], "År": [2023, 2024, 2025],
                         "estimate": [1744.36, -0.0481, np.nan], "p_value": [0.0475, 0.00002, np.nan],
                         "conf": ["[-0.0123, 0.0456]", "undefined", "–"]})


# ------------------------------------------------------------------ the table renderer
def test_danish_estimates_table_decimal_comma_thousands_dot_years_untouched():
    t = _estimates_safe(_estimates(), digits=3, lang="da")
    assert _cells(t.html) == ["K1", "2023", "1.744,360", "0,048", "[-0,0123; 0,0456]",
                              "e=-1", "2024", "-0,048", "&lt; 0,001", "undefined",
                              "e=0", "2025", "–", "–", "–"]
    assert "1.744,360" in t.text and "2.024" not in t.text


def test_english_estimates_table_groups_thousands():
    en = _estimates_safe(_estimates(), digits=3, lang="en")
    assert _cells(en.html) == ["K1", "2023", "1,744.360", "0.048", "[-0.0123, 0.0456]",
                               "e=-1", "2024", "-0.048", "&lt; 0.001", "undefined",
                               "e=0", "2025", "–", "–", "–"]
    assert en.html == _estimates_safe(_estimates(), digits=3).html              # English is the default


def _micro() -> pd.DataFrame:
    """1,744 persons in 2024 (area a), 3 in 2025 (area b): a large count and a suppressed one."""
    ids = [f"p{i:04d}" for i in range(1747)]
    return pd.DataFrame({"PERSON_ID": ids, "AAR": [2024] * 1744 + [2025] * 3, "area": ["a"] * 1744 + ["b"] * 3})


@pytest.mark.parametrize("lang, big", [("da", "1.744"), ("en", "1,744")])
def test_counts_are_whole_numbers_grouped_in_danish_years_and_marker_untouched(lang, big):
    t = safe_table(count_persons(_micro(), "AAR"), count_cols=["persons"], round_to=None, lang=lang)
    assert _cells(t.html) == ["2024", big, "2025", ".."]                          # the year label is no amount
    assert t.table["persons"].iloc[0] == 1744                                   # only the display changes


def test_tabulate_shows_statistics_in_danish():
    micro = _micro().assign(income=np.linspace(100_000.5, 400_000.25, 1747), employed=[0, 1] * 873 + [1])
    t = tabulate(micro, "AAR", values={"income": "mean", "employed": "share"}, round_base=None, digits=2, lang="da")
    cells = _cells(t.html)
    assert cells[:2] == ["2024", "1.744"] and re.fullmatch(r"\d{3}\.\d{3},\d{2}", cells[2]) and cells[3] == "0,50"
    assert cells[4:] == ["2025", "..", "..", ".."]                              # suppressed row: marker only


def test_lang_is_checked():
    with pytest.raises(EvalkitError, match="lang"):
        _estimates_table(_estimates(), lang="de")


@pytest.mark.parametrize("name, values, expected", [
    ("AAR", None, True), ("Første indsatsår", None, True), ("År fra start", None, True), ("year", None, True),
    ("Beboere", pd.Series([1744, 2200]), False), ("n", pd.Series([2014, 2024]), True),
    ("Estimat", pd.Series([0.5, 2024.0]), False), ("Beboere", None, False)])
def test_year_columns(name, values, expected):
    assert is_year_column(name, values) is expected


# ------------------------------------------------------------------ p-values and text
def test_p_values_follow_the_language_and_the_draws():
    assert format_p(0.0475, "da") == "0,048" and format_p(0.0475, "en") == "0.048"
    assert format_p(0.0004, "da") == "< 0,001" and format_p(0.0, "da", draws=399) == "< 0,0025"
    assert format_p(0.0475, "da", comma=False) == "0.048"                        # an explicit choice wins
    assert p_equals(0.0, "da", draws=399) == "p < 0,0025" and p_equals(0.0, "en", draws=399) == "p < 0.0025"
    frame = pd.DataFrame({"p-værdi": [0.0, 0.0, 0.2]})
    assert format_p_columns(frame, 4, "da", draws=[399, None, 399])["p-værdi"].tolist() == \
        ["< 0,0025", "< 0,001", "0,200"]                                         # per row: None is analytic; 3 decimals


def test_localize_numbers_rewrites_english_numbers_once():
    assert localize_numbers("p = 0.048; 1,744.360 og 12,000 personer; F = 0.66.", "da") == \
        "p = 0,048; 1.744,360 og 12.000 personer; F = 0,66."
    kept = "K1, v3.11.2, 2014-2024, R = 999, p = 0,048, 1, 2"
    assert localize_numbers(kept, "da") == kept                                   # codes, years, Danish decimals
    assert localize_numbers("1,744.360", "en") == "1,744.360"


def test_danish_sentences_use_the_decimal_comma():
    sentence = rtext.effect_sentence("Område", -0.0123, -0.02, -0.004, 0.0, "employment_rate", lang="da",
                                     alpha=0.05, truth=-0.01, draws=399)
    assert "-1,23 pp" in sentence and "[-2,00 pp; -0,40 pp]" in sentence and "p < 0,0025" in sentence
    assert "-1.23" not in sentence and "p < 0.001" not in sentence
    english = rtext.effect_sentence("Area", -0.0123, -0.02, -0.004, 0.0, "employment_rate", lang="en", alpha=0.05)
    assert "-1.23 pp" in english and "[-2.00 pp; -0.40 pp]" in english and "p < 0.001" in english
    assert "χ²(3) = 2,50, p = 0,475" in rtext.pretrend_sentence(2.5, 3, 0.4753, lang="da", alpha=0.05)
    assert "Mbar = 1,25" in rtext.breakdown_sentence(1.25, False, lang="da")


def test_run_parameters_header_in_danish():
    params = {"alpha": 0.05, "seed": 2024, "lang": "da", "data_dir": "x", "budget_dkk": 1500000}
    assert header_parameters(params) == {"Signifikansniveau (α)": "0,05", "Startværdi for tilfældige tal (seed)": "2024",
                                         "Sprog": "dansk", "Budget (kr.)": "1.500.000"}
    english = dict(params, lang="en")
    assert header_parameters(english) == {"Significance level (α)": "0.05", "Random seed": "2024",
                                          "Language": "English", "Budget (DKK)": "1,500,000"}


def test_danish_figure_ticks_use_the_decimal_comma():
    from evalkit.report.figures import trends_figure

    panel = pd.DataFrame({"AAR": list(range(2014, 2020)) * 2, "cohort": [0] * 6 + [2016] * 6,
                          "employment_rate": np.linspace(0.3, 0.4, 12)})
    ticks = {}
    for lang in ("da", "en"):
        fig = trends_figure(panel, "employment_rate", lang=lang)
        fig.canvas.draw()
        ticks[lang] = ([t.get_text() for t in fig.axes[0].get_yticklabels()],
                       [t.get_text() for t in fig.axes[0].get_xticklabels()])
    assert "0,30" in ticks["da"][0] and "0.30" in ticks["en"][0]
    assert "2016" in ticks["da"][1] and ticks["da"][1] == ticks["en"][1]          # years untouched


def test_a_p_value_of_one_never_reads_as_a_thousand():
    """Issue 16 review: a placebo p of 1 showed as "1.000" in a Danish table ("1,000" localized twice)."""
    assert format_p(1.0, "da") == "1" and format_p(1.0) == "1" and p_equals(1.0, "da") == "p = 1"
    assert format_p(0.9997, "da") == "> 0,999" and format_p(0.9997) == "> 0.999"
    assert p_equals(0.9997, "da") == "p > 0,999" and format_p(0.9994) == "0.999"
    frame = pd.DataFrame({"p-værdi": [1.0, 0.9997, 0.5]})
    shown = _estimates_safe(frame, lang="da").to_frame().iloc[:, 0].tolist()
    assert shown == ["1", "> 0,999", "0,500"]
    assert localize_numbers(format_p(1.0, "da"), "da") == "1"
