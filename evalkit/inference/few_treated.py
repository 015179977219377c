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
  ``draws`` random pairings. Interval ``[alpha_hat - q(1 - a/2), alpha_hat - q(a/2)]`` (the
  paper's, equal-tailed) and the p-value of the equal-tailed test it inverts, so ``p > a``
  exactly when the null lies in the interval.
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
  null-imposed variant. The interval inverts the test: its ends are bracketed and bisected
  with the same draws for every null (:mod:`evalkit.inference.inversion`).

Pure functions on arrays; :func:`panel_matrices` turns a long area-year frame into them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from evalkit.errors import ValidationError
from evalkit.inference import inversion

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
    """Conley & Taber (2011) test of ``alpha = null`` and the ``1 - alpha`` interval, one the
    inversion of the other (:func:`ct_p_value`, :func:`ct_interval`)."""
    est, w, exact = ct_distribution(y, d, draws=draws, rng=rng)
    low, high = ct_interval(w, est, alpha, exact)
    return FewTreatedTest("conley_taber", est, null, ct_p_value(w, est - null, exact), low, high, int(w.size), exact)


def ct_p_value(w: np.ndarray, stat: float, exact: bool, *, tails: str = "equal") -> float:
    """p-value of ``stat = alpha_hat - null`` against the distribution ``w`` of W.

    ``tails="equal"`` (reported): the equal-tailed test whose inversion is Conley & Taber's
    interval, ``min(1, 2 (c + min(#{W <= stat}, #{W >= stat})) / (c + n))``; ``"symmetric"``:
    ``(c + #{|W| >= |stat|}) / (c + n)`` (Alvarez's teaching notes; the merit-aid witness).
    ``c = 0`` when every pairing is enumerated (the share of the distribution), ``c = 1`` with
    ``n`` random pairings (the observed statistic counts as one draw)."""
    c = 0 if exact else 1
    tol = _tie_tolerance(w, stat)
    if tails == "symmetric":
        return (c + int(np.count_nonzero(np.abs(w) >= abs(stat) - tol))) / (c + w.size)
    tail = min(int(np.count_nonzero(w <= stat + tol)), int(np.count_nonzero(w >= stat - tol)))
    return min(1.0, 2.0 * (c + tail) / (c + w.size))


def ct_interval(w: np.ndarray, est: float, alpha: float, exact: bool) -> tuple[float, float]:
    """The nulls with equal-tailed :func:`ct_p_value` ``> alpha``: ``[alpha_hat - w_(n+1-k),
    alpha_hat - w_(k)]`` with ``w_(k)`` the k-th smallest W and ``k`` the smallest tail count
    whose p-value exceeds ``alpha`` (``-inf``/``inf`` when even an empty tail does: too few draws).

    This is Conley & Taber's ``[alpha_hat - q(1 - alpha/2), alpha_hat - q(alpha/2)]`` with the
    quantiles of W as order statistics; it differs from ``inverted_cdf`` quantiles only when
    ``alpha n / 2`` is a whole number (then the boundary atom, where p = alpha, is rejected)."""
    c = 0 if exact else 1
    k = math.floor(alpha * (c + w.size) / 2 - c) + 1  # 2 (c + k) / (c + n) > alpha
    if k <= 0:
        return -math.inf, math.inf
    ordered = np.sort(w)
    return est - float(ordered[w.size - k]), est - float(ordered[k - 1])


def ct_pairings(n_treated: int, n_control: int) -> int:
    """The number of distinct pairings of treated with control groups, ``N0 ** N1``."""
    return n_control ** n_treated


def min_atoms(alpha: float, tails: str) -> int:
    """The fewest equally likely values (pairings, or draws + 1) a test can reject from at
    ``alpha``: its smallest p-value inside the distribution, ``m / n`` (``m = 2`` equal-tailed,
    ``1`` symmetric), must be ``<= alpha``."""
    return math.ceil((2 if tails == "equal" else 1) / alpha - 1e-9)


def _tie_tolerance(w: np.ndarray, stat: float) -> float:
    """Values of W within this of the statistic count as ties (floating-point noise)."""
    return 1e-12 * max(abs(stat), float(np.max(np.abs(w))) if w.size else 0.0, 1e-300)


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


def timings(d: np.ndarray, method: str = "Conley-Taber/Ferman-Pinto") -> dict[int, np.ndarray]:
    """Treated groups by their number of post-treatment periods ``s`` (absorbing treatment);
    ``method`` names the caller in the error."""
    j1, _ = _groups(d)
    s = d[j1].sum(axis=1).astype(int)
    if np.any(d[j1][np.arange(j1.size), -1] == 0) or np.any(np.diff(d[j1], axis=1) < 0):
        raise ValidationError(f"treatment: {method} needs treatment that starts once and stays on "
                              "until the last period (absorbing)")
    if np.any(s >= d.shape[1]):
        raise ValidationError(f"treatment: {method}: a group treated in every period has no pre-treatment period")
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
                 rtol: float = 1e-6) -> FewTreatedTest:
    """Ferman & Pinto (2019) test of ``alpha = null`` with group sizes ``sizes`` (e.g. residents)
    and the interval of the nulls it does not reject (:func:`evalkit.inference.inversion.invert`:
    ends bracketed and bisected to ``rtol`` x the controls' placebo spread, the same draws for
    every null, so ``p(null) > alpha`` exactly for the nulls inside, up to that tolerance).

    p-value :func:`fp_p_value`.
    """
    est, _ = twfe(y, d)
    rng = np.random.default_rng() if rng is None else rng
    index = rng.integers(y.shape[0], size=(draws, y.shape[0]))
    p_at = lambda a0: fp_p_value(y, d, sizes, est, a0, index)  # noqa: E731
    low, high = inversion.invert(p_at, est, _scale(y, d), alpha, rtol=rtol)
    return FewTreatedTest("ferman_pinto", est, null, p_at(null), low, high, draws, False)


def fp_p_value(y: np.ndarray, d: np.ndarray, sizes: np.ndarray | None, est: float, null: float,
               index: np.ndarray) -> float:
    """``(1 + #{|boot| >= |alpha_hat - null|}) / (1 + B)`` over the B rows of ``index``."""
    boot = fp_null_draws(y, d, sizes, null, index)
    return (1 + int(np.count_nonzero(np.abs(boot) >= abs(est - null)))) / (1 + index.shape[0])


def _scale(y: np.ndarray, d: np.ndarray) -> float:
    """A scale for the interval's grid: the spread of the controls' placebo contrasts."""
    _, resid = twfe(y, d)
    _, j0 = _groups(d)
    w = contrasts(resid[j0], max(1, int(d.sum(axis=1).max())))
    return float(np.std(w)) or 1.0
