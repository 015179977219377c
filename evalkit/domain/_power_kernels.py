"""Pure kernels of the power simulation: one design's data, the DiD estimate and three tests.

Data-generating process for a planned design (balanced area x year panel of area means):

    y_at = u_at + e_at + effect * D_at,
    u_at  area component, stationary AR(1) over years with variance icc * sd^2 and
          autocorrelation rho (rho = 1: a fixed area effect, which DiD removes),
    e_at  mean of ``residents`` persons' idiosyncratic terms, N(0, (1 - icc) sd^2 / residents)
          (a fresh repeated cross-section each year),

areas 0..n_treated-1 treated in the post years. Year effects are omitted: the estimator
removes them exactly. With equal residents per area, OLS on persons with area and year
fixed effects equals OLS on these area-year means, so simulating means is exact for the
point estimate. The estimator is two-way fixed effects = the 2x2 DiD of means.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from evalkit.core.checks import checked_init
from evalkit.core.clusters import cr1_factor


@checked_init
@dataclass(frozen=True, slots=True)
class Design:
    """A planned design of :func:`plan` (see :mod:`evalkit.domain._power_kernels` for the model).

    Parameters
    ----------
    n_treated : int
        Number of treated areas.
    n_control : int
        Number of comparison areas; at least 3 areas in all for a simulation.
    years_pre : int
        Years observed before treatment.
    years_post : int
        Years observed after treatment starts.
    residents : int
        Persons per area behind each area-year mean; more residents, less
        sampling noise (1 - icc) sd^2 / residents.
    sd : float
        Person-level standard deviation of the outcome (> 0), e.g. 0.45 for an employment
        share near 0.3.
    icc : float
        Share of the outcome variance between areas (intra-area correlation), in [0, 1).
    rho : float
        Year-to-year correlation of the area component, in [-1, 1] (1 = a fixed area effect,
        which DiD removes; lower values leave persistent area shocks that DiD does not remove).
    """

    n_treated: int
    n_control: int
    years_pre: int
    years_post: int
    residents: int
    sd: float
    icc: float
    rho: float

    @property
    def n_areas(self) -> int:
        """Number of areas in all, n_treated + n_control.
        """
        return self.n_treated + self.n_control

    @property
    def n_years(self) -> int:
        """Number of years in all, years_pre + years_post.
        """
        return self.years_pre + self.years_post


def simulate_panel(d: Design, effect: float, rng: np.random.Generator) -> np.ndarray:
    """(n_areas x n_years) area-year means under the DGP in the module docstring."""
    A, T = d.n_areas, d.n_years
    su, se = np.sqrt(d.icc) * d.sd, np.sqrt((1 - d.icc) / d.residents) * d.sd
    shocks = rng.standard_normal((A, T))
    u = np.empty((A, T))
    u[:, 0] = su * shocks[:, 0]
    innov = su * np.sqrt(max(0.0, 1 - d.rho ** 2))
    for t in range(1, T):
        u[:, t] = d.rho * u[:, t - 1] + innov * shocks[:, t]
    y = u + se * rng.standard_normal((A, T))
    y[: d.n_treated, d.years_pre:] += effect
    return y


def treatment(d: Design) -> np.ndarray:
    D = np.zeros((d.n_areas, d.n_years))
    D[: d.n_treated, d.years_pre:] = 1.0
    return D


def _within(z: np.ndarray) -> np.ndarray:
    """Two-way within transformation of a balanced (areas x years) array."""
    return z - z.mean(1, keepdims=True) - z.mean(0, keepdims=True) + z.mean()


def twfe_cr1(y: np.ndarray, D: np.ndarray) -> tuple[float, float, float]:
    """(estimate, CR1 standard error, two-sided p from t(G-1)) of TWFE, clustered by area.

    CR1 factor G/(G-1) (N-1)/(N-K) with K = T + 1: area effects are nested in the clusters
    and count as one intercept, as in :mod:`evalkit.inference.registry` (and Stata ``xtreg``;
    Cameron & Miller 2015, J. Human Resources 50(2), sec. VI.B), so it equals :func:`evalkit.twfe`.
    """
    x, yy = _within(D), _within(y)
    sxx = float((x * x).sum())
    beta = float((x * yy).sum() / sxx)
    resid = yy - beta * x
    scores = (x * resid).sum(1)
    A, T = y.shape
    n, k = A * T, T + 1
    scale = cr1_factor(A, n, k)
    se = float(np.sqrt(scale * (scores ** 2).sum()) / sxx)
    p = float(2 * stats.t.sf(abs(beta / se), A - 1))
    return beta, se, p


def did_by_area(y: np.ndarray, years_pre: int) -> np.ndarray:
    """Each area's post mean minus pre mean (TWFE = difference of these between groups)."""
    return y[:, years_pre:].mean(1) - y[:, :years_pre].mean(1)


