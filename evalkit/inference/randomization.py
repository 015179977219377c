"""Randomization inference for treatment assigned to clusters (areas).

Under the sharp null of no effect for anyone, the outcomes do not depend on
which clusters were treated, so re-estimating with the treatment timing
re-assigned at random across clusters gives the null distribution of any
statistic (Fisher 1935; Rosenbaum 2002; for DiD with few treated clusters
MacKinnon & Webb 2020, "Randomization inference for difference-in-differences
with few treated clusters", J. Econometrics 218(2)). Re-assignment permutes
the clusters' cohorts, so the number of clusters first treated in each period
is kept: the timing design is respected.

The p-value is (1 + #{|s*| >= |s|}) / (1 + R) over R draws, which is valid
for any R (Phipson & Smyth 2010), with its Monte Carlo standard error
sqrt(p (1 - p) / R). Statistic: the studentised one (``"t"``, robust to
heteroskedasticity across clusters; Wu & Ding 2021, JASA 116) or the estimate.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evalkit import progress as prog
from evalkit.core import linalg
from evalkit.core.clusters import cluster_sums
from evalkit.core.demean import demean
from evalkit.errors import stack_level, EvalkitError, EvalkitWarning, ValidationError


@dataclass(frozen=True, slots=True)
class RandomizationResult:
    """p-values per term under re-assigned treatment timing."""

    terms: tuple[str, ...]
    observed: np.ndarray       # observed statistic per term
    p_value: np.ndarray
    mc_se: np.ndarray          # Monte Carlo standard error of each p-value
    draws: int                 # re-assignments that could be estimated (each counts in the p-value)
    n_failed: int              # re-assignments whose estimation failed (left out, with a warning)
    n_nonfinite: tuple[int, ...]  # per term: draws with a non-finite statistic (counted as extreme)
    statistic: str
    seed: int | None
    null: np.ndarray | None = None  # the statistics of the estimable re-assignments (draws x terms)


def permuted_cohorts(cohorts: np.ndarray, rng: np.random.Generator, order: np.ndarray | None = None) -> np.ndarray:
    """A random re-assignment of the clusters' cohorts (a permutation of the array).

    ``order``: the clusters in a canonical order (:func:`evalkit.core.clusters.content_order` of
    their data); the permutation is drawn over those positions, so a seeded test does not depend
    on the clusters' labels or the row order."""
    if order is None:
        return cohorts[rng.permutation(cohorts.size)]
    out = np.empty_like(cohorts)
    out[order] = cohorts[order][rng.permutation(cohorts.size)]
    return out


