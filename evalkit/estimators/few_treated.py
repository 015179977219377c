"""Conley-Taber and Ferman-Pinto inference on an area x period panel with few treated areas.

Public entry points over the pure kernels of :mod:`evalkit.inference.few_treated`: they check
the frame, lay it out as balanced area x period matrices and return a :class:`Result` with the
TWFE estimate, the test's p-value and the interval that inverts it.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd

from evalkit.core import checks as v
from evalkit.core.aliases import checked
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError
from evalkit.inference import few_treated as ft
from evalkit.results import Result
from evalkit.results.result import InferenceInfo

ESTIMAND = "ATT (TWFE on area x period cells)"
#: fewer control areas than this: a warning (both methods' justification is asymptotic in the controls)
FEW_CONTROLS = 10
#: how the summary names each method's reference distribution
DISTRIBUTION = {"conley_taber": "Conley-Taber (2011): control residuals paired with the treated areas",
                "ferman_pinto": "Ferman-Pinto (2019): null-imposed bootstrap of the areas' residual contrasts"}


@checked
def conley_taber(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str, null: float = 0.0,
                 alpha: float = 0.05, draws: int = 9999, seed: int | None = None) -> Result:
    """TWFE effect with Conley & Taber (2011) inference for few treated areas.

    The distribution of the estimation error W is estimated from the control areas'
    residuals, each treated area paired with a control area's residual series (every pairing
    when there are at most 2 million, else ``draws`` random pairings). Valid with many control
    areas and errors identically distributed across areas - not when treated areas are
    systematically smaller or larger (use :func:`ferman_pinto`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per area and period (a balanced panel: every area in every period).
    outcome : str
        Numeric area-period outcome (e.g. an employment rate); no missing values, not constant.
    unit : str
        Area key column.
    time : str
        Period column: numbers (years) or dates (periods are ordered by value).
    treatment : str
        0/1 indicator, switched on once and staying on (staggered timing allowed); there must
        be treated and never-treated areas.
    null : float, default 0.0
        The effect under the null hypothesis of the p-value (a finite number).
    alpha : float, default 0.05
        Interval level 1 - alpha: the paper's equal-tailed
        ``[est - q(1-alpha/2), est - q(alpha/2)]``; the p-value is that of the equal-tailed
        test it inverts (``2 x`` the smaller tail share), so ``p > alpha`` exactly when
        ``null`` is inside.
    draws : int, default 9999
        Random pairings when they cannot all be enumerated.
    seed : int, optional
        Seed of the random pairings; None: one is drawn and recorded on the result.

    Returns
    -------
    Result
        One row "ATT": estimate, p-value and interval (no standard error: the interval comes
        from the estimated error distribution, ``std_error`` is NaN by design);
        ``diagnostics`` hold the number of pairings and whether they were all enumerated.
        An :class:`EvalkitWarning` with fewer than :data:`FEW_CONTROLS` (10) control areas.

    Raises
    ------
    ParameterError
        An unknown keyword, a non-finite ``null``, a bad ``alpha``/``seed``, or too few
        ``draws`` for ``alpha``.
    ColumnError
        A named column is missing, or ``time`` holds neither numbers nor dates.
    ValidationError
        An unbalanced panel, missing values, a non-binary treatment, no treated or no
        never-treated areas, fewer than two periods, or fewer pairings than ``2 / alpha``
        (the test could not reject any null inside the placebo distribution).

    References
    ----------
    Conley, T. G. & Taber, C. R. (2011). Inference with "difference in differences" with a
    small number of policy changes. *Review of Economics and Statistics* 93(1), 113-125.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(n_units=40, seed=1, cohorts={0: 0.9, 7: 0.1})
    >>> res = ek.conley_taber(panel, outcome="y", unit="unit", time="time", treatment="treat", seed=1)
    >>> res.tidy()[["estimate", "p_value", "conf_low", "conf_high"]]  # doctest: +SKIP
    """
    null, alpha, draws, seed = _options(null, alpha, draws, seed)
    y, d, _, keys = _matrices(data, outcome, unit, time, treatment, None, "Conley-Taber")
    _check_ct_design(keys, alpha, draws)
    _warn_few_controls("conley_taber", keys["n_control"])
    test = ft.conley_taber(y, d, null=null, alpha=alpha, draws=draws, rng=np.random.default_rng(seed))
    return _result(test, alpha, keys, outcome, treatment, seed, {"exact": test.exact})


@checked
def ferman_pinto(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str,
                 size: str | None = None, null: float = 0.0, alpha: float = 0.05, draws: int = 9999,
                 seed: int | None = None) -> Result:
    """TWFE effect with Ferman & Pinto (2019) heteroskedasticity-robust inference for few treated areas.

    Area-period means of areas with fewer residents are noisier, ``var(W_j) = A + B / M_j``
    for an area's post-minus-pre residual contrast. The test imposes the null, fits that
    variance function (non-negative A, B) over all areas, and resamples the normalised
    contrasts rescaled to each area's own variance. Staggered timing: one contrast per number
    of post periods, weighted ``N_s (T - s) s``. The interval is the set of nulls the test does
    not reject (same draws for every null); its ends are bracketed and bisected to 1e-6 x the
    controls' placebo spread, and are infinite when the test cannot reject that far out.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per area and period (a balanced panel: every area in every period).
    outcome : str
        Numeric area-period outcome; no missing values, not constant.
    unit : str
        Area key column.
    time : str
        Period column: numbers (years) or dates.
    treatment : str
        0/1 indicator, switched on once and staying on (staggered timing allowed).
    size : str, optional
        Column of the area's number of persons behind each cell (e.g. residents); its mean
        over periods is the area's ``M_j``. None (default): equal variances (the
        null-imposed residual bootstrap).
    null : float, default 0.0
        The effect under the null hypothesis of the p-value (a finite number).
    alpha : float, default 0.05
        The interval has level 1 - alpha.
    draws : int, default 9999
        Bootstrap draws, at least ``1 / alpha - 1`` (else no null could be rejected).
    seed : int, optional
        Seed of the bootstrap; None: one is drawn and recorded on the result.

    Returns
    -------
    Result
        One row "ATT" as :func:`conley_taber` (``std_error`` NaN by design). An
        :class:`EvalkitWarning` with fewer than :data:`FEW_CONTROLS` (10) control areas.

    Raises
    ------
    ParameterError
        An unknown keyword, a non-finite ``null``, a bad ``alpha``/``seed``, or too few
        ``draws`` for ``alpha``.
    ColumnError
        A named column is missing, or ``time`` holds neither numbers nor dates.
    ValidationError
        An unbalanced panel, missing values, a non-binary treatment, no treated or no
        never-treated areas, fewer than two periods, or a non-positive ``size``.

    References
    ----------
    Ferman, B. & Pinto, C. (2019). Inference in differences-in-differences with few treated
    groups and heteroskedasticity. *Review of Economics and Statistics* 101(3), 452-467.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(n_units=40, seed=1, cohorts={0: 0.9, 7: 0.1})
    >>> panel["residents"] = 100 + 10 * panel["unit"]
    >>> res = ek.ferman_pinto(panel, outcome="y", unit="unit", time="time", treatment="treat",
    ...                       size="residents", draws=999, seed=1)
    """
    null, alpha, draws, seed = _options(null, alpha, draws, seed)
    need = ft.min_atoms(alpha, "symmetric") - 1
    if draws < need:
        raise ParameterError(f"draws={draws} is too few for alpha={alpha:g}: the smallest p-value is "
                             f"1/(draws + 1), so draws must be at least {need}.")
    y, d, sizes, keys = _matrices(data, outcome, unit, time, treatment, size, "Ferman-Pinto")
    _warn_few_controls("ferman_pinto", keys["n_control"])
    test = ft.ferman_pinto(y, d, sizes, null=null, alpha=alpha, draws=draws, rng=np.random.default_rng(seed))
    return _result(test, alpha, keys, outcome, treatment, seed, {"size": size})


def _options(null, alpha, draws, seed) -> tuple[float, float, int, int | np.random.Generator]:
    """The checked scalar options; a seed is drawn (and later recorded) when None."""
    if isinstance(null, (bool, np.bool_)) or not isinstance(null, numbers.Real) or not math.isfinite(null):
        raise ParameterError(f"null={null!r} must be a finite number (the effect under the null hypothesis, "
                             "e.g. 0.0).")
    alpha, draws = v.check_alpha(alpha), v.check_count("draws", draws)
    seed = v.check_seed("seed", seed)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))  # drawn once and recorded on the result
    return float(null), alpha, draws, seed


def _check_ct_design(keys: dict, alpha: float, draws: int) -> None:
    """Refuse designs whose pairings (or draws) cannot reach the alpha/2 tails."""
    n1, n0 = keys["n_treated"], keys["n_control"]
    need, pairings = ft.min_atoms(alpha, "equal"), ft.ct_pairings(n1, n0)
    if pairings < need:
        raise ValidationError(
            f"conley_taber: {n0} control area(s) and {n1} treated area(s) give {pairings} distinct pairings; "
            f"the equal-tailed test at alpha={alpha:g} needs at least {need} (with fewer it cannot reject any "
            "null inside the placebo distribution). More control areas are needed (or a larger alpha).")
    if pairings > ft.EXACT_LIMIT and draws + 1 < need:
        raise ParameterError(f"draws={draws} is too few for alpha={alpha:g}: the smallest p-value is "
                             f"2/(draws + 1), so draws must be at least {need - 1}.")


def _warn_few_controls(method: str, n_control: int) -> None:
    if n_control < FEW_CONTROLS:
        warnings.warn(f"{method}: only {n_control} control area(s); the method's justification is asymptotic in "
                      f"the number of controls (their residuals stand in for the treated areas' errors). With fewer "
                      f"than {FEW_CONTROLS} the p-value and interval are unreliable.", EvalkitWarning, stacklevel=stack_level())


def _matrices(data, outcome, unit, time, treatment, size, method):
    """Balanced area x period matrices of the outcome and treatment, and the areas' mean sizes."""
    df = _checked(data, outcome, unit, time, treatment, size)
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
    ft.timings(d, method)  # absorbing treatment, a pre-period for every treated area
    keys = {"n_treated": int(treated.sum()), "n_control": int((~treated).sum()), "n_obs": len(df)}
    return wide.to_numpy(float), d, sizes, keys


