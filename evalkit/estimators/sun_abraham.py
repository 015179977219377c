"""Sun & Abraham (2021) interaction-weighted event study.

Model (Sun & Abraham 2021, "Estimating dynamic treatment effects in event
studies with heterogeneous treatment effects", J. Econometrics 225(2), eq. 13):

    y_it = a_i + l_t + sum_{g treated} sum_{e != -1} b_{g,e} 1[G_i = g] 1[t - g = e] + u_it,

with every relative period of every cohort interacted (a saturated model), so
no b_{g,e} is contaminated by effects at other horizons. This model is the same
as y_it = a_i + m_{G_i, t} + u_it (cohort x period effects) and
b_{g,e} = (m_{g,g+e} - m_{g,g-1}) - (m_{0,g+e} - m_{0,g-1}), 0 = control cohort.
evalkit fits that form exactly and without dummies: the unit effects are
eliminated and the small (cohort x period) system is solved densely
(:func:`evalkit.core.demean.twoway_fit`). The event-time estimates
are the interaction-weighted averages b_e = sum_g w_{g,e} b_{g,e} with cohort
shares w_{g,e} = n_{g,e} / sum_g' n_{g',e} (observations of cohort g at
relative period e), as ``fixest::sunab``; "ATT" averages all post-period
interactions with weights n_{g,e} (``summary(..., agg = "ATT")`` in fixest).

Standard errors: cluster-robust (CR1: G/(G-1) (N-1)/(N-K), K counting the
interactions and the absorbed effects, unit effects nested in clusters as one)
for the interactions, then the delta method (linear weights) for the
aggregates; t(G-1) for tests and intervals. Without ``cluster`` the units are
the clusters (the default of ``fixest::feols`` with unit effects).

Weights (``weights=``): the saturated model is fitted by weighted least squares (the weighted
normal equations of unit and cohort x period effects, solved exactly), the cohort shares are
weighted, w_{g,e} = W_{g,e} / sum_g' W_{g',e} with W_{g,e} the summed weights of cohort g at
relative period e (fixest ``aggregate(..., use_weights = TRUE)``, its default for a weighted
fit), and the cluster scores are sum_{i in c} w_i x~_i u_i.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from evalkit.errors import stack_level, EvalkitWarning, ValidationError, check_choice
from evalkit.core import checks as v, weighting
from evalkit.core.aliases import renamed
from evalkit.core.clusters import cr1_factor
from evalkit.core.demean import twoway_fit
from evalkit.inference import wald_table
from evalkit.results import InferenceInfo, Result

ESTIMAND = "Interaction-weighted effect at each event time (Sun & Abraham 2021)"


@renamed(control="control_group")
def sun_abraham(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str, leads: int | None = None,
                lags: int | None = None, cluster: str | None = None, control_group: str = "never",
                alpha: float = 0.05, weights: str | None = None, weights_type: str = "analytic") -> Result:
    """Sun & Abraham (2021) interaction-weighted event study; one row per event time plus "ATT".

    Fits the saturated regression of y on unit and time effects and cohort x relative-period
    interactions, then averages the cohort-specific effects at each event time with the cohort
    shares as weights (the interaction-weighted estimator, as ``fixest::sunab``). Unlike the
    plain :func:`event_study`, each event-time estimate is not contaminated by effects at other
    event times when effects differ across cohorts.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel, one row per (unit, time); may be unbalanced. Not modified.
    outcome : str
        Numeric outcome column; rows with a missing outcome are dropped with a warning.
    unit : str
        Panel unit column; (unit, time) must be unique.
    time : str
        Numeric period column.
    cohort : str
        First treated period (constant within unit), 0 = never treated. Cohorts first
        treated after the last observed period count as never treated (as ``fixest::sunab``).
        Every treated cohort must be observed in its reference period g-1 (always-treated
        units are not allowed).
    leads : int, optional
        Report event times from -leads on (None: all). The model always interacts every
        relative period (Sun & Abraham's recommendation); ``leads``/``lags`` only select the
        reported aggregates.
    lags : int, optional
        Report event times up to lags (None: all). "ATT" uses all post periods regardless.
    cluster : str, optional
        Cluster column (e.g. area); default None: the unit.
    control_group : {"never", "last"}, default "never"
        (formerly ``control``) "never": never-treated units are the control cohort (there
        must be some); "last": the last-treated cohort is the control (with any never-treated
        units), and rows from its first treated period on are excluded from estimation
        (counted in ``diagnostics["n_dropped_after_last"]``, with a warning).
    alpha : float, default 0.05
        Intervals have level 1 - alpha.
    weights : str, optional
        Column of non-negative row weights w_i (e.g. residents of an area-year; may vary over
        time): weighted least squares of the saturated model, weighted cohort shares
        W_{g,e} / sum_g' W_{g',e} (fixest's default for a weighted fit) and CR1 scores
        sum_{i in c} w_i x~_i u_i. Rows with weight 0 are dropped with an
        :class:`~evalkit.errors.EvalkitWarning`; randomization inference re-estimates with
        the weights. Recorded in ``meta["weights"]``/``meta["weights_type"]``.
    weights_type : {"analytic", "frequency"}, default "analytic"
        "analytic" (aweights: N = number of rows in G/(G-1) (N-1)/(N-K)) or "frequency"
        (fweights, whole numbers: N = sum_i w_i, the numbers of the expanded data).

    Returns
    -------
    Result
        One row per reported event time ("e=-2", ..., "e=3", the reference e=-1 marked
        ``reference=True``) and "ATT". The ``influence`` holds per-cluster score
        contributions phi_c (one column per term) with vcov = CR1 factor * sum_c phi_c phi_c'
        (the factor is ``diagnostics["cr1_factor"]``).

    Raises
    ------
    ParameterError
        An unknown keyword or ``control_group``, negative ``leads``/``lags``, or a bad
        ``alpha``.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        Duplicate (unit, time) rows, no never-treated units with ``control_group="never"``,
        fewer than two treated cohorts with ``control_group="last"``, a cohort varying within a
        unit, or a treated cohort not observed in its period g-1.

    References
    ----------
    Sun, L. & Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
    heterogeneous treatment effects. *Journal of Econometrics* 225(2), 175-199.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> res = ek.sun_abraham(staggered_panel(seed=1), outcome="y", unit="unit", time="time",
    ...                      cohort="cohort", leads=3, lags=3)
    >>> res.estimate("ATT")  # doctest: +SKIP
    """
    alpha = v.check_alpha(alpha)
    weights_type = weighting.check_weights_type(weights_type)
    check_choice("control_group", control_group, ["never", "last"])
    leads = None if leads is None else v.check_nonneg_int("leads", leads)
    lags = None if lags is None else v.check_nonneg_int("lags", lags)
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "cluster": cluster,
                         "weights": weights})
    v.check_numeric(df, outcome, "outcome")
    v.check_numeric(df, time, "time")
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_whole(df, time, "time")
    v.check_cohort(df, cohort, unit)
    weighting.check_column(df, weights, weights_type)
    df, n_missing = v.drop_missing(df, outcome)
    df, n_zero = weighting.drop_zero(df, weights)
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_has_treated(df, cohort)
    v.check_levels(df, cluster or unit, "cluster" if cluster else "unit", 2, "clusters for cluster-robust inference")
    v.check_unique_keys(df, unit, time)
    df, g_ctrl, n_after_last = _control_cohort(df, time, cohort, control_group)
    cl_col = cluster if cluster is not None else unit

    w = weighting.values(df, weights)
    design = _design(df, unit=unit, time=time, cohort=cohort, control_mask=g_ctrl, weights=w)
    _warn_small_cohorts(design)
    fixed = [*design.ref_cell.values(), min(design.ctrl_cell.values())]
    fit = twoway_fit(df[outcome].to_numpy(float), design.unit, design.cell, weights=w, fixed=fixed)
    terms, lmat, event, counts = _aggregation(design, leads, lags)
    clusters, cl_index = pd.factorize(df[cl_col], sort=True)
    phi = _influence(fit, design, clusters, len(cl_index), lmat, w)
    factor = _cr1_factor(design, clusters, len(cl_index), weighting.n_corrections(len(df), w, weights_type))
    vcov = factor * (phi.T @ phi)
    est = lmat @ fit.other_effects[:, 0]
    n_clusters = len(cl_index)
    table = wald_table(est, vcov, alpha, float(n_clusters - 1))
    table.insert(0, "term", terms)
    table["event_time"] = event
    table["n_treated"] = counts
    if leads is None or leads >= 1:
        table = _add_reference(table)
    info = InferenceInfo(method="cr1", cluster=cl_col, n_clusters=n_clusters, df=float(n_clusters - 1))
    names = list(terms)
    diagnostics = {
        "n_dropped_missing": n_missing, "n_dropped_after_last": n_after_last, "n_units": design.n_units,
        "n_control_units": design.n_control_units, "cohorts": [int(g) for g in design.cohorts],
        "cohort_sizes": {str(int(g)): int(s) for g, s in zip(design.cohorts, design.cohort_sizes)},
        "n_interactions": design.n_interactions, "cr1_factor": factor,
        "n_clusters": n_clusters, "unit_nested_in_cluster": design_nested(design.unit, clusters),
        **weighting.diagnostics(df, weights, n_zero),
    }
    meta = {"unit": unit, "time": time, "cohort": cohort, "cluster": cluster, "control_group": control_group,
            "leads": leads, "lags": lags, "reference": -1, **weighting.meta(weights, weights_type)}
    return Result(estimator="sun_abraham", estimand=ESTIMAND, table=table,
                  vcov=pd.DataFrame(vcov, index=names, columns=names), alpha=alpha, inference=info,
                  n_obs=len(df), outcome=outcome, diagnostics=diagnostics, meta=meta,
                  influence=pd.DataFrame(phi, index=pd.Index(cl_index, name=cl_col), columns=names))


def _control_cohort(df: pd.DataFrame, time: str, cohort: str, control: str) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Mark the control cohort; for "last" drop (with a warning) rows from the last cohort's start."""
    g = df[cohort].to_numpy(float)
    t_max = df[time].max()
    never = (g == 0) | (g > t_max)
    if control == "never":
        if not never.any():
            raise ValidationError(
                "control_group='never' needs never-treated units (cohort 0, or first treated after the last period), "
                "but every unit is treated in the sample. Use control_group='last' to compare with the last-treated cohort."
            )
        return df, never, 0
    treated = g[~never]
    if len(np.unique(treated)) < 2:
        raise ValidationError("control_group='last' needs at least two treated cohorts (one of them becomes the control).")
    g_last = treated.max()
    keep = df[time].to_numpy(float) < g_last
    n_drop = int((~keep).sum())
    if n_drop:
        warnings.warn(f"control_group='last': excluded {n_drop} of {len(df)} rows from period {g_last:g} on "
                      f"(when the control cohort {g_last:g} is itself treated).", EvalkitWarning, stacklevel=stack_level())
    ctrl = (never | (g == g_last))[keep]
    return df.loc[keep].reset_index(drop=True), ctrl, n_drop


class _Design:
    """Integer codes of the saturated model (units, cohort x period cells)."""

    __slots__ = ("unit", "cell", "cell_cohort", "cell_time", "cell_count", "cell_weight", "cell_units", "cohorts",
                 "cohort_sizes", "times", "n_units", "n_control_units", "ref_cell", "ctrl_cell", "n_interactions")


def _design(df: pd.DataFrame, *, unit: str, time: str, cohort: str, control_mask: np.ndarray,
            weights: np.ndarray | None = None) -> _Design:
    d = _Design()
    d.unit, units = pd.factorize(df[unit])
    d.n_units = len(units)
    tcode, times = pd.factorize(df[time], sort=True)
    d.times = np.asarray(times, dtype=float)
    g = np.where(control_mask, 0.0, df[cohort].to_numpy(float))
    gcode, cohorts = pd.factorize(g, sort=True)         # 0.0 (control) sorts first
    d.cohorts = np.asarray(cohorts[1:], dtype=float)
    raw = gcode.astype(np.int64) * len(times) + tcode
    d.cell, cells = pd.factorize(raw, sort=True)
    cells = np.asarray(cells)
    d.cell_cohort, cell_t = cells // len(times), cells % len(times)
    d.cell_time = d.times[cell_t]
    d.cell_count = np.bincount(d.cell, minlength=len(cells))
    d.cell_weight = d.cell_count if weights is None else np.bincount(d.cell, weights=weights, minlength=len(cells))
    unit_g = np.zeros(d.n_units, dtype=gcode.dtype)
    unit_g[d.unit] = gcode  # cohort is constant within unit (checked)
    d.cohort_sizes = np.bincount(unit_g, minlength=len(cohorts))[1:]
    d.n_control_units = int((unit_g == 0).sum())
    d.cell_units = d.cell_count  # (unit, time) is unique, so a unit has at most one row per cell
    lookup = {(int(c), float(t)): k for k, (c, t) in enumerate(zip(d.cell_cohort, d.cell_time))}
    _check_cells(d, lookup)
    d.ref_cell = {gi: lookup[(gi, d.cohorts[gi - 1] - 1)] for gi in range(1, len(cohorts))}
    d.ctrl_cell = {float(t): lookup[(0, float(t))] for t in d.times if (0, float(t)) in lookup}
    d.n_interactions = int((d.cell_cohort > 0).sum() - len(d.cohorts))
    return d


def _check_cells(d: _Design, lookup: dict) -> None:
    """Every treated cohort needs its reference period g-1, and controls in every period it is observed."""
    for gi, g in enumerate(d.cohorts, start=1):
        if (gi, g - 1) not in lookup:
            raise ValidationError(
                f"Cohort {g:g} is not observed in its reference period {g - 1:g} (always-treated units, or a gap), "
                "so its effects are not identified relative to the period before treatment. Remove these units "
                "or code them as a separate analysis."
            )
        periods = d.cell_time[d.cell_cohort == gi]
        missing = [float(t) for t in periods if (0, float(t)) not in lookup]
        if missing:
            raise ValidationError(
                f"No control-cohort observations in period(s) {missing[:5]} where cohort {g:g} is observed "
                "(empty cells); its effects there are not identified. Restrict the periods or add control units."
            )


def _warn_small_cohorts(d: _Design) -> None:
    single = [int(g) for g, s in zip(d.cohorts, d.cohort_sizes) if s == 1]
    if single:
        warnings.warn(
            f"Cohort(s) {single} contain a single unit: their interaction estimates rest on one unit and "
            "their cluster-robust variance is poorly estimated (the unit's scores are forced to sum to zero).",
            EvalkitWarning, stacklevel=stack_level(),
        )


def _aggregation(d: _Design, leads, lags):
    """Rows of L (terms x cells) mapping cell effects m to the aggregated estimates."""
    n_cells = len(d.cell_count)
    inter = []  # (cohort index, event time, L row for b_{g,e})
    for gi, g in enumerate(d.cohorts, start=1):
        ref = d.ref_cell[gi]
        for k in np.flatnonzero(d.cell_cohort == gi):
            e = d.cell_time[k] - g
            if k == ref:
                continue
            row = np.zeros(n_cells)
            row[k] += 1
            row[ref] -= 1
            row[d.ctrl_cell[float(d.cell_time[k])]] -= 1
            row[d.ctrl_cell[float(g - 1)]] += 1
            inter.append((gi, int(e), k, row))
    events = sorted({e for _, e, _, _ in inter})
    if leads is not None:
        events = [e for e in events if e >= -leads]
    if lags is not None:
        events = [e for e in events if e <= lags]
    terms, rows, event, counts = [], [], [], []
    for e in events:
        rows.append(_weighted([(k, r) for _, ee, k, r in inter if ee == e], d))
        terms.append(f"e={e}")
        event.append(e)
        counts.append(int(sum(d.cell_units[k] for _, ee, k, _ in inter if ee == e)))
    post = [(k, r) for _, e, k, r in inter if e >= 0]
    if not post:
        raise ValidationError("No treated cohort is observed after treatment; there is nothing to estimate.")
    rows.append(_weighted(post, d))
    terms.append("ATT")
    event.append(None)
    counts.append(None)
    return terms, np.vstack(rows), event, counts


def _weighted(parts, d: _Design) -> np.ndarray:
    n = np.array([d.cell_weight[k] for k, _ in parts], dtype=float)  # rows, or summed weights
    return (n / n.sum()) @ np.vstack([r for _, r in parts])


def _influence(fit, d: _Design, clusters: np.ndarray, n_clusters: int, lmat: np.ndarray,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Per-cluster contributions phi_c = L B^+ X~_c'Wu (X~: cell dummies net of unit effects).

    X~_c'u = sum_c 1[cell_i] u_i - sum_units E_cu / n_u C_u (E: cluster x unit sums of u, C: the
    unit x cell counts). With every unit in one cluster the second term is a sum over the rows of
    the cluster of the units' mean residuals, so X~_c'u is one grouped sum of u less the unit's mean
    residual by (cluster, cell); otherwise the sparse cluster x unit route. Weighted: wu in place of
    u, weighted unit means and the weighted unit x cell table ``fit.cross``."""
    u = fit.residuals[:, 0]
    wu = u if weights is None else u * weights
    n_cells = fit.schur_ginv.shape[0]
    proj = fit.schur_ginv @ lmat.T
    if design_nested(d.unit, clusters):
        mean = np.bincount(d.unit, weights=wu, minlength=d.n_units) / fit.unit_weight
        key = clusters.astype(np.intp) * n_cells
        key += d.cell
        dev = u - mean[d.unit]
        scores = np.bincount(key, weights=dev if weights is None else dev * weights, minlength=n_clusters * n_cells)
        return scores.reshape(n_clusters, n_cells) @ proj
    scores = sp.csr_matrix((wu, (clusters, d.cell)), shape=(n_clusters, n_cells))
    unit_part = sp.csr_matrix((wu / fit.unit_weight[d.unit], (clusters, d.unit)), shape=(n_clusters, d.n_units))
    scores = scores - unit_part @ fit.cross
    return np.asarray(scores @ proj)


def design_nested(unit: np.ndarray, clusters: np.ndarray) -> bool:
    """True if every unit lies in a single cluster."""
    n_units = int(unit.max()) + 1
    first = np.full(n_units, -1)
    first[unit] = clusters
    return bool(np.all(first[unit] == clusters))


def _cr1_factor(d: _Design, clusters: np.ndarray, n_clusters: int, n_obs: float | None = None) -> float:
    """G/(G-1) (N-1)/(N-K); K = parameters of the dummy regression, nested unit effects as one;
    N = ``n_obs`` (the rows by default; the sum of frequency weights)."""
    n = len(d.unit) if n_obs is None else n_obs
    n_cells = len(d.cell_count)
    k = d.n_units + n_cells - (len(d.cohorts) + 1)
    if design_nested(d.unit, clusters):
        k -= d.n_units - 1
    return cr1_factor(n_clusters, n, k)


def _add_reference(table: pd.DataFrame) -> pd.DataFrame:
    ref = pd.DataFrame({"term": ["e=-1"], "estimate": [0.0], "event_time": [-1], "reference": [True]})
    events = table[table["event_time"].notna()]
    att = table[table["event_time"].isna()]
    out = pd.concat([events, ref], ignore_index=True)
    out["event_time"] = out["event_time"].astype(float)
    out = out.sort_values("event_time", ignore_index=True)
    return pd.concat([out, att], ignore_index=True)
