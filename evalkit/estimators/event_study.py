"""TWFE event study (dynamic difference-in-differences)."""
from __future__ import annotations

from collections.abc import Mapping

from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ParameterError, ValidationError
from evalkit.core import checks as v, weighting
from evalkit.estimators import _event_fit
from evalkit.estimators._event_design import (_dummies, _prepare, _prepare_coded, event_codes,  # noqa: F401
                                              event_span, event_times)
from evalkit.estimators._fast_checks import constant_within, unique_keys
from evalkit.estimators._common import cluster_diagnostics, finish, fit_handover, fit_twoway, pack, term_table
from evalkit.estimators.postfit import inference_options_checked
from evalkit.inference.registry import default_cluster
from evalkit.inference import FitRequest, split
from evalkit.results import Result
from evalkit.core.aliases import checked

ESTIMAND = "Effect at each event time relative to the reference period (TWFE event study)"


@checked
def event_study(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, leads: int = 4,
                lags: int = 4, cluster: str | None = None, alpha: float = 0.05, reference: int = -1,
                bin_endpoints: bool = True, inference: str | None = None,
                inference_options: Mapping[str, Any] | None = None, weights: str | None = None,
                weights_type: str = "analytic") -> Result:
    """Event-study regression with unit and time fixed effects.

    y_it = a_i + l_t + sum_{e != reference} b_e 1[t - g_i = e] + u_it, where g_i
    (``cohort``) is the first treated period of unit i and 0 means never
    treated (Freyaldenhoven, Hansen, Perez Perez & Shapiro 2021).
    With staggered adoption and effects that differ across cohorts, each b_e
    is contaminated by effects at other event times (Sun & Abraham 2021); use it with one
    cohort or homogeneous effects, else :func:`sun_abraham`, :func:`att_gt` or
    :func:`did_imputation`.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel with one row per (unit, time); may be unbalanced. Not modified.
    outcome : str
        Numeric outcome column; rows with a missing outcome are dropped with an
        :class:`~evalkit.errors.EvalkitWarning`.
    unit : str
        Panel unit column; (unit, time) must be unique.
    time : str
        Numeric period column (e.g. year); event time is e = time - cohort.
    cohort : str
        First treated period of the unit, constant within unit; 0 = never treated. At least
        one unit must be treated.
    leads : int, default 4
        Number of pre-treatment event times with a dummy: e in [-leads, -1] except the
        reference.
    lags : int, default 4
        Number of post-treatment event times after e = 0 with a dummy: e in [0, lags].
        Terms are named "e=-3", ..., "e=0", "e=1", ...
    cluster : str, optional
        Assignment level for cluster-robust inference; ``cohort`` must be constant within it.
        Default None: clustered by ``unit`` unless ``inference="hc1"`` (as in :func:`twfe`).
    alpha : float, default 0.05
        Intervals have level 1 - alpha.
    reference : int, default -1
        Omitted event time, in [-leads, -1]; it appears in the table with estimate 0, no
        standard error and ``reference=True``.
    bin_endpoints : bool, default True
        If True, e < -leads is pooled into -leads and e > lags into lags. If False, those
        rows get no dummy and, like the reference period, serve as the comparison. No rows
        are dropped either way.
    inference : str, optional
        None (default "cr1"), "cr1", "hc1" (normal distribution, only when asked for by
        name), or a post-fit method "cr2", "cr3", "wild", "randomization" (see
        :meth:`Result.with_inference`).
    inference_options : mapping, optional
        Options of the post-fit ``inference`` method, e.g. ``{"seed": 1, "draws": 9999}``.
    weights : str, optional
        Column of non-negative row weights w_i (e.g. residents of an area-year): weighted least
        squares with the unit and time effects partialled out by weighted projection,
        b = (D~'WD~)^-1 D~'Wy~ (fixest/pyfixest ``feols(y ~ i(event_time, ref=-1) | unit + time,
        weights=)``); CR1 scores s_g = sum_{i in g} w_i d~_i e_i; every post-fit method
        re-estimates by WLS. Weights may vary over time. Rows with weight 0 are dropped with
        an :class:`~evalkit.errors.EvalkitWarning`. Recorded in
        ``meta["weights"]``/``meta["weights_type"]``. Large weighted panels take the exact
        weighted two-way solver on dense dummies (the sparse indicator path is unweighted).
    weights_type : {"analytic", "frequency"}, default "analytic"
        "analytic" (aweights: N = number of rows in G/(G-1) (N-1)/(N-K) and N/(N-K)) or
        "frequency" (fweights, whole numbers: N = sum_i w_i, HC1 meat
        sum_i w_i d~_i d~_i' e_i^2; the numbers of the expanded data).

    Returns
    -------
    Result
        One row per event time in [-leads, lags] (the reference row included with
        ``reference=True``); ``n_treated`` counts treated units observed at each event time.
        Use :func:`pretrend_test` for the joint pre-trend test, :func:`post_average` for the
        average post effect and :func:`honest_did` for sensitivity to parallel trends.

    Raises
    ------
    ParameterError
        An unknown keyword, negative ``leads``/``lags``, a ``reference`` outside
        [-leads, -1], a non-bool ``bin_endpoints``, or an unknown ``inference``.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        Duplicate (unit, time) rows, no treated unit, a cohort varying within a unit or
        cluster, or event-time dummies that are not identified (no comparison rows).

    References
    ----------
    Freyaldenhoven, S., Hansen, C., Perez Perez, J. & Shapiro, J. M. (2021). Visualization,
    identification, and estimation in the linear panel event-study design. NBER WP 29170.
    Sun, L. & Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
    heterogeneous treatment effects. *Journal of Econometrics* 225(2), 175-199.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5})
    >>> res = ek.event_study(panel, outcome="y", unit="unit", time="time", cohort="cohort",
    ...                      leads=3, lags=3, cluster="cluster")
    >>> fig = res.plot()
    """
    alpha = v.check_alpha(alpha)
    weights_type = weighting.check_weights_type(weights_type)
    leads, lags = v.check_nonneg_int("leads", leads), v.check_nonneg_int("lags", lags)
    _check_reference(reference, leads)
    if not isinstance(bin_endpoints, bool):
        raise ParameterError(f"bin_endpoints={bin_endpoints!r} must be True or False.")
    cluster = default_cluster(inference, cluster, unit)  # by the unit unless given or HC1 asked for
    method, postfit = split(inference, cluster)
    inference_options = inference_options_checked(postfit, inference_options)
    # the checks of the panel use integer codes (entity, period, clusters) where they can (O(n), no group-by)
    df, entity = _prepare_coded(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster,
                                weights=weights, weights_type=weights_type)
    df, n_dropped = v.drop_missing(df, outcome)
    df, n_zero = weighting.drop_zero(df, weights)
    if n_dropped or n_zero:
        entity = pd.factorize(df[unit], sort=True)[0]
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_has_treated(df, cohort)
    period = pd.factorize(df[time], sort=True)[0]
    unique_keys(df, unit, time, entity, period)
    clusters = None
    if cluster is not None:
        v.check_levels(df, cluster, "cluster", 2, "clusters for cluster-robust inference")
        clusters = pd.factorize(df[cluster], sort=True)[0]
        constant_within(df, cohort, [cluster], clusters, "cohort", "treatment timing is assigned by cluster")

    window = [e for e in range(-leads, lags + 1) if e != reference]
    names = [f"e={k}" for k in window]
    # position of each row's event time in -leads..lags (the window and the reference), else none
    span = event_span(df[time].to_numpy(), df[cohort].to_numpy(), leads, lags, bin_endpoints)
    span_rows = np.bincount(span, minlength=leads + lags + 2)
    has_never = bool((df[cohort].to_numpy() == 0).any())  # event time NaN: never treated
    _check_identified(names, span_rows[[e + leads for e in window]], has_never, span_rows[-1] == 0, bin_endpoints)

    req = _panel_request(len(df), entity, period, clusters, cluster, len(window), weighting.values(df, weights),
                         weights_type)
    y = df[outcome].to_numpy(float)
    n_units = int(entity.max()) + 1
    treated = _treated_counts(span, span_rows, entity, n_units, bin_endpoints)
    keep = None
    if _event_fit.usable(len(y), method, req, postfit):  # the dummies as sparse indicators
        lookup = np.full(len(span_rows), len(window), dtype=np.intp)
        lookup[[e + leads for e in window]] = np.arange(len(window))
        code = lookup[span]
        del span
        params, vcov = _event_fit.fit_event_indicators(y, code, names, entity, period, req)
        del code
    else:
        etime = event_times(df[time].to_numpy(float), df[cohort].to_numpy(float), leads, lags, bin_endpoints)
        keep = {} if postfit == "wild" and weights is None else None  # the wild bootstrap reuses the partialled data
        params, vcov = fit_twoway(y, _dummies(etime, window), entity, period, method, req, keep)
    table = _table(params, vcov, alpha, method.df(req), treated, -leads, reference)
    never = df[cohort].to_numpy() == 0
    diagnostics = {"n_dropped_missing": n_dropped, "n_units": n_units,
                   "n_never_treated": int(np.count_nonzero(np.bincount(entity[never], minlength=n_units))),
                   "cohorts": sorted(int(c) for c in df[cohort].unique() if c > 0),
                   **cluster_diagnostics(df, cluster, df[cohort] > 0), **weighting.diagnostics(df, weights, n_zero)}
    meta = {"unit": unit, "time": time, "cohort": cohort, "cluster": cluster, "leads": leads, "lags": lags,
            "reference": reference, "bin_endpoints": bin_endpoints, **weighting.meta(weights, weights_type)}
    result = pack(estimator="event_study", estimand=ESTIMAND, table=table, vcov=vcov, alpha=alpha, method=method,
                req=req, outcome=outcome, diagnostics=diagnostics, meta=meta)
    fit = fit_handover(keep, names, req, entity, period)
    return finish(result, postfit, data, inference_options, fit)