def _checked(data, outcome, unit, time, treatment, size) -> pd.DataFrame:
    """A checked copy of the used columns (the caller's frame is never changed)."""
    cols = {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment, "size": size}
    df = v.select(data, cols)
    v.check_no_missing(df, cols)
    v.check_numeric(df, outcome, "outcome")
    _check_time(df, time)
    v.check_label_column(df, unit, "unit")
    v.check_binary(df, treatment, "treatment")
    v.check_unique_keys(df, unit, time)
    v.check_varies(df, outcome, "outcome")
    if size is not None:
        _check_size(df, size)
    return df


def _check_time(df: pd.DataFrame, time: str) -> None:
    """Periods are ordered by value, so ``time`` must hold numbers (years) or dates: text years
    would sort as text ('10' < '8')."""
    col = df[time]
    if pd.api.types.is_datetime64_any_dtype(col):
        return
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise ColumnError(f"time={time!r} must hold numbers (years) or dates, not {col.dtype} values such as "
                          f"{pd.unique(col)[:3].tolist()} (periods are ordered by value, and text sorts as text: "
                          f"'17' < '8'); convert it first, e.g. pd.to_numeric(data[{time!r}]).")
    v.check_finite(df, time, "time")


def _check_size(df: pd.DataFrame, size: str) -> None:
    v.check_numeric(df, size, "size")
    if (df[size] <= 0).any():
        raise ValidationError(f"size={size!r}: the persons behind a cell must be positive.")


