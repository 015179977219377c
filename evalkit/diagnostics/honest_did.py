"""HonestDiD sensitivity analysis (Rambachan & Roth 2023, "A More Credible Approach
to Parallel Trends", REStud 90(5)): confidence intervals for theta = l' tau_post that
stay valid when parallel trends is violated within a set Delta, reported over a
grid of M (smoothness, Delta^SD) or Mbar (relative magnitudes, Delta^RM).

Defaults follow the R package HonestDiD: Delta^SD uses the FLCI, Delta^RM the
conditional-least-favourable hybrid ("c-lf", kappa = alpha/10) inverted on
``grid_points`` points of [-20 sd, 20 sd] with sd the standard error of theta_hat.
The breakdown value is the largest M (Mbar) at which the robust CI excludes zero:
found on the grid, then refined by ``breakdown_steps`` bisection steps between
the last grid value that excludes zero and the first that does not (it is
``nan`` if even the smallest value does not exclude zero and ``inf``-flagged as
">= max" if all values exclude zero: then ``breakdown`` is the largest grid value
and ``breakdown_exceeds_grid`` is True).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.core import checks
from evalkit.core.aliases import checked
from evalkit.diagnostics._deltarm import rm_conditional_ci
from evalkit.diagnostics._flci import flci
from evalkit.diagnostics._sensitivity import SensitivityResult
from evalkit.errors import stack_level, EvalkitWarning, ParameterError, check_choice
from evalkit.progress import bar
from evalkit.results.result import Result

METHODS = {"smoothness": ("flci",), "relative_magnitudes": ("c-lf", "conditional")}
DEFAULT_CI = {"smoothness": "flci", "relative_magnitudes": "c-lf"}


@checked
def honest_did(result: Result, *, method: str = "relative_magnitudes", Mbar=None, M=None, l_vec=None,
               alpha: float = 0.05, ci: str | None = None, grid_points: int = 1000, breakdown: bool = True,
               breakdown_steps: int = 8, seed: int = 0, progress: bool = False) -> SensitivityResult:
    """HonestDiD sensitivity of an event-study effect to violations of parallel trends.

    Confidence intervals for theta = l' tau_post that stay valid when the post-treatment
    violation of parallel trends lies in a set Delta bounded by M (smoothness) or Mbar
    (relative magnitudes), reported over a grid of bounds, with the breakdown value: how
    large a violation the conclusion survives (Rambachan & Roth 2023). Defaults follow the R
    package HonestDiD. betahat and sigma are the estimated event-time terms of ``result``
    (reference period excluded), pre terms (event_time < 0) then post terms (>= 0), in
    event-time order, with their covariance from ``result.vcov``.

    Parameters
    ----------
    result : Result
        An event-study result with one coefficient per event time and a covariance matrix:
        :func:`event_study`, :func:`sun_abraham` or ``aggregate(att_gt(...), "dynamic")``
        (raw ATT(g,t) cells are refused; for other estimators use :func:`honest_did_arrays`).
        Needs at least 2 pre-period coefficients besides the reference period.
    method : {"relative_magnitudes", "smoothness"}, default "relative_magnitudes"
        The set Delta of parallel-trends violations allowed after treatment.
        "relative_magnitudes" (Delta^RM(Mbar)): a post-period change in the trend difference
        between consecutive periods is at most Mbar times the largest such change in the
        pre-periods. "smoothness" (Delta^SD(M)): the trend difference is close to linear - its
        slope changes by at most M (in outcome units) from one period to the next.
    Mbar : float or sequence of float, optional
        Grid of relative-magnitude bounds for ``method="relative_magnitudes"`` (non-negative,
        increasing; a unitless ratio, 1 = post-treatment violations as large as the worst
        pre-treatment one). Default None: [0, 0.5, 1, 1.5, 2]. Not allowed with "smoothness".
    M : float or sequence of float, optional
        Grid of smoothness bounds for ``method="smoothness"`` (required there; non-negative,
        increasing, in outcome units: the most the slope of the trend difference may change
        from one period to the next, e.g. ``M=[0, 0.01, 0.02]``; 0 allows only a linear trend
        difference). Not allowed with "relative_magnitudes".
    l_vec : sequence of float, optional
        Weights of the post-period effects in the target theta = l' tau_post (num_post finite
        entries, not all zero). Default None: the first post-period effect (event time 0),
        as R HonestDiD; ``numpy.full(num_post, 1 / num_post)`` targets the average post effect.
    alpha : float, default 0.05
        Robust intervals have level 1 - alpha; must lie in (0, 0.5).
    ci : {"flci", "c-lf", "conditional"}, optional
        Construction of the robust interval. "smoothness" takes "flci" (fixed-length CI, the
        default there); "relative_magnitudes" takes "c-lf" (the conditional-least-favourable
        hybrid, kappa = alpha/10, the default) or "conditional". None: the default of ``method``
        (as R HonestDiD).
    grid_points : int, default 1000
        Points (>= 10) of the theta grid [-20 sd, 20 sd] on which the "c-lf"/"conditional"
        test is inverted (sd: the standard error of theta_hat); more points give finer interval
        ends at more cost. Unused by "flci".
    breakdown : bool, default True
        Compute the breakdown value: the largest M (Mbar) at which the robust interval still
        excludes zero, found on the grid, then refined by bisection.
    breakdown_steps : int, default 8
        Bisection steps (>= 0) refining the breakdown value between the last grid value that
        excludes zero and the first that does not.
    seed : int, default 0
        Seed (>= 0) of R's random stream (``set.seed``) for the conditional-least-favourable
        critical values, so results match R HonestDiD run with the same seed.
    progress : bool, default False
        Show a progress bar over the M / Mbar values and the breakdown bisection steps.

    Returns
    -------
    SensitivityResult
        The robust interval [lb, ub] per M (Mbar) and the original interval
        (``table``), the breakdown value, and :meth:`SensitivityResult.plot` /
        :meth:`SensitivityResult.summary`. The breakdown is ``nan`` if even the smallest
        value does not exclude zero; if all values exclude zero it is the largest grid value
        with ``breakdown_exceeds_grid=True``. An :class:`EvalkitWarning` when a "c-lf"
        interval reaches the edge of the theta grid.

    Raises
    ------
    ParameterError
        An unknown keyword, ``method`` or ``ci``; ``M`` with "relative_magnitudes" or
        ``Mbar`` with "smoothness"; "smoothness" without ``M``; a grid that is empty,
        negative, non-finite or not increasing; a bad ``alpha``, ``grid_points``,
        ``breakdown_steps``, ``seed`` or ``l_vec``; fewer than 2 pre-period coefficients;
        a covariance that is not symmetric positive semi-definite.

    References
    ----------
    Rambachan, A. & Roth, J. (2023). A more credible approach to parallel trends.
    *Review of Economic Studies* 90(5), 2555-2591.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> es = ek.event_study(staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5}), outcome="y", unit="unit",
    ...                     time="time", cohort="cohort", leads=4, lags=3, cluster="cluster")
    >>> sens = ek.honest_did(es, Mbar=[0, 0.5, 1], grid_points=200)
    >>> print(sens.summary())  # doctest: +SKIP
    """
    betahat, sigma, num_pre, num_post = _from_result(result)
    return honest_did_arrays(betahat, sigma, num_pre, num_post, method=method, Mbar=Mbar, M=M, l_vec=l_vec,
                             alpha=alpha, ci=ci, grid_points=grid_points, breakdown=breakdown,
                             breakdown_steps=breakdown_steps, seed=seed, progress=progress)


@checked
def honest_did_arrays(betahat, sigma, num_pre: int, num_post: int, *, method: str = "relative_magnitudes",
                      Mbar=None, M=None, l_vec=None, alpha: float = 0.05, ci: str | None = None,
                      grid_points: int = 1000, breakdown: bool = True, breakdown_steps: int = 8,
                      seed: int = 0, progress: bool = False) -> SensitivityResult:
    """HonestDiD sensitivity analysis from raw event-study coefficients and their covariance.

    As :func:`honest_did`, for coefficients estimated outside evalkit (e.g. by R or Stata).

    Parameters
    ----------
    betahat : array_like
        Event-time coefficients, pre-period terms then post-period terms, each in event-time
        order, the reference period excluded (num_pre + num_post entries).
    sigma : array_like
        Their covariance matrix, (num_pre + num_post) square, symmetric positive semi-definite.
    num_pre : int
        Number of pre-period coefficients (at least 2).
    num_post : int
        Number of post-period coefficients (at least 1).
    method : {"relative_magnitudes", "smoothness"}, default "relative_magnitudes"
        The set Delta of parallel-trends violations allowed after treatment.
        "relative_magnitudes" (Delta^RM(Mbar)): a post-period change in the trend difference
        between consecutive periods is at most Mbar times the largest such change in the
        pre-periods. "smoothness" (Delta^SD(M)): the trend difference is close to linear - its
        slope changes by at most M (in outcome units) from one period to the next.
    Mbar : float or sequence of float, optional
        Grid of relative-magnitude bounds for ``method="relative_magnitudes"`` (non-negative,
        increasing; a unitless ratio, 1 = post-treatment violations as large as the worst
        pre-treatment one). Default None: [0, 0.5, 1, 1.5, 2]. Not allowed with "smoothness".
    M : float or sequence of float, optional
        Grid of smoothness bounds for ``method="smoothness"`` (required there; non-negative,
        increasing, in outcome units: the most the slope of the trend difference may change
        from one period to the next, e.g. ``M=[0, 0.01, 0.02]``; 0 allows only a linear trend
        difference). Not allowed with "relative_magnitudes".
    l_vec : sequence of float, optional
        Weights of the post-period effects in the target theta = l' tau_post (num_post finite
        entries, not all zero). Default None: the first post-period effect (event time 0),
        as R HonestDiD; ``numpy.full(num_post, 1 / num_post)`` targets the average post effect.
    alpha : float, default 0.05
        Robust intervals have level 1 - alpha; must lie in (0, 0.5).
    ci : {"flci", "c-lf", "conditional"}, optional
        Construction of the robust interval. "smoothness" takes "flci" (fixed-length CI, the
        default there); "relative_magnitudes" takes "c-lf" (the conditional-least-favourable
        hybrid, kappa = alpha/10, the default) or "conditional". None: the default of ``method``
        (as R HonestDiD).
    grid_points : int, default 1000
        Points (>= 10) of the theta grid [-20 sd, 20 sd] on which the "c-lf"/"conditional"
        test is inverted (sd: the standard error of theta_hat); more points give finer interval
        ends at more cost. Unused by "flci".
    breakdown : bool, default True
        Compute the breakdown value: the largest M (Mbar) at which the robust interval still
        excludes zero, found on the grid, then refined by bisection.
    breakdown_steps : int, default 8
        Bisection steps (>= 0) refining the breakdown value between the last grid value that
        excludes zero and the first that does not.
    seed : int, default 0
        Seed (>= 0) of R's random stream (``set.seed``) for the conditional-least-favourable
        critical values, so results match R HonestDiD run with the same seed.
    progress : bool, default False
        Show a progress bar over the M / Mbar values and the breakdown bisection steps.

    Returns
    -------
    SensitivityResult
        The robust interval [lb, ub] per M (Mbar) and the original interval
        (``table``), the breakdown value, and :meth:`SensitivityResult.plot` /
        :meth:`SensitivityResult.summary`. The breakdown is ``nan`` if even the smallest
        value does not exclude zero; if all values exclude zero it is the largest grid value
        with ``breakdown_exceeds_grid=True``. An :class:`EvalkitWarning` when a "c-lf"
        interval reaches the edge of the theta grid.

    Raises
    ------
    ParameterError
        An unknown keyword, ``method`` or ``ci``; ``M`` with "relative_magnitudes" or
        ``Mbar`` with "smoothness"; "smoothness" without ``M``; a grid that is empty,
        negative, non-finite or not increasing; a bad ``alpha``, ``grid_points``,
        ``breakdown_steps``, ``seed`` or ``l_vec``; fewer than 2 pre-period coefficients;
        a covariance that is not symmetric positive semi-definite.

    References
    ----------
    Rambachan, A. & Roth, J. (2023). A more credible approach to parallel trends.
    *Review of Economic Studies* 90(5), 2555-2591.

    Examples
    --------
    >>> import numpy as np
    >>> import evalkit as ek
    >>> b = np.array([0.01, -0.02, 0.00, 0.30, 0.35])
    >>> sens = ek.honest_did_arrays(b, np.eye(5) * 0.01, num_pre=3, num_post=2, Mbar=[0, 1], grid_points=100)
    """
    checks.check_int("seed", seed, minimum=0)
    progress = checks.check_bool("progress", progress)
    check_choice("method", method, list(METHODS))
    ci = DEFAULT_CI[method] if ci is None else ci
    check_choice("ci", ci, METHODS[method])
    b, S, l = _check_arrays(betahat, sigma, num_pre, num_post, l_vec)
    _check_scalars(alpha, grid_points, breakdown_steps)
    values = _grid(method, Mbar, M)
    fn = _interval_fn(method, ci, b, S, num_pre, num_post, l, alpha, grid_points, seed)
    label = "Mbar" if method == "relative_magnitudes" else "M"
    rows = [(v, *fn(v)) for v in bar(values, total=len(values), description=f"honest_did {label}", enabled=progress)]
    est, se = float(l @ b[num_pre:]), float(np.sqrt(l @ S[num_pre:, num_pre:] @ l))
    z = stats.norm.ppf(1 - alpha / 2)
    bd, exceeds = _breakdown(fn, rows, breakdown_steps, progress) if breakdown else (math.nan, False)
    table = pd.DataFrame({"method": [ci] * len(rows) + ["original"],
                          label: [r[0] for r in rows] + [math.nan],
                          "lb": [r[1] for r in rows] + [est - z * se],
                          "ub": [r[2] for r in rows] + [est + z * se]})
    return SensitivityResult(table=table, restriction=method, ci=ci, parameter=label, alpha=float(alpha),
                             l_vec=tuple(float(x) for x in l), estimate=est, std_error=se, breakdown=bd,
                             breakdown_exceeds_grid=exceeds, num_pre=num_pre, num_post=num_post)


def _interval_fn(method, ci, b, S, num_pre, num_post, l, alpha, grid_points, seed):
    if method == "smoothness":
        def smooth(m):
            f = flci(b, S, num_pre, l, m, alpha)
            return f.lb, f.ub
        return smooth
    sd = float(np.sqrt(l @ S[num_pre:, num_pre:] @ l))
    grid = np.linspace(-20 * sd, 20 * sd, grid_points)
    pool: dict = {}  # LP bases shared by all Mbar values (_arp_basis)

    def rm(mbar):
        hit = rm_conditional_ci(b, S, num_pre, num_post, l, mbar, alpha=alpha, hybrid=ci == "c-lf", grid=grid,
                                step=max(1, grid_points // 100), seed=seed, pool=pool)
        if hit.lo is None:
            return math.nan, math.nan
        if hit.lo == 0 or hit.hi == grid_points - 1:
            warnings.warn(f"Mbar={mbar:g}: the robust CI reaches the edge of the theta grid (+-20 se); "
                          "its length may be understated.", EvalkitWarning, stacklevel=stack_level())
        return float(grid[hit.lo]), float(grid[hit.hi])
    return rm


def _excludes_zero(lb, ub) -> bool:
    return bool(lb > 0 or ub < 0)


def _breakdown(fn, rows, steps, progress: bool = False):
    ok = [_excludes_zero(lb, ub) for _, lb, ub in rows]
    if not ok[0]:
        return math.nan, False
    if all(ok):
        return float(rows[-1][0]), True
    first_bad = ok.index(False)
    lo, hi = rows[first_bad - 1][0], rows[first_bad][0]
    for _ in bar(range(steps), total=steps, description="honest_did breakdown", enabled=progress):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _excludes_zero(*fn(mid)) else (lo, mid)
    return float(lo), False


def _grid(method, Mbar, M):
    if method == "relative_magnitudes":
        if M is not None:
            raise ParameterError("method='relative_magnitudes' takes Mbar=, not M=.")
        vals = [0.0, 0.5, 1.0, 1.5, 2.0] if Mbar is None else Mbar
    else:
        if Mbar is not None:
            raise ParameterError("method='smoothness' takes M=, not Mbar=.")
        if M is None:
            raise ParameterError("method='smoothness' needs a grid M= (in units of the outcome), e.g. "
                                 "M=[0, 0.01, 0.02].")
        vals = M
    name = "Mbar" if method == "relative_magnitudes" else "M"
    try:
        vals = np.atleast_1d(np.asarray(vals, dtype=float))
    except (TypeError, ValueError):
        raise ParameterError(f"{name}= must be a number or a list of numbers, got {vals!r}.") from None
    if vals.size == 0 or not np.all(np.isfinite(vals)) or (vals < 0).any() or (np.diff(vals) <= 0).any():
        raise ParameterError(f"the M/Mbar grid {vals.tolist()} must be non-empty, finite, >= 0 and increasing.")
    return [float(v) for v in vals]


def _check_scalars(alpha, grid_points, steps):
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise ParameterError(f"alpha={alpha!r} must be a number in (0, 0.5).")
    if isinstance(grid_points, bool) or not isinstance(grid_points, (int, np.integer)) or grid_points < 10:
        raise ParameterError(f"grid_points={grid_points!r} must be an integer >= 10.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ParameterError(f"breakdown_steps={steps!r} must be an integer >= 0.")


def _check_arrays(betahat, sigma, num_pre, num_post, l_vec):
    for name, n in (("num_pre", num_pre), ("num_post", num_post)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"{name}={n!r} must be a positive integer.")
    b = np.asarray(betahat, dtype=float).ravel()
    S = np.asarray(sigma, dtype=float)
    if b.size != num_pre + num_post or S.shape != (b.size, b.size):
        raise ParameterError(f"betahat has {b.size} entries and sigma shape {S.shape}; both must match "
                             f"num_pre + num_post = {num_pre + num_post}.")
    # tolerances relative to sigma's size (was max(1, |sigma|) and 1e-12 absolute: for an outcome in
    # millions of kroner, sigma ~ 1e-12, any matrix passed as symmetric and positive semi-definite)
    scale = float(np.abs(S).max()) if S.size and np.all(np.isfinite(S)) else 0.0
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(S))) or not np.allclose(S, S.T, atol=1e-12 * scale):
        raise ParameterError("betahat and sigma must be finite and sigma symmetric.")
    if np.linalg.eigvalsh(S).min() < -1e-10 * scale:
        raise ParameterError("sigma must be positive semi-definite.")
    if num_pre < 2:
        raise ParameterError("HonestDiD needs at least 2 pre-period coefficients (besides the reference period).")
    l = np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float).ravel()
    if l.size != num_post or not np.any(l != 0) or not np.all(np.isfinite(l)):
        raise ParameterError(f"l_vec must have num_post = {num_post} finite entries, not all zero.")
    if num_post == 1 and l[0] != 1.0:
        raise ParameterError("with one post period l_vec must be [1].")
    return b, (S + S.T) / 2, l


def _from_result(result: Result):
    if not isinstance(result, Result):
        raise ParameterError(f"honest_did needs an evalkit Result, got {type(result).__name__}.")
    tab = result.table
    if tab["event_time"].isna().all():
        raise ParameterError(f"{result.estimator} result has no event-time terms with a covariance matrix; "
                             "use honest_did_arrays(betahat, sigma, num_pre, num_post).")
    keep = tab[~tab["reference"] & tab["event_time"].notna()].sort_values("event_time")
    if keep["event_time"].duplicated().any():  # e.g. att_gt's ATT(g,t) cells: several per event time
        hint = " Aggregate it first: aggregate(result, 'dynamic')." if "att_gt" in result.estimator else ""
        raise ParameterError(f"honest_did needs one coefficient per event time; this {result.estimator} result has "
                             f"several for event time(s) {sorted(set(keep.loc[keep['event_time'].duplicated(), 'event_time'].astype(int)))}."
                             + hint)
    terms = keep["term"].tolist()
    S = result.covariance(terms).to_numpy(float)  # refuses results without a usable covariance
    et = keep["event_time"].astype(int).to_numpy()
    b = keep["estimate"].to_numpy(float)
    return b, S, int((et < 0).sum()), int((et >= 0).sum())
