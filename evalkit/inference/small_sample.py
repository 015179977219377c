"""Small-sample cluster-robust covariances: CR2 (Bell-McCaffrey), its degrees of freedom, CR3 (jackknife).

For y = X b + u with OLS residuals ``resid`` (or, with absorbed fixed effects,
the partialled design and residuals), A = (X'X)^-1 and H_gg = X_g A X_g':

* :func:`cr2_vcov` - Bell & McCaffrey (2002, Survey Methodology 28(2)):
  V = A sum_g X_g' B_g u_g u_g' B_g X_g A with B_g = (I - H_gg)^{-1/2}, the
  symmetric (pseudo-)inverse square root, as clubSandwich's "CR2" with the
  identity working model (Pustejovsky & Tipton 2018, JBES 36(4)). No extra
  G/(G-1) factor. B_g is applied in its low-rank form
  B_g = I + Q_g U diag((1 - l)^{-1/2} - 1) U'Q_g' (X_g = Q_g R_g, R_g A R_g' = U diag(l) U'),
  so a cluster costs O(n_g k^2), not O(n_g^3); eigenvalues l = 1 (a cluster
  whose residuals are fitted exactly, e.g. the only treated cluster) get
  pseudo-inverse weight 0, as clubSandwich does.
* :func:`cr2_dof` - Bell-McCaffrey degrees of freedom of the contrast c'b
  with working model Var(u) = sigma^2 I (Imbens & Kolesar 2016, REStat 98(4),
  their "K_BM"): with g_g = (I - H)_{.,g} B_g X_g A c, dof = (tr G'G)^2 / tr((G'G)^2),
  G'G[g, h] = 1{g=h} z_g'z_g - z_g'X_g A X_h'z_h, z_g = B_g X_g A c (O(N) work).
  Imbens-Kolesar's preferred variant estimates the working model with a
  random cluster effect; that variant is not implemented.
* :func:`cr3_vcov` - leave-one-cluster-out jackknife, from the closed form
  b_(g) - b = -(X'X - X_g'X_g)^{-1} X_g'u_g. ``convention="mnw"`` (default):
  (G-1)/G sum_g (b_(g) - b)(b_(g) - b)' as MacKinnon, Nielsen & Webb (2023,
  J. Econometrics 232(2)) CV3; ``"bm"``: without (G-1)/G, as Bell-McCaffrey
  and clubSandwich "CR3". A cluster whose removal leaves X rank deficient
  (e.g. the single treated cluster) makes CV3 undefined: ValidationError.

``weights`` (analytic/precision weights of a WLS fit) are handled by the
transformed model sqrt(w) X, sqrt(w) u, i.e. working model Var(u) = sigma^2 W^-1.
With fixed effects absorbed by partialling, pass the partialled X and
residuals; CR2/CR3 then equal their dummy-variable versions when the fixed
effects are nested in the clusters (Pustejovsky & Tipton 2018, sec. 3);
otherwise include crossing effects (e.g. years) as dummies in X.
``tests/test_small_sample.py`` checks all three against brute-force computations.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core import checks, linalg
from evalkit.errors import ParameterError, ValidationError, check_choice
from evalkit.core.aliases import checked

_EIG_ONE = 1e-10


def _centre_on_intercept(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X M, M)``: with a constant column (the intercept), the other columns less their means.

    A reparametrisation (``b = M b_c``, ``V = M V_c M'``) that changes neither the hat matrix nor
    any coefficient but the intercept's; it keeps a regressor with a large offset (an income in
    kroner, mean 3e5) from being nearly collinear with the intercept, which lost 11 digits in X'X
    and made the rank checks call X singular (issue 12). ``M`` is None without a constant column.
    """
    if x.shape[0] == 0:
        return x, None
    const = np.flatnonzero(np.all(x == x[0], axis=0) & (x[0] != 0))
    if const.size == 0:
        return x, None
    k = int(const[0])
    shift = x.mean(axis=0) / x[0, k]  # column j less shift_j times the constant column
    shift[k] = 0.0
    m = np.eye(x.shape[1])
    m[k] -= shift
    return x - np.outer(x[:, k], shift), m


def _back(v: np.ndarray, m: np.ndarray | None) -> np.ndarray:
    """A covariance of the centred coefficients (:func:`_centre_on_intercept`) in the caller's ones."""
    return v if m is None else m @ v @ m.T


