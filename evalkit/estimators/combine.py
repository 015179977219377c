"""Linear combinations and Wald tests of estimated terms (pure functions of estimate + vcov).

Used for the average post-period effect of an event study and the joint pre-trend
test (e.g. Roth, Sant'Anna, Bilinski & Poe 2023, "What's trending in
difference-in-differences?", J. Econometrics 235(2), sec. 4).
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.errors import ParameterError
from evalkit.results.result import Result
from evalkit.core.aliases import checked


@dataclass(frozen=True, slots=True)
class WaldTest:
    """Joint Wald test that the named terms are all zero (chi-square, or F with cluster df).

    Returned by :func:`wald_test` and :func:`pretrend_test`.

    Attributes
    ----------
    terms : tuple of str
        The terms tested.
    statistic : float
        The Wald statistic b' V^-1 b.
    df : int
        Number of restrictions q (the numerator degrees of freedom).
    p_value : float
        p-value from chi2(q), or from F(q, G-1) applied to statistic / q when the result uses
        a t(G-1) reference distribution.
    """

    terms: tuple[str, ...]
    statistic: float
    df: int
    p_value: float


def _check_result(result: object, fn: str) -> None:
    if not isinstance(result, Result):
        raise ParameterError(f"{fn} needs an evalkit Result (of an estimator), not {type(result).__name__}.")


def _term_list(terms: object) -> list[str]:
    """A term name or a list of term names."""
    if isinstance(terms, str):
        return [terms]
    if isinstance(terms, Mapping) or not isinstance(terms, (list, tuple)) or not all(isinstance(t, str) for t in terms):
        raise ParameterError(f"terms={terms!r} must be a term name or a list of term names.")
    return list(terms)


def _pieces(result: Result, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    cov = result.covariance(terms)  # refuses results whose inference has no covariance
    est = result.table.set_index("term").loc[terms, "estimate"].to_numpy(float)
    return est, cov.to_numpy(float)


@checked
def wald_test(result: Result, terms: list[str]) -> WaldTest:
    """Joint Wald test that the named terms of a result are all zero.

    The statistic is b' V^-1 b with V the result's covariance of the terms; the p-value is
    from chi2(q), or from F(q, G-1) applied to statistic / q when the result uses a t(G-1)
    reference distribution (the cluster-robust small-sample form).

    Parameters
    ----------
    result : Result
        A result with a covariance matrix (not one whose inference is wild bootstrap or
        randomization, which have none).
    terms : str or list of str
        The terms to test jointly (names of the tidy table's ``term`` column), at least one.

    Returns
    -------
    WaldTest
        The statistic, number of restrictions and p-value.

    Raises
    ------
    ParameterError
        A ``result`` that is not a :class:`Result`, ``terms`` that are not term names or
        empty, or a result without a usable covariance.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> es = ek.event_study(staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5}), outcome="y", unit="unit",
    ...                     time="time", cohort="cohort", leads=3, lags=3)
    >>> ek.wald_test(es, ["e=0", "e=1"]).p_value  # doctest: +SKIP
    """
    _check_result(result, "wald_test")
    terms = _term_list(terms)
    if not terms:
        raise ParameterError("wald_test needs at least one term.")
    est, cov = _pieces(result, terms)
    stat = float(est @ np.linalg.solve(cov, est))
    q, df = len(terms), result.inference.df
    p = stats.f.sf(stat / q, q, df) if df else stats.chi2.sf(stat, q)
    return WaldTest(terms=tuple(terms), statistic=stat, df=q, p_value=float(p))


@checked
def lincom(result: Result, weights: Mapping[str, float], *, term: str, estimand: str) -> Result:
    """A new :class:`Result` for sum_k w_k * beta_k, with its standard error and interval."""
    _check_result(result, "lincom")
    if not isinstance(weights, Mapping) or not weights:
        raise ParameterError(f"weights={weights!r} must be a non-empty mapping term -> weight, e.g. {{'e=0': 0.5}}.")
    bad = {k: x for k, x in weights.items() if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real)
           or not np.isfinite(x)}
    if bad:
        raise ParameterError(f"weights {bad} must be finite numbers.")
    names = list(weights)
    est, cov = _pieces(result, names)
    w = np.array([weights[n] for n in names], float)
    value, se = float(w @ est), float(np.sqrt(w @ cov @ w))
    df = result.inference.df
    dist = stats.t(df) if df else stats.norm
    crit = dist.ppf(1 - result.alpha / 2)
    stat = value / se if se > 0 else np.nan
    table = {"term": [term], "estimate": [value], "std_error": [se], "statistic": [stat],
             "p_value": [2 * dist.sf(abs(stat))], "conf_low": [value - crit * se], "conf_high": [value + crit * se]}
    return Result(estimator=f"{result.estimator} (combination)", estimand=estimand, table=pd.DataFrame(table),
                  vcov=pd.DataFrame([[se**2]], index=[term], columns=[term]), alpha=result.alpha,
                  inference=result.inference, n_obs=result.n_obs, outcome=result.outcome,
                  diagnostics={"weights": dict(weights)}, meta=dict(result.meta))


def event_terms(result: Result, *, post: bool) -> list[str]:
    """Names of the estimated (non-reference) event-time terms, post (e >= 0) or pre (e < 0)."""
    tab = result.table
    if tab["event_time"].isna().all():
        raise ParameterError(f"{result.estimator} result has no event-time terms.")
    keep = (~tab["reference"]) & tab["event_time"].notna()
    keep &= (tab["event_time"] >= 0) if post else (tab["event_time"] < 0)
    return tab.loc[keep.fillna(False), "term"].tolist()


@checked
def post_average(result: Result) -> Result:
    """Equally weighted average of the post-period event-study coefficients (event times e >= 0).

    For an event study this is the "dynamic" overall effect of Callaway & Sant'Anna (2021,
    eq. 3.9 / R ``did::aggte(type = "dynamic")``'s overall ATT) computed on that design's
    coefficients, with its standard error from the result's covariance and the result's
    reference distribution (t(G-1) or normal).

    Parameters
    ----------
    result : Result
        An event-study result with estimated post-period terms and a covariance matrix.
        Refused for ATT(g,t) results: an equal-weight mean of the post-period group-time
        cells weights cohorts by their number of post periods, an estimand no paper defines;
        use ``aggregate(result, "simple")`` or ``aggregate(result, "dynamic")``.

    Returns
    -------
    Result
        One term "ATT(post avg)" with estimate, standard error, p-value and interval;
        ``diagnostics["weights"]`` holds the weight of each event-time term.

    Raises
    ------
    ParameterError
        A ``result`` that is not a :class:`Result`, an :func:`att_gt` result, one without
        estimated post-period terms, or one without a usable covariance.

    References
    ----------
    Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> es = ek.event_study(staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5}), outcome="y", unit="unit",
    ...                     time="time", cohort="cohort", leads=3, lags=3)
    >>> ek.post_average(es).estimate("ATT(post avg)")  # doctest: +SKIP
    """
    _check_result(result, "post_average")
    if result.meta.get("kind") == "att_gt":
        raise ParameterError("post_average is undefined for ATT(g,t) cells (an unweighted mean of group-time "
                             "effects is no defined estimand); use aggregate(result, 'simple') or "
                             "aggregate(result, 'dynamic') (R did's overall effects).")
    terms = event_terms(result, post=True)
    if not terms:
        raise ParameterError(f"post_average: the {result.estimator} result has no estimated post-period "
                             "(event time >= 0) terms.")
    return lincom(result, {t: 1 / len(terms) for t in terms}, term="ATT(post avg)",
                  estimand="average of the post-period event-time effects, equal weights")


@checked
def pretrend_test(result: Result) -> WaldTest:
    """Joint test that every estimated pre-period event-time coefficient is zero.

    A Wald test (:func:`wald_test`) over the event-time terms with e < 0 other than the
    reference period. Not rejecting is weak evidence for parallel trends: such tests have low
    power against relevant violations (Roth 2022); see :func:`honest_did` for a sensitivity
    analysis instead.

    Parameters
    ----------
    result : Result
        An event-study result with estimated pre-period terms and a covariance matrix
        (:func:`event_study`, :func:`sun_abraham`, ``aggregate(..., "dynamic")``; for
        :func:`did_imputation` the BJS pre-trend test is in ``diagnostics["pretrend_test"]``).

    Returns
    -------
    WaldTest
        The statistic, number of pre-period terms and p-value.

    Raises
    ------
    ParameterError
        A ``result`` that is not a :class:`Result`, without event-time terms, without
        estimated pre-period terms besides the reference, or without a usable covariance.

    References
    ----------
    Roth, J., Sant'Anna, P. H. C., Bilinski, A. & Poe, J. (2023). What's trending in
    difference-in-differences? *Journal of Econometrics* 235(2), 2218-2244, sec. 4.
    Roth, J. (2022). Pretest with caution: event-study estimates after testing for parallel
    trends. *American Economic Review: Insights* 4(3), 305-322.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> es = ek.event_study(staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5}), outcome="y", unit="unit",
    ...                     time="time", cohort="cohort", leads=3, lags=3)
    >>> ek.pretrend_test(es).p_value  # doctest: +SKIP
    """
    _check_result(result, "pretrend_test")
    terms = event_terms(result, post=False)
    if not terms:
        raise ParameterError(f"pretrend_test: the {result.estimator} result has no estimated pre-period "
                             "(event time < 0) terms besides the reference period; estimate more leads.")
    return wald_test(result, terms)
