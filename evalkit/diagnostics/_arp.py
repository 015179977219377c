"""Conditional and hybrid (least-favourable) moment-inequality tests of Andrews,
Roth & Pakes (2023, "Inference for linear conditional moment inequalities",
REStud 90(6)), as used by HonestDiD (``.lp_conditional_test_fn`` and friends).

H0: E[Y] - X delta <= 0 for some nuisance delta, with Y ~ N(mu, Sigma). Test
statistic eta = min_delta max_j (Y_j - X_j delta) / sd_j (an LP); the critical
value conditions on the binding set of the LP (the "conditional" test), and the
hybrid first rejects when eta exceeds a least-favourable critical value at level
kappa, then uses size (alpha - kappa) / (1 - kappa) with the conditioning
interval truncated at that value. Pure functions on arrays.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse, stats
from scipy.optimize import linprog

from evalkit.diagnostics._rrng import r_rmvnorm

_TOL_LAMBDA = 1e-6


def eta_lp(y: np.ndarray, X: np.ndarray, sigma: np.ndarray):
    """Solve min eta s.t. y - X delta <= sd * eta; return (eta, lambda duals) or None."""
    sd = np.sqrt(np.diag(sigma))
    c = np.r_[1.0, np.zeros(X.shape[1])]
    res = linprog(c, A_ub=-np.column_stack([sd, X]), b_ub=-y, bounds=(None, None), method="highs")
    if res.status != 0:
        return None
    return float(res.fun), -np.asarray(res.ineqlin.marginals)


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
    m, k = X.shape
    block = sparse.csr_matrix(-np.column_stack([sd, X]))
    A = sparse.kron(sparse.identity(sims, format="csr"), block, format="csr")
    c = np.tile(np.r_[1.0, np.zeros(k)], sims)
    res = linprog(c, A_ub=A, b_ub=-xi.ravel(), bounds=(None, None), method="highs")
    if res.status != 0:
        raise ArithmeticError(f"least-favourable critical value LP failed: {res.message}")
    return float(np.quantile(res.x[0::k + 1], 1 - kappa))


def trunc_norm_quantile(p: float, lo: float, hi: float) -> float:
    """Quantile of N(0,1) truncated to [lo, hi] (TruncatedNormal::norminvp)."""
    return float(stats.truncnorm.ppf(p, lo, hi))


def conditional_test(y, X, sigma, alpha: float, lf_cv: float | None = None, kappa: float = 0.0) -> bool:
    """Reject H0? ``lf_cv`` given means the conditional-least-favourable hybrid (C-LF)."""
    sol = eta_lp(y, X, sigma)
    if sol is None:
        return False  # as in R: LP failure, do not reject
    eta, lam = sol
    if lf_cv is not None:
        if eta > lf_cv:
            return True
        size = (alpha - kappa) / (1 - kappa)
    else:
        size, lf_cv = alpha, np.inf
    binding = lam > _TOL_LAMBDA
    XB = X[binding]
    full_rank = XB.size > 0 and np.linalg.matrix_rank(XB) == min(XB.shape)
    if not full_rank or binding.sum() != X.shape[1] + 1:
        return _dual_branch(y, X, sigma, eta, lam, size, lf_cv)
    return _primal_branch(y, X, sigma, eta, binding, size, lf_cv)


def _decide(maxstat: float, zlo: float, zup: float, size: float) -> bool:
    if not zlo <= maxstat <= zup:
        return False
    return bool(maxstat > max(0.0, trunc_norm_quantile(1 - size, zlo, zup)))


def _primal_branch(y, X, sigma, eta, binding, size, lf_cv) -> bool:
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
    return _decide(eta / sigma_B, vlo / sigma_B, min(vup, lf_cv) / sigma_B, size)


def _dual_branch(y, X, sigma, eta, gamma, size, lf_cv) -> bool:
    var = float(gamma @ sigma @ gamma)
    if abs(var) < np.finfo(float).eps:
        return bool(eta > 0)
    sd_B = np.sqrt(var)
    vlo, vup = vlo_vup_dual(eta, y, X, sigma, gamma)
    return _decide(eta / sd_B, vlo / sd_B, min(vup, lf_cv) / sd_B, size)


from evalkit.diagnostics._arp_dual import vlo_vup_dual  # noqa: E402  (kept separate for size)