def _prep(X, resid, clusters, weights):
    x = checks.as_finite_array("X", X)
    x = x[:, None] if x.ndim == 1 else x
    n = x.shape[0]
    if x.ndim != 2:
        raise ParameterError("X must be a finite 1-d or 2-d array.")
    x, m = _centre_on_intercept(x)
    u = None if resid is None else checks.as_finite_array("resid", resid)
    if u is not None and u.shape != (n,):
        raise ParameterError(f"resid must be {n} finite numbers.")
    clusters = np.asarray(clusters)
    if clusters.shape != (n,) or pd.isna(clusters).any():
        raise ParameterError(f"clusters must have one non-missing label per row ({n}).")
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
            raise ParameterError(f"weights must be {n} finite non-negative numbers.")
        x = x * np.sqrt(w)[:, None]
        u = None if u is None else u * np.sqrt(w)
    codes = pd.factorize(clusters, sort=True)[0]
    if codes.max() < 1:
        raise ValidationError("Cluster-robust covariances need at least 2 clusters.")
    xtx = x.T @ x
    if linalg.is_singular(xtx):
        raise ValidationError("X'X is singular: X is rank deficient (collinear or constant columns).")
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, bounds)
    return x, u, groups, linalg.inv(xtx), m


def _inv_sqrt_apply(xg: np.ndarray, A: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(I - X_g A X_g')^{+1/2} z for z (n_g,) or (n_g x m), in low-rank form."""
    q, r = np.linalg.qr(xg)
    lam, U = np.linalg.eigh(r @ A @ r.T)
    lam = np.clip(lam, 0.0, 1.0)
    one = lam >= 1 - _EIG_ONE
    f = np.where(one, -1.0, 1.0 / np.sqrt(np.where(one, 0.5, 1.0 - lam)) - 1.0)
    qu = q @ U
    proj = qu.T @ z
    return z + qu @ (f[:, None] * proj if proj.ndim == 2 else f * proj)


@checked
def cr2_vcov(X, resid, clusters, *, weights=None) -> np.ndarray:
    """Bell-McCaffrey CR2 cluster-robust covariance (k x k) of OLS/WLS coefficients.

    V = A sum_g X_g' B_g u_g u_g' B_g X_g A with A = (X'X)^-1 and B_g = (I - H_gg)^{-1/2}, the
    symmetric (pseudo-)inverse square root, as clubSandwich's "CR2" with the identity working
    model. No extra G/(G-1) factor. Less biased than CR1 with few clusters; combine with
    :func:`cr2_dof` for t-tests.

    Parameters
    ----------
    X : array_like
        Design matrix, n x k (or a 1-d array for one regressor), finite, of full column rank.
        With fixed effects absorbed by partialling, pass the partialled X; CR2/CR3 then equal
        their dummy-variable versions when the fixed effects are nested in the clusters
        (Pustejovsky & Tipton 2018, sec. 3); otherwise include crossing effects (e.g. years)
        as dummies in X.
    resid : array_like
        The n OLS (WLS) residuals of the fit (partialled residuals with absorbed effects).
    clusters : array_like
        One non-missing cluster label per row (at least 2 clusters).
    weights : array_like, optional
        n non-negative analytic (precision) weights of a WLS fit, handled by the transformed
        model sqrt(w) X, sqrt(w) u (working model Var(u) = sigma^2 W^-1). None: OLS.

    Returns
    -------
    numpy.ndarray
        The k x k covariance matrix.

    Raises
    ------
    ParameterError
        Arrays of the wrong shape, non-finite values, missing cluster labels or negative
        weights.
    ValidationError
        Fewer than 2 clusters, or X'X singular.

    References
    ----------
    Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
    regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
    Pustejovsky, J. E. & Tipton, E. (2018). Small-sample methods for cluster-robust variance
    estimation and hypothesis testing in fixed effects models. *JBES* 36(4), 672-683.

    Examples
    --------
    >>> import numpy as np
    >>> import evalkit as ek
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([np.ones(40), rng.normal(size=40)])
    >>> y = X @ [1.0, 0.5] + rng.normal(size=40)
    >>> b = np.linalg.lstsq(X, y, rcond=None)[0]
    >>> clusters = np.repeat(np.arange(8), 5)
    >>> V = ek.cr2_vcov(X, y - X @ b, clusters)
    >>> dof = ek.cr2_dof(X, clusters, [0.0, 1.0])
    """
    x, u, groups, A, m = _prep(X, resid, clusters, weights)
    if u is None:
        raise ParameterError("resid is required.")
    meat = np.zeros((x.shape[1], x.shape[1]))
    for idx in groups:
        s = x[idx].T @ _inv_sqrt_apply(x[idx], A, u[idx])
        meat += np.outer(s, s)
    return _back(A @ meat @ A, m)


@checked
def cr2_dof(X, clusters, contrast, *, weights=None) -> float:
    """Bell-McCaffrey degrees of freedom (Imbens-Kolesar K_BM) for the t-test of a contrast c'b.

    Use with :func:`cr2_vcov`: t = c'b / sqrt(c'Vc) against t(dof). The working model is
    Var(u) = sigma^2 I (Imbens & Kolesar 2016, their "K_BM"); with few or unbalanced clusters
    the dof can be far below G - 1, which is what keeps the test's size near its nominal level.

    Parameters
    ----------
    X : array_like
        Design matrix, n x k (or a 1-d array for one regressor), finite, of full column rank.
        With fixed effects absorbed by partialling, pass the partialled X; CR2/CR3 then equal
        their dummy-variable versions when the fixed effects are nested in the clusters
        (Pustejovsky & Tipton 2018, sec. 3); otherwise include crossing effects (e.g. years)
        as dummies in X.
    clusters : array_like
        One non-missing cluster label per row (at least 2 clusters).
    contrast : array_like
        Length-k vector c (e.g. a unit vector to test one coefficient); not all zero.
    weights : array_like, optional
        n non-negative analytic weights of a WLS fit (transformed model sqrt(w) X). None: OLS.

    Returns
    -------
    float
        The degrees of freedom.

    Raises
    ------
    ParameterError
        Arrays of the wrong shape, a zero or wrong-length contrast, missing cluster labels or
        negative weights.
    ValidationError
        Fewer than 2 clusters, or X'X singular.

    References
    ----------
    Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
    regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
    Imbens, G. W. & Kolesar, M. (2016). Robust standard errors in small samples: some
    practical advice. *Review of Economics and Statistics* 98(4), 701-712.
    """
    x, _, groups, A, m = _prep(X, None, clusters, weights)
    c = np.asarray(contrast, dtype=float)
    if c.shape != (x.shape[1],) or not np.all(np.isfinite(c)) or not np.any(c):
        raise ParameterError(f"contrast must be a non-zero vector of length {x.shape[1]}.")
    c = c if m is None else m.T @ c  # c'b = (M'c)'b_c
    ac = A @ c
    zz = np.empty(len(groups))
    xz = np.empty((len(groups), x.shape[1]))
    for i, idx in enumerate(groups):
        z = _inv_sqrt_apply(x[idx], A, x[idx] @ ac)
        zz[i] = z @ z
        xz[i] = x[idx].T @ z
    gtg = np.diag(zz) - xz @ A @ xz.T
    return float(np.trace(gtg) ** 2 / np.sum(gtg * gtg))


@checked
def cr3_vcov(X, resid, clusters, *, weights=None, convention: str = "mnw") -> np.ndarray:
    """Leave-one-cluster-out jackknife covariance CR3/CV3 of OLS/WLS coefficients.

    From the closed form b_(g) - b = -(X'X - X_g'X_g)^{-1} X_g'u_g. Conservative with few or
    unbalanced clusters (MacKinnon, Nielsen & Webb 2023).

    Parameters
    ----------
    X : array_like
        Design matrix, n x k (or a 1-d array for one regressor), finite, of full column rank.
        With fixed effects absorbed by partialling, pass the partialled X; CR2/CR3 then equal
        their dummy-variable versions when the fixed effects are nested in the clusters
        (Pustejovsky & Tipton 2018, sec. 3); otherwise include crossing effects (e.g. years)
        as dummies in X.
    resid : array_like
        The n OLS (WLS) residuals of the fit.
    clusters : array_like
        One non-missing cluster label per row (at least 2 clusters).
    weights : array_like, optional
        n non-negative analytic weights of a WLS fit (transformed model sqrt(w) X). None: OLS.
    convention : {"mnw", "bm"}, default "mnw"
        "mnw": (G-1)/G sum_g (b_(g) - b)(b_(g) - b)', MacKinnon, Nielsen & Webb's CV3;
        "bm": without (G-1)/G, as Bell-McCaffrey and clubSandwich "CR3".

    Returns
    -------
    numpy.ndarray
        The k x k covariance matrix.

    Raises
    ------
    ParameterError
        Arrays of the wrong shape, non-finite values, an unknown ``convention``.
    ValidationError
        Fewer than 2 clusters, X'X singular, or a cluster whose removal leaves X rank
        deficient (e.g. the single treated cluster): CV3 is then undefined.

    References
    ----------
    MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2023). Cluster-robust inference: a guide
    to empirical practice. *Journal of Econometrics* 232(2), 272-299.
    Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
    regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
    """
    check_choice("convention", convention, ["mnw", "bm"])
    x, u, groups, A, m = _prep(X, resid, clusters, weights)
    if u is None:
        raise ParameterError("resid is required.")
    xtx = x.T @ x
    k = x.shape[1]
    acc = np.zeros((k, k))
    for idx in groups:
        xg = x[idx]
        rest = xtx - xg.T @ xg
        if linalg.is_singular(rest):
            raise ValidationError("Dropping one cluster leaves X rank deficient (e.g. the only treated "
                                  "cluster), so the jackknife (CR3) is undefined; use the wild bootstrap.")
        delta = linalg.solve(rest, xg.T @ u[idx])
        acc += np.outer(delta, delta)
    G = len(groups)
    return _back(acc * ((G - 1) / G if convention == "mnw" else 1.0), m)
