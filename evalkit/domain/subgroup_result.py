"""The result of the subgroup effects (issue 15, part 4): :class:`SubgroupEffects`.

Returned by :func:`evalkit.domain.subgroups.subgroup_effects` and
:func:`evalkit.domain.survey_subgroups.survey_subgroup_effects`; the estimand, the joint test and the
disclosure rules are documented in :mod:`evalkit.domain.subgroups`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.aliases import checked
from evalkit.core.checks import checked_init
from evalkit.domain._common import frame_html
from evalkit.errors import check_choice
from evalkit.i18n import LANGS, label, localize_numbers, p_equals
from evalkit.results.result import immutable_value

__all__ = ["COLUMNS", "POOL_SEP", "SubgroupEffects"]

#: the name of a pooled subgroup joins its categories' names ("50-64 + 65+")
POOL_SEP = " + "
COLUMNS = ["subgroup", "estimate", "std_error", "conf_low", "conf_high", "n"]


@checked_init
@immutable_value
@dataclass(frozen=True)
class SubgroupEffects:
    """Effects per subgroup and the joint test of equal effects.

    Returned by :func:`subgroup_effects` and :func:`survey_subgroup_effects`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per subgroup with :data:`COLUMNS`: subgroup, estimate, std_error, conf_low,
        conf_high, n (``n`` already rounded / blanked by the disclosure rules).
    joint : dict
        The joint test of equal effects: statistic, df, df_denom, p_value.
    by : str
        The subgroup variable ("origin", "sex", "age_band", "education").
    outcome : str
        The outcome.
    source : str
        "register" or "survey".
    alpha : float
        The intervals have level 1 - alpha.
    min_cell : int
        The disclosure threshold applied.
    notes : tuple
        The disclosure notes (cells dropped, subgroups pooled or suppressed).
    estimand : str
        The estimand in words.
    """

    table: pd.DataFrame
    joint: dict
    by: str
    outcome: str
    source: str
    alpha: float
    min_cell: int
    notes: tuple
    estimand: str

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the subgroup table.

        Returns
        -------
        pandas.DataFrame
            One row per subgroup.
        """
        return self.table.copy(deep=True)

    def joint_test(self) -> dict:
        """The joint test of H0: equal effects in every shown subgroup.

        Returns
        -------
        dict
            statistic (F = W / df), df, df_denom (areas - 1), p_value and method: "f" (p from
            F(df, df_denom)) or "wild" (the wild cluster restricted bootstrap p of W; ``draws``,
            ``boot_weights`` and ``seed`` are then given, and ``p_value_f`` is the F test's).
        """
        keys = ("statistic", "df", "df_denom", "p_value", "method")
        extra = ("p_value_f", "draws", "boot_weights", "seed") if self.joint.get("method") == "wild" else ()
        return {k: self.joint.get(k) for k in keys + extra}

    @checked
    def display(self, lang: str = "en") -> pd.DataFrame:
        """The table with labelled columns and subgroup names in ``lang``.

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of headers and subgroup names.

        Returns
        -------
        pandas.DataFrame
            The table as shown.
        """
        check_choice("lang", lang, LANGS)
        t = self.table
        names = [POOL_SEP.join(label(f"subgroup_{p}", lang) if f"subgroup_{p}" in _KNOWN else p
                               for p in s.split(POOL_SEP)) for s in t["subgroup"]]
        return pd.DataFrame({label("subgroup", lang): names, label("estimate", lang): t["estimate"],
                             label("std_error", lang): t["std_error"],
                             label("ci", lang): [_ci(a, b) for a, b in zip(t["conf_low"], t["conf_high"])],
                             label(self.count_label, lang): t["n"]})

    @property
    def count_label(self) -> str:
        """The label key of the count column: persons (register) or responses (survey: a respondent
        answering in two waves counts twice)."""
        return "n_responses" if self.source == "survey" else "n_persons"

    @checked
    def caption(self, lang: str = "en") -> str:
        """A caption naming the outcome, the subgroups and the joint test (F, df, p; the bootstrap p when wild).

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of the caption.

        Returns
        -------
        str
            The caption.
        """
        j = self.joint
        head = f"{label(self.outcome, lang)}, {label('by_' + self.by, lang)}"
        if j["df"] and np.isfinite(j["statistic"]):
            boot = f"{label('wild_bootstrap', lang)} " if j.get("method") == "wild" else ""
            test = (f"{label('joint_test', lang)}: F({j['df']}, {j['df_denom']}) = "
                    f"{localize_numbers(format(j['statistic'], '.2f'), lang)}, "
                    f"{boot}{p_equals(j['p_value'], lang, draws=j.get('draws'))}")
        else:
            test = f"{label('joint_test', lang)}: -"
        return f"{head}. {test}."

    def _repr_html_(self, lang: str = "en") -> str:
        notes = "".join(f"<br><em>{n}</em>" for n in self.notes)
        return frame_html(self.caption(lang), self.display(lang)) + notes


_KNOWN = {"subgroup_nonwestern", "subgroup_other", "subgroup_men", "subgroup_women", "subgroup_basic",
          "subgroup_upper_secondary", "subgroup_higher"}


def _ci(lo, hi) -> str:
    return "" if pd.isna(lo) or pd.isna(hi) else f"[{lo:.4f}, {hi:.4f}]"
