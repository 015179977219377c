"""Report sentences from numbers, in both languages, with numpy scalars as estimators return them."""
import numpy as np
import pytest

from evalkit.report.text import effect_sentence


@pytest.mark.parametrize("lang, inside, signif, est, ci", [
    ("en", "lies inside", "is statistically significant", "+2.50 pp", "[+1.80 pp; +3.10 pp]"),
    ("da", "ligger inden for", "er statistisk signifikant", "+2,50 pp", "[+1,80 pp; +3,10 pp]")])  # decimal comma
def test_effect_sentence_numpy_inputs(lang, inside, signif, est, ci):
    text = effect_sentence("Area", np.float64(0.025), np.float64(0.018), np.float64(0.031), np.float64(0.001),
                           "employment_rate", lang=lang, alpha=0.05, truth=np.float64(0.0236))
    assert est in text and ci in text and inside in text and signif in text


def test_effect_sentence_outside_and_not_significant():
    text = effect_sentence("Area", 0.01, -0.01, 0.03, 0.4, "employment_rate", lang="en", alpha=0.05, truth=0.05)
    assert "lies outside the interval" in text and "not statistically significant" in text
    assert "simulated" not in effect_sentence("Area", 0.01, -0.01, 0.03, 0.4, "employment_rate", lang="en",
                                              alpha=0.05, truth=float("nan"))


def test_few_cluster_note_says_when_the_wild_bootstrap_is_conservative():
    from evalkit.report.text import few_cluster_note

    for lang, word in (("en", "conservative"), ("da", "konservativ")):
        assert word in few_cluster_note(3, "wild", lang=lang)
        assert word not in few_cluster_note(8, "wild", lang=lang)
        assert word not in few_cluster_note(3, "cr1", lang=lang)


# ------------------------------------------------- break-it review 14: p-values, open intervals, wording
import math

from evalkit.i18n import format_p, p_equals
from evalkit.report import text as rtext


def test_p_values_below_0001_and_exact_zero_are_written_as_bounds():
    assert format_p(0.0000918) == "< 0.001" and format_p(0.0) == "< 0.001"
    assert format_p(0.0004, "da", comma=True) == "< 0,001"
    assert format_p(0.0, draws=399) == "< 0.0025"          # no draw as extreme: < 1/(B+1)
    assert format_p(0.0, draws=9999) == "< 0.001"
    assert format_p(0.0475, digits=4) == "0.0475" and format_p(float("nan")) == "–"
    assert p_equals(0.0003) == "p < 0.001" and p_equals(0.048) == "p = 0.048"
    sentence = rtext.effect_sentence("Area", -0.01, -0.02, -0.005, 1e-5, "conviction_share", lang="en", alpha=0.05)
    assert "p < 0.001" in sentence and "p = 0.000" not in sentence
    design = rtext.advised_design_sentence(3, 44, lang="en", cr1_p=9e-6, label_="RI", p_value=0.0025)
    assert "p < 0.001 for the static" in design and "p = 0.003 for the same effect" in design
    assert "robustness table's event-study row" in design


def test_interval_beyond_the_outcomes_range_is_written_open():
    bounds = (-0.0394, 1 - 0.0394)
    assert rtext.interval_text(-0.6723, 0.0587, "conviction_share", lang="en", bounds=bounds) == \
        "[below -3.94 pp; +5.87 pp]"
    assert rtext.interval_text(-math.inf, 0.01, "employment_rate", lang="da") == "[-∞; +1,00 pp]"
    note = rtext.unbounded_note(-0.6723, 0.0587, "conviction_share", lang="en", method="restricted wild cluster "
                                "bootstrap", bounds=bounds, mde=True)
    assert "unbounded below" in note and "-3.94 pp" in note and "MDE" in note
    assert rtext.unbounded_note(-0.02, 0.01, "conviction_share", lang="en", method="x", bounds=bounds) == ""
    line = rtext.summary_line("Area", -0.0122, -0.6723, 0.0587, "conviction_share", lang="en", mde=-0.0123,
                              bounds=bounds)
    assert "-67.23" not in line and "no MDE is shown" in line


def test_summary_mde_says_which_effect_it_is_for():
    line = rtext.summary_line("Area", -0.0138, -0.0275, -0.0001, "conviction_share", lang="en", mde=-0.0042,
                              mde_static=True)
    assert "MDE for the static effect (80% power, alpha 0.05): -0.42 pp" in line
    da = rtext.summary_line("Område", 0.02, 0.01, 0.03, "employment_rate", lang="da", mde=0.007)
    assert "MDE for gennemsnittet efter start (80 % styrke, alfa 0,05): +0,70 pp" in da


@pytest.mark.parametrize("lang, bigger, closer", [("en", "larger in absolute value", "closer to zero"),
                                                  ("da", "større i absolut værdi", "tættere på nul")])
def test_estimand_comparison_is_by_magnitude(lang, bigger, closer):
    en = ("The area effect is -1.38 pp and the cohort effect -0.94 pp; the area effect is smaller (difference "
          "-0.44 pp). ... and normally lies below the area effect.")
    da = ("Områdeeffekten er -1.38 pp, kohorteeffekten -0.94 pp; områdeeffekten er mindre (forskel -0.44 pp). "
          "... og ligger normalt under områdeeffekten.")
    out = rtext.estimand_magnitudes(en if lang == "en" else da, -0.0138, -0.0094, lang=lang)
    assert bigger in out and "smaller (" not in out and "mindre (" not in out
    assert closer in out                                  # the cohort effect is diluted toward zero
    small = rtext.estimand_magnitudes(en if lang == "en" else da, -0.005, -0.0094, lang=lang)
    assert f"is {closer} (" in small or f"er {closer} (" in small


def test_advisor_notes_explain_counts_threshold_and_direction():
    note = rtext.advisor_table_note(497, 500, False, 0.05, lang="en")
    assert "497 distinct of 500 drawn" in note and "size-adjusted" in note
    assert "497 forskellige af 500" in rtext.advisor_table_note(497, 500, False, 0.05, lang="da")
    warn = rtext.effect_direction_warning(0.005, "conviction_share", lang="en")
    assert "+0.50 pp is an increase" in warn and "desired effect" in warn
    assert "ønskede effekt" in rtext.effect_direction_warning(0.005, "conviction_share", lang="da")
