"""Inference methods by name: one registry, one small object per method.

An estimator describes its fit in a :class:`FitRequest` (sample size, number
of estimated regressors, absorbed fixed effects, clusters). The method named
by the user turns that request into the covariance settings of the backend
(statsmodels ``OLS.fit`` or linearmodels ``PanelOLS.fit``), a final scale for
the degrees-of-freedom correction, and the reference distribution. New
methods ("cr2", "wild", "randomization") are added here and nowhere else.

Small-sample conventions (Cameron & Miller 2015, "A Practitioner's Guide to
Cluster-Robust Inference", J. Human Resources 50(2)):

* ``"cr1"``: V = G/(G-1) * (N-1)/(N-K) * V0, with tests and intervals from
  t(G-1) (Stata's ``vce(cluster)``). K counts the regressors and the absorbed
  fixed effects, except that effects nested in the clusters (each unit in one
  cluster) count as a single intercept, as in Stata ``xtreg, fe`` and
  ``reghdfe``.
* ``"hc1"``: V = N/(N-K) * V0 with every fixed effect counted (equal to the
  dummy-variable regression); tests and intervals from the normal.

Weighted fits (``FitRequest.weights``; :mod:`evalkit.core.weighting`): the backends fit WLS and
their sandwiches use the scores w_i x_i e_i. With analytic weights N is the number of rows (Stata
``aweight``, fixest/pyfixest ``aweights``); with frequency weights N = sum_i w_i (``fweight``),
which ``vcov_scale`` applies in place of the backend's row count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.errors import ParameterError, closest
from evalkit.results.result import InferenceInfo


@dataclass(frozen=True, slots=True)
class FitRequest:
    """What an estimator tells the inference method about its fit.

    n_regressors: columns of the estimated design (incl. an explicit intercept).
    n_effects: absorbed fixed-effect parameters (0 for plain OLS), counted as
    in a dummy-variable regression without intercept.
    n_nested_effects: of those, parameters of effects nested in the clusters
    beyond one intercept (e.g. n_units - 1 when each unit is in one cluster).
    clusters: integer cluster codes per row, or None.
    weights: row weights of a weighted least-squares fit (None: unweighted); weights_type:
    "analytic" (N = rows) or "frequency" (N = sum of the weights) - :mod:`evalkit.core.weighting`.
    """

    n_obs: int
    n_regressors: int
    n_effects: int = 0
    n_nested_effects: int = 0
    clusters: np.ndarray | None = None
    cluster_name: str | None = None
    weights: np.ndarray | None = None
    weights_type: str = "analytic"

    @property
    def n_corrections(self) -> float:
        """N of the small-sample factors: the rows, or the sum of frequency weights."""
        if self.weights is None or self.weights_type != "frequency":
            return self.n_obs
        return float(np.sum(self.weights))

    @property
    def frequency(self) -> bool:
        """True for a fit with frequency weights."""
        return self.weights is not None and self.weights_type == "frequency"

    @property
    def n_clusters(self) -> int | None:
        """Distinct clusters: a count table for integer codes (O(n), no sort), else numpy.unique."""
        if self.clusters is None:
            return None
        codes = np.asarray(self.clusters)
        if codes.dtype.kind in "iu" and codes.size and 0 <= codes.min() and codes.max() < 4 * codes.size + 10_000:
            return int(np.count_nonzero(np.bincount(codes)))
        return int(len(np.unique(codes)))


class InferenceMethod(Protocol):
    """Interface every registered inference method implements."""

    name: str
    needs_cluster: bool

    def statsmodels_fit(self, req: FitRequest) -> dict[str, Any]: ...
    def linearmodels_fit(self, req: FitRequest) -> dict[str, Any]: ...
    def vcov_scale(self, req: FitRequest, backend: str) -> float: ...
    def df(self, req: FitRequest) -> float | None: ...


def _effects_scale(req: FitRequest, counted: int, clustered: bool) -> float:
    """Rescale the backend's factor (N/(N-k) for HC1, (N-1)/(N-k) for CR1, N the rows, effects
    not counted) to N'/(N'-k-counted) or (N'-1)/(N'-k-counted), N' = ``req.n_corrections``
    (the rows, or the sum of frequency weights)."""
    k = req.n_regressors
    if not req.frequency:
        return (req.n_obs - k) / (req.n_obs - k - counted)
    n, rows, one = req.n_corrections, req.n_obs, 1.0 if clustered else 0.0
    return ((n - one) / (n - k - counted)) / ((rows - one) / (rows - k))


@dataclass(frozen=True, slots=True)
class CR1:
    """Cluster-robust (Liang-Zeger) covariance with the CR1 correction."""

    name: str = "cr1"
    needs_cluster: bool = True

    def statsmodels_fit(self, req: FitRequest) -> dict[str, Any]:
        return {"cov_type": "cluster",
                "cov_kwds": {"groups": req.clusters, "use_correction": True, "df_correction": True}}

    def linearmodels_fit(self, req: FitRequest) -> dict[str, Any]:
        # scale: N/(N-k) * G/(G-1) * (N-1)/N; effects are added in vcov_scale.
        return {"cov_type": "clustered", "clusters": req.clusters,
                "debiased": True, "group_debias": True, "auto_df": False, "count_effects": False}

    def vcov_scale(self, req: FitRequest, backend: str) -> float:
        if backend == "statsmodels":
            return _effects_scale(req, 0, True)
        return _effects_scale(req, req.n_effects - req.n_nested_effects, True)

    def df(self, req: FitRequest) -> float | None:
        return float(req.n_clusters - 1)


@dataclass(frozen=True, slots=True)
class HC1:
    """Heteroskedasticity-robust (White) covariance with the N/(N-K) correction."""

    name: str = "hc1"
    needs_cluster: bool = False

    def statsmodels_fit(self, req: FitRequest) -> dict[str, Any]:
        return {"cov_type": "HC1"}

    def linearmodels_fit(self, req: FitRequest) -> dict[str, Any]:
        return {"cov_type": "robust", "debiased": True, "auto_df": False, "count_effects": False}

    def vcov_scale(self, req: FitRequest, backend: str) -> float:
        return _effects_scale(req, 0 if backend == "statsmodels" else req.n_effects, False)

    def df(self, req: FitRequest) -> float | None:
        return None


REGISTRY: dict[str, InferenceMethod] = {"cr1": CR1(), "hc1": HC1()}
#: methods applied after the CR1 fit by :mod:`evalkit.estimators.postfit` (they need the design or re-estimate)
POSTFIT = ("cr2", "cr3", "wild", "randomization")


def available() -> list[str]:
    """Names of the registered inference methods."""
    return sorted(REGISTRY)


def default_cluster(inference: object, cluster: str | None, unit: str) -> str | None:
    """The clustering of a panel fit: ``cluster`` if given, none if HC1 was asked for by name, else
    the panel ``unit``.

    Without ``cluster=``, panel estimators cluster by the unit, as R ``fixest`` does by its first
    fixed effect and R ``did`` by the panel id: errors of one unit are correlated over time, and
    heteroskedasticity-robust (HC1) errors that ignore it over-reject badly (Bertrand, Duflo &
    Mullainathan 2004, *QJE* 119(1)). HC1 stays available as ``inference="hc1"``. Cluster at the
    assignment level (e.g. the area) when it is coarser than the unit.
    """
    if cluster is not None:
        return cluster
    if isinstance(inference, str) and inference.lower() == "hc1":
        return None
    return unit


def split(inference: str | None, cluster: str | None) -> tuple[InferenceMethod, str | None]:
    """(covariance method of the fit, post-fit method or None) for an estimator's ``inference=``."""
    if isinstance(inference, str) and inference.lower() in POSTFIT:
        if cluster is None:
            raise ParameterError(f"inference={inference!r} needs cluster=... (the assignment level).")
        return REGISTRY["cr1"], inference.lower()
    return resolve(inference, cluster), None


