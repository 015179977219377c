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
from evalkit.errors import EvalkitWarning, ParameterError, check_choice
from evalkit.progress import bar
from evalkit.results.result import Result

METHODS = {"smoothness": ("flci",), "relative_magnitudes": ("c-lf", "conditional")}
DEFAULT_CI = {"smoothness": "flci", "relative_magnitudes": "c-lf"}


@checked
def honest_did(result: Result, *, method: str = "relative_magnitudes", Mbar=None, M=None, l_vec=None,
               alpha: float = 0.05, ci: str | None = None, grid_points: int = 1000, breakdown: bool = True,
               breakdown_steps: int = 8, seed: int = 0, progress: bool = False) -> SensitivityResult:
    """Sensitivity analysis for an event-study :class:`Result`.

    betahat and sigma are the estimated event-time terms (reference period
    excluded), pre terms (event_time < 0) then post terms (>= 0), in event-time
    order, with their covariance from ``result.vcov``. ``progress=True`` shows a
    progress bar over the M / Mbar values and the breakdown bisection steps (on the
    console, never in a notebook's output).
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
    """As :func:`honest_did` from raw arrays (betahat = pre coefficients then post). ``seed`` seeds R's
    random stream (``set.seed``) for the conditional-least-favourable critical values; ``progress``
    shows a progress bar over the M / Mbar values and the breakdown steps."""
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
                          "its length may be understated.", EvalkitWarning, stacklevel=4)
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
