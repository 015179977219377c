"""Shared fitting and packing for the regression estimators.

Numbers happen in :func:`fit_twoway` and :func:`fit_ols`; the public
estimators validate, call these and pack a :class:`Result` with :func:`pack`.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from linearmodels import PanelOLS
from linearmodels.panel.utility import AbsorbingEffectError

from evalkit.core import linalg, weighting
from evalkit.core.clusters import cr1_factor, hc1_factor
from evalkit.errors import stack_level, EvalkitWarning, ValidationError
from evalkit.inference import FitRequest, info, wald_table
from evalkit.inference.registry import InferenceMethod
from evalkit.results import Result


def panel_request(df: pd.DataFrame, *, unit: str, time: str, cluster: str | None, n_regressors: int,
                  weights: str | None = None, weights_type: str = "analytic") -> FitRequest:
    """FitRequest for a regression with unit and time fixed effects.

    Counted like a dummy-variable regression without intercept: n_units + n_times - 1
    effects; if every unit lies in one cluster, n_units - 1 of them are nested. ``weights``:
    the column of row weights (:mod:`evalkit.core.weighting`).
    """
    n_units, n_times = df[unit].nunique(), df[time].nunique()
    clusters, nested = None, 0
    if cluster is not None:
        clusters = pd.factorize(df[cluster], sort=True)[0]
        if df.groupby(unit, observed=True)[cluster].nunique().max() == 1:
            nested = n_units - 1
    return FitRequest(n_obs=len(df), n_regressors=n_regressors, n_effects=n_units + n_times - 1,
                      n_nested_effects=nested, clusters=clusters, cluster_name=cluster,
                      weights=weighting.values(df, weights), weights_type=weights_type)


#: from this many rows on, fit_twoway uses the exact two-way solver instead of PanelOLS
FAST_TWOWAY_ROWS = 500_000


def _centred(x: pd.DataFrame) -> np.ndarray:
    """The regressors less their means: the within estimator is unchanged by a constant added to a
    regressor (the unit effects absorb it), and the absorbed-regressor checks, which compare the
    within variation with the raw sum of squares, become invariant to offsets such as incomes in
    kroner (a covariate of mean 3e5 was once judged absorbed)."""
    a = np.asarray(x, dtype=float)
    return a - a.mean(axis=0) if len(a) else a


def _exact_solver(n_rows: int, method: InferenceMethod, req: FitRequest) -> bool:
    """Whether :func:`fit_twoway` takes the exact two-way solver: from :data:`FAST_TWOWAY_ROWS`
    rows on, and for frequency-weighted HC1, whose meat sum_i w_i x~_i x~_i' e_i^2 (each copy of
    a row its own observation) linearmodels does not compute (its weighted HC meat is analytic)."""
    return n_rows >= FAST_TWOWAY_ROWS or (req.frequency and method.name == "hc1")


def fit_twoway(y: np.ndarray, x: pd.DataFrame, entity: np.ndarray, period: np.ndarray,
               method: InferenceMethod, req: FitRequest, keep: dict | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """Within (unit and time effects) OLS.

    linearmodels ``PanelOLS`` below :data:`FAST_TWOWAY_ROWS` rows; above, the
    exact two-way solver of :mod:`evalkit.core.demean`
    (:func:`fit_twoway_fast`; ``tests/test_twfe_fast.py`` holds both equal).
    With ``req.weights`` the fit is weighted least squares (``PanelOLS(weights=...)``, or the
    weighted exact solver; ``tests/test_weights.py`` holds both equal).
    Returns the coefficients and their covariance, already scaled by the
    inference method. Rows must be in the order of ``req.clusters``. ``keep``:
    a dict that receives the partialled [y, X] as ``"zt"`` (fast path only).
    """
    if _exact_solver(len(y), method, req):
        return fit_twoway_fast(y, x, entity, period, method, req, keep)
    index = pd.MultiIndex.from_arrays([np.asarray(entity), np.asarray(period)], names=["entity", "time"])
    exog = pd.DataFrame(_centred(x), index=index, columns=list(x.columns))
    weights = None if req.weights is None else pd.Series(req.weights, index=index, name="weights")
    model = PanelOLS(pd.Series(np.asarray(y, dtype=float), index=index, name="y"), exog,
                     entity_effects=True, time_effects=True, weights=weights)
    kwargs = method.linearmodels_fit(req)
    if "clusters" in kwargs:
        kwargs["clusters"] = pd.DataFrame({"cluster": kwargs["clusters"]}, index=index)
    try:
        res = model.fit(**kwargs)
    except AbsorbingEffectError as err:
        raise ValidationError(
            f"A regressor is absorbed by the unit and time fixed effects ({err}). "
            "This happens when the treatment timing does not vary across units."
        ) from None
    vcov = res.cov * method.vcov_scale(req, "linearmodels")
    return res.params, vcov


def fit_twoway_fast(y: np.ndarray, x: pd.DataFrame, entity: np.ndarray, period: np.ndarray,
                    method: InferenceMethod, req: FitRequest, keep: dict | None = None
                    ) -> tuple[pd.Series, pd.DataFrame]:
    """The within estimator by Frisch-Waugh-Lovell with the exact two-way solver, and the
    registry's CR1/HC1 covariance (same finite-sample factors as the PanelOLS path).

    Weighted (``req.weights``): the fixed effects are partialled out by weighted least squares
    (the weighted normal equations, solved exactly by :func:`evalkit.core.demean.twoway_fit`), then
    b = (X~'WX~)^-1 X~'Wy~ with the scores of :mod:`evalkit.core.weighting`."""
    from evalkit.core.demean import twoway_fit

    names = list(x.columns)
    w = req.weights
    z = np.empty((len(y), 1 + len(names)), order="F")
    z[:, 0] = y
    z[:, 1:] = _centred(x)
    zw = z[:, 1:] if w is None else z[:, 1:] * w[:, None]
    scale = np.maximum(np.einsum("ij,ij->j", zw, z[:, 1:]), 1e-300)
    zt = twoway_fit(z, np.asarray(entity), np.asarray(period), weights=w).residuals
    del z, zw
    if keep is not None:
        keep["zt"] = zt
    yt, xt = zt[:, 0], zt[:, 1:]
    xw = xt if w is None else xt * w[:, None]
    xtx = xw.T @ xt
    if np.any(np.diag(xtx) < 1e-10 * scale) or linalg.is_singular(xtx):
        raise ValidationError("A regressor is absorbed by the unit and time fixed effects or collinear with "
                              "another regressor. This happens when the treatment timing does not vary "
                              "across units, or a covariate is constant within units.")
    bread = linalg.inv(xtx)
    beta = bread @ (xw.T @ yt)
    e = yt - xt @ beta
    n, k = req.n_corrections, len(names)
    if method.name == "cr1":  # cluster sums of the scores w_i x_i e_i, column by column
        g = int(req.clusters.max()) + 1
        we = e if w is None else e * w
        sums = np.column_stack([np.bincount(req.clusters, weights=xt[:, j] * we, minlength=g) for j in range(k)])
        factor = cr1_factor(g, n, k + req.n_effects - req.n_nested_effects)
    else:  # hc1
        sums, factor = weighting.hc_rows(xt, e, w, req.weights_type), hc1_factor(n, k + req.n_effects)
    vcov = bread @ (sums.T @ sums) @ bread * factor
    return pd.Series(beta, index=names), pd.DataFrame(vcov, index=names, columns=names)


def fit_ols(y: np.ndarray, x: pd.DataFrame, method: InferenceMethod, req: FitRequest) -> tuple[pd.Series, pd.DataFrame]:
    """OLS (WLS with ``req.weights``) with statsmodels; returns coefficients and scaled covariance.

    statsmodels' WLS sandwich whitens by sqrt(w), so its scores are w_i x_i e_i (analytic
    weights); with frequency weights the HC1 meat is sum_i w_i x_i x_i' e_i^2 instead
    (:func:`evalkit.core.weighting.hc_rows`), on statsmodels' bread (X'WX)^-1."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    model = sm.OLS(ya, xa) if req.weights is None else sm.WLS(ya, xa, weights=req.weights)
    res = model.fit(**method.statsmodels_fit(req))
    names = list(x.columns)
    params = pd.Series(res.params, index=names)
    if req.frequency and method.name == "hc1":
        rows = weighting.hc_rows(xa, ya - xa @ res.params, req.weights, "frequency")
        cov = res.normalized_cov_params @ (rows.T @ rows) @ res.normalized_cov_params
        cov = cov * hc1_factor(req.n_corrections, len(names))
    else:
        cov = res.cov_params() * method.vcov_scale(req, "statsmodels")
    return params, pd.DataFrame(np.asarray(cov), index=names, columns=names)


