"""Two-way fixed effects (TWFE) difference-in-differences."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from typing import Any

import pandas as pd

from evalkit.core import checks as v, weighting
from evalkit.estimators._common import (cluster_diagnostics, finish, fit_handover, fit_twoway, pack,
                                       panel_request, term_table)
from evalkit.estimators._fast_checks import constant_within, unique_keys
from evalkit.estimators.postfit import inference_options_checked
from evalkit.inference.registry import default_cluster
from evalkit.inference import split
from evalkit.results import Result
from evalkit.core.aliases import checked

ESTIMAND = "ATT (TWFE-weighted average of treatment effects)"


@checked
def twfe(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str, cluster: str | None = None,
         covariates: Sequence[str] | None = None, alpha: float = 0.05, inference: str | None = None,
         inference_options: Mapping[str, Any] | None = None, weights: str | None = None,
         weights_type: str = "analytic") -> Result:
    """Two-way fixed effects regression y_it = a_i + l_t + b D_it + x_it'g + e_it.

    Estimated by the within transformation (linearmodels ``PanelOLS`` with
    entity and time effects), identical to the dummy-variable regression
    (Wooldridge 2010, ch. 10). The coefficient on ``treatment`` is the term ``"ATT"``. With a
    single adoption date and homogeneous effects it is the ATT; with staggered
    adoption and effects that change over time it is a weighted average with
    possibly negative weights (Goodman-Bacon 2021; de Chaisemartin &
    D'Haultfoeuille 2020) - prefer a heterogeneity-robust estimator then
    (:func:`att_gt`, :func:`did_imputation`, :func:`sun_abraham`), and see :func:`bacon`.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel with one row per (unit, time); may be unbalanced. Not modified.
    outcome : str
        Numeric outcome column. Rows with a missing outcome or covariate are dropped with an
        :class:`~evalkit.errors.EvalkitWarning` (``diagnostics["n_dropped_missing"]``).
    unit : str
        Panel unit column (e.g. area or person id); (unit, time) must be unique.
    time : str
        Period column (e.g. year); at least two periods.
    treatment : str
        0/1 (or bool) column: 1 when the unit is treated in that period. Both values must occur.
    cluster : str, optional
        Assignment level for cluster-robust inference (e.g. area; may be coarser than ``unit``,
        e.g. unit = person). ``treatment`` must be constant within (cluster, time). Default
        None: the fit is clustered by ``unit`` (as R fixest and did do; serial correlation
        within units makes unclustered errors over-reject, Bertrand, Duflo & Mullainathan
        2004), unless ``inference="hc1"``. With a cluster the default inference is "cr1":
        V scaled by G/(G-1) * (N-1)/(N-K), K counting regressors and fixed effects (unit
        effects nested in the clusters count as one), with t(G-1) for tests and intervals,
        G = number of clusters.
    covariates : sequence of str, optional
        Numeric time-varying controls, reported as terms of their own name. A covariate
        constant within units or within periods is refused (absorbed by the fixed effects).
    alpha : float, default 0.05
        Intervals have level 1 - alpha; must lie in (0, 1).
    inference : str, optional
        None (default: "cr1" with a cluster, which is the unit when ``cluster`` is not given),
        "cr1", "hc1" (heteroskedasticity-robust, no clustering, normal distribution), or a
        few-cluster method applied after the fit: "cr2", "cr3", "wild", "randomization" (see
        :meth:`Result.with_inference`). Below 10 treated clusters a CR1 fit warns
        (MacKinnon & Webb 2017) and names the alternatives.
    inference_options : mapping, optional
        Options of the post-fit ``inference`` method, e.g. ``{"seed": 1, "draws": 9999}``
        (see :meth:`Result.with_inference`); an unknown option names the closest valid one.
    weights : str, optional
        Column of non-negative row weights w_i (e.g. the residents of an area-year). The fit is
        weighted least squares with the unit and time effects partialled out by weighted
        projection, b = (X~'WX~)^-1 X~'Wy~ (the weighted within estimator, equal to the weighted
        dummy-variable regression; fixest/pyfixest ``feols(..., weights=)``). CR1 uses the
        cluster scores s_g = sum_{i in g} w_i x~_i e_i; CR2/CR3 the transformed model
        sqrt(w) X~ (Pustejovsky & Tipton 2018); the wild bootstrap and randomization inference
        re-estimate by WLS. Weights may vary over time. Rows with weight 0 are dropped with an
        :class:`~evalkit.errors.EvalkitWarning`. Recorded in ``meta["weights"]`` and
        ``meta["weights_type"]``. Default None: unweighted.
    weights_type : {"analytic", "frequency"}, default "analytic"
        "analytic" (aweights, as Stata ``aweight`` and fixest/pyfixest: rows are
        averages, Var(u_i) ~ 1/w_i; N = number of rows in the factors G/(G-1) (N-1)/(N-K) and
        N/(N-K)); "frequency" (fweights: a row stands for w_i identical rows, whole numbers only;
        N = sum_i w_i and the HC1 meat sum_i w_i x~_i x~_i' e_i^2, so every number equals that
        of the expanded data). Points are the same for both (Solon, Haider & Wooldridge 2015;
        Cameron & Miller 2015, sec. VI).

    Returns
    -------
    Result
        Term ``"ATT"`` (with ``n_treated``/``n_control``: ever-treated and never-treated
        units) and one term per covariate; ``diagnostics`` holds the panel counts, cluster
        counts and weights summary.

    Raises
    ------
    ParameterError
        An unknown keyword (the closest valid one is named), an ``alpha`` outside (0, 1), an
        unknown ``inference`` or one that does not fit the clustering.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        Non-binary treatment, duplicate (unit, time) rows, fewer than two periods or clusters,
        treatment varying within (cluster, time), or a regressor absorbed by the fixed effects.

    See Also
    --------
    event_study, att_gt, did_imputation, bacon

    References
    ----------
    Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and Panel Data*, 2nd ed., ch. 10.
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics* 225(2), 254-277.
    de Chaisemartin, C. & D'Haultfoeuille, X. (2020). Two-way fixed effects estimators with
    heterogeneous treatment effects. *American Economic Review* 110(9), 2964-2996.
    Bertrand, M., Duflo, E. & Mullainathan, S. (2004). How much should we trust
    differences-in-differences estimates? *QJE* 119(1), 249-275.
    MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics* 32(2), 233-254.
    Solon, G., Haider, S. J. & Wooldridge, J. M. (2015). What are we weighting for?
    *Journal of Human Resources* 50(2), 301-316.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(seed=1)
    >>> res = ek.twfe(panel, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")
    >>> res.tidy()[["term", "estimate", "std_error", "p_value"]]  # doctest: +SKIP
    """
    alpha = v.check_alpha(alpha)
    weights_type = weighting.check_weights_type(weights_type)
    cluster = default_cluster(inference, cluster, unit)  # by the unit unless given or HC1 asked for
    method, postfit = split(inference, cluster)
    inference_options = inference_options_checked(postfit, inference_options)
    covariates = v.as_columns("covariates", covariates)
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment,
                         "cluster": cluster, "covariates": covariates, "weights": weights})
    for param, col in [("outcome", outcome)] + [("covariates", c) for c in covariates]:
        v.check_numeric(df, col, param)
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_binary(df, treatment, "treatment")
    weighting.check_column(df, weights, weights_type)
    df, n_dropped = v.drop_missing(df, outcome, covariates)
    df, n_zero = weighting.drop_zero(df, weights)
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_both_values(df, treatment, "treatment")
    if cluster is not None:
        v.check_levels(df, cluster, "cluster", 2, "clusters for cluster-robust inference")
    v.check_covariates(df, covariates)
    for col in covariates:
        v.check_varies_within(df, col, unit, "covariates", "it is absorbed by the unit fixed effects")
        v.check_varies_within(df, col, time, "covariates", "it is absorbed by the time fixed effects")
    entity, period = pd.factorize(df[unit], sort=True)[0], pd.factorize(df[time], sort=True)[0]
    unique_keys(df, unit, time, entity, period)  # the checks from the codes (no group-by at 10M rows)
    if cluster is not None:
        cells = pd.factorize(df[cluster], sort=True)[0] * (int(period.max()) + 1)
        cells += period
        constant_within(df, treatment, [cluster, time], cells, "treatment",
                        "treatment is assigned by cluster in each period")
        del cells

    x = df[[treatment, *covariates]].rename(columns={treatment: "ATT"})
    req = panel_request(df, unit=unit, time=time, cluster=cluster, n_regressors=x.shape[1], weights=weights,
                        weights_type=weights_type)
    keep = {} if postfit == "wild" and weights is None else None  # the wild bootstrap reuses the partialled data
    params, vcov = fit_twoway(df[outcome].to_numpy(float), x, entity, period, method, req, keep)

    table = term_table(params, vcov, alpha, method.df(req))
    ever = df.groupby(unit)[treatment].transform("max") == 1
    table.loc[table["term"] == "ATT", "n_treated"] = df.loc[ever, unit].nunique()
    table.loc[table["term"] == "ATT", "n_control"] = df.loc[~ever, unit].nunique()
    diagnostics = {"n_dropped_missing": n_dropped, "n_units": int(df[unit].nunique()),
                   "n_periods": int(df[time].nunique()), "balanced": bool(len(df) == df[unit].nunique() * df[time].nunique()),
                   **cluster_diagnostics(df, cluster, ever), **weighting.diagnostics(df, weights, n_zero)}
    result = pack(estimator="twfe", estimand=ESTIMAND, table=table, vcov=vcov, alpha=alpha, method=method, req=req,
                outcome=outcome, diagnostics=diagnostics,
                meta={"unit": unit, "time": time, "treatment": treatment, "cluster": cluster, "covariates": covariates,
                      **weighting.meta(weights, weights_type)})
    fit = fit_handover(keep, list(x.columns), req, entity, period)
    return finish(result, postfit, data, inference_options, fit)
