"""CR2 / Bell-McCaffrey dof / CR3 against brute-force computations (no R available here)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import sqrtm

from evalkit.errors import EvalkitError, ParameterError, ValidationError
from evalkit.inference.small_sample import cr2_dof, cr2_vcov, cr3_vcov


def _data(seed=0, G=7, unbalanced=True):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 9, G) if unbalanced else np.full(G, 5)
    cl = np.repeat(np.arange(G), sizes)
    n = cl.size
    X = np.column_stack([np.ones(n), (cl < 2).astype(float), rng.normal(size=n)])
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=G)[cl] + rng.normal(size=n)
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return X, y, resid, np.array([f"c{g}" for g in cl])


def _brute_cr2(X, u, cl):
    A = np.linalg.inv(X.T @ X)
    meat = 0
    for g in np.unique(cl):
        m = cl == g
        Bg = np.real(sqrtm(np.linalg.pinv(np.eye(m.sum()) - X[m] @ A @ X[m].T)))
        s = X[m].T @ Bg @ u[m]
        meat = meat + np.outer(s, s)
    return A @ meat @ A, A


def test_cr2_matches_brute_force():
    X, _, u, cl = _data()
    V, _ = _brute_cr2(X, u, cl)
    np.testing.assert_allclose(cr2_vcov(X, u, cl), V, rtol=1e-9, atol=1e-14)


def test_cr2_weights_equal_transformed_model():
    X, _, u, cl = _data(1)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(u))
    sw = np.sqrt(w)
    V, _ = _brute_cr2(X * sw[:, None], u * sw, cl)
    np.testing.assert_allclose(cr2_vcov(X, u, cl, weights=w), V, rtol=1e-9)


def test_cr2_unbiased_under_iid_working_model():
    # E[V_CR2] = sigma^2 (X'X)^-1 exactly under Var(u) = sigma^2 I (Bell & McCaffrey 2002):
    # average over the N basis directions of u gives the expectation in closed form.
    X, _, _, cl = _data(2)
    n = X.shape[0]
    H = X @ np.linalg.inv(X.T @ X) @ X.T
    M = np.eye(n) - H
    # E[V] = sum_i V(resid = M e_i) since E[(Me)(Me)'] = M = sum_i (M e_i)(M e_i)'
    EV = sum(cr2_vcov(X, M[:, i], cl) for i in range(n))
    np.testing.assert_allclose(EV, np.linalg.inv(X.T @ X), rtol=1e-8)


def _brute_dof(X, cl, c):
    A = np.linalg.inv(X.T @ X)
    n = X.shape[0]
    M = np.eye(n) - X @ A @ X.T
    cols = []
    for g in np.unique(cl):
        m = cl == g
        Bg = np.real(sqrtm(np.linalg.pinv(np.eye(m.sum()) - X[m] @ A @ X[m].T)))
        cols.append(M[:, m] @ Bg @ X[m] @ A @ c)
    Gm = np.column_stack(cols)
    lam = np.linalg.eigvalsh(Gm.T @ Gm)
    return lam.sum() ** 2 / (lam ** 2).sum()


@pytest.mark.parametrize("seed", [0, 4])
def test_bm_dof_matches_brute_force(seed):
    X, _, _, cl = _data(seed)
    c = np.array([0.0, 1.0, 0.0])
    dof = cr2_dof(X, cl, c)
    assert dof == pytest.approx(_brute_dof(X, cl, c), rel=1e-9)
    assert 0 < dof < len(np.unique(cl))


@pytest.mark.parametrize("n_treated, expected", [(2, (1.0, 1.5)), (3, (2.0, 3.5)), (10, (17.99, 18.01))])
def test_bm_dof_few_treated(n_treated, expected):
    # 20 clusters of 10, cluster-level treatment: the dof collapse with few treated clusters;
    # balanced 10/10 gives G - 2 = 18 (the two-sample Welch value with equal variances).
    cl = np.repeat(np.arange(20), 10)
    X = np.column_stack([np.ones(cl.size), (cl < n_treated).astype(float)])
    lo, hi = expected
    assert lo < cr2_dof(X, cl, np.array([0.0, 1.0])) < hi


def test_cr2_one_treated_cluster_gets_zero_weight():
    # Documented pathology: with one treated cluster its mean is fitted exactly (eigenvalue 1
    # of H_gg), the pseudo-inverse gives it weight 0, and CR2 only sees the controls.
    rng = np.random.default_rng(5)
    cl = np.repeat(np.arange(20), 10)
    X = np.column_stack([np.ones(cl.size), (cl == 0).astype(float)])
    u = rng.normal(size=cl.size)
    u = u - X @ np.linalg.lstsq(X, u, rcond=None)[0]
    V_without = cr2_vcov(X[cl != 0][:, :1], u[cl != 0], cl[cl != 0])
    assert cr2_vcov(X, u, cl)[1, 1] == pytest.approx(V_without[0, 0], rel=1e-9)
    assert cr2_dof(X, cl, np.array([0.0, 1.0])) == pytest.approx(18.0)


def test_cr3_matches_refits():
    X, y, u, cl = _data(3)
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    labels = np.unique(cl)
    deltas = np.array([np.linalg.lstsq(X[cl != g], y[cl != g], rcond=None)[0] - b for g in labels])
    bm = deltas.T @ deltas
    G = len(labels)
    np.testing.assert_allclose(cr3_vcov(X, u, cl, convention="bm"), bm, rtol=1e-9)
    np.testing.assert_allclose(cr3_vcov(X, u, cl), bm * (G - 1) / G, rtol=1e-9)


def test_cr3_single_treated_cluster_is_undefined():
    rng = np.random.default_rng(0)
    cl = np.repeat(np.arange(6), 4)
    X = np.column_stack([np.ones(cl.size), (cl == 0).astype(float)])
    with pytest.raises(ValidationError, match="jackknife"):
        cr3_vcov(X, rng.normal(size=cl.size), cl)


def test_inputs_are_not_mutated_and_errors_are_typed():
    X, _, u, cl = _data()
    X0, u0, cl0 = X.copy(), u.copy(), cl.copy()
    cr2_vcov(X, u, cl)
    cr3_vcov(X, u, cl)
    cr2_dof(X, cl, np.array([0, 1.0, 0]))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(u, u0)
    np.testing.assert_array_equal(cl, cl0)
    with pytest.raises(ParameterError):
        cr2_vcov(X, u[:-1], cl)
    with pytest.raises(ParameterError, match="contrast"):
        cr2_dof(X, cl, np.zeros(3))
    with pytest.raises(ParameterError, match="convention"):
        cr3_vcov(X, u, cl, convention="stata")
    with pytest.raises(EvalkitError):
        cr2_vcov(np.column_stack([X, X[:, 0]]), u, cl)
