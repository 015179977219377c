"""Conditional and hybrid (least-favourable) moment-inequality tests of Andrews,
Roth & Pakes (2023, "Inference for linear conditional moment inequalities",
REStud 90(6)), as used by HonestDiD (``.lp_conditional_test_fn`` and friends).

H0: E[Y] - X delta <= 0 for some nuisance delta, with Y ~ N(mu, Sigma). Test
statistic eta = min_delta max_j (Y_j - X_j delta) / sd_j (an LP); the critical
value conditions on the binding set of the LP (the "conditional" test), and the
hybrid first rejects when eta exceeds a least-favourable critical value at level
kappa, then uses size (alpha - kappa) / (1 - kappa) with the conditioning
interval truncated at that value. Pure functions on arrays; the LPs go through an
``lp`` object (``_arp_lp``: HiGHS per call, or certified cached bases).
"""
from __future__ import annotations

import numpy as np
from scipy import sparse, stats
from scipy.optimize import linprog

from evalkit.diagnostics._arp_dual import vlo_vup_dual
from evalkit.diagnostics._arp_lp import Ambiguous, ExactLP, guard
from evalkit.diagnostics._rrng import r_rmvnorm

_TOL_LAMBDA = 1e-6
_BAND_ETA = 1e-9     # |eta - lf_cv| closer than this (relative) is re-done exactly
_BAND_LAMBDA = 1e-9  # |lambda_j - 1e-6| closer than this (absolute) is re-done exactly
_BAND_DECIDE = 1e-7  # the final comparisons, relative to max(1, |statistic|)