def term_table(params: pd.Series, vcov: pd.DataFrame, alpha: float, df: float | None) -> pd.DataFrame:
    """Tidy rows (term + Wald statistics) for the given coefficients."""
    terms = list(params.index)
    table = wald_table(params.to_numpy(), vcov.loc[terms, terms].to_numpy(), alpha, df)
    table.insert(0, "term", [str(t) for t in terms])
    return table


def pack(*, estimator: str, estimand: str, table: pd.DataFrame, vcov: pd.DataFrame, alpha: float,
         method: InferenceMethod, req: FitRequest, outcome: str, diagnostics: Mapping[str, Any],
         meta: Mapping[str, Any]) -> Result:
    """Build the immutable :class:`Result`."""
    return Result(estimator=estimator, estimand=estimand, table=table, vcov=vcov, alpha=alpha,
                  inference=info(method, req), n_obs=req.n_obs, outcome=outcome,
                  diagnostics=dict(diagnostics), meta=dict(meta))


def finish(result: Result, postfit: str | None, data: pd.DataFrame, options: Mapping[str, Any] | None,
           fit: tuple | None = None) -> Result:
    """Apply a post-fit inference method ("cr2", "cr3", "wild", "randomization") to a CR1 result.

    ``fit``: the fit's partialled design (see :func:`fit_handover`); the wild bootstrap then
    reuses it instead of partialling the fixed effects out again."""
    if postfit is None:
        if options:
            raise ValidationError(f"inference_options={dict(options)} are only used with inference in "
                                  "('cr2', 'cr3', 'wild', 'randomization').")
        _warn_few_treated(result)
        return result
    from evalkit.estimators.postfit import fit_design, with_inference

    if fit is None or postfit != "wild":
        return with_inference(result, postfit, data, **dict(options or {}))
    with fit_design(result, *fit):
        return with_inference(result, postfit, data, **dict(options or {}))


