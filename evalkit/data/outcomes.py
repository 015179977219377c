"""Every area-year outcome evalkit builds, in one panel with Danish and English labels.

:data:`OUTCOMES` names each estimable outcome of the area x year panel, its population (the
count column its cell rests on) and its definition. The residents' indicators follow
``shared/domain.md`` (K1 in full-time persons, convictions, K3 basic schooling 30-59, K4
income relative to the region, NW); the young people's share and the movers' composition
are defined in :mod:`evalkit.data.panels` and :mod:`evalkit.data.composition`. The simulator
records the truth of every one of them (``truth/area_effects.parquet``).

:func:`outcome_panel` is the one call a report needs: the area panel with every outcome
column, small mover groups suppressed at the source, and the labels in ``attrs``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evalkit.core.aliases import checked
from evalkit.data.composition import check_min_cell, mover_composition
from evalkit.data.panels import Microdata, open_microdata
from evalkit.errors import ParameterError, closest
from evalkit.i18n import LANGS, label


@dataclass(frozen=True, slots=True)
class Outcome:
    """An area-year outcome: the count its cell rests on and its definition."""

    population: str
    definition: str


OUTCOMES: dict[str, Outcome] = {
    "employment_rate": Outcome("residents_18_64", "mean BESK_FTE of residents 18-64 (full-time persons)"),
    "k1_share": Outcome("residents_18_64", "K1: mean UDENFOR_FTE of residents 18-64 (full-time persons, the "
                                           "rule from 2018)"),
    "conviction_share": Outcome("residents", "K2 (one year): share of residents 18+ convicted during the year"),
    "basic_edu_share": Outcome("residents", "K3: share of residents 30-59 with only grundskole (unknown left out)"),
    "income_rel_region": Outcome("residents", "K4: mean gross income of taxpayers 15-64 not in education "
                                              "(UDD_FTE < 0.5), relative to the same group in the region"),
    "nonwestern_share": Outcome("residents", "NW: share of residents who are non-western immigrants or descendants"),
    "youth_emp_edu_share": Outcome("residents_15_24", "mean min(BESK_FTE + UDD_FTE, 1) of residents 15-24"),
    "in_emp_edu_share": Outcome("n_in_movers", "mean min(BESK_FTE + UDD_FTE, 1) of in-movers 18-64 in their "
                                               "first year in the area"),
    "in_nonwestern_share": Outcome("n_in_movers", "share non-western among in-movers 18-64"),
    "out_emp_edu_share": Outcome("n_out_movers", "mean min(BESK_FTE + UDD_FTE, 1) of out-movers 18-64 in their "
                                                 "last year in the area"),
    "out_nonwestern_share": Outcome("n_out_movers", "share non-western among out-movers 18-64"),
}
#: count columns of the panel (the populations the outcomes rest on)
COUNTS = ("residents", "residents_18_64", "residents_15_24", "n_in_movers", "n_out_movers")


def is_share(outcome: str) -> bool:
    """Whether an outcome column is a share or rate (0 to 1), by evalkit's naming (``*_rate``,
    ``*_share``): its effects are stated in percentage points (reports, ``plot(pp=True)``)."""
    return outcome.endswith(("_rate", "_share"))


def check_outcome(outcome) -> str:
    """``outcome`` if it is one of :data:`OUTCOMES`, else a :class:`ParameterError` naming them all."""
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise ParameterError(f"outcome={outcome!r} is not an area outcome evalkit builds; choose one of "
                             f"{list(OUTCOMES)}." + closest(str(outcome), list(OUTCOMES)))
    return outcome


def outcome_labels(lang: str = "da") -> dict[str, str]:
    """{column: label} in ``lang`` ("da" or "en") for every outcome and count column."""
    return {key: label(key, lang) for key in (*OUTCOMES, *COUNTS)}


def _youth_suppressed(panel: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Blank the young people's share over 1 to ``min_cell - 1`` residents 15-24 (flagged; rows kept)."""
    small = (panel["residents_15_24"] > 0) & (panel["residents_15_24"] < min_cell)
    return panel.assign(youth_emp_edu_share=panel["youth_emp_edu_share"].where(~small),
                        residents_15_24=panel["residents_15_24"].astype("float64").where(~small),
                        youth_suppressed=small.to_numpy())


