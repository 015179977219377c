"""Power and minimum detectable effect (MDE) of a planned area-level DiD, by simulation.

The data-generating process and the estimator are in :mod:`evalkit.domain._power_kernels`
(two-way fixed effects on area-year means, clustered by area). Inference (``method``):

* ``"cr1"``: cluster-robust t-test with t(G-1) (over-rejects with few treated areas);
* ``"wild"``: restricted wild cluster bootstrap, :func:`evalkit.wild_cluster_bootstrap`
  (Roodman et al. 2019), ``draws`` bootstrap draws per replication;
* ``"randomization"``: Fisher randomization inference, permuting which areas are treated
  (``draws`` random assignments per replication).

Reproducibility: replication r of an evaluation uses the seed words ``(seed, r)``, the same at
every effect size (common random numbers make the power curve smooth) and whatever the
number of workers: chunks of replications run in a ``ProcessPoolExecutor`` and are put back
in order. Power = share of replications with p <= alpha; its Monte Carlo standard error is
sqrt(power (1 - power) / reps).

The MDE is found on a grid of effect sizes around the analytic MDE (Bloom 1995), then on a
finer grid between the two grid points that bracket the target power, and read off by linear
interpolation; the analytic MDE is reported beside it.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain import _power_kernels as K
from evalkit.domain._common import (check_bool, check_number, check_positive_int, check_probability, check_seed,
                                    frame_html)
from evalkit.errors import ParameterError, check_choice
from evalkit.progress import counted
from evalkit.core.aliases import checked

METHODS = ("cr1", "wild", "randomization")
WEIGHTS = ("rademacher", "webb", "mammen")
#: upper bounds that keep a plan simulable (beyond them a value is a typing error, not a design)
MAX_AREAS, MAX_YEARS, MAX_RESIDENTS, MAX_REPS = 100_000, 100, 10_000_000, 1_000_000
_CHUNK = 25


@checked
def plan(*, n_treated: int, n_control: int, years_pre: int, years_post: int, residents: int,
         sd: float, icc: float, rho: float = 0.8) -> K.Design:
    """A validated planned design for :func:`simulate_power` and :func:`minimum_detectable_effect`.

    The model: a balanced area x year panel of area means y_at = u_at + e_at + effect * D_at,
    with u_at a stationary AR(1) area component (variance icc * sd^2, autocorrelation rho) and
    e_at the mean of ``residents`` persons' idiosyncratic terms (variance
    (1 - icc) sd^2 / residents, a fresh repeated cross-section each year); the first
    ``n_treated`` areas are treated in the post years.

    Parameters
    ----------
    n_treated : int
        Number of treated areas (1-100,000).
    n_control : int
        Number of comparison areas (1-100,000); at least 3 areas in all for a simulation.
    years_pre : int
        Years observed before treatment (1-100).
    years_post : int
        Years observed after treatment starts (1-100).
    residents : int
        Persons per area behind each area-year mean (1-10,000,000); more residents, less
        sampling noise (1 - icc) sd^2 / residents.
    sd : float
        Person-level standard deviation of the outcome (> 0), e.g. 0.45 for an employment
        share near 0.3.
    icc : float
        Share of the outcome variance between areas (intra-area correlation), in [0, 1).
    rho : float, default 0.8
        Year-to-year correlation of the area component, in [-1, 1] (1 = a fixed area effect,
        which DiD removes; lower values leave persistent area shocks that DiD does not remove).

    Returns
    -------
    Design
        The design.

    Raises
    ------
    ParameterError
        An unknown keyword, or a value that is not a whole number or number in its range.

    Examples
    --------
    >>> import evalkit as ek
    >>> d = ek.plan(n_treated=5, n_control=40, years_pre=4, years_post=3, residents=800, sd=0.45, icc=0.05)
    >>> d.n_areas
    45
    """
    return K.Design(n_treated=check_positive_int("n_treated", n_treated, maximum=MAX_AREAS),
                    n_control=check_positive_int("n_control", n_control, maximum=MAX_AREAS),
                    years_pre=check_positive_int("years_pre", years_pre, maximum=MAX_YEARS),
                    years_post=check_positive_int("years_post", years_post, maximum=MAX_YEARS),
                    residents=check_positive_int("residents", residents, maximum=MAX_RESIDENTS),
                    sd=check_number("sd", sd, low=0, low_open=True),
                    icc=check_number("icc", icc, low=0, high=1, high_open=True),
                    rho=check_number("rho", rho, low=-1, high=1))


def _chunk(d, effect, method, seed, reps, draws, weights):
    return np.array([K.replicate(d, effect, method, (seed, r), draws, weights) for r in reps])


def _check_run(method, reps, draws, alpha, n_jobs, seed, d, weights="rademacher", progress=True):
    if not isinstance(d, K.Design):
        raise ParameterError(f"design must come from evalkit.domain.plan(...), got {type(d).__name__}.")
    check_choice("method", method, METHODS)
    check_positive_int("reps", reps, maximum=MAX_REPS)
    check_positive_int("draws", draws, minimum=19, maximum=MAX_REPS)
    check_probability("alpha", alpha)
    check_positive_int("n_jobs", n_jobs, maximum=1024)
    check_seed("seed", seed)
    check_choice("weights", weights, WEIGHTS)
    check_bool("progress", progress)
    if d.n_areas < 3:
        raise ParameterError("the design needs at least 3 areas in all.")


def _run(d, effects, method, reps, seed, draws, weights, n_jobs, progress) -> dict:
    """{effect index: (reps x 2) array of estimate, p} for every effect, in parallel chunks."""
    tasks = [(i, e, range(s, min(s + _CHUNK, reps))) for i, e in enumerate(effects) for s in range(0, reps, _CHUNK)]
    out = {i: [None] * len(range(0, reps, _CHUNK)) for i in range(len(effects))}
    desc = f"power ({method}, {len(effects)} effect sizes x {reps} reps)"
    if n_jobs == 1:
        for i, e, r in counted(tasks, lambda task: len(task[2]), total=len(effects) * reps, description=desc,
                               enabled=progress):
            out[i][r.start // _CHUNK] = _chunk(d, e, method, seed, r, draws, weights)
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = {pool.submit(_chunk, d, e, method, seed, r, draws, weights): (i, r) for i, e, r in tasks}
            for fut in counted(as_completed(futures), lambda f: len(futures[f][1]), total=len(effects) * reps,
                               description=desc, enabled=progress):
                i, r = futures[fut]
                out[i][r.start // _CHUNK] = fut.result()
    return {i: np.vstack(parts) for i, parts in out.items()}


def _table(effects, runs, alpha, reps) -> pd.DataFrame:
    rows = []
    for i, e in enumerate(effects):
        est, p = runs[i][:, 0], runs[i][:, 1]
        power = float(np.mean(p <= alpha))
        rows.append({"effect": float(e), "power": power, "mc_se": float(np.sqrt(power * (1 - power) / reps)),
                     "rejections": int(np.sum(p <= alpha)), "reps": int(reps), "mean_estimate": float(est.mean()),
                     "sd_estimate": float(est.std(ddof=1)) if reps > 1 else np.nan})
    return pd.DataFrame(rows).sort_values("effect").reset_index(drop=True)


@checked_init
@immutable_value
@dataclass(frozen=True)
class PowerResult:
    """Power by simulation, from :func:`simulate_power` or :func:`minimum_detectable_effect`.

    Attributes
    ----------
    table : pandas.DataFrame
        effect, power, mc_se, rejections, reps, mean_estimate, sd_estimate; one row per
        simulated effect size.
    design : Design
        The planned design.
    method : str
        The inference method ("cr1", "wild" or "randomization").
    alpha : float
        Level of the tests.
    seed : int
        The seed.
    draws : int
        Bootstrap draws or random assignments per replication.
    target_power : float, default 0.8
        The power the MDE is for.
    mde : float, default nan
        The simulated MDE (from :func:`minimum_detectable_effect`; nan from
        :func:`simulate_power`).
    analytic_mde : float, default nan
        The analytic MDE (Bloom 1995) of the design.
    seconds : float, default nan
        Run time of the simulation.
    """

    table: pd.DataFrame
    design: K.Design
    method: str
    alpha: float
    seed: int
    draws: int
    target_power: float = 0.8
    mde: float = np.nan
    analytic_mde: float = np.nan
    seconds: float = np.nan

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the power table.

        Returns
        -------
        pandas.DataFrame
            One row per simulated effect size.
        """
        return self.table.copy(deep=True)

    def power(self, effect: float) -> float:
        """The simulated power at one of the simulated effect sizes.

        Parameters
        ----------
        effect : float
            An effect size of the table (compared with ``numpy.isclose``).

        Returns
        -------
        float
            The share of replications that rejected.

        Raises
        ------
        ParameterError
            An effect that was not simulated.
        """
        effect = check_number("effect", effect)
        hit = self.table.loc[np.isclose(self.table["effect"], effect), "power"]
        if hit.empty:
            raise ParameterError(f"effect={effect} was not simulated; effects are {self.table['effect'].tolist()}.")
        return float(hit.iloc[0])

    def plot(self, *, lang: str = "en", ax=None):
        """Power curve with Monte Carlo intervals (+- 1.96 mc_se), the target power and the MDE.

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of the axis labels.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; None creates a new figure.

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn on.
        """
        from evalkit.results.figure import new_figure

        fig = ax.figure if ax is not None else new_figure(figsize=(6.5, 3.8), dpi=110)
        ax = ax or fig.add_subplot()
        t = self.table
        ax.errorbar(t["effect"], t["power"], yerr=1.96 * t["mc_se"], marker="o", ms=3, lw=1.2, capsize=2)
        ax.axhline(self.target_power, color="#888", ls=":")
        if np.isfinite(self.mde):
            ax.axvline(self.mde, color="#c62828", ls="--", lw=1, label=f"MDE = {self.mde:.4g}")
            ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel({"da": "Effektstørrelse", "en": "Effect size"}[lang])
        ax.set_ylabel({"da": "Styrke", "en": "Power"}[lang])
        ax.set_ylim(0, 1.02)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        head = f"Power by simulation ({self.method}, alpha={self.alpha}); MDE={self.mde:.4g} (analytic {self.analytic_mde:.4g})"
        return frame_html(head, self.table)