def _panel_request(n: int, entity: np.ndarray, period: np.ndarray, clusters: np.ndarray | None,
                   cluster: str | None, k: int, weights: np.ndarray | None = None,
                   weights_type: str = "analytic") -> FitRequest:
    """:func:`~evalkit.estimators._common.panel_request` from the codes (``tests/test_event_sparse.py``
    holds them equal): n_units + n_times - 1 effects, n_units - 1 of them nested if every unit lies in
    one cluster."""
    n_units, n_times = int(entity.max()) + 1, int(period.max()) + 1
    nested = 0
    if clusters is not None:
        home = np.zeros(n_units, dtype=clusters.dtype)
        home[entity] = clusters
        if np.array_equal(home[entity], clusters):
            nested = n_units - 1
    return FitRequest(n_obs=n, n_regressors=k, n_effects=n_units + n_times - 1, n_nested_effects=nested,
                      clusters=clusters, cluster_name=cluster, weights=weights, weights_type=weights_type)


def _check_reference(reference: object, leads: int) -> None:
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or not -leads <= reference <= -1:
        raise ParameterError(
            f"reference={reference!r} must be an integer pre-treatment event time in [-leads, -1] = [{-leads}, -1]"
            + (" (leads=0 leaves no pre-period; use leads >= 1)." if leads == 0 else ".")
        )


