"""Staggered adoption and the variance estimators of synthetic DiD.

Arkhangelsky et al. (2021): bootstrap (Algorithm 2), jackknife (Algorithm 3) and
placebo (Algorithm 4) standard errors, as R ``synthdid`` (``bootstrap_se``,
``jackknife_se``, ``placebo_se``): replicates keep the regularisation and stopping rule
of the full-sample fit; bootstrap and placebo re-estimate the weights starting from the
full-sample weights of the units drawn (renormalised); the jackknife keeps them fixed.

Staggered adoption (Arkhangelsky et al. 2021, Appendix A; Clarke, Pailanir, Athey &
Imbens 2023, Stata ``sdid``): each adoption cohort g is a block design (the units
first treated in g against the never-treated units, pre-period = periods before g) and
the overall ATT averages the cohort estimates weighted by their number of treated
unit-periods N_g * T_post,g. Each replicate re-runs every cohort; the placebo gives
randomly chosen never-treated units the adoption periods of the treated units.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.errors import ValidationError
from evalkit.estimators._sdid_kernels import (BlockFit, Options, default_options, fit_block, fixed_weights,
                                              sum_normalize)
from evalkit.inference.randomization import draw_states, generator_at, map_draws

#: give up a bootstrap after this many draws per replicate without treated or control units
MAX_REDRAWS = 100


@dataclass(frozen=True, slots=True)
class CohortFit:
    """The block fit of one adoption cohort; row indices refer to the rows of the design."""

    cohort: int
    fit: BlockFit
    opts: Options
    controls: np.ndarray
    treated: np.ndarray
    t0: int
    weight: int          # treated unit-periods N_g * T_post,g


@dataclass(frozen=True, slots=True)
class DesignFit:
    """All cohorts of one (full-sample or replicate) design and the aggregated ATT."""

    cohorts: tuple[CohortFit, ...]
    att: float

    def estimates(self, labels: tuple[int, ...]) -> np.ndarray:
        """Cohort estimates in the order of ``labels`` (NaN for absent cohorts), then the ATT."""
        by = {c.cohort: c.fit.estimate for c in self.cohorts}
        return np.array([by.get(g, np.nan) for g in labels] + [self.att])


def fit_design(y: np.ndarray, cohort: np.ndarray, times: np.ndarray, method: str, *, x: np.ndarray | None = None,
               opts: dict | None = None, init: dict | None = None) -> DesignFit:
    """Fit every cohort of ``y`` (N, T) with ``cohort`` (N,) (0 = never treated), covariates ``x`` (N, T, K).

    ``opts`` maps cohort -> :class:`Options` (default: computed from the block, as R);
    ``init`` maps cohort -> (omega start over this design's controls, lambda start).
    """
    controls = np.flatnonzero(cohort == 0)
    fits = []
    for g in np.unique(cohort[cohort > 0]):
        g = int(g)
        treated = np.flatnonzero(cohort == g)
        t0 = int((times < g).sum())
        rows = np.concatenate([controls, treated])
        block = y[rows]
        o = opts[g] if opts is not None else default_options(block, controls.size, t0, method)
        om, la = init[g] if init is not None else (None, None)
        fit = fit_block(block, controls.size, t0, o, om, la, None if x is None else x[rows])
        fits.append(CohortFit(cohort=g, fit=fit, opts=o, controls=controls, treated=treated, t0=t0,
                              weight=treated.size * (times.size - t0)))
    w = np.array([c.weight for c in fits], float)
    att = float(np.array([c.fit.estimate for c in fits]) @ (w / w.sum()))
    return DesignFit(cohorts=tuple(fits), att=att)


def refit(base: DesignFit, y: np.ndarray, x: np.ndarray, times: np.ndarray, method: str, rows: np.ndarray,
          labels: np.ndarray, fixed: bool = False) -> DesignFit:
    """Fit the design made of ``rows`` of ``y`` (and covariates ``x``) with cohort ``labels``,
    starting from ``base``'s weights (R passes the weights, not beta: beta restarts at 0)."""
    n = y.shape[0]
    opts, init = {}, {}
    controls = rows[labels == 0]
    for c in base.cohorts:
        omega_by_row = np.zeros(n)
        omega_by_row[c.controls] = c.fit.omega
        opts[c.cohort] = fixed_weights(c.opts) if fixed else c.opts
        init[c.cohort] = (sum_normalize(omega_by_row[controls]), c.fit.lam)
    present = {int(g) for g in np.unique(labels[labels > 0])}
    return fit_design(y[rows], labels, times, method, x=x[rows], opts={g: opts[g] for g in present},
                      init={g: init[g] for g in present})


def placebo(base: DesignFit, y: np.ndarray, x: np.ndarray, cohort: np.ndarray, times: np.ndarray, method: str,
            n_reps: int, rng: np.random.Generator, progress: bool) -> np.ndarray:
    """Algorithm 4: (n_reps, k + 1) estimates with never-treated units given the treated units' timing.

    The generator's state before each replicate is taken first, in replicate order; each
    replicate redraws its permutation from its state, and the refits run on all cores
    (:func:`map_draws`) with the numbers of a serial loop."""
    controls = np.flatnonzero(cohort == 0)
    timing = cohort[cohort > 0]
    labels_of = tuple(c.cohort for c in base.cohorts)
    states = draw_states(rng, n_reps, lambda g: g.permutation(controls))
    labels = np.zeros(controls.size, np.int64)
    labels[controls.size - timing.size:] = timing

    def one(b: int) -> np.ndarray:
        perm = generator_at(states[b]).permutation(controls)
        rows = np.concatenate([np.sort(perm[:controls.size - timing.size]), perm[controls.size - timing.size:]])
        return refit(base, y, x, times, method, rows, labels.copy()).estimates(labels_of)

    return np.array(map_draws(one, n_reps, progress=progress, description="sdid placebo"))


def bootstrap(base: DesignFit, y: np.ndarray, x: np.ndarray, cohort: np.ndarray, times: np.ndarray, method: str,
              n_reps: int, rng: np.random.Generator, progress: bool) -> np.ndarray:
    """Algorithm 2: units drawn with replacement; draws without treated or control units are redrawn.

    The generator's state before each replicate is taken first, in replicate order (the redraws
    depend on the drawn units only); each replicate redraws its units from its state, and the
    refits run on all cores with the numbers of a serial loop."""
    n = y.shape[0]
    labels_of = tuple(c.cohort for c in base.cohorts)

    def draw(g: np.random.Generator) -> np.ndarray | None:
        for _attempt in range(MAX_REDRAWS):
            rows = np.sort(g.integers(0, n, n))
            if (cohort[rows] == 0).any() and (cohort[rows] > 0).any():
                return rows
        return None

    states, exhausted = [], False
    for _ in range(n_reps):
        states.append(rng.bit_generator.state)
        if draw(rng) is None:
            exhausted = True
            break
    states = states[:-1] if exhausted else states

    def one(b: int) -> np.ndarray:
        rows = draw(generator_at(states[b]))
        return refit(base, y, x, times, method, rows, cohort[rows]).estimates(labels_of)

    out = map_draws(one, len(states), progress=progress, description="sdid bootstrap")
    if exhausted:  # after the replicates before it, as the serial loop (a refit error there comes first)
        raise ValidationError(f"bootstrap: {MAX_REDRAWS} draws in a row lacked treated or control units; "
                              "use se='placebo'.")
    return np.array(out)


def jackknife(base: DesignFit, y: np.ndarray, x: np.ndarray, cohort: np.ndarray, times: np.ndarray, method: str,
              progress: bool) -> np.ndarray:
    """Algorithm 3: (N, k + 1) leave-one-unit-out estimates with the weights held fixed (on all cores)."""
    n = y.shape[0]
    labels_of = tuple(c.cohort for c in base.cohorts)

    def one(i: int) -> np.ndarray:
        rows = np.delete(np.arange(n), i)
        return refit(base, y, x, times, method, rows, cohort[rows], fixed=True).estimates(labels_of)

    return np.array(map_draws(one, n, progress=progress, description="sdid jackknife"))


def replicate_se(reps: np.ndarray, kind: str) -> np.ndarray:
    """Standard errors per column: sqrt((B-1)/B) sd for placebo and bootstrap (as R), the
    jackknife sqrt((n-1)/n sum (u - mean u)^2); NaN entries (absent cohorts) are skipped."""
    se = []
    for col in reps.T:
        u = col[~np.isnan(col)]
        if u.size < 2:
            se.append(np.nan)
        elif kind == "jackknife":
            se.append(float(np.sqrt((u.size - 1) / u.size * np.sum((u - u.mean()) ** 2))))
        else:
            se.append(float(np.std(u, ddof=0)))
    return np.array(se)