@checked
def simulate_power(design: K.Design, effects, *, method: str = "cr1", reps: int = 200, alpha: float = 0.05,
                   seed: int = 0, draws: int = 199, weights: str = "rademacher", n_jobs: int | None = None,
                   progress: bool = True) -> PowerResult:
    """Power at each effect size for a planned design, by simulation.

    Each replication simulates the design's panel with the effect added to the treated areas'
    post years, estimates two-way fixed effects on the area-year means clustered by area, and
    tests zero with ``method``. Use it to see whether a planned evaluation can detect the
    effect it hopes for, and which inference method keeps its size with few treated areas.

    Parameters
    ----------
    design : Design
        From :func:`plan`.
    effects : float or sequence of float
        Effect sizes in outcome units (at most 1000), e.g. ``[0, 0.01, 0.02, 0.03]``.
    method : {"cr1", "wild", "randomization"}, default "cr1"
        Inference of each replication's test: "cr1" cluster-robust t-test with t(G-1)
        (over-rejects with few treated areas); "wild" restricted wild cluster bootstrap
        (Roodman et al. 2019); "randomization" Fisher randomization inference permuting which
        areas are treated.
    reps : int, default 200
        Monte Carlo replications per effect size (1-1,000,000); the power's Monte Carlo
        standard error is sqrt(power (1 - power) / reps).
    alpha : float, default 0.05
        Level of each test; power is the share of replications with p <= alpha.
    seed : int, default 0
        Seed; replication r uses the seed words (seed, r) at every effect size (common random
        numbers smooth the power curve), whatever the number of workers.
    draws : int, default 199
        Bootstrap draws ("wild") or random assignments ("randomization") per replication
        (19-1,000,000); unused by "cr1".
    weights : {"rademacher", "webb", "mammen"}, default "rademacher"
        Wild bootstrap weight distribution ("webb" is better with very few areas).
    n_jobs : int, optional
        Worker processes (1-1024); None: all cores. Results do not depend on it.
    progress : bool, default True
        Show a progress bar over the chunks of replications.

    Returns
    -------
    PowerResult
        Power, Monte Carlo SE, rejections and the estimates' mean and SD per effect size, and
        the analytic MDE (Bloom 1995) beside it.

    Raises
    ------
    ParameterError
        A design not from :func:`plan`, fewer than 3 areas, bad effects, or a parameter out
        of range or choice.

    References
    ----------
    Bloom, H. S. (1995). Minimum detectable effects: a simple way to report the statistical
    power of experimental designs. *Evaluation Review* 19(5), 547-556.
    Roodman, D., MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2019). Fast and wild:
    bootstrap inference in Stata using boottest. *Stata Journal* 19(1), 4-60.

    Examples
    --------
    >>> import evalkit as ek
    >>> d = ek.plan(n_treated=5, n_control=40, years_pre=4, years_post=3, residents=800, sd=0.45, icc=0.05)
    >>> pw = ek.simulate_power(d, [0.0, 0.03], reps=50, n_jobs=1, progress=False)
    >>> pw.power(0.0)  # doctest: +SKIP
    """
    import time

    n_jobs = (os.cpu_count() or 1) if n_jobs is None else n_jobs
    _check_run(method, reps, draws, alpha, n_jobs, seed, design, weights, progress)
    effects = _check_effects(effects)
    start = time.perf_counter()
    runs = _run(design, effects, method, reps, seed, draws, weights, n_jobs, progress)
    return PowerResult(table=_table(effects, runs, alpha, reps), design=design, method=method, alpha=float(alpha),
                       seed=int(seed), draws=int(draws), analytic_mde=K.analytic_mde(design, alpha, 0.8),
                       seconds=time.perf_counter() - start)


