"""Conley-Taber and Ferman-Pinto inference on an area x period panel with few treated areas.

Public entry points over the pure kernels of :mod:`evalkit.inference.few_treated`: they check
the frame, lay it out as balanced area x period matrices and return a :class:`Result` with the
TWFE estimate, the test's p-value and the interval that inverts it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core import checks as v
from evalkit.core.aliases import checked
from evalkit.errors import ValidationError
from evalkit.inference import few_treated as ft
from evalkit.results import Result
from evalkit.results.result import InferenceInfo

ESTIMAND = "ATT (TWFE on area x period cells)"


@checked
def conley_taber(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str, null: float = 0.0,
                 alpha: float = 0.05, draws: int = 9999, seed: int | None = None) -> Result:
    """TWFE effect with Conley & Taber (2011) inference for few treated areas.

    Conley & Taber, "Inference with 'Difference in Differences' with a Small Number of Policy
    Changes", *REStat* 93(1), 2011: the distribution of the estimation error is estimated from
    the control areas' residuals, each treated area paired with a control area's residual series
    (every pairing when there are at most 2 million, else ``draws`` random pairings). Valid with
    many control areas and errors identically distributed across areas - not when treated areas
    are systematically smaller or larger (use :func:`ferman_pinto`).

    Parameters
    ----------
    data : one row per area and period (a balanced panel: every area in every period).
    outcome : numeric area-period outcome (e.g. an employment rate); no missing values.
    unit, time : area and period keys.
    treatment : 0/1 indicator, switched on once and staying on (staggered timing allowed).
    null : the effect under the null hypothesis of the p-value.
    alpha : interval level 1 - alpha (``[est - q(1-alpha/2), est - q(alpha/2)]``).
    draws, seed : random pairings when they cannot all be enumerated.

    Returns a :class:`Result` with one row "ATT": estimate, p-value and interval (no standard
    error: the interval comes from the estimated error distribution, ``std_error`` is NaN by
    design); ``diagnostics`` hold the number of pairings and whether they were all enumerated.
    """
    y, d, _, keys = _matrices(data, outcome, unit, time, treatment, None)
    alpha = v.check_alpha(alpha)
    draws = v.check_count("draws", draws)
    rng = np.random.default_rng(v.check_seed("seed", seed))
    test = ft.conley_taber(y, d, null=float(null), alpha=alpha, draws=draws, rng=rng)
    return _result(test, alpha, keys, outcome, treatment, seed, {"exact": test.exact})


@checked
def ferman_pinto(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str, size: str | None,
                 null: float = 0.0, alpha: float = 0.05, draws: int = 9999, seed: int | None = None,
                 grid: int = 201) -> Result:
    """TWFE effect with Ferman & Pinto (2019) heteroskedasticity-robust inference for few treated areas.

    Ferman & Pinto, "Inference in Differences-in-Differences with Few Treated Groups and
    Heteroskedasticity", *REStat* 101(3), 2019: area-period means of areas with fewer residents
    are noisier, ``var(W_j) = A + B / M_j`` for an area's post-minus-pre residual contrast. The
    test imposes the null, fits that variance function (non-negative A, B) over all areas, and
    resamples the normalised contrasts rescaled to each area's own variance. Staggered timing:
    one contrast per number of post periods, weighted ``N_s (T - s) s``.

    Parameters
    ----------
    data, outcome, unit, time, treatment, null, alpha, draws, seed : as :func:`conley_taber`.
    size : column of the area's number of persons behind each cell (e.g. residents); its mean
        over periods is the area's ``M_j``. ``None``: equal variances (the null-imposed residual
        bootstrap).
    grid : nulls tried for the interval (an odd number; over ten Conley-Taber-scale
        half-widths around the estimate, the same draws for each).

    Returns a :class:`Result` as :func:`conley_taber` (``std_error`` NaN by design).
    """
    y, d, sizes, keys = _matrices(data, outcome, unit, time, treatment, size)
    alpha = v.check_alpha(alpha)
    draws = v.check_count("draws", draws)
    grid = v.check_int("grid", grid, minimum=3, maximum=10_001)
    rng = np.random.default_rng(v.check_seed("seed", seed))
    test = ft.ferman_pinto(y, d, sizes, null=float(null), alpha=alpha, draws=draws, rng=rng, grid=grid | 1)
    return _result(test, alpha, keys, outcome, treatment, seed, {"size": size})


def _matrices(data, outcome, unit, time, treatment, size):
    """Balanced area x period matrices of the outcome and treatment, and the areas' mean sizes."""
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment, "size": size})
    v.check_no_missing(df, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment, "size": size})
    v.check_numeric(df, outcome, "outcome")
    v.check_finite(df, outcome, "outcome")
    v.check_binary(df, treatment, "treatment")
    v.check_unique_keys(df, unit, time)
    if size is not None:
        v.check_numeric(df, size, "size")
        v.check_finite(df, size, "size")
        if (df[size] <= 0).any():
            raise ValidationError(f"size={size!r}: the persons behind a cell must be positive.")
    wide = df.pivot(index=unit, columns=time, values=outcome)
    if wide.isna().any().any():
        raise ValidationError(f"data: the panel must be balanced (every {unit!r} in every {time!r}); "
                              f"{int(wide.isna().sum().sum())} area-period cells are missing.")
    d = df.pivot(index=unit, columns=time, values=treatment).to_numpy(float)
    treated = d.any(axis=1)
    if not treated.any() or treated.all():
        raise ValidationError(f"treatment={treatment!r}: needs treated and never-treated areas.")
    if wide.shape[1] < 2:
        raise ValidationError(f"time={time!r}: at least two periods are needed.")
    sizes = None if size is None else df.groupby(unit)[size].mean().reindex(wide.index).to_numpy(float)
    ft.timings(d)  # absorbing treatment, a pre-period for every treated area
    keys = {"n_treated": int(treated.sum()), "n_control": int((~treated).sum()), "n_obs": len(df)}
    return wide.to_numpy(float), d, sizes, keys


def _result(test: ft.FewTreatedTest, alpha: float, keys: dict, outcome: str, treatment: str, seed, extra: dict):
    table = pd.DataFrame({"term": ["ATT"], "estimate": [test.estimate], "std_error": [np.nan],
                          "statistic": [np.nan], "p_value": [test.p_value], "conf_low": [test.conf_low],
                          "conf_high": [test.conf_high], "n_treated": [keys["n_treated"]],
                          "n_control": [keys["n_control"]]})
    info = InferenceInfo(method=test.method, cluster=None, n_clusters=keys["n_treated"] + keys["n_control"],
                         df=None, seed=v.seed_label(seed), draws=test.draws)
    why = ("no standard error: p-value and interval come from the estimated distribution of the "
           "estimation error (" + test.method.replace("_", "-") + ")")
    return Result(estimator=test.method, estimand=ESTIMAND, table=table, vcov=None, alpha=alpha, inference=info,
                  n_obs=keys["n_obs"], outcome=outcome,
                  diagnostics={"null": test.null, "draws": test.draws, "std_error": why, **extra},
                  meta={"treatment": treatment})
