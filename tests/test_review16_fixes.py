"""Fixes from the outside review of issue 16 that have no better home."""
from __future__ import annotations

from evalkit.report import text


def test_areas_starting_after_the_evaluation_year_are_not_counted_as_treated():
    """A midterm (evaluation_year 2019) said '25 treated areas' although 5 start in 2020: they are not treated
    in the window (Study.check leaves them out) and the design sentence says so."""
    en = text.future_treated_sentence(5, 2019, lang="en")
    assert "A further 5 areas start the intervention after 2019" in en and "not counted as treated" in en
    assert "Yderligere 5 områder" in text.future_treated_sentence(5, 2019, lang="da")
    assert text.future_treated_sentence(0, 2019, lang="en") == ""