def stacked_w(X: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """W = [sd, X], the constraint matrix of every LP of the test."""
    return np.column_stack([np.sqrt(np.diag(sigma)), X])


def eta_lp(y: np.ndarray, X: np.ndarray, sigma: np.ndarray):
    """Solve min eta s.t. y - X delta <= sd * eta; return (eta, lambda duals) or None."""
    return ExactLP(stacked_w(X, sigma)).eta(y)


def least_favorable_cv(X: np.ndarray | None, sigma: np.ndarray, kappa: float, sims: int = 1000,
                       seed: int = 0) -> float:
    """(1 - kappa) quantile of eta under mu = 0 (HonestDiD ``.compute_least_favorable_cv``).

    Uses R's random stream so that results equal the R package's for the same seed.
    All draws are solved as one block-diagonal LP (the blocks are independent).
    """
    xi = r_rmvnorm(sims, sigma, seed)
    sd = np.sqrt(np.diag(sigma))
    if X is None:
        return float(np.quantile((xi / sd).max(axis=1), 1 - kappa))
    k = X.shape[1]
    block = sparse.csr_matrix(-np.column_stack([sd, X]))
    A = sparse.kron(sparse.identity(sims, format="csr"), block, format="csr")
    c = np.tile(np.r_[1.0, np.zeros(k)], sims)
    res = linprog(c, A_ub=A, b_ub=-xi.ravel(), bounds=(None, None), method="highs")
    if res.status != 0:
        raise ArithmeticError(f"least-favourable critical value LP failed: {res.message}")
    return float(np.quantile(res.x[0::k + 1], 1 - kappa))


def least_favorable_cv_cached(X: np.ndarray, sigma: np.ndarray, kappa: float, lp, sims: int = 1000,
                              seed: int = 0) -> float:
    """:func:`least_favorable_cv` with the draws' LPs answered by ``lp`` (a ``CachedLP`` for [sd, X])."""
    sols = lp.eta_many(r_rmvnorm(sims, sigma, seed), values_only=True)
    if any(s is None for s in sols):
        raise ArithmeticError("least-favourable critical value LP failed")
    return float(np.quantile(np.array([s[0] for s in sols]), 1 - kappa))


def trunc_norm_quantile(p: float, lo: float, hi: float) -> float:
    """Quantile of N(0,1) truncated to [lo, hi] (TruncatedNormal::norminvp)."""
    return float(stats.truncnorm.ppf(p, lo, hi))


def conditional_test(y, X, sigma, alpha: float, lf_cv: float | None = None, kappa: float = 0.0, lp=None) -> bool:
    """Reject H0? ``lf_cv`` given means the conditional-least-favourable hybrid (C-LF)."""
    lp = ExactLP(stacked_w(X, sigma)) if lp is None else lp
    out = decision_inputs(y, X, sigma, alpha, lf_cv, kappa, lp, lp.eta(y))
    return out if isinstance(out, bool) else _decide(*out)


def decision_inputs(y, X, sigma, alpha, lf_cv, kappa, lp, sol):
    """The decision (bool) if it is already made, else (maxstat, zlo, zup, size) for :func:`_decide`.

    ``sol`` = (eta, lambda) is the LP's answer at y (None: LP failure, do not reject, as in R).
    """
    if sol is None:
        return False
    eta, lam = sol
    if lf_cv is not None:
        guard(lp, eta, lf_cv, _BAND_ETA * max(1.0, abs(eta), abs(lf_cv)))
        if eta > lf_cv:
            return True
        size = (alpha - kappa) / (1 - kappa)
    else:
        size, lf_cv = alpha, np.inf
    if lp.approximate and (np.abs(lam - _TOL_LAMBDA) <= _BAND_LAMBDA).any():
        raise Ambiguous
    binding = lam > _TOL_LAMBDA
    full_rank = lp.full_rank(X, binding)
    if not full_rank or binding.sum() != X.shape[1] + 1:
        return _dual_branch(y, X, sigma, eta, lam, size, lf_cv, lp)
    return _primal_branch(y, X, sigma, eta, binding, size, lf_cv)


def _decide(maxstat: float, zlo: float, zup: float, size: float) -> bool:
    if not zlo <= maxstat <= zup:
        return False
    return bool(maxstat > max(0.0, trunc_norm_quantile(1 - size, zlo, zup)))


def decide_many(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_decide` for the rows (maxstat, zlo, zup, size) of ``inputs``, with one quantile call.

    Returns (reject, ambiguous): ambiguous rows are within rounding of a threshold.
    """
    ms, zlo, zup, size = inputs.T
    with np.errstate(all="ignore"):
        q = stats.truncnorm.ppf(1 - size, zlo, zup)
    crit = np.where(q > 0.0, q, 0.0)  # Python's max(0.0, q): nan -> 0.0
    inside = (zlo <= ms) & (ms <= zup)
    band = _BAND_DECIDE * np.maximum(1.0, np.abs(ms))
    ambiguous = (np.abs(ms - zlo) <= band) | (np.abs(ms - zup) <= band) | (inside & (np.abs(ms - crit) <= band))
    return inside & (ms > crit), ambiguous


def _primal_branch(y, X, sigma, eta, binding, size, lf_cv):
    sd = np.sqrt(np.diag(sigma))
    M = len(y)
    WB_inv = np.linalg.inv(np.column_stack([sd[binding], X[binding]]))
    S_B, S_Bc = np.eye(M)[binding], np.eye(M)[~binding]
    Gamma_B = np.column_stack([sd[~binding], X[~binding]]) @ WB_inv @ S_B - S_Bc
    v_B = (WB_inv[0] @ S_B)
    sigma2_B = float(v_B @ sigma @ v_B)
    sigma_B = np.sqrt(sigma2_B)
    rho = Gamma_B @ sigma @ v_B / sigma2_B
    bound = -(Gamma_B @ y) / rho + float(v_B @ y)
    vlo = bound[rho > 0].max() if (rho > 0).any() else -np.inf
    vup = bound[rho < 0].min() if (rho < 0).any() else np.inf
    return eta / sigma_B, vlo / sigma_B, min(vup, lf_cv) / sigma_B, size


def _dual_branch(y, X, sigma, eta, gamma, size, lf_cv, lp):
    var = float(gamma @ sigma @ gamma)
    eps = np.finfo(float).eps
    guard(lp, abs(var), eps, 1e-3 * eps)
    if abs(var) < eps:
        guard(lp, eta, 0.0, _BAND_ETA * max(1.0, abs(eta)))
        return bool(eta > 0)
    sd_B = np.sqrt(var)
    vlo, vup = vlo_vup_dual(eta, y, X, sigma, gamma, lp)
    return eta / sd_B, vlo / sd_B, min(vup, lf_cv) / sd_B, size
