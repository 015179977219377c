"""Report sentences from numbers, in both languages, with numpy scalars as estimators return them."""
import numpy as np
import pytest

from evalkit.report.text import effect_sentence


@pytest.mark.parametrize("lang, inside, signif", [("en", "lies inside", "is statistically significant"),
                                                  ("da", "ligger inden for", "er statistisk signifikant")])
def test_effect_sentence_numpy_inputs(lang, inside, signif):
    text = effect_sentence("Area", np.float64(0.025), np.float64(0.018), np.float64(0.031), np.float64(0.001),
                           "employment_rate", lang=lang, alpha=0.05, truth=np.float64(0.0236))
    assert "+2.50 pp" in text and "[+1.80 pp; +3.10 pp]" in text and inside in text and signif in text


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