def randomization_p(y: np.ndarray, d: Design, rng: np.random.Generator, draws: int) -> tuple[float, float]:
    """(estimate, p): Fisher randomization test permuting which areas are treated.

    p = (1 + #{|tau*| >= |tau|}) / (1 + draws) over ``draws`` random assignments of
    ``n_treated`` areas (Fisher 1935; Young 2019, QJE 134(2)); exact size <= alpha.
    """
    diff = did_by_area(y, d.years_pre)
    assign = np.zeros(d.n_areas, bool)
    assign[: d.n_treated] = True
    tau = diff[assign].mean() - diff[~assign].mean()
    perms = np.argsort(rng.random((draws, d.n_areas)), axis=1)[:, : d.n_treated]
    mask = np.zeros((draws, d.n_areas), bool)
    np.put_along_axis(mask, perms, True, axis=1)
    t_star = (mask @ diff) / d.n_treated - ((~mask) @ diff) / d.n_control
    p = (1 + np.sum(np.abs(t_star) >= abs(tau) * (1 - 1e-12))) / (1 + draws)
    return float(tau), float(p)


def wild_p(y: np.ndarray, D: np.ndarray, seed: int, draws: int, weights: str) -> tuple[float, float]:
    """(estimate, p) of the restricted wild cluster bootstrap (evalkit.inference.wild)."""
    from evalkit.inference.wild import wild_cluster_bootstrap

    A, T = y.shape
    area = np.repeat(np.arange(A), T)
    year = np.tile(np.arange(T), A)
    res = wild_cluster_bootstrap(y.ravel(), D.ravel()[:, None], area, coef_index=0, fe_codes=[area, year],
                                 draws=draws, seed=seed, weights=weights, ci=False)
    return res.estimate, res.p_value


def analytic_se(d: Design) -> float:
    """Standard error of the DiD of means under the DGP (exact, from the AR(1) covariance)."""
    t = np.arange(d.n_years)
    cov = d.icc * d.sd ** 2 * d.rho ** np.abs(t[:, None] - t[None, :])
    w = np.where(t >= d.years_pre, 1 / d.years_post, -1 / d.years_pre)
    var_area = float(w @ cov @ w) + (1 - d.icc) * d.sd ** 2 / d.residents * (1 / d.years_pre + 1 / d.years_post)
    return float(np.sqrt(var_area * (1 / d.n_treated + 1 / d.n_control)))


def analytic_mde(d: Design, alpha: float, power: float) -> float:
    """(t_{1-alpha/2} + t_{power}) x SE with G-2 degrees of freedom (Bloom 1995, Evaluation Review
    19(5); Duflo, Glennerster & Kremer 2007, Handbook of Development Economics 4, sec. 4)."""
    df = d.n_areas - 2
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * analytic_se(d))


def replicate(d: Design, effect: float, method: str, seed_words: tuple[int, ...], draws: int,
              weights: str) -> tuple[float, float]:
    """One replication: (estimate, p-value). Seeded by ``seed_words`` (independent of workers)."""
    ss = np.random.SeedSequence(list(seed_words))
    data_rng, test_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    y = simulate_panel(d, effect, data_rng)
    if method == "cr1":
        beta, _, p = twfe_cr1(y, treatment(d))
        return beta, p
    if method == "randomization":
        return randomization_p(y, d, test_rng, draws)
    return wild_p(y, treatment(d), int(test_rng.integers(2 ** 31)), draws, weights)
