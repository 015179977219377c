"""The advisor's input: a balanced area-year panel with one adoption date, checked and reshaped.

Everything is read from a copy of the needed columns (:func:`evalkit.core.checks.select`); the
caller's frame is never changed. Errors name the parameter and say what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core import checks as v
from evalkit.errors import ParameterError, ValidationError


@dataclass(frozen=True, slots=True)
class Panel:
    """Areas (sorted by label) x years: outcome matrix ``y`` (G x T), ``post`` (T,) 0/1,
    ``treated`` (G,) bool, area ``weights`` (G,) or None, area ``sizes`` (G,) or None."""

    y: np.ndarray
    post: np.ndarray
    treated: np.ndarray
    weights: np.ndarray | None
    sizes: np.ndarray | None
    units: np.ndarray
    first_year: object


def read_panel(data, *, outcome, unit, time, treatment, cluster, size, weights) -> Panel:
    """Check ``data`` and reshape it (see :func:`evalkit.inference.advisor.inference_advisor`)."""
    if cluster is not None and cluster == unit:
        cluster = None
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment,
                         "cluster": cluster, "weights": weights})
    if size is not None:
        sz = v.select(data, {"size": size})[size]
        df["__size"] = sz.to_numpy()
    v.check_numeric(df, outcome, "outcome")
    v.check_varies(df, outcome, "outcome")
    _check_time(df, time)
    for param, col in (("unit", unit), ("time", time), ("cluster", cluster)):
        v.check_label_column(df, col, param)
    v.check_binary(df, treatment, "treatment")
    v.check_no_missing(df, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment})
    v.check_unique_keys(df, unit, time)
    _check_cluster(df, unit, cluster)
    units, years = np.sort(df[unit].unique()), np.sort(df[time].unique())
    if len(df) != units.size * years.size:
        raise ValidationError(f"The advisor needs a balanced panel: every {unit!r} observed in every {time!r} "
                              f"({units.size} x {years.size} = {units.size * years.size} rows; the data have "
                              f"{len(df)}). Fill or drop the incomplete areas first.")
    df = df.sort_values([unit, time], kind="stable")
    G, T = units.size, years.size
    y = df[outcome].to_numpy(float).reshape(G, T)
    d = df[treatment].to_numpy(float).reshape(G, T)
    treated, post, first = _adoption(d, years, treatment, time)
    area_w = None if weights is None else _area_weights(df, weights, unit, G, T)
    sizes = None if size is None else _area_sizes(df, size, G, T)
    return Panel(y, post, treated, area_w, sizes, units, first)


def _check_time(df: pd.DataFrame, time: str) -> None:
    """Years must be numbers or dates: text ("8", "17") would sort as text and misplace the start."""
    col = df[time]
    if pd.api.types.is_bool_dtype(col) or not (pd.api.types.is_numeric_dtype(col)
                                               or pd.api.types.is_datetime64_any_dtype(col)):
        raise ParameterError(f"time={time!r} must hold numbers (years) or dates, not {col.dtype} values (text "
                             "sorts as text: '17' < '8'); convert it first, e.g. pd.to_numeric(df[time]).")


def _check_cluster(df: pd.DataFrame, unit: str, cluster: str | None) -> None:
    if cluster is None:
        return
    pairs = df[[unit, cluster]].drop_duplicates()
    if pairs[unit].duplicated().any() or pairs[cluster].duplicated().any():
        raise ParameterError(f"cluster={cluster!r} must be the area level (one cluster per {unit!r}): the advisor "
                             "assigns placebo treatment to clusters and its kernels cluster by area. Aggregate "
                             "the panel to the assignment level first, or pass cluster=None.")


def _adoption(d: np.ndarray, years: np.ndarray, treatment: str, time: str):
    """(treated areas, post indicator, first treated year); one common adoption date required."""
    treated = d.max(axis=1) > 0
    if not treated.any():
        raise ValidationError(f"treatment={treatment!r} is 0 everywhere: the advisor needs treated areas.")
    if treated.all():
        raise ValidationError(f"treatment={treatment!r}: every area is treated; the advisor needs never-treated "
                              "comparison areas.")
    post = d[treated][0]
    if not (d[treated] == post).all():
        raise ParameterError(f"treatment={treatment!r} is not a single adoption date: the treated areas start in "
                             "different years or switch off. The advisor handles one common start (staggered "
                             "designs: run it per cohort against the never-treated areas).")
    if not (np.diff(post) >= 0).all():
        raise ParameterError(f"treatment={treatment!r} switches off again; the advisor needs an absorbing "
                             "treatment (0 before the start, 1 from it on).")
    if post[0] == 1:
        raise ValidationError(f"treatment={treatment!r} is 1 in the first {time!r}: there is no pre-period.")
    return treated, post, years[int(np.argmax(post))]


def _area_weights(df, weights, unit, G, T) -> np.ndarray:
    v.check_weights(df, weights)
    w = df[weights].to_numpy(float).reshape(G, T)
    if not np.allclose(w, w[:, :1], rtol=1e-12, atol=0):
        raise ValidationError(f"weights={weights!r} varies within an area over the years; the advisor's kernels "
                              f"take one analytic weight per {unit!r} (e.g. the area's mean residents): add a "
                              "column with the area mean and pass that.")
    if not (w[:, 0] > 0).all():
        raise ValidationError(f"weights={weights!r} must be positive for every area.")
    return w[:, 0].copy()


def _area_sizes(df, size, G, T) -> np.ndarray:
    s = pd.to_numeric(df["__size"], errors="coerce").to_numpy(float).reshape(G, T)
    if not np.isfinite(s).all() or (s <= 0).any():
        raise ValidationError(f"size={size!r} must be a positive number (residents) on every row.")
    return s.mean(axis=1)


__all__ = ["Panel", "read_panel"]
