"""Borusyak, Jaravel & Spiess (2024) imputation estimator.

BJS, "Revisiting Event-Study Designs: Robust and Efficient Estimation",
Review of Economic Studies 91(6). Steps (their Theorem 2):

1. Fit y_it = a_i + l_t + e_it by (weighted) least squares on the untreated
   observations only (never-treated units and not-yet-treated periods),
   exactly, with :func:`evalkit.core.demean.twoway_fit`.
2. Impute Y_it(0) = a_i + l_t for every treated observation and take
   tau_it = y_it - Y_it(0).
3. Average: "ATT" over all treated observations, "e=h" over those h periods
   after the first treated period (weights proportional to ``weights``).

Variance (BJS Theorem 3, the conservative clustered estimator, as in Stata
``did_imputation`` and R ``didimputation``): every estimate is a linear
combination sum_it v_it y_it with v_it = w_it on treated observations and
v_it = -[Z0 (Z0'W Z0)^{-1} Z1' w1]_it on untreated ones; then
Var = sum_clusters (sum_{it in c} v_it e~_it)^2 with e~ the first-step
residual for untreated observations and tau_it - tau_bar for treated ones,
tau_bar being the v^2-weighted mean of tau within cohort x event time (the
auxiliary model of BJS eq. 10, as R ``didimputation``). No small-sample
factor; tests and intervals use t(G-1). Different estimates share clusters, so
their covariance is the cross-product of the same per-cluster sums.

Pre-trend test (BJS Test 1): on the untreated observations only, regress y on
unit and period effects plus indicators of the ``pretrends`` periods before
treatment; the coefficients are reported as rows "e=-k" with CR1 standard
errors, and the joint Wald test is in ``diagnostics["pretrend_test"]``.
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError
from evalkit.core import checks as v
from evalkit.core import linalg
from evalkit.core.clusters import cr1_factor
from evalkit.core.demean import twoway_fit, twoway_solve
from evalkit.inference import wald_table
from evalkit.results import InferenceInfo, Result
from evalkit.core.aliases import checked

ESTIMAND = "ATT and effects by event time (imputation; Borusyak, Jaravel & Spiess 2024)"


@checked
def did_imputation(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str,
                   horizons: Sequence[int] | None = None, pretrends: int | Sequence[int] | None = None,
                   cluster: str | None = None, alpha: float = 0.05, weights: str | None = None) -> Result:
    """Imputation estimator of Borusyak, Jaravel & Spiess (2024): "ATT", one row per horizon "e=h".

    Fits unit and period effects on the untreated observations only (never-treated units and
    not-yet-treated periods), imputes the untreated outcome Y_it(0) = a_i + l_t of every treated
    observation, and averages tau_it = y_it - Y_it(0): "ATT" over all treated observations,
    "e=h" over those h periods after the first treated period. Robust to effects that vary
    across cohorts and over time, and efficient under homoskedastic errors (BJS Theorem 2).
    Standard errors are BJS's conservative clustered estimator (Theorem 3, as Stata
    ``did_imputation`` and R ``didimputation``), with t(G-1) tests and intervals.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data; rows need not be unique by (unit, time). Not modified.
    outcome : str
        Numeric outcome column; rows with a missing outcome are dropped with a warning.
    unit : str
        Level of the first fixed effect (person, or a coarser level such as area).
    time : str
        Numeric period column of whole numbers; event time is time - cohort.
    cohort : str
        First treated period of the row's treated entity, 0 = never treated (read per row, so
        ``unit`` may be coarser than the treated entity).
    horizons : sequence of int, optional
        Event times h >= 0 to report as rows "e=h" (None: every observed horizon). A horizon
        without treated observations is an error.
    pretrends : int or sequence of int, optional
        The BJS pre-trend test (Test 1): the number k of pre-periods (-1..-k) or a list of
        negative event times. On the untreated observations only, y is regressed on unit and
        period effects plus indicators of these periods; the coefficients are reported as rows
        "e=-k" with CR1 standard errors, and the joint Wald test is in
        ``diagnostics["pretrend_test"]``. None (default): no test.
    cluster : str, optional
        Cluster column for the variance (e.g. area); default None: the unit.
    alpha : float, default 0.05
        Intervals have level 1 - alpha.
    weights : str, optional
        Column of non-negative observation weights, used in estimation and averaging (the
        estimand weights are proportional to them). Rows with weight 0 are dropped with a
        warning. Default None: equal weights.

    Returns
    -------
    Result
        Rows "ATT", "e=h" per horizon and, with ``pretrends``, "e=-k". ``vcov`` and
        ``influence`` (the per-cluster contributions, vcov = phi' phi) cover "ATT" and the
        "e=h" rows; the pre-trend rows come from a separate regression, with their CR1
        covariance in ``diagnostics["pretrend_vcov"]`` and their joint test in
        ``diagnostics["pretrend_test"]``. Treated observations
        whose unit or period has no untreated observation cannot be imputed; they are
        excluded with an :class:`EvalkitWarning` and counted in
        ``diagnostics["n_not_imputable"]``.

    Raises
    ------
    ParameterError
        An unknown keyword, bad ``horizons`` or ``pretrends``, or a bad ``alpha``.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        Cohorts that are not whole periods or 0, negative or non-finite weights, no treated
        or no untreated observations, no imputable treated observation, a requested horizon
        without treated observations, or pre-trend periods without untreated observations.

    References
    ----------
    Borusyak, K., Jaravel, X. & Spiess, J. (2024). Revisiting event-study designs: robust and
    efficient estimation. *Review of Economic Studies* 91(6), 3253-3285.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> res = ek.did_imputation(staggered_panel(seed=1), outcome="y", unit="unit", time="time",
    ...                         cohort="cohort", horizons=[0, 1, 2], pretrends=3)
    >>> res.tidy()[["term", "estimate", "std_error"]]  # doctest: +SKIP
    """
    alpha = v.check_alpha(alpha)
    _check_horizons(horizons)
    _lead_times(pretrends)
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "cluster": cluster,
                         "weights": weights})
    v.check_numeric(df, outcome, "outcome")
    v.check_numeric(df, time, "time")
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_whole(df, time, "time")
    v.check_weights(df, weights)
    _check_cohort_values(df, cohort)
    df, n_missing = v.drop_missing(df, outcome)
    if weights is not None and (df[weights] == 0).any():
        zero = df[weights].to_numpy(float) == 0
        warnings.warn(f"Dropped {int(zero.sum())} row(s) with weights={weights!r} equal to 0 (they carry no "
                      "weight in estimation or averaging).", EvalkitWarning, stacklevel=stack_level())
        df = df.loc[~zero].reset_index(drop=True)
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_levels(df, cluster or unit, "cluster" if cluster else "unit", 2, "clusters for cluster-robust inference")
    w_all = _weights(df, weights)
    g = df[cohort].to_numpy(float)
    t = df[time].to_numpy(float)
    treated = (g > 0) & (t >= g)
    if not treated.any():
        raise ValidationError(f"No treated observations (cohort > 0 and {time} >= cohort); nothing to estimate.")
    if treated.all():
        raise ValidationError("Every observation is treated; there are no untreated observations to impute from.")
    cl_col = cluster if cluster is not None else unit
    clusters, cl_index = pd.factorize(df[cl_col], sort=True)

    fs = _first_stage(df, unit, time, treated, w_all)
    keep1, n_drop = fs["imputable"], int((~fs["imputable"]).sum())
    if n_drop:
        warnings.warn(f"{n_drop} treated observation(s) cannot be imputed (their unit or period has no untreated "
                      "observation) and are excluded from the estimates.", EvalkitWarning, stacklevel=stack_level())
    if not keep1.any():
        raise ValidationError(f"None of the {int(treated.sum())} treated observations can be imputed: their periods "
                              f"have no untreated observation (cohort={cohort!r} gives no never- or not-yet-treated "
                              "comparison in the treated periods).")
    idx1 = np.flatnonzero(treated)[keep1]
    y = df[outcome].to_numpy(float)
    tau = y[idx1] - fs["alpha"][fs["u1"][keep1]] - fs["lambda"][fs["t1"][keep1]]
    event = (t[idx1] - g[idx1]).astype(np.int64)
    terms, wmat, events = _estimand_weights(event, w_all[idx1], horizons)
    est = wmat.T @ tau
    phi = _bjs_influence(fs, idx1, keep1, tau, event, g[idx1], wmat, w_all, clusters, len(cl_index))
    vcov = phi.T @ phi
    n_cl = len(cl_index)
    table = wald_table(est, vcov, alpha, float(n_cl - 1))
    table.insert(0, "term", terms)
    table["event_time"] = events
    units1 = pd.factorize(df[unit])[0][idx1]
    table["n_treated"] = [len(np.unique(units1)) if e is None else len(np.unique(units1[event == e])) for e in events]
    diagnostics = {"n_dropped_missing": n_missing, "n_not_imputable": n_drop, "n_treated_obs": int(len(idx1)),
                   "n_untreated_obs": int((~treated).sum()), "n_clusters": n_cl,
                   "cohorts": sorted(int(c) for c in np.unique(g[g > 0]))}
    if pretrends is not None:
        pre_table, pre_vcov, test = _pretrends(df, outcome, unit, time, cohort, treated, w_all, pretrends,
                                               clusters, alpha)
        table = pd.concat([pre_table, table], ignore_index=True)
        diagnostics["pretrend_test"] = test
        diagnostics["pretrend_vcov"] = {"terms": list(pre_table["term"]), "values": pre_vcov.tolist()}
    info = InferenceInfo(method="bjs", cluster=cl_col, n_clusters=n_cl, df=float(n_cl - 1))
    meta = {"unit": unit, "time": time, "cohort": cohort, "cluster": cluster, "weights": weights,
            "horizons": None if horizons is None else [int(h) for h in horizons], "pretrends": pretrends}
    return Result(estimator="did_imputation", estimand=ESTIMAND, table=table,
                  vcov=pd.DataFrame(vcov, index=terms, columns=terms), alpha=alpha, inference=info,
                  n_obs=int((~treated).sum() + len(idx1)), outcome=outcome, diagnostics=diagnostics, meta=meta,
                  influence=pd.DataFrame(phi, index=pd.Index(cl_index, name=cl_col), columns=terms))


def _check_cohort_values(df: pd.DataFrame, cohort: str) -> None:
    """Cohort checks of :func:`evalkit.core.checks.check_cohort` except constancy within ``unit``.

    The first-step effects may be at a coarser level than the treated entity
    (e.g. area effects with person-level treatment dates, as R ``did2s`` with
    ``first_stage = ~ 0 | state + year``), so the cohort is read per row.
    """
    v.check_numeric(df, cohort, "cohort")
    v.check_no_missing(df, {"cohort": cohort})
    values = df[cohort].to_numpy(float)
    if (values < 0).any() or not np.all(np.mod(values, 1) == 0):
        raise ValidationError(f"cohort={cohort!r} must hold whole first-treated periods or 0 (never treated).")


def _check_horizons(horizons) -> None:
    if horizons is None:
        return
    if isinstance(horizons, (str, bytes)) or not isinstance(horizons, (Sequence, np.ndarray)) or not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 0 for h in horizons):
        raise ParameterError(f"horizons={horizons!r} must be a list of event times h >= 0 (e.g. [0, 1, 2]), "
                             "or None for every observed horizon.")


def _lead_times(pretrends) -> list[int] | None:
    """The pre-trend event times of ``pretrends`` (k -> -1..-k, or a list of negative event times)."""
    if pretrends is None:
        return None
    if isinstance(pretrends, numbers.Integral) and not isinstance(pretrends, bool):
        if pretrends < 1:
            raise ParameterError(f"pretrends={pretrends!r} must be >= 1 (the number of pre-periods to test).")
        return list(range(-1, -int(pretrends) - 1, -1))
    if isinstance(pretrends, (str, bytes, bool)) or not isinstance(pretrends, (Sequence, np.ndarray)) or not len(
            pretrends) or not all(
            isinstance(x, numbers.Integral) and not isinstance(x, bool) and x < 0 for x in pretrends):
        raise ParameterError(f"pretrends={pretrends!r} must be a positive integer (the number of pre-periods) or a "
                             "list of negative event times such as [-3, -2, -1].")
    return [int(x) for x in pretrends]


def _weights(df: pd.DataFrame, weights: str | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(df))
    v.check_numeric(df, weights, "weights")
    w = df[weights].to_numpy(float)
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValidationError(f"weights={weights!r} must be finite and non-negative.")
    return w


def _first_stage(df, unit, time, treated, w) -> dict:
    """Unit and period effects fitted on the untreated rows; codes of treated rows into them."""
    u0, units0 = pd.factorize(df.loc[~treated, unit])
    t0, times0 = pd.factorize(df.loc[~treated, time], sort=True)
    y0 = df.loc[~treated].iloc[:, 0].to_numpy(float)
    fit = twoway_fit(y0, u0, t0, w[~treated])
    u1 = units0.get_indexer(df.loc[treated, unit])
    t1 = times0.get_indexer(df.loc[treated, time])
    return {"u0": u0, "t0": t0, "u1": u1, "t1": t1, "imputable": (u1 >= 0) & (t1 >= 0), "fit": fit,
            "alpha": fit.unit_effects[:, 0], "lambda": fit.other_effects[:, 0], "resid0": fit.residuals[:, 0],
            "n_units0": len(units0), "n_times0": len(times0), "untreated": ~treated}


def _estimand_weights(event: np.ndarray, w1: np.ndarray, horizons) -> tuple[list, np.ndarray, list]:
    observed = sorted(int(e) for e in np.unique(event))
    if horizons is None:
        horizons = observed
    else:
        if isinstance(horizons, (str, bytes)) or not all(isinstance(h, numbers.Integral) for h in horizons):
            raise ParameterError(f"horizons={horizons!r} must be a list of integers >= 0, or None.")
        missing = [int(h) for h in horizons if int(h) not in observed]
        if missing:
            raise ValidationError(f"horizons {missing} have no treated observations; observed horizons: {observed}.")
    cols, terms, events = [w1 / w1.sum()], ["ATT"], [None]
    for h in horizons:
        m = w1 * (event == h)
        cols.append(m / m.sum())
        terms.append(f"e={int(h)}")
        events.append(int(h))
    return terms, np.column_stack(cols), events


def _bjs_influence(fs, idx1, keep1, tau, event, g1, wmat, w_all, clusters, n_clusters) -> np.ndarray:
    """Per-cluster sums of v_it * e~_it for every estimand (BJS Theorem 3)."""
    u1, t1 = fs["u1"][keep1], fs["t1"][keep1]
    k = wmat.shape[1]
    rhs_u = np.column_stack([np.bincount(u1, weights=wmat[:, j], minlength=fs["n_units0"]) for j in range(k)])
    rhs_t = np.column_stack([np.bincount(t1, weights=wmat[:, j], minlength=fs["n_times0"]) for j in range(k)])
    w0 = w_all[fs["untreated"]]
    a_u, a_t, *_ = twoway_solve(rhs_u, rhs_t, fs["u0"], fs["t0"], w0)
    v0 = -w0[:, None] * (a_u[fs["u0"]] + a_t[fs["t0"]])
    cell = pd.factorize(pd.MultiIndex.from_arrays([g1, event]))[0]
    w2 = w_all[idx1] ** 2
    tau_bar = (np.bincount(cell, weights=w2 * tau) / np.bincount(cell, weights=w2))[cell]
    cl0, cl1 = clusters[fs["untreated"]], clusters[idx1]
    e0, e1 = fs["resid0"], tau - tau_bar
    return np.column_stack([
        np.bincount(cl0, weights=v0[:, j] * e0, minlength=n_clusters)
        + np.bincount(cl1, weights=wmat[:, j] * e1, minlength=n_clusters) for j in range(k)])


def _pretrends(df, outcome, unit, time, cohort, treated, w_all, pretrends, clusters, alpha):
    """BJS Test 1 on untreated rows: lead indicators next to unit and period effects, CR1."""
    leads = _lead_times(pretrends)
    sub = df.loc[~treated]
    g, t = sub[cohort].to_numpy(float), sub[time].to_numpy(float)
    rel = np.where(g > 0, t - g, np.nan)
    x = np.column_stack([(rel == k).astype(float) for k in leads])
    empty = [k for k, s in zip(leads, x.sum(0)) if s == 0]
    if empty:
        have = [k for k in leads if k not in empty]
        raise ValidationError(f"pretrends={pretrends!r}: no untreated observations at {len(empty)} of the requested "
                              f"event times (from {max(empty)} to {min(empty)}); the data have pre-periods "
                              f"{f'{max(have)} to {min(have)}' if have else 'none'}. Choose fewer "
                              "pre-periods.")
    u0, t0 = pd.factorize(sub[unit])[0], pd.factorize(sub[time], sort=True)[0]
    w0 = w_all[~treated]
    res = twoway_fit(np.column_stack([sub[outcome].to_numpy(float), x]), u0, t0, w0).residuals
    yt, xt = res[:, 0], res[:, 1:]
    xtwx = xt.T @ (xt * w0[:, None])
    beta = linalg.solve(xtwx, xt.T @ (w0 * yt), "the pre-period event-time leads")
    e = yt - xt @ beta
    cl = clusters[~treated]
    n_cl = int(len(np.unique(cl)))
    score = np.column_stack([np.bincount(cl, weights=w0 * xt[:, j] * e, minlength=clusters.max() + 1)
                             for j in range(len(leads))])
    bread = linalg.inv(xtwx)
    n, n_u, n_t = len(sub), int(u0.max()) + 1, int(t0.max()) + 1
    nested = bool((pd.Series(cl).groupby(u0).nunique() == 1).all())
    k = len(leads) + n_t - 1 + (1 if nested else n_u)
    vcov = cr1_factor(n_cl, n, k) * bread @ (score.T @ score) @ bread
    tab = wald_table(beta, vcov, alpha, float(n_cl - 1))
    tab.insert(0, "term", [f"e={k_}" for k_ in leads])
    tab["event_time"] = leads
    wald = float(beta @ np.linalg.solve(vcov, beta))
    q = len(leads)
    test = {"statistic_F": wald / q, "df_num": q, "df_den": n_cl - 1,
            "p_value": float(stats.f.sf(wald / q, q, n_cl - 1)), "leads": leads}
    return tab.sort_values("event_time", ignore_index=True), vcov, test
