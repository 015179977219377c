"""The area estimand beside the cohort estimand, estimated with the same estimator.

* **Area estimand** (repeated cross-section): effect on the indicator of whoever lives in
  the treated areas each year. It mixes effects on people with changes in who lives there.
* **Cohort estimand** (intention to treat by baseline address): effect on the residents of
  the baseline year, followed wherever they move (``Microdata.cohort_panel``), with the
  treatment assigned by their baseline area and standard errors clustered on it.

When an intervention acts on whoever lives in the area (a place-based effect such as an
outreach job centre), baseline residents who move away stop receiving it, so the cohort
effect is diluted by turnover (about 10-15 % a year) and lies *below* the area effect; this
is what evalkit's simulator does. Selective moving (employed residents leave more often)
biases the area estimand only when treatment changes who moves, which the cohort
estimand is immune to (see ``shared/domain.md``, "Composition vs effect").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain._common import (check_number, check_numeric_columns, check_positive_int, check_probability,
                                    check_str, frame_html, require_columns)
from evalkit.domain.timing import attach_cohort
from evalkit.errors import ParameterError, ValidationError, check_choice
from evalkit.core.aliases import checked

ESTIMATORS = ("event_study", "twfe")
COLUMNS = ["estimand", "estimate", "std_error", "conf_low", "conf_high", "p_value", "n_obs",
           "n_clusters", "truth"]


@checked
def cohort_design_panel(cohort_panel: pd.DataFrame, cohorts: pd.DataFrame) -> pd.DataFrame:
    """The baseline-cohort panel with treatment by *baseline* area (intention to treat).

    ``OMR_ID_BASE`` becomes ``OMR_ID`` (the assignment and cluster level), the current area is
    kept as ``OMR_ID_CUR``; then :func:`attach_cohort` adds ``cohort``/``treated``/``treat``.
    The input of the cohort side of :func:`compare_estimands`.

    Parameters
    ----------
    cohort_panel : pandas.DataFrame
        Person x year panel with PERSON_ID, AAR, OMR_ID_BASE and OMR_ID, e.g. from
        :func:`build_cohort_panel`; not modified.
    cohorts : pandas.DataFrame
        ``OMR_ID, cohort, role`` from :func:`treatment_cohorts` or
        :func:`cohorts_from_history`.

    Returns
    -------
    pandas.DataFrame
        A new frame with OMR_ID (baseline area), OMR_ID_CUR (current area), cohort, treated
        and treat.

    Raises
    ------
    ColumnError
        A required column is missing.
    ValidationError
        ``cohort_panel`` already has OMR_ID_CUR (or a column :func:`attach_cohort` adds).
    """
    require_columns(cohort_panel, ["PERSON_ID", "AAR", "OMR_ID_BASE", "OMR_ID"], "cohort_panel")
    if "OMR_ID_CUR" in cohort_panel.columns:
        raise ValidationError("cohort_panel already has column 'OMR_ID_CUR', which cohort_design_panel adds "
                              "(from OMR_ID); drop or rename it first.")
    panel = cohort_panel.rename(columns={"OMR_ID": "OMR_ID_CUR", "OMR_ID_BASE": "OMR_ID"})
    return attach_cohort(panel, cohorts)


def _estimate(panel, outcome, unit, estimator, leads, lags, alpha):
    from evalkit.estimators import event_study, twfe
    from evalkit.estimators.combine import post_average

    if estimator == "twfe":
        return twfe(panel, outcome=outcome, unit=unit, time="AAR", treatment="treat", cluster="OMR_ID", alpha=alpha)
    es = event_study(panel, outcome=outcome, unit=unit, time="AAR", cohort="cohort", leads=leads, lags=lags,
                     cluster="OMR_ID", alpha=alpha)
    return post_average(es)


def _binned_event_time(cohort: pd.Series, time: pd.Series, leads: int, lags: int) -> pd.Series:
    """Event time of treated rows, binned at -leads and lags as in the event-study design."""
    return (time - cohort).clip(lower=-leads, upper=lags).where(cohort > 0)


def _truth(panel: pd.DataFrame, estimator: str, leads: int, lags: int) -> float:
    """The simulated truth the estimator targets, from a column ``effect`` (NaN without it): the mean
    over treated post-period rows (TWFE), or the equal-weight mean over event times 0..lags of the
    mean effect by binned event time (the event study's post average). The same rules as
    :mod:`evalkit.report.truth`, kept here so the domain layer does not import the report layer."""
    if "effect" not in panel:
        return np.nan
    if estimator == "twfe":
        post = (panel["cohort"] > 0) & (panel["AAR"] >= panel["cohort"])
        return float(panel.loc[post, "effect"].mean())
    by_e = panel["effect"].groupby(_binned_event_time(panel["cohort"], panel["AAR"], leads, lags)).mean()
    return float(by_e.loc[[e for e in range(lags + 1) if e in by_e.index]].mean())


def _row(name: str, result, truth_value: float) -> dict:
    row = result.tidy().iloc[0]
    return {"estimand": name, "estimate": row["estimate"], "std_error": row["std_error"],
            "conf_low": row["conf_low"], "conf_high": row["conf_high"], "p_value": row["p_value"],
            "n_obs": result.n_obs, "n_clusters": result.inference.n_clusters, "truth": truth_value}


@checked_init
@immutable_value
@dataclass(frozen=True)
class EstimandComparison:
    """The area estimand beside the cohort estimand, from :func:`compare_estimands`.

    The difference row has no standard error: both estimates use the same areas and are
    correlated, and their covariance is not estimated here.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``area``, ``cohort`` and ``area_minus_cohort`` with :data:`COLUMNS` (estimand,
        estimate, std_error, conf_low, conf_high, p_value, n_obs, n_clusters, truth).
    outcome : str
        The area outcome.
    estimator : str
        "event_study" or "twfe".
    alpha : float
        The intervals have level 1 - alpha.
    stayer_share : float, default nan
        Share of the treated cohort's post-period person-years lived in the baseline area
        (under a place-based effect the cohort effect is roughly the area effect times it).
    """

    table: pd.DataFrame
    outcome: str
    estimator: str
    alpha: float
    stayer_share: float = np.nan

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the comparison table.

        Returns
        -------
        pandas.DataFrame
            Rows area, cohort, area_minus_cohort.
        """
        return self.table.copy(deep=True)

    def estimate(self, estimand: str) -> float:
        """The point estimate of one estimand.

        Parameters
        ----------
        estimand : {"area", "cohort", "area_minus_cohort"}
            The row of the table.

        Returns
        -------
        float
            The estimate.

        Raises
        ------
        ParameterError
            An unknown ``estimand``.
        """
        check_choice("estimand", estimand, list(self.table["estimand"]))
        return float(self.table.set_index("estimand").loc[estimand, "estimate"])

    def _repr_html_(self) -> str:
        return frame_html(f"Area vs cohort estimand ({self.estimator}, {self.outcome})", self.table)


@checked
def compare_estimands(area_panel: pd.DataFrame, cohort_panel: pd.DataFrame, *, outcome: str,
                      person_outcome: str, estimator: str = "event_study", leads: int = 4, lags: int = 5,
                      alpha: float = 0.05) -> EstimandComparison:
    """Estimate the area and the cohort estimand with the same estimator; return both side by side.

    The **area estimand** (repeated cross-section) is the effect on the indicator of whoever
    lives in the treated areas each year; it mixes effects on people with changes in who lives
    there. The **cohort estimand** (intention to treat by baseline address) is the effect on
    the residents of the baseline year, followed wherever they move. Under a place-based
    effect the cohort effect is diluted by out-moving and lies below the area effect; selective
    moving biases only the area estimand. Both fits cluster on the (baseline) area.

    Parameters
    ----------
    area_panel : pandas.DataFrame
        Area x year with ``OMR_ID, AAR, cohort, treat`` and ``outcome`` (from
        :func:`attach_cohort`). A column ``effect`` (simulated truth) adds the truth.
    cohort_panel : pandas.DataFrame
        Person x year with ``PERSON_ID, AAR, OMR_ID`` = baseline area, ``cohort, treat`` and
        ``person_outcome`` (from :func:`cohort_design_panel`); ``OMR_ID_CUR`` gives the stayer
        share; a column ``effect`` adds the truth.
    outcome : str
        The outcome column of ``area_panel`` (e.g. "employment_rate").
    person_outcome : str
        The matching person-level outcome column of ``cohort_panel`` (e.g. "BESK_FTE").
    estimator : {"event_study", "twfe"}, default "event_study"
        "event_study": the post-period average of the event-time effects
        (:func:`post_average` of :func:`event_study`); "twfe": static two-way fixed effects.
    leads : int, default 4
        Event-study leads (1-50); ignored by "twfe".
    lags : int, default 5
        Event-study lags (0-50); ignored by "twfe".
    alpha : float, default 0.05
        Intervals have level 1 - alpha.

    Returns
    -------
    EstimandComparison
        Rows ``area``, ``cohort`` and ``area_minus_cohort``; :func:`estimand_paragraph`
        writes the text for a report.

    Raises
    ------
    ParameterError
        An unknown ``estimator``, ``leads``/``lags`` out of range, a bad ``alpha`` or empty
        column names.
    ColumnError
        A required column is missing or not numeric.

    Examples
    --------
    >>> import evalkit as ek
    >>> cmp = ek.compare_estimands(area_panel, cohort_panel, outcome="employment_rate",
    ...                            person_outcome="BESK_FTE")  # doctest: +SKIP
    >>> print(ek.estimand_paragraph(cmp, lang="da"))  # doctest: +SKIP
    """
    check_choice("estimator", estimator, ESTIMATORS)
    check_str("outcome", outcome)
    check_str("person_outcome", person_outcome)
    leads = check_positive_int("leads", leads, minimum=1, maximum=50)
    lags = check_positive_int("lags", lags, minimum=0, maximum=50)
    alpha = check_probability("alpha", alpha)
    require_columns(area_panel, ["OMR_ID", "AAR", "cohort", "treat", outcome], "area_panel")
    require_columns(cohort_panel, ["PERSON_ID", "OMR_ID", "AAR", "cohort", "treat", person_outcome], "cohort_panel")
    check_numeric_columns(area_panel, [outcome, "cohort", "treat"], "area_panel")
    check_numeric_columns(cohort_panel, [person_outcome, "cohort", "treat"], "cohort_panel")
    area = _estimate(area_panel, outcome, "OMR_ID", estimator, leads, lags, alpha)
    cohort = _estimate(cohort_panel, person_outcome, "PERSON_ID", estimator, leads, lags, alpha)
    return comparison_from_results(area, cohort, outcome=outcome, estimator=estimator,
                                   truth=(_truth(area_panel, estimator, leads, lags),
                                          _truth(cohort_panel, estimator, leads, lags)),
                                   share=stayer_share(cohort_panel))


def comparison_from_results(area, cohort, *, outcome: str, estimator: str, truth=(np.nan, np.nan),
                            share: float = np.nan) -> EstimandComparison:
    """Pack two already estimated results (first term of each: the ATT or the post average)."""
    rows = [_row("area", area, truth[0]), _row("cohort", cohort, truth[1])]
    diff = {k: np.nan for k in COLUMNS} | {"estimand": "area_minus_cohort",
                                           "estimate": rows[0]["estimate"] - rows[1]["estimate"],
                                           "truth": rows[0]["truth"] - rows[1]["truth"]}
    table = pd.DataFrame(rows + [diff], columns=COLUMNS).astype({"n_obs": "Int64", "n_clusters": "Int64"})
    return EstimandComparison(table=table, outcome=outcome, estimator=estimator, alpha=float(area.alpha),
                              stayer_share=share)


def stayer_share(cohort_panel: pd.DataFrame) -> float:
    """Share of the treated cohort's post-period person-years lived in the baseline area.

    Under a place-based effect the cohort effect is roughly the area effect times this share.
    Needs ``OMR_ID_CUR`` (current area, from :func:`cohort_design_panel`); NaN without it.
    """
    require_columns(cohort_panel, ["OMR_ID", "treat"], "cohort_panel", allow_empty=True)
    if "OMR_ID_CUR" not in cohort_panel:
        return np.nan
    post = cohort_panel[cohort_panel["treat"] == 1]
    same = (post["OMR_ID_CUR"] == post["OMR_ID"]).astype("boolean").fillna(False)  # moved out: NA -> False
    return float(same.astype(bool).mean()) if len(post) else np.nan


@checked
def estimand_paragraph(comparison: EstimandComparison, *, lang: str = "en", unit: float = 100.0,
                       unit_name: str = "pp") -> str:
    """A paragraph (da/en) that states both estimates of :func:`compare_estimands` and explains why they differ.

    Parameters
    ----------
    comparison : EstimandComparison
        The result of :func:`compare_estimands`.
    lang : {"en", "da"}, default "en"
        Language of the paragraph.
    unit : float, default 100.0
        Factor from the outcome's units to the reported ones (> 0); 100 reports a share as
        percentage points.
    unit_name : str, default "pp"
        Name of the reported unit (e.g. "pp", "DKK").

    Returns
    -------
    str
        The paragraph, with the stayer share when the comparison has one.

    Raises
    ------
    ParameterError
        A ``comparison`` that is not an :class:`EstimandComparison`, an unknown ``lang``, a
        non-positive ``unit`` or an empty ``unit_name``.
    """
    if not isinstance(comparison, EstimandComparison):
        raise ParameterError(f"comparison must be the EstimandComparison of compare_estimands, "
                             f"got {type(comparison).__name__}.")
    check_choice("lang", lang, ("da", "en"))
    unit = check_number("unit", unit, low=0, low_open=True)
    check_str("unit_name", unit_name)
    a, c = comparison.estimate("area"), comparison.estimate("cohort")
    fa, fc, fd = (f"{v * unit:+.2f} {unit_name}" for v in (a, c, a - c))
    share = comparison.stayer_share
    stay = "" if np.isnan(share) else {
        "da": f" Efter indsatsens start boede kohorten i {100 * share:.0f} % af sine personår stadig i baseline-området.",
        "en": f" After the start, the cohort spent {100 * share:.0f}% of its person-years in its baseline area."}[lang]
    if lang == "da":
        sign = "større" if a > c else "mindre"
        return (f"Områdeeffekten er {fa}, kohorteeffekten {fc}; områdeeffekten er {sign} (forskel {fd}). "
                "Områdeeffekten gælder dem, der bor i indsatsområderne det enkelte år. Kohorteeffekten følger "
                "beboerne fra baseline-året, også når de flytter (intention to treat). En indsats, der virker på "
                "dem, der bor i området, når ikke dem, der er flyttet væk, så kohorteeffekten fortyndes af "
                "fraflytningen (10-15 % om året) og ligger normalt under områdeeffekten." + stay + " Omvendt kan "
                "områdeeffekten også rumme ændringer i, hvem der flytter ind og ud (selektiv flytning), "
                "som ikke er en effekt på personer.")
    sign = "larger" if a > c else "smaller"
    return (f"The area effect is {fa} and the cohort effect {fc}; the area effect is {sign} (difference {fd}). "
            "The area effect concerns whoever lives in the treated areas each year. The cohort effect follows the "
            "baseline-year residents wherever they move (intention to treat). An intervention that acts on the "
            "residents of the area does not reach those who have moved away, so the cohort effect is diluted by "
            "out-moving (10-15% a year) and normally lies below the area effect." + stay + " Conversely, the area effect can "
            "also contain changes in who moves in and out (selective moving), which are not effects on people.")