def _check_identified(names: list[str], rows: np.ndarray, has_never: bool, all_in_window: bool,
                      bin_endpoints: bool) -> None:
    """Every dummy (``names``, with ``rows`` rows each) needs data, and something must serve as the
    comparison (``all_in_window``: every row's event time is in the window or the reference)."""
    empty = [c for c, r in zip(names, rows) if r == 0]
    if empty:
        raise ValidationError(
            f"No treated unit is observed at event times {empty}; reduce leads/lags to the observed range."
        )
    if not has_never and (bin_endpoints or all_in_window):
        raise ValidationError(
            "All units are eventually treated and every event time is in the window, so the event-time effects "
            "are not identified next to unit and time effects (Borusyak, Jaravel & Spiess 2024). Add never-treated "
            "units (cohort 0), or use bin_endpoints=False with a window shorter than the observed event times."
        )


def _treated_counts(span: np.ndarray, span_rows: np.ndarray, entity: np.ndarray, n_units: int,
                    bin_endpoints: bool) -> np.ndarray:
    """Treated units observed at each event time of -leads..lags (``span`` codes with ``span_rows``
    rows each; the last code is none).

    (unit, time) is unique and the cohort constant within units, so a unit has at most one row per
    event time: rows count units, except in the binned end points, where units are counted once."""
    counts = span_rows[:-1].copy()
    for j in ((0, len(counts) - 1) if bin_endpoints else ()):
        counts[j] = np.count_nonzero(np.bincount(entity[span == j], minlength=n_units))
    return counts


def _table(params, vcov, alpha, df, treated, lo, reference) -> pd.DataFrame:
    table = term_table(params, vcov, alpha, df)
    table["event_time"] = [int(t.split("=")[1]) for t in table["term"]]
    ref = pd.DataFrame({"term": [f"e={reference}"], "estimate": [0.0], "event_time": [reference], "reference": [True]})
    table = pd.concat([table, ref], ignore_index=True).sort_values("event_time", ignore_index=True)
    table["n_treated"] = treated[table["event_time"].to_numpy() - lo].astype(int)
    return table