def _inference_label(test: ft.FewTreatedTest, extra: dict, seed) -> str:
    """The summary's "Inference" line: the reference distribution and its draws (not "normal")."""
    how = DISTRIBUTION.get(test.method, test.method)
    if test.method == "ferman_pinto":
        size = extra.get("size")
        how += f", rescaled by {size!r}" if size else ", equal variances"
    draws = f"{test.draws:,} pairings, all enumerated" if extra.get("exact") else f"{test.draws:,} draws, seed {seed}"
    return f"{how}; {draws}; no standard error by design"


def _result(test: ft.FewTreatedTest, alpha: float, keys: dict, outcome: str, treatment: str, seed, extra: dict):
    table = pd.DataFrame({"term": ["ATT"], "estimate": [test.estimate], "std_error": [np.nan],
                          "statistic": [np.nan], "p_value": [test.p_value], "conf_low": [test.conf_low],
                          "conf_high": [test.conf_high], "n_treated": [keys["n_treated"]],
                          "n_control": [keys["n_control"]]})
    info = InferenceInfo(method=test.method, cluster=None, n_clusters=keys["n_treated"] + keys["n_control"],
                         df=None, seed=v.seed_label(seed), draws=test.draws)
    why = ("no standard error: p-value and interval come from the estimated distribution of the "
           "estimation error (" + test.method.replace("_", "-") + "); the interval is the set of nulls "
           "whose p-value exceeds alpha")
    label = _inference_label(test, extra, v.seed_label(seed))
    return Result(estimator=test.method, estimand=ESTIMAND, table=table, vcov=None, alpha=alpha,
                  inference=info, n_obs=keys["n_obs"], outcome=outcome,
                  diagnostics={"null": test.null, "draws": test.draws, "std_error": why,
                               "inference_label": label, **extra},
                  meta={"treatment": treatment})
