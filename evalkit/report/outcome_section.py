"""Any outcome of :data:`evalkit.data.outcomes.OUTCOMES` in a report: the area panel that holds it.

The register indicators come from :meth:`Microdata.area_panel`; the movers' composition (in- and
out-movers' shares, :mod:`evalkit.data.composition`) from :func:`evalkit.outcome_panel`, which blanks
mover groups of fewer than ``min_cell`` persons at the source. The cohort (intention-to-treat)
estimand needs a person-level outcome (:data:`evalkit.report.truth.PERSON_OUTCOME`); for the others
the report says why it is not shown (:func:`no_cohort_note`).
"""
from __future__ import annotations

import pandas as pd

from evalkit.data.outcomes import outcome_panel
from evalkit.report.i18n import label

#: outcomes of Microdata.area_panel (the rest need the movers' composition)
REGISTER_PANEL = ("employment_rate", "k1_share", "conviction_share", "basic_edu_share", "income_rel_region",
                  "nonwestern_share", "youth_emp_edu_share")


def area_panel(md, outcome: str, min_cell: int) -> pd.DataFrame:
    """The area x year panel holding ``outcome`` (rows where it is blanked or undefined are dropped)."""
    if outcome in REGISTER_PANEL:
        return md.area_panel()
    panel = outcome_panel(md, min_cell=min_cell)
    return panel[panel[outcome].notna()].reset_index(drop=True)


def has_cohort(outcome: str) -> bool:
    """Whether the outcome has a person-level definition (the cohort estimand and the movers' decomposition)."""
    from evalkit.report.truth import PERSON_OUTCOME

    return outcome in PERSON_OUTCOME


def no_cohort_note(outcome: str, lang: str) -> str:
    """Why the cohort estimand is not shown for ``outcome``."""
    name = label(outcome, lang).lower()
    return {"da": f"Kohorteeffekten vises ikke: {name} er ikke defineret for den enkelte person, der følges "
                  "fra baseline-året.",
            "en": f"The cohort effect is not shown: {name} is not defined for a person followed from the "
                  "baseline year."}[lang]
