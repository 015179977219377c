"""A reviewer's reading of the Danish final report: counts shown as counts, one precision per number,
p-values alike in every table, no redundant columns, no file names, alt texts that name their area,
and tables that format themselves where they are built. Table and text functions are tested
directly (no report is rendered)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evalkit.diagnostics._sensitivity import SensitivityResult
from evalkit.inference.advice import COLUMNS, InferenceAdvice


# ------------------------------------------------------------------ 1. residents are counts
def _panel():
    rows = [(1, 2018, 1933), (2, 2018, 1937), (3, 2018, 1734), (4, 0, 2001), (5, 0, 1999)]
    df = pd.DataFrame([(a, 2014, c, r) for a, c, r in rows], columns=["OMR_ID", "AAR", "cohort", "residents"])
    for ind in ("employment_rate", "k1_share", "conviction_share", "basic_edu_share", "income_rel_region",
                "nonwestern_share"):
        df[ind] = np.linspace(0.1, 0.5, len(df))
    return df


@pytest.mark.parametrize("lang, residents, rate", [
    ("da", ["Beboere", "1.868", "2.000", "-132"], ["0,200", "0,450", "-0,250", "-2,887"]),
    ("en", ["Residents", "1,868", "2,000", "-132"], ["0.200", "0.450", "-0.250", "-2.887"]),
])
def test_balance_table_shows_residents_as_whole_persons_and_rates_with_decimals(lang, residents, rate):
    from evalkit.report.tables import balance_safe

    lines = balance_safe(_panel(), 2014, lang=lang).text.splitlines()
    row = next(line for line in lines if line.strip().startswith(residents[0]))
    assert row.split()[:4] == residents, row               # rounded, thousands separator, the row adds up
    assert row.split()[4] not in ("-132", "-132,000")       # the standardised difference keeps its decimals
    share = next(line for line in lines if "18-64" in line)
    assert share.split()[-4:] == rate


# ------------------------------------------------------------------ 2. one precision for the breakdown value
def _sensitivity(breakdown: float = 1.43812) -> SensitivityResult:
    table = pd.DataFrame({"method": ["c-lf", "c-lf", "c-lf", "original"], "Mbar": [0.0, 0.5, 2.0, np.nan],
                          "lb": [0.1, 0.05, -0.1, 0.11], "ub": [0.3, 0.4, 0.5, 0.29]})
    return SensitivityResult(table, "relative_magnitudes", "c-lf", "Mbar", 0.05, (1.0,), 0.2, 0.05, breakdown,
                             False, 4, 5)


@pytest.mark.parametrize("lang, shown", [("da", "1,44"), ("en", "1.44")])
def test_breakdown_value_has_one_precision_in_the_text_and_the_figure(lang, shown):
    from evalkit.report import figures, text
    from evalkit.report.study import Study

    fake = SimpleNamespace(p={"lang": lang, "outcome": "employment_rate"}, honest=_sensitivity())
    sentence = text.breakdown_sentence(fake.honest.breakdown, False, lang=lang)
    assert f"Mbar = {shown}." in sentence and text.breakdown_value(1.43812, lang) == shown
    html = str(Study.sensitivity_figure(fake)._repr_mimebundle_()[0]["text/html"])
    legend = [t for t in re.findall(r'data-labels="([^"]*)"', html)[0].split("&quot;") if " = " in t]
    assert legend and legend[0].endswith(f" = {shown}"), legend       # not "1,438" beside "1,44" in the text
    fig = _sensitivity(2.0).plot(lang=lang)
    assert any(t.endswith(" = 2,00" if lang == "da" else " = 2.00") for t in figures.figure_texts(fig))
    assert "Robust (C-LF)" in figures.figure_texts(fig)                # not the code "c-lf"


# ------------------------------------------------------------------ 3. the same p looks the same in both tables
def _advice() -> InferenceAdvice:
    table = pd.DataFrame([
        dict(method="randomization", label="Randomization inference (t)", size=0.046, size_low=0.03,
             size_high=0.069, threshold=0.05, power=0.92, holds_size=True, chosen=True, statistic=5.1,
             p_value=1 / 400, reject=True, note=""),
        dict(method="wcr_rademacher", label="WCR", size=0.006, size_low=0.001, size_high=0.018, threshold=0.05,
             power=0.85, holds_size=True, chosen=False, statistic=4.0, p_value=0.0, reject=True, note=""),
        dict(method="cr2", label="CR2", size=0.02, size_low=0.01, size_high=0.037, threshold=0.05, power=0.7,
             holds_size=True, chosen=False, statistic=2.0, p_value=0.05217, reject=False, note=""),
    ], columns=list(COLUMNS))
    return InferenceAdvice(table=table, chosen="randomization", size_corrected=False, critical_value=float("nan"),
                           alpha=0.05, level=0.95, effect=-0.005, n_placebos=497, enumerated=False, draws=399,
                           seed=2024, match_size=True, weighted=True, n_treated=3, n_comparison=44,
                           first_year=2018, lang="da")


@pytest.mark.parametrize("lang, column, expected", [
    ("da", "p-værdi (data)", ["0,003", "< 0,0025", "0,052"]),
    ("en", "p-value (data)", ["0.003", "< 0.0025", "0.052"]),
])
def test_advisor_table_shows_p_values_as_the_few_cluster_table_does(lang, column, expected):
    from evalkit.i18n import format_p
    from evalkit.report.advising import display_table
    from evalkit.report.few_clusters import inference_table, row_draws
    from evalkit.report.tables import format_p_columns

    advice = _advice()
    shown = display_table(advice, lang)
    assert shown[column].tolist() == expected                              # not "0,0025" (four decimals)
    # the few-cluster table's marked row carries the advisor's p with its draws: the same text
    rows = [{"method": "randomization", "estimate": -0.01, "std_error": 0.002, "p_value": 1 / 400,
             "conf_low": -0.02, "conf_high": 0.0, "detail": "", "draws": 399}]
    few = format_p_columns(inference_table(rows, used="randomization", lang=lang), 4, lang, row_draws(rows))
    assert few.iloc[0, 3] == shown[column].iloc[0] == format_p(1 / 400, lang, draws=399)


def test_few_cluster_details_write_the_tables_own_p_with_three_decimals():
    from evalkit.report.few_clusters import with_advisor_p

    advised = SimpleNamespace(advice=SimpleNamespace(chosen="wcr_rademacher", draws=399),
                              row=lambda name: {"p_value": 0.0}, method="wcr_rademacher")
    rows = [{"method": "wild", "estimate": -0.01, "std_error": 0.002, "p_value": 0.005, "conf_low": -0.02,
             "conf_high": 0.0, "detail": "B = 9,999, Rademacher", "draws": 9999}]
    out = with_advisor_p(rows, "wild", advised, None, pd.DataFrame(), seed=1, lang="da")
    assert "p = 0,005 med B = 9,999" in out[0]["detail"], out[0]["detail"]   # not "p = 0,0050"
    rows[0]["p_value"] = 0.0
    out = with_advisor_p(rows, "wild", advised, None, pd.DataFrame(), seed=1, lang="en")
    assert "p < 0.001 with" in out[0]["detail"] and out[0]["draws"] == 399


# ------------------------------------------------------------------ 4. no "Led" column beside event time
@pytest.mark.parametrize("lang, persons", [("da", False), ("da", True), ("en", False)])
def test_event_study_table_has_no_term_column(lang, persons):
    from evalkit.i18n import label
    from evalkit.report.tables import event_study_frame

    tidy = pd.DataFrame({"term": ["e=-1", "e=0"], "event_time": [-1, 0], "estimate": [0.0, 0.01],
                         "std_error": [np.nan, 0.002], "conf_low": [np.nan, 0.006], "conf_high": [np.nan, 0.014],
                         "p_value": [np.nan, 0.001], "n_treated": [25, 25], "statistic": [np.nan, 5.0]})
    shown = event_study_frame(tidy, lang, persons=persons)
    assert label("term", lang) not in shown.columns and "term" not in shown.columns
    assert list(shown.columns)[0] == label("event_time", lang)
    assert list(shown.columns)[-1] == label("treated_persons" if persons else "treated", lang)


def test_event_study_table_of_a_share_in_percentage_points():
    """Break-it review: headline "-2,18 pp" beside an event-study table of "-0,0112" under a bare "Estimat"."""
    from evalkit.report.tables import event_study_frame

    tidy = pd.DataFrame({"term": ["e=-1", "e=0"], "event_time": [-1, 0], "estimate": [0.0, -0.0112],
                         "std_error": [np.nan, 0.002], "conf_low": [np.nan, -0.015], "conf_high": [np.nan, -0.007],
                         "p_value": [np.nan, 0.001], "n_treated": [25, 25]})
    shown = event_study_frame(tidy, "da", pp=True)
    assert shown.columns[1] == "Estimat (procentpoint)"
    assert shown.iloc[1, 1:5].tolist() == pytest.approx([-1.12, 0.2, -1.5, -0.7])
    assert shown["p-værdi"].iloc[1] == 0.001 and tidy["estimate"].iloc[1] == -0.0112  # p and input unchanged
    assert event_study_frame(tidy, "da").columns[1] == "Estimat"


# ------------------------------------------------------------------ 5. the parameter header speaks plainly
def test_parameter_header_labels_live_in_the_label_map_and_name_no_file():
    from evalkit import i18n
    from evalkit.report import param_header
    from evalkit.report.param_header import header_parameters

    assert param_header.PARAMETER_NAMES is i18n.PARAMETER_NAMES
    own = [k for k, v in vars(param_header).items() if isinstance(v, dict) and not k.startswith("__")
           and getattr(i18n, k, None) is not v]
    assert not own, own                                                # every label dict comes from evalkit.i18n
    da = header_parameters({"lang": "da", "budget_dkk": 0.0})["Budget (kr.)"]
    en = header_parameters({"lang": "en", "budget_dkk": 0})["Budget (DKK)"]
    assert da == "samlet budget for indsatsen" and en == "total budget of the intervention"
    for shown in (*(v[lang] for v in i18n.PARAMETER_DEFAULTS.values() for lang in i18n.LANGS),):
        assert not re.search(r"\w+\.(csv|parquet|yaml)\b|_dkk\b", shown), shown


# ------------------------------------------------------------------ 6. each synthetic-control figure names its area
@pytest.mark.parametrize("lang, word", [("da", "Område"), ("en", "Area")])
def test_synthetic_control_alt_texts_name_each_area_by_its_letter(lang, word):
    from evalkit.report.few_clusters import synth_figure_alts

    fits = {1017: object(), 2044: object()}                            # fitted areas; 1530 was left out
    alts = synth_figure_alts(fits, lang=lang, treated=[1017, 1530, 2044])
    assert [a.split(":")[0] for a in alts] == [f"{word} A", f"{word} C"]  # letters as the tables give them
    assert len(set(alts)) == len(alts) and not any(re.search(r"\d{3}", a) for a in alts)  # never an area id


# ------------------------------------------------------------------ 7. the HonestDiD table formats itself
def test_generic_estimates_table_knows_nothing_of_honest_did():
    from evalkit.report.tables import _estimates_safe

    frame = pd.DataFrame({"method": ["c-lf", "original"], "Mbar": [0.5, np.nan], "lb": [0.1, 0.2]})
    text = _estimates_safe(frame, digits=4, lang="en").text
    assert "c-lf" in text and "0.5000" in text and "Conditional" not in text     # shown as given


def test_honest_did_table_is_formatted_where_the_report_builds_it():
    from evalkit.report.study import Study, honest_table

    shown = honest_table(_sensitivity().tidy(), "da")
    assert list(shown.columns) == ["Metode", "M̄ (grænse for brud)", "Nedre grænse", "Øvre grænse"]
    assert shown["Metode"].tolist() == ["Hybrid af betinget og mindst gunstig test (C-LF)"] * 3 + \
        ["Oprindeligt interval"]
    assert shown["M̄ (grænse for brud)"].tolist()[:3] == ["0", "0,5", "2"]
    table = Study.sensitivity(SimpleNamespace(p={"lang": "en"}, honest=_sensitivity()))
    lines = table.text.splitlines()
    assert lines[1].split()[-3:] == ["0", "0.1000", "0.3000"] and "Conditional least-favorable hybrid (C-LF)" in lines[2]
    assert lines[2].split()[-3] == "0.5" and "Original interval" in table.text and "Mbar = 1.44." in table.text


def test_movers_figure_has_danish_decimal_commas(monkeypatch):
    """Break-it review: the POA stayer/in-mover/out-mover bars had ticks "1.5, -0.5" in a Danish report."""
    from evalkit.report import domain_sections as ds

    drawn = []
    monkeypatch.setattr(ds, "sealed_figure", lambda fig, alt: drawn.append(fig))
    monkeypatch.setattr(ds, "_no_decomposition", lambda study: None)
    tidy = pd.DataFrame({"group": ["treated", "comparison"], "stayers_change": [0.012, -0.004],
                         "in_movers_contribution": [0.006, 0.001], "out_movers_contribution": [-0.003, 0.0],
                         "total_change": [0.015, -0.003]})
    study = SimpleNamespace(p={"lang": "da"}, movers_decomposition=SimpleNamespace(tidy=lambda: tidy))
    ds.movers_figure(study)
    fig = drawn[0]
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any("," in t for t in ticks) and not any("." in t for t in ticks), ticks
    assert fig.axes[0].get_ylabel() == "Procentpoint"