def fit_handover(keep: dict | None, names: list[str], req: FitRequest, entity: np.ndarray,
                 period: np.ndarray) -> tuple | None:
    """(partialled [y, X], term names, cluster codes, fixed-effect codes) of a :func:`fit_twoway`
    that kept its partialled data, for :func:`finish`; None otherwise (and for weighted fits: the
    wild bootstrap then rebuilds the weighted design from the data)."""
    if not keep or req.clusters is None or req.weights is not None:
        return None
    return keep["zt"], names, req.clusters, [np.asarray(entity), np.asarray(period)]


def _warn_few_treated(result: Result) -> None:
    """CR1 over-rejects with few treated clusters (MacKinnon & Webb 2017): say so and name the alternative."""
    from evalkit.diagnostics.design import MIN_TREATED_FOR_CR1

    k = result.diagnostics.get("n_treated_clusters")
    if result.inference.method == "cr1" and k is not None and k < MIN_TREATED_FOR_CR1:
        warnings.warn(f"Only {k} treated cluster(s): CR1 standard errors over-reject. Use inference='wild' "
                      "(restricted wild cluster bootstrap) or inference='randomization', or "
                      "result.with_inference('wild', data).", EvalkitWarning, stacklevel=stack_level())


def cluster_diagnostics(df: pd.DataFrame, cluster: str | None, treated: pd.Series) -> dict[str, Any]:
    """Numbers of clusters and of treated clusters (few treated clusters make CR1 unreliable)."""
    if cluster is None:
        return {}
    return {"n_clusters": int(df[cluster].nunique()),
            "n_treated_clusters": int(df.loc[treated.to_numpy(bool), cluster].nunique())}