def resolve(inference: str | None, cluster: str | None) -> InferenceMethod:
    """Return the method for ``inference`` (None: "cr1" with a cluster, else "hc1").

    Raises ParameterError for unknown names and for a method that does not fit
    the clustering (e.g. "cr1" without ``cluster`` or "hc1" with one).
    """
    name = ("cr1" if cluster is not None else "hc1") if inference is None else inference
    if not isinstance(name, str) or name.lower() not in REGISTRY:
        raise ParameterError(
            f"inference={inference!r} is not a known method; choose one of {available() + list(POSTFIT)}."
            + closest(str(inference), [*REGISTRY, *POSTFIT])
        )
    method = REGISTRY[name.lower()]
    allowed = [n for n, m in REGISTRY.items() if m.needs_cluster == (cluster is not None)]
    if method.needs_cluster and cluster is None:
        raise ParameterError(f"inference={name!r} needs cluster=...; without a cluster choose one of {allowed}.")
    if not method.needs_cluster and cluster is not None:
        raise ParameterError(
            f"inference={name!r} ignores the clustering in cluster={cluster!r}; "
            f"with a cluster choose one of {allowed}, or pass cluster=None."
        )
    return method


def info(method: InferenceMethod, req: FitRequest) -> InferenceInfo:
    """The :class:`InferenceInfo` recorded on a result."""
    return InferenceInfo(method=method.name, cluster=req.cluster_name,
                         n_clusters=req.n_clusters, df=method.df(req))


def wald_table(estimate: np.ndarray, vcov: np.ndarray, alpha: float, df: float | None) -> pd.DataFrame:
    """Standard errors, t/z statistics, two-sided p-values and intervals.

    Uses t(df) when ``df`` is given, the standard normal otherwise.
    """
    estimate = np.asarray(estimate, dtype=float)
    se = np.sqrt(np.diag(np.asarray(vcov, dtype=float)))
    dist = stats.norm() if df is None else stats.t(df)
    stat = estimate / se
    crit = dist.ppf(1 - alpha / 2)
    return pd.DataFrame({
        "estimate": estimate, "std_error": se, "statistic": stat,
        "p_value": 2 * dist.sf(np.abs(stat)),
        "conf_low": estimate - crit * se, "conf_high": estimate + crit * se,
    })
