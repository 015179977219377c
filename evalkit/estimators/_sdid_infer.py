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
from evalkit.progress import bar

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
    """Algorithm 4: (n_reps, k + 1) estimates with never-treated units given the treated units' timing."""
    controls = np.flatnonzero(cohort == 0)
    timing = cohort[cohort > 0]
    labels_of = tuple(c.cohort for c in base.cohorts)
    out = []
    for _ in bar(range(n_reps), total=n_reps, description="sdid placebo", enabled=progress):
        perm = rng.permutation(controls)
        fake = perm[controls.size - timing.size:]
        labels = np.zeros(controls.size, np.int64)
        rows = np.concatenate([np.sort(perm[:controls.size - timing.size]), fake])
        labels[controls.size - timing.size:] = timing
        out.append(refit(base, y, x, times, method, rows, labels).estimates(labels_of))
    return np.array(out)


def bootstrap(base: DesignFit, y: np.ndarray, x: np.ndarray, cohort: np.ndarray, times: np.ndarray, method: str,
              n_reps: int, rng: np.random.Generator, progress: bool) -> np.ndarray:
    """Algorithm 2: units drawn with replacement; draws without treated or control units are redrawn."""
    n = y.shape[0]
    labels_of = tuple(c.cohort for c in base.cohorts)
    out = []
    for _ in bar(range(n_reps), total=n_reps, description="sdid bootstrap", enabled=progress):
        for _attempt in range(MAX_REDRAWS):
            rows = np.sort(rng.integers(0, n, n))
            labels = cohort[rows]
            if (labels == 0).any() and (labels > 0).any():
                break
        else:
            raise ValidationError(f"bootstrap: {MAX_REDRAWS} draws in a row lacked treated or control units; "
                                  "use se='placebo'.")
        out.append(refit(base, y, x, times, method, rows, labels).estimates(labels_of))
    return np.array(out)


def jackknife(base: DesignFit, y: np.ndarray, x: np.ndarray, cohort: np.ndarray, times: np.ndarray, method: str,
              progress: bool) -> np.ndarray:
    """Algorithm 3: (N, k + 1) leave-one-unit-out estimates with the weights held fixed."""
    n = y.shape[0]
    labels_of = tuple(c.cohort for c in base.cohorts)
    out = []
    for i in bar(range(n), total=n, description="sdid jackknife", enabled=progress):
        rows = np.delete(np.arange(n), i)
        out.append(refit(base, y, x, times, method, rows, cohort[rows], fixed=True).estimates(labels_of))
    return np.array(out)


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
