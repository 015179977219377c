"""Inference with few treated groups on a balanced group x period panel: Conley & Taber (2011)
and Ferman & Pinto (2019).

Both start from the two-way fixed-effects estimate ``alpha`` of ``y_jt = alpha d_jt + theta_j +
gamma_t + eta_jt`` on group-period cells (areas x years) with few treated groups and many
controls, and take the distribution of the estimation error from the control groups' residuals
instead of from the (few) treated ones.

* **Conley & Taber (2011)**, "Inference with 'Difference in Differences' with a Small Number of
  Policy Changes", *Review of Economics and Statistics* 93(1): as the number of controls grows,
  ``alpha_hat - alpha -> W = sum_j sum_t dt_jt eta_jt / sum_j sum_t dt_jt^2`` over the treated
  groups (``dt_jt = d_jt - mean_t d_jt``). With errors i.i.d. across groups, W's distribution is
  estimated by pairing each treated group with a control group's residual series (with
  replacement): every pairing is enumerated when there are at most :data:`EXACT_LIMIT`, else
  ``draws`` random pairings. Interval ``[alpha_hat - q(1 - a/2), alpha_hat - q(a/2)]``.
* **Ferman & Pinto (2019)**, "Inference in Differences-in-Differences with Few Treated Groups and
  Heteroskedasticity", *Review of Economics and Statistics* 101(3): cell means of groups of
  different sizes have different variances, ``var(W_j | M_j) = A + B / M_j``. The test of
  ``alpha = alpha0`` imposes the null, forms each group's post-minus-pre residual contrast
  ``W_j`` (all groups), fits the variance function by least squares of ``W_j^2`` on
  ``(1, 1/M_j)`` with non-negative coefficients,
  normalises and resamples the contrasts with replacement, rescaled to the variance of the group
  they are assigned to. With staggered adoption one contrast per timing (``s`` post-periods),
  combined with weights proportional to ``N_s (T - s) s`` (the implementation of Alvarez &
  Ferman's teaching notes). With equal sizes it is the residual bootstrap of Conley & Taber's
  null-imposed variant. The interval inverts the test on a grid.

Pure functions on arrays; :func:`panel_matrices` turns a long area-year frame into them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from evalkit.errors import ValidationError

#: enumerate every pairing of treated with control groups up to this many pairings
EXACT_LIMIT = 2_000_000
#: smallest fitted variance of a contrast, as a share of the mean squared contrast (Ferman-Pinto)
VARIANCE_FLOOR = 1e-4


@dataclass(frozen=True, slots=True)
class FewTreatedTest:
    """A few-treated-groups test of ``alpha = null`` and the interval that inverts it."""

    method: str
    estimate: float
    null: float
    p_value: float
    conf_low: float
    conf_high: float
    draws: int  # pairings or bootstrap draws the distribution rests on
    exact: bool  # every pairing enumerated (Conley-Taber)


def within(a: np.ndarray) -> np.ndarray:
    """Two-way within transform of a balanced N x T matrix: ``a - row mean - column mean + mean``."""
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()


def twfe(y: np.ndarray, d: np.ndarray) -> tuple[float, np.ndarray]:
    """TWFE coefficient of ``d`` and the residuals (N x T) on a balanced panel (Frisch-Waugh)."""
    yw, dw = within(y), within(d)
    ss = float(np.sum(dw * dw))
    if ss <= 0:
        raise ValidationError("treatment: no variation left after the group and period effects")
    alpha = float(np.sum(dw * yw) / ss)
    return alpha, yw - alpha * dw


def _groups(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    treated = d.any(axis=1)
    return np.flatnonzero(treated), np.flatnonzero(~treated)


# ------------------------------------------------------------------------ Conley & Taber
def ct_distribution(y: np.ndarray, d: np.ndarray, *, draws: int = 9999,
                    rng: np.random.Generator | None = None) -> tuple[float, np.ndarray, bool]:
    """``(alpha_hat, W, exact)``: the TWFE estimate and Conley & Taber's estimated distribution of
    its error (Gamma-hat, unrestricted residuals of the controls), enumerated or drawn."""
    alpha, resid = twfe(y, d)
    j1, j0 = _groups(d)
    dt = d[j1] - d[j1].mean(axis=1, keepdims=True)
    a = dt @ resid[j0].T / float(np.sum(dt * dt))  # a[j, l]: treated group j paired with control l
    n1, n0 = a.shape
    if n0 ** n1 <= EXACT_LIMIT:
        w = np.zeros(1)
        for row in a:  # every pairing: the sums over the treated groups' choices
            w = (w[:, None] + row[None, :]).ravel()
        return alpha, w, True
    rng = np.random.default_rng() if rng is None else rng
    pick = rng.integers(n0, size=(draws, n1))
    return alpha, a[np.arange(n1), pick].sum(axis=1), False


def conley_taber(y: np.ndarray, d: np.ndarray, *, null: float = 0.0, alpha: float = 0.05, draws: int = 9999,
                 rng: np.random.Generator | None = None) -> FewTreatedTest:
    """Conley & Taber (2011) test of ``alpha = null`` and the ``1 - alpha`` interval.

    p-value: share of the distribution with ``|W| >= |alpha_hat - null|`` (every pairing), or
    ``(1 + #) / (1 + draws)`` with random pairings. Interval: ``[alpha_hat - q(1 - alpha/2),
    alpha_hat - q(alpha/2)]`` with ``q`` the empirical quantiles of W (``inverted_cdf``).
    """
    est, w, exact = ct_distribution(y, d, draws=draws, rng=rng)
    extreme = int(np.count_nonzero(np.abs(w) >= abs(est - null) - 1e-12 * max(1.0, abs(est))))
    p = extreme / w.size if exact else (1 + extreme) / (1 + w.size)
    lo, hi = np.quantile(w, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return FewTreatedTest("conley_taber", est, null, float(p), est - float(hi), est - float(lo), int(w.size), exact)


# ------------------------------------------------------------------------ Ferman & Pinto
def contrasts(e: np.ndarray, s: int) -> np.ndarray:
    """Each group's mean of the last ``s`` periods minus its mean of the first ``T - s``."""
    return e[:, -s:].mean(axis=1) - e[:, :-s].mean(axis=1)


