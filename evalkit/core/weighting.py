"""Regression weights of the linear estimators: analytic (aweights) and frequency (fweights).

A weighted fit minimises sum_i w_i (y_i - x_i'b - effects)^2 (weighted least squares). The two
kinds give the same coefficients and differ only in what a row stands for, hence in the
variance (Solon, Haider & Wooldridge 2015, "What are we weighting for?", *J. Human Resources*
50(2); Cameron & Miller 2015, "A Practitioner's Guide to Cluster-Robust Inference", *J. Human
Resources* 50(2), sec. II.C and VI):

* ``"analytic"`` (default; Stata ``aweight``, fixest/pyfixest ``aweights``): a row is an average
  (e.g. an area-year rate weighted by its residents), Var(u_i) proportional to 1/w_i. The
  sandwich uses the scores w_i x~_i e_i; the number of observations N in the small-sample
  factors is the number of rows. CR1: V = G/(G-1) (N-1)/(N-K) A (sum_g s_g s_g') A with
  A = (X~'WX~)^-1, s_g = sum_{i in g} w_i x~_i e_i; HC1: N/(N-K) A (sum_i w_i^2 x~_i x~_i' e_i^2) A.
* ``"frequency"`` (Stata ``fweight``, pyfixest ``fweights``): a row stands for w_i identical
  rows, so w_i must be whole numbers. Every number equals that of the data with each row
  repeated w_i times: N = sum_i w_i; CR1 as above with that N; HC1 with the meat
  sum_i w_i x~_i x~_i' e_i^2 (each copy is its own observation).

Rows with weight 0 carry no information; the estimators drop them with an
:class:`~evalkit.errors.EvalkitWarning` that says how many (fixest removes them too), so
N, the cluster count and the checks of the design refer to the rows that enter the fit.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.core import checks as v
from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError

KINDS = ("analytic", "frequency")


def check_weights_type(value: object) -> str:
    """``weights_type``: "analytic" or "frequency" (a ParameterError names the closest)."""
    if not isinstance(value, str) or value not in KINDS:
        raise ParameterError(f"weights_type={value!r} is not allowed; choose 'analytic' (aweights: rows are averages, "
                             "N = rows) or 'frequency' (fweights: a row stands for w identical rows, N = sum of "
                             "weights)." + v.suggest(str(value), KINDS))
    return value


def check_column(df: pd.DataFrame, col: str | None, kind: str, *, unit: str | None = None) -> None:
    """The weights column: numeric, complete, finite, non-negative, not all zero
    (:func:`evalkit.core.checks.check_weights`); whole numbers for frequency weights; constant
    within ``unit`` when the estimator needs unit-level weights."""
    if col is None:
        return
    v.check_weights(df, col)
    if kind == "frequency":
        v.check_whole(df, col, "weights", "whole numbers with weights_type='frequency' (a row stands for w "
                      "identical rows); use weights_type='analytic' for non-integer weights")
    if unit is not None:
        v.check_constant_within(df, col, [unit], "weights", "the estimator needs one weight per unit (a "
                                "time-invariant unit-level weight, e.g. the residents in the base year)")


def drop_zero(df: pd.DataFrame, col: str | None, *, warn: bool = True) -> tuple[pd.DataFrame, int]:
    """Drop the rows whose weight is 0 (they do not enter a weighted fit), warning how many."""
    if col is None:
        return df, 0
    zero = df[col].to_numpy(float) == 0
    n = int(zero.sum())
    if n and warn:
        warnings.warn(f"Dropped {n} of {len(df)} rows with weights={col!r} equal to 0 (they carry no weight in "
                      "the fit).", EvalkitWarning, stacklevel=stack_level())
    if n:
        df = df.loc[~zero].reset_index(drop=True)
    if df.empty:
        raise ValidationError(f"weights={col!r}: no row with a positive weight is left to estimate.")
    return df, n


def values(df: pd.DataFrame, col: str | None) -> np.ndarray | None:
    """The weights as a float array (None without weights)."""
    return None if col is None else df[col].to_numpy(float)


def n_corrections(n_rows: int, weights: np.ndarray | None, kind: str) -> float:
    """N of the small-sample factors: the rows (analytic or no weights), the sum of the weights (frequency)."""
    if weights is None or kind == "analytic":
        return n_rows
    return float(np.sum(weights))


def hc_rows(xt: np.ndarray, e: np.ndarray, weights: np.ndarray | None, kind: str) -> np.ndarray:
    """Rows r_i of the heteroskedasticity-robust meat sum_i r_i r_i': x~_i e_i unweighted,
    w_i x~_i e_i with analytic weights, sqrt(w_i) x~_i e_i with frequency weights (the meat of
    the data with each row repeated w_i times)."""
    if weights is None:
        return xt * e[:, None]
    factor = weights if kind == "analytic" else np.sqrt(weights)
    return xt * (e * factor)[:, None]


def meta(col: str | None, kind: str) -> dict:
    """The weighting recorded in a result's ``meta`` (read by reports and by re-estimation)."""
    return {"weights": col, "weights_type": kind if col is not None else None}


def diagnostics(df: pd.DataFrame, col: str | None, n_zero: int) -> dict:
    """Sum of the weights and dropped zero-weight rows (nothing without weights)."""
    if col is None:
        return {}
    return {"sum_weights": float(df[col].to_numpy(float).sum()), "n_dropped_zero_weight": n_zero}


def label(meta_: dict, lang: str = "en") -> str | None:
    """A sentence for reports: "Weighted by residents (analytic weights)." (None if unweighted)."""
    col = (meta_ or {}).get("weights")
    if col is None:
        return None
    kind = (meta_ or {}).get("weights_type") or "analytic"
    if lang == "da":
        return f"Vægtet med {col} ({'analytiske vægte' if kind == 'analytic' else 'frekvensvægte'})."
    return f"Weighted by {col} ({kind} weights)."


def check_array(weights: object, n: int, param: str = "weights") -> np.ndarray | None:
    """Row weights passed as an array to a kernel: n finite non-negative numbers, not all zero."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float) if not isinstance(weights, (str, bytes)) else np.array([np.nan])
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any() or not (w > 0).any():
        raise ParameterError(f"{param} must be {n} finite non-negative numbers (one per row), not all zero.")
    return w


__all__: Sequence[str] = ["KINDS", "check_array", "check_column", "check_weights_type", "diagnostics", "drop_zero",
                          "hc_rows", "label", "meta", "n_corrections", "values"]