def _check_effects(effects) -> list[float]:
    if isinstance(effects, (str, bytes, dict)) or (not np.isscalar(effects) and not hasattr(effects, "__iter__")):
        raise ParameterError(f"effects={effects!r} must be a number or a list of effect sizes (outcome units).")
    values = np.atleast_1d(np.asarray(effects, dtype=object)).tolist()
    if len(values) > 1000:
        raise ParameterError(f"effects holds {len(values)} effect sizes; at most 1000 are simulated at once.")
    out = [check_number(f"effects[{i}]", e) for i, e in enumerate(values)]
    if not out:
        raise ParameterError("effects must hold at least one effect size.")
    return out


def interpolate_mde(table: pd.DataFrame, target: float) -> float:
    """Smallest effect where the (running-maximum) power curve reaches ``target``, interpolated linearly."""
    t = table.sort_values("effect")
    e, p = t["effect"].to_numpy(), np.maximum.accumulate(t["power"].to_numpy())
    above = np.flatnonzero(p >= target)
    if not len(above):
        return np.inf
    j = above[0]
    if j == 0:
        return float(e[0])
    return float(e[j - 1] + (target - p[j - 1]) * (e[j] - e[j - 1]) / (p[j] - p[j - 1]))


@checked
def minimum_detectable_effect(design: K.Design, *, power: float = 0.8, method: str = "cr1", reps: int = 200,
                              alpha: float = 0.05, seed: int = 0, draws: int = 199, weights: str = "rademacher",
                              n_jobs: int | None = None, progress: bool = True, grid_points: int = 9) -> PowerResult:
    """Minimum detectable effect (MDE) of a planned design at a target power, by simulation.

    Power is simulated on a grid of effect sizes from 0 to 2.5 times the analytic MDE
    (Bloom 1995), then on a finer grid between the two grid points that bracket the target
    power; the MDE is read off by linear interpolation of the (running-maximum) power curve.
    The table holds every simulated effect.

    Parameters
    ----------
    design : Design
        From :func:`plan`.
    power : float, default 0.8
        The target power, in (0, 1).
    method : {"cr1", "wild", "randomization"}, default "cr1"
        Inference of each replication's test: "cr1" cluster-robust t-test with t(G-1)
        (over-rejects with few treated areas); "wild" restricted wild cluster bootstrap
        (Roodman et al. 2019); "randomization" Fisher randomization inference permuting which
        areas are treated.
    reps : int, default 200
        Monte Carlo replications per effect size (1-1,000,000); the power's Monte Carlo
        standard error is sqrt(power (1 - power) / reps).
    alpha : float, default 0.05
        Level of each test; power is the share of replications with p <= alpha.
    seed : int, default 0
        Seed; replication r uses the seed words (seed, r) at every effect size (common random
        numbers smooth the power curve), whatever the number of workers.
    draws : int, default 199
        Bootstrap draws ("wild") or random assignments ("randomization") per replication
        (19-1,000,000); unused by "cr1".
    weights : {"rademacher", "webb", "mammen"}, default "rademacher"
        Wild bootstrap weight distribution ("webb" is better with very few areas).
    n_jobs : int, optional
        Worker processes (1-1024); None: all cores. Results do not depend on it.
    progress : bool, default True
        Show a progress bar over the chunks of replications.
    grid_points : int, default 9
        Points (3-101) of the coarse grid of effect sizes.

    Returns
    -------
    PowerResult
        The power table, ``mde`` (inf when the grid never reaches the target power) and
        ``analytic_mde``.

    Raises
    ------
    ParameterError
        A design not from :func:`plan`, fewer than 3 areas, or a parameter out of range or
        choice.

    References
    ----------
    Bloom, H. S. (1995). Minimum detectable effects: a simple way to report the statistical
    power of experimental designs. *Evaluation Review* 19(5), 547-556.

    Examples
    --------
    >>> import evalkit as ek
    >>> d = ek.plan(n_treated=5, n_control=40, years_pre=4, years_post=3, residents=800, sd=0.45, icc=0.05)
    >>> res = ek.minimum_detectable_effect(d, reps=50, n_jobs=1, progress=False)  # doctest: +SKIP
    >>> res.mde  # doctest: +SKIP
    """
    import time

    check_probability("power", power)
    check_positive_int("grid_points", grid_points, minimum=3, maximum=101)
    _check_run(method, reps, draws, alpha, (os.cpu_count() or 1) if n_jobs is None else n_jobs, seed, design,
               weights, progress)
    start = time.perf_counter()
    guess = K.analytic_mde(design, alpha, power)
    coarse = simulate_power(design, np.linspace(0, 2.5 * guess, grid_points), method=method, reps=reps, alpha=alpha,
                            seed=seed, draws=draws, weights=weights, n_jobs=n_jobs, progress=progress)
    table = coarse.table
    mde = interpolate_mde(table, power)
    if np.isfinite(mde) and mde > 0:
        e = table["effect"].to_numpy()
        lo, hi = e[e <= mde].max(), e[e >= mde].min()
        fine = simulate_power(design, np.linspace(lo, hi, 6)[1:-1], method=method, reps=reps, alpha=alpha, seed=seed,
                              draws=draws, weights=weights, n_jobs=n_jobs, progress=progress)
        table = pd.concat([table, fine.table]).sort_values("effect").reset_index(drop=True)
        mde = interpolate_mde(table, power)
    return PowerResult(table=table, design=design, method=method, alpha=float(alpha), seed=int(seed),
                       draws=int(draws), target_power=float(power), mde=mde, analytic_mde=guess,
                       seconds=time.perf_counter() - start)
