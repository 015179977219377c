"""Re-run the estimator behind a result, from its ``meta``, on (possibly re-assigned) data.

Used by the inference methods that re-estimate: CR1/HC1 on request and
randomization inference. ``assignment`` turns a result's data into one
treatment timing per cluster (the assignment level) and back.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core.clusters import content_order
from evalkit.errors import ParameterError, ValidationError

REFITTABLE = ("did2x2", "twfe", "event_study", "sun_abraham", "did_imputation", "cs_att_gt", "cs_aggregate_simple",
              "cs_aggregate_group", "cs_aggregate_dynamic", "cs_aggregate_calendar")


#: name -> estimator function, filled by :mod:`evalkit.estimators` when it loads (so this module,
#: which the estimators' post-fit methods import, imports none of them: no cycle)
ESTIMATORS: dict = {}


def refit(result, data: pd.DataFrame, **override):
    """The result's estimator called again with its own arguments (``override`` wins)."""
    from types import SimpleNamespace

    est = SimpleNamespace(**ESTIMATORS)
    aggregate, att_gt = ESTIMATORS["aggregate"], ESTIMATORS["att_gt"]
    m, name = dict(result.meta), result.estimator
    base = {"outcome": result.outcome, "alpha": result.alpha}
    if name in ("did2x2", "twfe", "event_study", "sun_abraham"):
        base.update(_weights_kw(m))
    if name == "did2x2":
        kw = {k: m[k] for k in ("treatment", "post", "cluster")}
        return est.did2x2(data, **{**base, **kw, **override})
    if name == "twfe":
        kw = {k: m[k] for k in ("unit", "time", "treatment", "cluster", "covariates")}
        return est.twfe(data, **{**base, **kw, **override})
    if name == "event_study":
        kw = {k: m[k] for k in ("unit", "time", "cohort", "leads", "lags", "cluster", "reference", "bin_endpoints")}
        return est.event_study(data, **{**base, **kw, **override})
    if name == "sun_abraham":
        kw = {k: m[k] for k in ("unit", "time", "cohort", "leads", "lags", "cluster", "control_group")}
        return est.sun_abraham(data, **{**base, **kw, **override})
    if name == "did_imputation":
        kw = {k: m[k] for k in ("unit", "time", "cohort", "cluster", "weights", "horizons", "pretrends")}
        return est.did_imputation(data, **{**base, **kw, **override})
    if name.startswith("cs_"):
        kw = {k: m[k] for k in ("unit", "time", "cohort", "covariates", "control_group", "method", "cluster",
                                "weights", "anticipation", "base_period", "panel", "draws", "boot_weights")}
        att = att_gt(data, **{**base, **kw, **override})
        if name == "cs_att_gt":
            return att
        kind = name.removeprefix("cs_aggregate_")
        return aggregate(att, kind, balance_e=m.get("balance_e"), min_e=_inf(m.get("min_e"), -1),
                         max_e=_inf(m.get("max_e"), 1), draws=m.get("draws", m.get("n_boot", 999)), seed=override.get("seed"))
    raise ParameterError(f"Cannot re-estimate a {name!r} result; re-estimation works for {list(REFITTABLE)}.")


def _fit_rows(result, data: pd.DataFrame) -> pd.DataFrame:
    """The rows that enter the fit: a non-missing outcome and, in a weighted linear fit, a weight
    other than 0 (the estimators drop zero-weight rows)."""
    if result.outcome in data.columns:
        data = data.loc[data[result.outcome].notna()]
    w = dict(result.meta).get("weights") if result.estimator in _WEIGHTED else None
    if w is not None and w in data.columns:
        data = data.loc[pd.to_numeric(data[w], errors="coerce").fillna(1.0).to_numpy() != 0]
    return data


_WEIGHTED = ("did2x2", "twfe", "event_study", "sun_abraham")


def _weights_kw(m: dict) -> dict:
    """The weighting of a linear result's fit (none for unweighted or older results)."""
    if m.get("weights") is None:
        return {}
    return {"weights": m["weights"], "weights_type": m.get("weights_type") or "analytic"}


def _inf(value, sign):
    return sign * np.inf if value is None else value


def assignment(result, data: pd.DataFrame) -> tuple[str, np.ndarray, np.ndarray, callable]:
    """(level, cluster labels, their cohorts, apply) for re-assigning treatment timing.

    ``apply(new_cohorts)`` returns a copy of ``data`` with the timing re-assigned.
    The level is ``meta["cluster"]`` (the assignment level) or the unit.
    """
    m = dict(result.meta)
    level = m.get("cluster") or m.get("unit")
    if level is None or level not in data.columns:
        raise ParameterError("Randomization inference re-assigns treatment across clusters: the result needs "
                             f"a cluster (or unit) column present in data; got {level!r}.")
    full = data
    data = _fit_rows(result, data)
    if result.estimator in ("did2x2", "twfe"):
        col = m["treatment"]
        cohort = _cohort_from_indicator(data, col, level, m.get("time") if result.estimator == "twfe" else None)
    else:
        col = m["cohort"]
        cohort = data.groupby(level, sort=True, observed=True)[col].agg(["min", "max"])
        if (cohort["min"] != cohort["max"]).any():
            raise ValidationError(f"cohort={col!r} varies within {level!r}; randomization inference re-assigns "
                                  "whole clusters, so timing must be constant within them.")
        cohort = cohort["min"]
    labels = cohort.index.to_numpy()

    def apply(new: np.ndarray) -> pd.DataFrame:
        mapped = pd.Series(new, index=labels).reindex(full[level]).fillna(0).to_numpy()  # out-of-sample rows: 0
        if result.estimator == "twfe":
            t = full[m["time"]].to_numpy(float)
            return full.assign(**{col: ((mapped > 0) & (t >= mapped)).astype(int)})
        return full.assign(**{col: mapped})
    return level, labels, cohort.to_numpy(), apply


def cluster_order(result, data: pd.DataFrame, level: str, labels: np.ndarray, cohorts: np.ndarray) -> np.ndarray:
    """The assignment clusters (``labels``, from :func:`assignment`) in the canonical order of their
    content: cohort, rows, and the smallest, largest and summed outcome
    (:func:`evalkit.core.clusters.content_order`), for draws that ignore labels and row order."""
    data = _fit_rows(result, data)
    y = data[result.outcome] if result.outcome in data.columns else pd.Series(0.0, index=data.index)
    stats_ = pd.to_numeric(y, errors="coerce").astype(float).groupby(data[level], sort=True, observed=True) \
        .agg(["count", "min", "max", "sum"]).reindex(labels)
    return content_order(np.column_stack([np.asarray(cohorts, float), stats_.to_numpy(float)]))


def _cohort_from_indicator(data, col, level, time):
    """First treated period per cluster (0 = never) from a 0/1 treatment; it must switch on once, for good."""
    d = data[col].astype(float)
    if time is None:  # did2x2: the group indicator itself
        g = d.groupby(data[level], sort=True, observed=True).agg(["min", "max"])
        if (g["min"] != g["max"]).any():
            raise ValidationError(f"treatment={col!r} varies within {level!r}.")
        return g["min"]
    t = data[time].astype(float)
    first = t.where(d == 1).groupby(data[level], sort=True, observed=True).min().fillna(0)
    implied = (first.reindex(data[level]).to_numpy() > 0) & (t.to_numpy() >= first.reindex(data[level]).to_numpy())
    if not np.array_equal(implied, d.to_numpy() == 1):
        raise ValidationError(f"Randomization inference needs treatment={col!r} to switch on once per {level!r} "
                              "and stay on (staggered adoption); it switches off or varies within a cluster.")
    return first
