"""The classic two-group, two-period difference-in-differences."""
from __future__ import annotations

import warnings
from collections.abc import Mapping

from typing import Any

import pandas as pd

from evalkit.errors import stack_level, EvalkitWarning, ValidationError
from evalkit.core import checks as v, weighting
from evalkit.estimators._common import cluster_diagnostics, finish, fit_ols, pack, term_table
from evalkit.estimators.postfit import inference_options_checked
from evalkit.inference import FitRequest, split
from evalkit.results import Result
from evalkit.core.aliases import checked

ESTIMAND = "ATT: (treated post - treated pre) - (control post - control pre)"


@checked
def did2x2(data: pd.DataFrame, *, outcome: str, treatment: str, post: str, cluster: str | None = None,
           alpha: float = 0.05, inference: str | None = None,
           inference_options: Mapping[str, Any] | None = None, weights: str | None = None,
           weights_type: str = "analytic") -> Result:
    """2x2 difference-in-differences by OLS of y on treatment, post and treatment x post.

    The coefficient on the interaction (term ``"ATT"``) is exactly the
    difference of the four cell means (weighted means with ``weights``); under
    parallel trends it is the average effect on the treated in the post period
    (Angrist & Pischke 2009, ch. 5.2).

    Parameters
    ----------
    data : pandas.DataFrame
        Rows may be persons or areas (repeated cross-sections or a panel); the caller's frame
        is not modified. Every one of the four (treatment, post) cells must have rows.
    outcome : str
        Numeric outcome column. Rows with a missing outcome are dropped with an
        :class:`~evalkit.errors.EvalkitWarning` (``diagnostics["n_dropped_missing"]``).
    treatment : str
        0/1 (or bool) column marking the treated group.
    post : str
        0/1 (or bool) column marking the post period.
    cluster : str, optional
        Assignment level (e.g. area); ``treatment`` must be constant within it. With a
        cluster the default inference is "cr1" (CR1 covariance, t distribution with G-1
        degrees of freedom, G = number of clusters); without (default None), "hc1" (normal
        distribution) with an :class:`~evalkit.errors.EvalkitWarning` that it ignores
        correlation within groups, unless ``inference="hc1"`` is asked for by name.
    alpha : float, default 0.05
        Intervals have level 1 - alpha; must lie in (0, 1).
    inference : str, optional
        None (default: "cr1" with a cluster, else "hc1"), "cr1", "hc1", or a few-cluster
        method applied after the fit, "cr2", "cr3", "wild" or "randomization" (these need
        ``cluster``; see :meth:`Result.with_inference`).
    inference_options : mapping, optional
        Options of the post-fit ``inference`` method, e.g. ``{"seed": 1, "draws": 9999}``.
    weights : str, optional
        Column of non-negative row weights w_i (e.g. residents of an area-year); the fit is
        weighted least squares, b = (X'WX)^-1 X'Wy, and every inference method honours them
        (CR1/HC1 with scores w_i x_i e_i; CR2/CR3 on the transformed model sqrt(w) X; the wild
        bootstrap and randomization inference re-estimate by WLS). Rows with weight 0 are
        dropped with an :class:`~evalkit.errors.EvalkitWarning`
        (``diagnostics["n_dropped_zero_weight"]``). Recorded in
        ``meta["weights"]``/``meta["weights_type"]``. Default None: unweighted.
    weights_type : {"analytic", "frequency"}, default "analytic"
        "analytic" (aweights as Stata and fixest/pyfixest: rows are averages,
        Var(u_i) ~ 1/w_i; N = number of rows in G/(G-1) (N-1)/(N-K) and N/(N-K)) or
        "frequency" (fweights: a row stands for w_i identical rows; whole numbers only;
        N = sum_i w_i and the HC1 meat sum_i w_i x_i x_i' e_i^2, so every number equals that
        of the expanded data).

    Returns
    -------
    Result
        One term ``"ATT"`` (``n_treated``/``n_control``: rows in the treated and control
        group); ``diagnostics["cell_means"]`` and ``diagnostics["cell_counts"]`` hold the
        four cells.

    Raises
    ------
    ParameterError
        An unknown keyword, ``alpha`` outside (0, 1), an unknown ``inference`` or a
        few-cluster method without ``cluster``.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        Non-binary ``treatment``/``post``, an empty cell, a constant outcome, fewer than two
        clusters, or treatment varying within a cluster.

    References
    ----------
    Angrist, J. D. & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, ch. 5.2.
    Bertrand, M., Duflo, E. & Mullainathan, S. (2004). How much should we trust
    differences-in-differences estimates? *QJE* 119(1), 249-275.
    Solon, G., Haider, S. J. & Wooldridge, J. M. (2015). What are we weighting for?
    *Journal of Human Resources* 50(2), 301-316.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5})
    >>> panel["treated"] = (panel["cohort"] > 0).astype(int)
    >>> panel["post"] = (panel["time"] >= 7).astype(int)
    >>> res = ek.did2x2(panel, outcome="y", treatment="treated", post="post", cluster="cluster")
    >>> res.estimate("ATT")  # doctest: +SKIP
    """
    alpha = v.check_alpha(alpha)
    weights_type = weighting.check_weights_type(weights_type)
    method, postfit = split(inference, cluster)
    inference_options = inference_options_checked(postfit, inference_options)
    if cluster is None and inference is None:
        warnings.warn("did2x2 without cluster=: heteroskedasticity-robust (HC1) errors that ignore correlation "
                      "within the assignment groups (Bertrand, Duflo & Mullainathan 2004). Pass cluster= (the "
                      "assignment level, e.g. the area), or inference='hc1' to ask for HC1 by name.",
                      EvalkitWarning, stacklevel=stack_level())
    df = v.select(data, {"outcome": outcome, "treatment": treatment, "post": post, "cluster": cluster,
                         "weights": weights})
    v.check_numeric(df, outcome, "outcome")
    for param, col in {"treatment": treatment, "post": post}.items():
        v.check_binary(df, col, param)
    v.check_label_column(df, cluster, "cluster")
    weighting.check_column(df, weights, weights_type)
    df, n_dropped = v.drop_missing(df, outcome)
    df, n_zero = weighting.drop_zero(df, weights)
    v.check_varies(df, outcome, "outcome")
    if cluster is not None:
        v.check_levels(df, cluster, "cluster", 2, "clusters for cluster-robust inference")
    if cluster is not None:
        v.check_constant_within(df, treatment, [cluster], "treatment", "treatment is assigned by cluster")
    cells = _cell_table(df, outcome, treatment, post, weights)

    g, p = df[treatment].to_numpy(float), df[post].to_numpy(float)
    x = pd.DataFrame({"const": 1.0, "treatment": g, "post": p, "ATT": g * p})
    clusters = None if cluster is None else pd.factorize(df[cluster], sort=True)[0]
    req = FitRequest(n_obs=len(df), n_regressors=4, clusters=clusters, cluster_name=cluster,
                     weights=weighting.values(df, weights), weights_type=weights_type)
    params, vcov = fit_ols(df[outcome].to_numpy(float), x, method, req)

    table = term_table(params[["ATT"]], vcov, alpha, method.df(req))
    table["n_treated"] = int((g == 1).sum())
    table["n_control"] = int((g == 0).sum())
    diagnostics = {"n_dropped_missing": n_dropped, "cell_means": cells["mean"], "cell_counts": cells["n"],
                   **cluster_diagnostics(df, cluster, df[treatment] == 1),
                   **weighting.diagnostics(df, weights, n_zero)}
    result = pack(estimator="did2x2", estimand=ESTIMAND, table=table, vcov=vcov.loc[["ATT"], ["ATT"]],
                alpha=alpha, method=method, req=req, outcome=outcome, diagnostics=diagnostics,
                meta={"treatment": treatment, "post": post, "cluster": cluster,
                      **weighting.meta(weights, weights_type)})
    return finish(result, postfit, data, inference_options)


def _cell_table(df: pd.DataFrame, outcome: str, treatment: str, post: str,
                weights: str | None = None) -> dict[str, dict[str, float]]:
    """Means (weighted with ``weights``) and row counts of the four cells; every cell must have data."""
    grouped = df.groupby([treatment, post])[outcome]
    means, counts = grouped.mean(), grouped.size()
    if weights is not None:
        keys = [df[treatment], df[post]]
        means = (df[outcome] * df[weights]).groupby(keys).sum() / df[weights].groupby(keys).sum()
    labels = {(1, 1): "treated_post", (1, 0): "treated_pre", (0, 1): "control_post", (0, 0): "control_pre"}
    empty = [name for key, name in labels.items() if key not in counts.index]
    if empty:
        raise ValidationError(
            f"The 2x2 design needs observations in all four cells of treatment={treatment!r} x post={post!r}; "
            f"empty: {empty}."
        )
    return {"mean": {name: float(means[key]) for key, name in labels.items()},
            "n": {name: int(counts[key]) for key, name in labels.items()}}