def variance_fit(w: np.ndarray, sizes: np.ndarray | None) -> np.ndarray:
    """Fitted ``var(W_j) = A + B / M_j``: least squares of ``W_j^2`` on ``(1, 1/M_j)`` over all
    groups with ``A, B >= 0`` (a variance cannot be negative; an unconstrained negative ``A``
    made the largest groups' fitted variances ~0 and their normalised contrasts explode), a
    constant without sizes; floored at :data:`VARIANCE_FLOOR` x the mean square."""
    sq = w * w
    if sizes is None:
        return np.full(w.size, sq.mean())
    x = np.column_stack([np.ones(w.size), 1.0 / sizes])
    scale = np.abs(x).max(axis=0)  # equilibrated columns: the answer does not depend on the units of sizes
    coef = optimize.nnls(x / scale, sq)[0] / scale
    return np.maximum(x @ coef, VARIANCE_FLOOR * max(sq.mean(), 1e-300))


def timings(d: np.ndarray) -> dict[int, np.ndarray]:
    """Treated groups by their number of post-treatment periods ``s`` (absorbing treatment)."""
    j1, _ = _groups(d)
    s = d[j1].sum(axis=1).astype(int)
    if np.any(d[j1][np.arange(j1.size), -1] == 0) or np.any(np.diff(d[j1], axis=1) < 0):
        raise ValidationError("treatment: Ferman-Pinto needs treatment that starts once and stays on "
                              "until the last period (absorbing)")
    if np.any(s >= d.shape[1]):
        raise ValidationError("treatment: a group treated in every period has no pre-treatment period")
    return {int(k): j1[s == k] for k in np.unique(s)}


def fp_weights(groups: dict[int, np.ndarray], n_periods: int) -> dict[int, float]:
    """Weights of the timings, proportional to ``N_s (T - s) s`` (the TWFE weights' approximation)."""
    raw = {s: len(g) * (n_periods - s) * s for s, g in groups.items()}
    total = sum(raw.values())
    return {s: v / total for s, v in raw.items()}


def fp_null_draws(y: np.ndarray, d: np.ndarray, sizes: np.ndarray | None, null: float,
                  index: np.ndarray) -> np.ndarray:
    """The bootstrap distribution of ``alpha_hat - null`` under ``alpha = null`` (one value per
    row of ``index``, B x N indices drawn with replacement)."""
    groups = timings(d)
    _, j0 = _groups(d)
    e = within(y - null * d)  # residuals of the restricted model
    out = np.zeros(index.shape[0])
    for s, wt in fp_weights(groups, d.shape[1]).items():
        w = contrasts(e, s)
        sd = np.sqrt(variance_fit(w, sizes))
        boot = (w / sd)[index] * sd  # the drawn group's normalised contrast at this group's scale
        out += wt * (boot[:, groups[s]].mean(axis=1) - boot[:, j0].mean(axis=1))
    return out


def ferman_pinto(y: np.ndarray, d: np.ndarray, sizes: np.ndarray | None = None, *, null: float = 0.0,
                 alpha: float = 0.05, draws: int = 9999, rng: np.random.Generator | None = None,
                 grid: int = 201) -> FewTreatedTest:
    """Ferman & Pinto (2019) test of ``alpha = null`` with group sizes ``sizes`` (e.g. residents)
    and the interval of the nulls it does not reject (a grid of ``grid`` points over ten
    Conley-Taber-scale half-widths; the same draws for every null).

    p-value ``(1 + #{|boot| >= |alpha_hat - null|}) / (1 + draws)``.
    """
    est, _ = twfe(y, d)
    rng = np.random.default_rng() if rng is None else rng
    index = rng.integers(y.shape[0], size=(draws, y.shape[0]))

    def p_at(a0: float) -> float:
        boot = fp_null_draws(y, d, sizes, a0, index)
        return (1 + int(np.count_nonzero(np.abs(boot) >= abs(est - a0)))) / (1 + draws)

    scale = _scale(y, d)
    nulls = est + np.linspace(-10 * scale, 10 * scale, grid)
    kept = nulls[[p_at(a0) > alpha for a0 in nulls]]  # never empty: p = 1 at the estimate (the centre)
    return FewTreatedTest("ferman_pinto", est, null, p_at(null), float(kept.min()), float(kept.max()), draws, False)


def _scale(y: np.ndarray, d: np.ndarray) -> float:
    """A scale for the interval's grid: the spread of the controls' placebo contrasts."""
    _, resid = twfe(y, d)
    _, j0 = _groups(d)
    w = contrasts(resid[j0], max(1, int(d.sum(axis=1).max())))
    return float(np.std(w)) or 1.0
