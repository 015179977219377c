"""The regression design of a linear result, rebuilt from its data and ``meta``.

Inference methods that need the design matrix (CR2, CR3, the wild cluster
bootstrap) call :func:`linear_design`. It repeats the estimator's own
selection and missing-row handling (and drops zero-weight rows, as the
estimators do) and returns y, the regressors named by term, the fixed-effect
codes, the cluster codes and the row weights of a weighted fit. :func:`check_same_fit`
refits by OLS and insists on the result's estimates, so a design that does
not reproduce the result (other data, other rows) is an error, not a
silently different test.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import ParameterError, ValidationError
from evalkit.core import checks as v, weighting
from evalkit.core.demean import demean
from evalkit.estimators._event_design import _dummies, _prepare, event_times

LINEAR_ESTIMATORS = ("did2x2", "twfe", "event_study")


@dataclass(frozen=True, slots=True)
class LinearDesign:
    """y = X b + fixed effects + u, clustered.

    ``fe``: integer codes of the absorbed effects (unit, time); ``clusters``:
    integer cluster codes (None without a cluster); ``unit``: unit codes;
    ``weights``: row weights of a weighted fit (None: unweighted) of kind ``weights_type``.
    """

    y: np.ndarray
    X: pd.DataFrame
    fe: tuple[np.ndarray, ...]
    clusters: np.ndarray | None
    unit: np.ndarray | None
    weights: np.ndarray | None = None
    weights_type: str = "analytic"


def linear_design(result, data: pd.DataFrame) -> LinearDesign:
    """The design of a did2x2, twfe or event_study result on ``data``."""
    builder = {"did2x2": _did2x2, "twfe": _twfe, "event_study": _event_study}.get(result.estimator)
    if builder is None:
        raise ParameterError(f"No regression design for estimator {result.estimator!r}; "
                             f"available for {list(LINEAR_ESTIMATORS)}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the estimator already warned about dropped rows
        return builder(data, result.outcome, dict(result.meta))


def _codes(df: pd.DataFrame, col: str | None) -> np.ndarray | None:
    return None if col is None else pd.factorize(df[col], sort=True)[0]


def _weighted(df: pd.DataFrame, m: dict) -> tuple[pd.DataFrame, dict]:
    """The rows of a weighted fit (zero weights dropped, as the estimator does) and the design's
    weight fields; results without ``meta["weights"]`` (unweighted, or older) are unweighted."""
    col = m.get("weights")
    if col is None:
        return df, {}
    kind = m.get("weights_type") or "analytic"
    weighting.check_column(df, col, kind)
    df, _ = weighting.drop_zero(df, col, warn=False)
    return df, {"weights": df[col].to_numpy(float), "weights_type": kind}


def _did2x2(data, outcome, m):
    df = v.select(data, {"outcome": outcome, "treatment": m["treatment"], "post": m["post"], "cluster": m["cluster"],
                         "weights": m.get("weights")})
    df, _ = v.drop_missing(df, outcome)
    df, w = _weighted(df, m)
    g, p = df[m["treatment"]].to_numpy(float), df[m["post"]].to_numpy(float)
    x = pd.DataFrame({"const": 1.0, "treatment": g, "post": p, "ATT": g * p})
    return LinearDesign(df[outcome].to_numpy(float), x, (), _codes(df, m["cluster"]), None, **w)


def _twfe(data, outcome, m):
    covs = list(m.get("covariates") or [])
    df = v.select(data, {"outcome": outcome, "unit": m["unit"], "time": m["time"], "treatment": m["treatment"],
                         "cluster": m["cluster"], "covariates": covs, "weights": m.get("weights")})
    df, _ = v.drop_missing(df, outcome, covs)
    df, w = _weighted(df, m)
    x = df[[m["treatment"], *covs]].astype(float).rename(columns={m["treatment"]: "ATT"}).reset_index(drop=True)
    fe = (_codes(df, m["unit"]), _codes(df, m["time"]))
    return LinearDesign(df[outcome].to_numpy(float), x, fe, _codes(df, m["cluster"]), fe[0], **w)


def _event_study(data, outcome, m):
    df = _prepare(data, outcome=outcome, unit=m["unit"], time=m["time"], cohort=m["cohort"], cluster=m["cluster"],
                  weights=m.get("weights"), weights_type=m.get("weights_type") or "analytic")
    df, _ = v.drop_missing(df, outcome)
    df, w = _weighted(df, m)
    window = [e for e in range(-m["leads"], m["lags"] + 1) if e != m["reference"]]
    etime = event_times(df[m["time"]].to_numpy(float), df[m["cohort"]].to_numpy(float), m["leads"], m["lags"],
                        m["bin_endpoints"])
    x = _dummies(etime, window).reset_index(drop=True)
    fe = (_codes(df, m["unit"]), _codes(df, m["time"]))
    return LinearDesign(df[outcome].to_numpy(float), x, fe, _codes(df, m["cluster"]), fe[0], **w)


def nested_partial(design: LinearDesign) -> tuple[np.ndarray, np.ndarray]:
    """(y, X) with the unit effects partialled out and the time effects as dummies.

    CR2 and CR3 of a fixed-effects model equal their dummy-variable versions
    when the absorbed effects are nested in the clusters (Pustejovsky & Tipton
    2018, JBES 36(4), sec. 3), so only the unit effects are absorbed and the
    crossing time effects stay in X. Units must lie within clusters. Weighted
    designs partial the unit effects by weighted projection (the WLS analogue;
    the caller then fits and applies CR2/CR3 with the same weights).
    """
    x = design.X.to_numpy(float)
    if not design.fe:
        return design.y, x
    unit, time = design.fe
    if design.clusters is not None:
        per_unit = pd.Series(design.clusters).groupby(unit).nunique()
        if (per_unit > 1).any():
            raise ValidationError("CR2/CR3 with absorbed unit effects need every unit inside one cluster; "
                                  "here a unit spans clusters. Use cluster=unit or the wild bootstrap.")
    times = np.eye(time.max() + 1)[time][:, 1:]
    z = np.column_stack([design.y, x, times])
    zt = demean(z, [unit], weights=design.weights).values
    return zt[:, 0], zt[:, 1:]


def check_same_fit(result, beta: np.ndarray, terms: list[str]) -> None:
    """Raise if the refitted coefficients differ from the result's estimates."""
    est = result.table.set_index("term")["estimate"]
    for j, term in enumerate(terms):
        if term in est.index and not np.isclose(beta[j], est[term], rtol=1e-6, atol=1e-9):
            raise ValidationError(
                f"The data do not reproduce this result (term {term!r}: {beta[j]:.6g} vs {est[term]:.6g}); "
                "pass the data the result was estimated on.")


__all__ = ["LINEAR_ESTIMATORS", "LinearDesign", "check_same_fit", "linear_design", "nested_partial"]
