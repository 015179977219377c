"""TWFE event study (dynamic difference-in-differences)."""
from __future__ import annotations

from collections.abc import Mapping

from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ParameterError, ValidationError
from evalkit.core import checks as v
from evalkit.estimators._event_design import _dummies, _prepare, event_times  # noqa: F401
from evalkit.estimators._common import (cluster_diagnostics, finish, fit_handover, fit_twoway, pack,
                                       panel_request, term_table)
from evalkit.estimators.postfit import inference_options_checked
from evalkit.inference.registry import default_cluster
from evalkit.inference import split
from evalkit.results import Result
from evalkit.core.aliases import checked

ESTIMAND = "Effect at each event time relative to the reference period (TWFE event study)"


@checked
def event_study(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, leads: int = 4,
                lags: int = 4, cluster: str | None = None, alpha: float = 0.05, reference: int = -1,
                bin_endpoints: bool = True, inference: str | None = None,
                inference_options: Mapping[str, Any] | None = None) -> Result:
    """Event-study regression with unit and time fixed effects.

    y_it = a_i + l_t + sum_{e != reference} b_e 1[t - g_i = e] + u_it, where g_i
    (``cohort``) is the first treated period of unit i and 0 means never
    treated (Freyaldenhoven, Hansen, Perez Perez & Shapiro 2021, "Visualization,
    identification, and estimation in the linear panel event-study design").
    With staggered adoption and effects that differ across cohorts, each b_e
    is contaminated by effects at other event times (Sun & Abraham 2021, J.
    Econometrics 225(2)); use it with one cohort or homogeneous effects.

    Parameters
    ----------
    time : numeric period (e.g. year); event time is e = time - cohort.
    cohort : first treated period, constant within unit, 0 = never treated.
    leads, lags : dummies for e in [-leads, lags] (terms "e=-3", ..., "e=0", ...).
    reference : omitted event time, in [-leads, -1]; it appears in the table
        with estimate 0, no standard error and ``reference=True``.
    bin_endpoints : if True, e < -leads is pooled into -leads and e > lags into
        lags. If False, those rows get no dummy and, like the reference period,
        serve as the comparison. No rows are dropped either way.
    cluster, alpha, inference : as in :func:`evalkit.estimators.twfe` ("cr1"
        with t(G-1) by default; without ``cluster`` clustered by ``unit``; "hc1" with the
        normal distribution only when asked for by name).

    The table's ``n_treated`` counts treated units observed at each event time.
    """
    alpha = v.check_alpha(alpha)
    leads, lags = v.check_nonneg_int("leads", leads), v.check_nonneg_int("lags", lags)
    _check_reference(reference, leads)
    if not isinstance(bin_endpoints, bool):
        raise ParameterError(f"bin_endpoints={bin_endpoints!r} must be True or False.")
    cluster = default_cluster(inference, cluster, unit)  # by the unit unless given or HC1 asked for
    method, postfit = split(inference, cluster)
    inference_options = inference_options_checked(postfit, inference_options)
    df = _prepare(data, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster)
    df, n_dropped = v.drop_missing(df, outcome)
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_has_treated(df, cohort)
    v.check_unique_keys(df, unit, time)
    if cluster is not None:
        v.check_levels(df, cluster, "cluster", 2, "clusters for cluster-robust inference")
        v.check_constant_within(df, cohort, [cluster], "cohort", "treatment timing is assigned by cluster")

    window = [e for e in range(-leads, lags + 1) if e != reference]
    etime = event_times(df[time].to_numpy(float), df[cohort].to_numpy(float), leads, lags, bin_endpoints)
    dummies = _dummies(etime, window)
    _check_identified(dummies, etime, reference, bin_endpoints)

    req = panel_request(df, unit=unit, time=time, cluster=cluster, n_regressors=dummies.shape[1])
    entity, period = pd.factorize(df[unit], sort=True)[0], pd.factorize(df[time], sort=True)[0]
    keep = {} if postfit == "wild" else None  # the wild bootstrap reuses the fit's partialled data
    params, vcov = fit_twoway(df[outcome].to_numpy(float), dummies, entity, period, method, req, keep)
    table = _table(params, vcov, alpha, method.df(req), etime, df[unit], reference)
    diagnostics = {"n_dropped_missing": n_dropped, "n_units": int(df[unit].nunique()),
                   "n_never_treated": int(df.loc[df[cohort] == 0, unit].nunique()),
                   "cohorts": sorted(int(c) for c in df[cohort].unique() if c > 0),
                   **cluster_diagnostics(df, cluster, df[cohort] > 0)}
    meta = {"unit": unit, "time": time, "cohort": cohort, "cluster": cluster, "leads": leads, "lags": lags,
            "reference": reference, "bin_endpoints": bin_endpoints}
    result = pack(estimator="event_study", estimand=ESTIMAND, table=table, vcov=vcov, alpha=alpha, method=method,
                req=req, outcome=outcome, diagnostics=diagnostics, meta=meta)
    fit = fit_handover(keep, list(dummies.columns), req, entity, period)
    return finish(result, postfit, data, inference_options, fit)


def _check_reference(reference: object, leads: int) -> None:
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or not -leads <= reference <= -1:
        raise ParameterError(
            f"reference={reference!r} must be an integer pre-treatment event time in [-leads, -1] = [{-leads}, -1]"
            + (" (leads=0 leaves no pre-period; use leads >= 1)." if leads == 0 else ".")
        )


def _check_identified(dummies: pd.DataFrame, etime: np.ndarray, reference: int, bin_endpoints: bool) -> None:
    """Every dummy needs data, and something must serve as the comparison."""
    empty = [c for c in dummies.columns if dummies[c].sum() == 0]
    if empty:
        raise ValidationError(
            f"No treated unit is observed at event times {empty}; reduce leads/lags to the observed range."
        )
    has_never = np.isnan(etime).any()
    in_window = np.isin(etime, [reference, *(int(c.split("=")[1]) for c in dummies.columns)])
    if not has_never and (bin_endpoints or in_window.all()):
        raise ValidationError(
            "All units are eventually treated and every event time is in the window, so the event-time effects "
            "are not identified next to unit and time effects (Borusyak, Jaravel & Spiess 2024). Add never-treated "
            "units (cohort 0), or use bin_endpoints=False with a window shorter than the observed event times."
        )


def _table(params, vcov, alpha, df, etime, units, reference) -> pd.DataFrame:
    table = term_table(params, vcov, alpha, df)
    table["event_time"] = [int(t.split("=")[1]) for t in table["term"]]
    ref = pd.DataFrame({"term": [f"e={reference}"], "estimate": [0.0], "event_time": [reference], "reference": [True]})
    table = pd.concat([table, ref], ignore_index=True).sort_values("event_time", ignore_index=True)
    counts = pd.Series(units.to_numpy()).groupby(etime).nunique()
    table["n_treated"] = table["event_time"].map(counts).fillna(0).astype(int)
    return table