def p_values(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Two-sided p-values of |observed| against the rows of ``null`` (draws x terms).

    Every draw counts (the randomization p-value of Fisher; Imbens & Rubin 2015, ch. 5):
    an infinite draw is at least as extreme as any observed value, and a NaN draw (a
    statistic undefined under that assignment, e.g. 0/0) is counted as extreme too, so the
    p-value stays conservative instead of shrinking when draws are dropped. Returns the
    p-values, their Monte Carlo standard errors, the number of draws and the number of
    non-finite draws per term.
    """
    nonfinite = ~np.isfinite(null)
    hits = (np.abs(np.nan_to_num(null, nan=0.0)) >= np.abs(observed) * (1 - 1e-12)) | nonfinite
    r = null.shape[0]
    p = np.where(np.isfinite(observed), (1 + hits.sum(axis=0)) / (1 + r), np.nan)
    return p, np.sqrt(p * (1 - p) / max(r, 1)), r, nonfinite.sum(axis=0)


def ols_cluster_t(y_partialled: np.ndarray, x: np.ndarray, fe: list[np.ndarray], clusters: np.ndarray | None,
                  columns: list[int], weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and cluster-robust t statistics (unscaled CR0) of the chosen columns.

    The fixed effects are partialled out of ``x`` (Frisch-Waugh-Lovell; ``y`` is
    passed already partialled, it does not change across re-assignments). The
    CR1 factor is the same for every re-assignment, so t ranks as CR1's t does.
    ``weights``: weighted least squares (the fixed effects partialled by weighted projection,
    ``y`` partialled likewise by the caller; scores w_i x~_i e_i).
    """
    xt = demean(x, fe, weights=weights).values if fe else np.asarray(x, float)
    xw = xt if weights is None else xt * weights[:, None]
    xtx_inv = linalg.inv(xw.T @ xt, "a regressor is not identified under this assignment")
    beta = xtx_inv @ (xw.T @ y_partialled)
    score = cluster_sums(xw * (y_partialled - xt @ beta)[:, None], clusters)  # clusters: codes 0..G-1
    vcov = xtx_inv @ (score.T @ score) @ xtx_inv
    se = np.sqrt(np.diag(vcov))[columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        return beta[columns], beta[columns] / se


def randomization_test(refit: Callable[[np.ndarray], np.ndarray], cohorts: np.ndarray, observed: np.ndarray,
                       terms: list[str], *, draws: int, seed: int | None, statistic: str,
                       progress: bool = False, order: np.ndarray | None = None) -> RandomizationResult:
    """Null distribution of ``refit(permuted cohorts)`` (one statistic per term) and p-values.

    ``refit`` returns the statistics for a cohort assignment, or raises
    ``ValueError``-like EvalkitErrors for an assignment that cannot be
    estimated (counted in ``n_failed`` and skipped).
    """
    rng = np.random.default_rng(seed)
    # the generator's state before each draw, taken in the serial order: draw b re-assigns the
    # cohorts from its own state, so the draws (and the p-values) do not depend on how many
    # processes re-estimate them, and no draws x clusters array is kept
    states = draw_states(rng, draws, lambda g: permuted_cohorts(cohorts, g, order))

    def one(b: int):
        try:
            return refit(permuted_cohorts(cohorts, generator_at(states[b]), order))
        except EvalkitError:
            return None

    null = np.full((draws, len(terms)), np.nan)
    ok = np.ones(draws, dtype=bool)
    for b, stat in enumerate(map_draws(one, draws, progress=progress, description="randomization inference")):
        if stat is None:
            ok[b] = False
        else:
            null[b] = stat
    if not ok.any():
        raise ValidationError(f"randomization inference: none of the {draws} re-assignments could be "
                              "estimated (too few treated or comparison units)")
    p, se, r, nonfinite = p_values(np.asarray(observed, float), null[ok])
    failed = int(draws - ok.sum())
    if failed or nonfinite.any():
        warnings.warn(f"randomization inference: {failed} of {draws} re-assignments could not be estimated "
                      f"and were left out; {int(nonfinite.max())} gave a non-finite statistic, counted as "
                      "at least as extreme as the observed one (conservative).", EvalkitWarning, stacklevel=stack_level())
    return RandomizationResult(tuple(terms), np.asarray(observed, float), p, se, r, failed,
                               tuple(int(v) for v in nonfinite), statistic, seed, null[ok])


# --------------------------------------------------------------------------- parallel draws
#: environment variable capping the worker processes of resampling loops (1: run serially)
WORKERS_ENV = "EVALKIT_WORKERS"
#: fewer items than this run serially (forking costs more than it saves)
MIN_PARALLEL = 16
#: the first items run here for this long; the rest goes to workers only if it would take at least
#: MIN_PARALLEL_SECONDS more here (a fork and the workers' start cost tens of milliseconds)
PROBE_SECONDS = 0.05
MIN_PARALLEL_SECONDS = 0.5
_JOBS: dict[int, Callable] = {}
_JOBS_LOCK = threading.Lock()
_IN_WORKER = False


def draw_states(rng: np.random.Generator, n: int, draw: Callable[[np.random.Generator], object]) -> list[dict]:
    """The state of ``rng`` before each of ``n`` successive ``draw(rng)`` calls (made here, so
    ``rng`` ends where a serial loop of those draws leaves it)."""
    states = []
    for _ in range(n):
        states.append(rng.bit_generator.state)
        draw(rng)
    return states


def generator_at(state: dict) -> np.random.Generator:
    """A generator that continues from ``state`` (of :func:`draw_states`)."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def draw_workers(n_items: int) -> int:
    """Worker processes for a loop of ``n_items`` independent draws: the CPUs this process may use
    (at most ``EVALKIT_WORKERS``), 1 where processes cannot be forked (not Linux), inside a worker,
    or for fewer than :data:`MIN_PARALLEL` items."""
    if _IN_WORKER or n_items < MIN_PARALLEL or not sys.platform.startswith("linux"):
        return 1
    cpus = len(os.sched_getaffinity(0))
    return max(1, min(cpus, worker_cap(cpus), n_items // (MIN_PARALLEL // 2)))


def worker_cap(default: int) -> int:
    """``EVALKIT_WORKERS`` as a whole number >= 1, or ``default`` when it is unset; any other value
    is ignored with an :class:`~evalkit.errors.EvalkitWarning` that names it."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return default
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if cap < 1:
        warnings.warn(f"{WORKERS_ENV}={raw!r} is not a whole number >= 1 (1 runs resampling loops serially); "
                      f"using {default} worker process(es).", EvalkitWarning, stacklevel=stack_level())
        return default
    return cap


def map_draws(fn: Callable[[int], object], n_items: int, *, progress: bool = False, description: str = "",
              workers: int | None = None) -> list:
    """``[fn(0), ..., fn(n_items - 1)]``, computed by forked worker processes on contiguous chunks.

    By default the first items run here for :data:`PROBE_SECONDS`; the rest go to
    :func:`draw_workers` processes when they would take :data:`MIN_PARALLEL_SECONDS` or more.

    The answer is the serial one: ``fn(i)`` must depend on ``i`` only (draw the random numbers
    before, in the serial order, and index them by ``i``), and each worker runs the same code on
    a copy of this process's memory (``fork``: nothing is pickled but the results, so ``fn`` may
    be a closure over large data). Warnings raised in a worker are re-issued here in item order,
    and an exception ends the call as in the serial loop: the one of the first failing item.
    ``workers``: a number forces that many processes (1: serially in this process).
    """
    out: list = []
    if workers is None:
        workers = draw_workers(n_items)
        if workers > 1:  # time the first items here: quick loops never pay for a fork
            start = time.perf_counter()
            while len(out) < n_items and time.perf_counter() - start < PROBE_SECONDS:
                out.append(fn(len(out)))
            rest = n_items - len(out)
            if rest < MIN_PARALLEL or rest * (time.perf_counter() - start) / max(len(out), 1) < MIN_PARALLEL_SECONDS:
                workers = 1
    else:
        workers = max(1, min(int(workers), n_items)) if sys.platform.startswith("linux") and not _IN_WORKER else 1
    if workers == 1:
        items = range(len(out), n_items)
        return out + [fn(i) for i in prog.bar(items, total=len(items), description=description, enabled=progress)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    first = len(out)
    size = -(-(n_items - first) // (4 * workers))  # a few chunks per worker: balanced load, a moving progress bar
    chunks = [(start, min(start + size, n_items)) for start in range(first, n_items, size)]
    token = id(fn)
    parts: dict[int, tuple] = {}
    with _JOBS_LOCK:  # a fork context starts every worker at the first submit, each with its copy of _JOBS
        _JOBS[token] = fn
        try:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                       initializer=_enter_worker)
            futures = [pool.submit(_run_chunk, (token, start, stop)) for start, stop in chunks]
        finally:
            _JOBS.pop(token, None)
    with pool:
        for future in prog.bar(as_completed(futures), total=len(futures), description=description,
                               enabled=progress):
            start, values, log, error = future.result()
            parts[start] = (values, log, error)
    for start, _stop in chunks:
        values, log, error = parts[start]
        _reissue(log)
        out.extend(values)
        if error is not None:
            raise error
    return out


def _enter_worker() -> None:
    global _IN_WORKER
    _IN_WORKER = True  # nested loops run serially


def _run_chunk(task: tuple[int, int, int]) -> tuple[int, list, list, BaseException | None]:
    """Items ``start..stop-1`` of a job in a worker: values, warnings, and the exception that ended it."""
    token, start, stop = task
    fn, values, error = _JOBS[token], [], None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning goes back; the caller's filters decide there
        try:
            for i in range(start, stop):
                values.append(fn(i))
        except Exception as exc:  # noqa: BLE001 - re-raised by the caller, as the serial loop would
            error = exc
    log = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
    return start, values, log, _picklable(error)


def _picklable(error: BaseException | None) -> BaseException | None:
    import pickle

    if error is None:
        return None
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(error).__name__}: {error}")


def _reissue(log: list) -> None:
    """Issue a worker's warnings here, through this process's filters and once-registries."""
    if not log:
        return
    modules = {getattr(m, "__file__", None): name for name, m in list(sys.modules.items())}
    for message, category, filename, lineno in log:
        module = modules.get(filename)
        registry = vars(sys.modules[module]).setdefault("__warningregistry__", {}) if module else None
        warnings.warn_explicit(message, category, filename, lineno, module=module, registry=registry)


__all__ = ["RandomizationResult", "draw_states", "generator_at", "map_draws", "p_values", "permuted_cohorts", "randomization_test"]