@checked
def outcome_panel(source: Microdata | str | Path | pd.DataFrame, *, outcomes=None, min_cell: int = 5,
                  unknown_education: str = "exclude", validate: bool = True) -> pd.DataFrame:
    """The area x year panel with every outcome of :data:`OUTCOMES` (or only ``outcomes``).

    Besides the residents' indicators of :func:`build_area_panel`, it holds the composition of
    in-movers and out-movers, so an evaluation can separate effects on people from sorting.
    Area-years with out-movers but no residents are kept (missing resident indicators).

    Parameters
    ----------
    source : Microdata, str, pathlib.Path or pandas.DataFrame
        An opened :class:`Microdata`, or microdata as for :func:`open_microdata` (a file,
        folder, data directory or DataFrame).
    outcomes : str or list of str, optional
        Outcome names among :data:`OUTCOMES` (employment_rate, k1_share, conviction_share,
        basic_edu_share, income_rel_region, nonwestern_share, youth_emp_edu_share,
        in_emp_edu_share, in_nonwestern_share, out_emp_edu_share, out_nonwestern_share);
        None: all.
    min_cell : int, default 5
        Disclosure threshold: groups of 1 to ``min_cell - 1`` persons (young people, in- and
        out-movers) are blanked at the source and flagged. A whole number >= 3 (Statistics
        Denmark's floor; common practice is 5).
    unknown_education : {"exclude", "basic"}, default "exclude"
        How persons with missing education (HFAUDD) enter the basic-education share:
        "exclude" leaves them out of numerator and denominator; "basic" counts them as having
        only basic schooling.
    validate : bool, default True
        Check the schema (columns, types, value ranges, unique (PERSON_ID, AAR)) with pandera,
        out of core; False skips the check for data already validated.

    Returns
    -------
    pandas.DataFrame
        Columns ``OMR_ID, AAR, REGION``, the counts :data:`COUNTS`, the outcomes, and the flags
        ``in_movers_suppressed``, ``out_movers_suppressed`` and ``youth_suppressed``.
        ``attrs["labels"]`` holds ``{column: {"da": ..., "en": ...}}``;
        ``attrs["definitions"]`` the definitions; ``attrs["min_cell"]`` the threshold.

    Raises
    ------
    ParameterError
        An unknown outcome name (the closest is named), a ``min_cell`` below 3, a bad
        ``unknown_education`` or ``source``.
    ValidationError
        Data that break the schema.

    Examples
    --------
    >>> import evalkit as ek
    >>> panel = ek.outcome_panel("demo_data", outcomes=["employment_rate", "k1_share"])  # doctest: +SKIP
    """
    min_cell = check_min_cell(min_cell)
    wanted = list(OUTCOMES) if outcomes is None else [check_outcome(o) for o in _as_list(outcomes)]
    md = source if isinstance(source, Microdata) else open_microdata(source, validate=validate)
    area = _youth_suppressed(md.area_panel(unknown_education=unknown_education), min_cell)
    panel = area.merge(mover_composition(md, min_cell=min_cell), on=["OMR_ID", "AAR"], how="outer",
                       validate="one_to_one").sort_values(["OMR_ID", "AAR"], ignore_index=True)
    flags = ["in_movers_suppressed", "out_movers_suppressed", "youth_suppressed"]
    panel[flags] = panel[flags].fillna(False).astype(bool)
    panel = panel[["OMR_ID", "AAR", "REGION", *COUNTS, *wanted, *flags]]
    panel.attrs["labels"] = {c: {lang: label(c, lang) for lang in LANGS} for c in (*COUNTS, *wanted)}
    panel.attrs["definitions"] = {o: OUTCOMES[o].definition for o in wanted}
    panel.attrs["min_cell"] = min_cell
    return panel


def _as_list(outcomes) -> list:
    if isinstance(outcomes, str):
        return [outcomes]
    if not isinstance(outcomes, (list, tuple)) or not outcomes:
        raise ParameterError(f"outcomes={outcomes!r} must be an outcome name or a non-empty list of names "
                             f"from {list(OUTCOMES)}.")
    return list(outcomes)
