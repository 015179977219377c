"""Wild cluster bootstrap (restricted WCR and unrestricted WCU), the fast way.

Tests H0: beta[coef_index] = null in y = X beta + fixed effects + u with the
CR1 cluster-robust t-statistic, as Stata ``boottest`` (Roodman, MacKinnon,
Nielsen & Webb 2019, "Fast and wild: Bootstrap inference in Stata using
boottest", Stata Journal 19(1), 4-60).

Algorithm. Fixed effects are partialled out once (Frisch-Waugh-Lovell, with
an exact two-way solver or alternating projections; :mod:`._wild_design`), and
Z = [y, X] is summarised once by cluster: X_g'Z_g (G x k x (1+k)) and, for
fixed effects that cross clusters (e.g. years), sums of Z by (cluster, level).
Every residual vector used is r = Z c, so per-cluster scores S_g = X_g'r_g
(G x k), W_g = A X_g'X_g a (a = A e_j, A = (X'X)^-1) and the (cluster, level)
sums of r and of Xa are small matrix products; no n-vector is touched after
the set-up, and several coefficients share one set-up (:func:`prepare`; an
estimator that has just partialled [y, X] itself hands it to
:func:`prepare_partialled`, so the fixed effects are not partialled twice). For
a weight vector v (length G) the bootstrap numerator is d'v (d_g = a'S_g) and
the G per-cluster bootstrap scores a's*_g are

    d * v - W (S'v) - F M (E'v),

so a draw costs O(G (k + L)) with L the levels of crossing fixed effects,
never O(N). The last term is the exact correction for fixed effects that
are not nested in the clusters (F: cluster x level sums of Xa, E: of r, M: a
generalised inverse of D_c' M_{D_n} D_c); it makes the result equal to
bootstrapping the dummy-variable regression, which ``tests/test_wild.py``
checks by brute force. Restricted residuals are linear in the hypothesised
value, r(b0) = r_a - b0 r_b, so after one pass over the draws each draw is
summarised by five numbers and the p-value function p(b0) costs O(B): the
confidence interval is found by test inversion (bisection on p(b0) = alpha),
as ``boottest`` does.

Conventions: the p-value is symmetric, P*(|t*| > |t|) (strict, as the R
package fwildclusterboot and the Python package wildboottest); full
enumeration of the 2^G Rademacher sign vectors replaces random draws when
2^G <= B; the statistic carries the CR1 factor G/(G-1) (N-1)/(N-K) (K counts
the fixed effects as in :mod:`evalkit.inference.registry`; the factor cancels
in the p-value).

Weighted least squares (``obs_weights``): the bootstrap of the transformed model
sqrt(w) y = sqrt(w) X b + sqrt(w) D a + sqrt(w) u (Roodman et al. 2019, sec. 3; boottest and
fwildclusterboot with weights): the fixed effects are partialled by weighted projection and the
cluster sums are weighted (:mod:`._wild_design`). With ``weights_type="frequency"`` the CR1 factor
counts N = sum of the weights; p-values and intervals do not depend on it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from evalkit.core import checks, linalg, weighting
from evalkit.core.aliases import renamed
from evalkit.core.clusters import content_rank
from evalkit.errors import ParameterError, ValidationError, check_choice
from evalkit.inference._wild_design import BootLevel, ClusterDesign, build, dense_codes, summarise

WEIGHTS = ("rademacher", "webb", "mammen")
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_S5 = np.sqrt(5.0)
_MAMMEN = np.array([-(_S5 - 1) / 2, (_S5 + 1) / 2])
_MAMMEN_P = np.array([(_S5 + 1) / (2 * _S5), (_S5 - 1) / (2 * _S5)])
_CHUNK_CELLS = 4_000_000  # G x draws per chunk
_TIE = 1e-9  # relative tolerance for ties |t*| = |t|


@dataclass(frozen=True, slots=True)
class WildResult:
    """Outcome of a wild cluster bootstrap test of beta[coef_index] = null.

    Returned by :func:`wild_cluster_bootstrap`.

    Attributes
    ----------
    statistic : float
        CR1 t-statistic of the original sample.
    p_value : float
        Symmetric bootstrap p-value P*(|t*| > |t|).
    ci_low : float
        Lower end of the 1 - alpha interval (test inversion for WCR, percentile-t for WCU);
        -inf when unbounded, nan when not computed.
    ci_high : float
        Upper end of the interval, as ``ci_low``.
    B : int
        Draws used (2^G when enumerated).
    enumerated : bool
        Whether all 2^G Rademacher sign vectors were enumerated instead of drawn.
    weights : str
        The bootstrap weight distribution ("rademacher", "webb" or "mammen").
    restricted : bool
        True for the WCR (null imposed), False for the WCU.
    seed : int or None
        The seed of the draws.
    estimate : float
        The estimated coefficient.
    std_error : float
        Its CR1 standard error.
    n_clusters : int
        Number of clusters G.
    n_boot_clusters : int
        Number of (sub)clusters whose weights are drawn (more than ``n_clusters`` with
        ``bootcluster``).
    """

    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    B: int
    enumerated: bool
    weights: str
    restricted: bool
    seed: int | None
    estimate: float = float("nan")
    std_error: float = float("nan")
    n_clusters: int = 0
    n_boot_clusters: int = 0  # clusters whose weights are drawn (> n_clusters with subclusters)


# ---------------------------------------------------------------- validation
def _check_data(y, x, clusters):
    y = checks.as_finite_array("y", y)
    x = checks.as_finite_array("X", x)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim != 1 or x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ParameterError(f"y must be 1-d and X 2-d with the same rows; got {y.shape} and {x.shape}.")
    clusters = np.asarray(clusters)
    if clusters.shape != y.shape or pd.isna(clusters).any():
        raise ParameterError(f"clusters must have one non-missing label per row ({y.shape[0]}).")
    return y, x, clusters


def _check_options(k, coef_index, weights, B, alpha, null) -> int:
    if isinstance(coef_index, bool) or not isinstance(coef_index, (int, np.integer)) or not -k <= coef_index < k:
        raise ParameterError(f"coef_index={coef_index!r} must index one of the {k} columns of X.")
    check_choice("weights", weights, WEIGHTS)
    checks.check_count("draws", B)  # a positive integer, e.g. 9999
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1.")
    if not np.isfinite(null):
        raise ParameterError(f"null={null!r} must be a finite number.")
    return int(coef_index) % k


def _check_codes(fe_codes, shape) -> list[np.ndarray]:
    codes = []
    for j, c in enumerate(fe_codes or []):
        c = np.asarray(c)
        if c.shape != shape or not np.issubdtype(c.dtype, np.integer) or (len(c) and c.min() < 0):
            raise ParameterError(f"fe_codes[{j}] must be non-negative integer codes, one per row.")
        codes.append(dense_codes(c))
    return codes


# --------------------------------------------------------- cluster objects
@dataclass(frozen=True, slots=True)
class _Parts:
    """Cluster-level scores of one residual vector r = Z c: d_g = a'S_g, S (G x k), E (G x L)."""

    d: np.ndarray
    S: np.ndarray
    E: np.ndarray | None


def _parts(level: ClusterDesign | BootLevel, c: np.ndarray, a: np.ndarray) -> _Parts:
    """Scores of r = Z c from the sums ``xz``/``ez`` of a level (clusters or subclusters)."""
    S = level.xz @ c
    return _Parts(d=S @ a, S=S, E=None if level.ez is None else level.ez @ c)


def _boot_parts(design: ClusterDesign, c: np.ndarray, a: np.ndarray) -> _Parts:
    """:func:`_parts` at the level the weights are drawn (the subclusters, if any)."""
    return _parts(design if design.boot is None else design.boot, c, a)


def _aggregator(design: ClusterDesign):
    """Sparse G x H matrix adding subcluster rows into their clusters (None without subclusters)."""
    if design.boot is None:
        return None
    h = design.boot.parent.size
    return sp.csr_matrix((np.ones(h), (design.boot.parent, np.arange(h))), shape=(design.n_clusters, h))


def _ols(xtx: np.ndarray, xty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if linalg.is_singular(xtx):
        raise ValidationError("X is rank deficient after partialling out the fixed effects "
                              "(a regressor is collinear with others or absorbed by the fixed effects).")
    inv = linalg.inv(xtx) if xtx.size else xtx
    return inv, inv @ xty


def _restricted(xtx: np.ndarray, xty: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients c on Z = [y, X] of the residuals of y and of x_j on the other regressors:
    the restricted residuals are r(b0) = Z c_a - b0 Z c_b (Roodman et al. 2019, sec. 3)."""
    k = xtx.shape[0]
    others = np.array([i for i in range(k) if i != j], dtype=np.intp)
    c_a, c_b = np.zeros(k + 1), np.zeros(k + 1)
    c_a[0], c_b[1 + j] = 1.0, 1.0
    if others.size:
        _, g_y = _ols(xtx[np.ix_(others, others)], xty[others])
        _, g_x = _ols(xtx[np.ix_(others, others)], xtx[others, j])
        c_a[1 + others], c_b[1 + others] = -g_y, -g_x
    return c_a, c_b


# ------------------------------------------------------------------ draws
def _enumerate(G: int) -> np.ndarray:
    """All 2^G Rademacher sign vectors as columns (G x 2^G)."""
    bits = (np.arange(2 ** G)[None, :] >> np.arange(G)[:, None]) & 1
    return 1.0 - 2.0 * bits


def _draw(kind: str, G: int, b: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "rademacher":
        return 1.0 - 2.0 * rng.integers(0, 2, size=(G, b))
    if kind == "webb":
        return _WEBB[rng.integers(0, 6, size=(G, b))]
    return rng.choice(_MAMMEN, size=(G, b), p=_MAMMEN_P)


def _weight_chunks(kind: str, G: int, B: int, seed: int | None):
    """Yield the weight matrix in column chunks; returns via generator."""
    if kind == "rademacher" and G < 63 and 2 ** G <= B:
        V = _enumerate(G)
        step = max(1, _CHUNK_CELLS // G)
        for s in range(0, V.shape[1], step):
            yield V[:, s:s + step]
        return
    rng = np.random.default_rng(seed)
    step = max(1, _CHUNK_CELLS // G)
    for s in range(0, B, step):
        yield _draw(kind, G, min(step, B - s), rng)


@dataclass(frozen=True, slots=True)
class _Draws:
    """Per-draw summaries: t*(b0) = (na - b0 nb) / sqrt(c (pp - 2 b0 pq + b0^2 qq))."""

    na: np.ndarray
    nb: np.ndarray
    pp: np.ndarray
    pq: np.ndarray
    qq: np.ndarray
    scale: float

    def t(self, b0: float) -> np.ndarray:
        den = self.scale * (self.pp - 2 * b0 * self.pq + b0 * b0 * self.qq)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.na - b0 * self.nb) / np.sqrt(np.maximum(den, 0.0))


def _apply(p: _Parts, W: np.ndarray, FM: np.ndarray | None, V: np.ndarray, agg=None) -> np.ndarray:
    """Per-cluster bootstrap scores a's*_g for all draws in V (H x b weights; with subclusters
    the first term is added up into the G clusters by ``agg``)."""
    dv = p.d[:, None] * V
    out = (dv if agg is None else agg @ dv) - W @ (p.S.T @ V)
    if FM is not None:
        out -= FM @ (p.E.T @ V)
    return out


def _summarise(pa: _Parts, pb: _Parts, W, FM, chunks, scale: float, agg=None) -> _Draws:
    acc = {key: [] for key in ("na", "nb", "pp", "pq", "qq")}
    for V in chunks:
        P, Q = _apply(pa, W, FM, V, agg), _apply(pb, W, FM, V, agg)
        acc["na"].append(pa.d @ V)
        acc["nb"].append(pb.d @ V)
        acc["pp"].append(np.einsum("gb,gb->b", P, P))
        acc["pq"].append(np.einsum("gb,gb->b", P, Q))
        acc["qq"].append(np.einsum("gb,gb->b", Q, Q))
    return _Draws(**{key: np.concatenate(v) for key, v in acc.items()}, scale=scale)


# --------------------------------------------------------------- inference
def _pvalue(draws: _Draws, t_obs: float, b0: float) -> float:
    """Share of draws with |t*| > |t|; ties within rounding error (e.g. the draw v = 1 of
    WCR, which reproduces the sample) count as not exceeding."""
    return float(np.mean(np.abs(draws.t(b0)) > abs(t_obs) * (1 + _TIE) + _TIE))


def _wcu_critical(tstar: np.ndarray, alpha: float) -> float:
    """Smallest c with share(|t*| > c) <= alpha, so that est +- c se is exactly the set where the
    WCU p-value exceeds alpha (test inversion, as boottest; Roodman et al. 2019, sec. 3.5): the
    (floor(alpha B) + 1)-th largest |t*|. Non-finite draws count as not exceeding, as in the p-value."""
    s = np.sort(tstar[np.isfinite(tstar)])[::-1]
    m = int(np.floor(alpha * tstar.size * (1 + 1e-12)))
    return float(s[m]) if m < s.size else np.inf


def _bound(pfun, est: float, se: float, alpha: float, direction: int) -> float:
    """Point where p(b0) falls to alpha moving from ``est`` in ``direction`` (bisection).

    The bisection stops at a width relative to the estimate and its SE (``se > 0``), not at an
    absolute width: ``max(1, ...)`` stopped at 1e-12 in outcome units, i.e. 1e-6 of the interval
    for an outcome in millions of kroner (times 1e-6), so the bounds depended on the outcome's units."""
    inside, step = est, se
    for _ in range(60):
        outside = est + direction * step
        if pfun(outside) <= alpha:
            break
        inside, step = outside, step * 2
    else:
        return direction * np.inf
    for _ in range(100):
        mid = 0.5 * (inside + outside)
        if mid in (inside, outside) or abs(outside - inside) <= 1e-12 * max(abs(est), se):
            break
        if pfun(mid) > alpha:
            inside = mid
        else:
            outside = mid
    return 0.5 * (inside + outside)


def _boot_codes(bootcluster, n: int) -> np.ndarray | None:
    if bootcluster is None:
        return None
    bootcluster = np.asarray(bootcluster)
    if bootcluster.shape != (n,) or pd.isna(bootcluster).any():
        raise ParameterError(f"bootcluster must have one non-missing label per row ({n}).")
    return dense_codes(bootcluster)


def _obs_weights(obs_weights, weights_type: str, n: int) -> tuple[np.ndarray | None, float | None]:
    """(row weights or None, N of the CR1 factor or None for the rows)."""
    w = weighting.check_array(obs_weights, n, "obs_weights")
    kind = weighting.check_weights_type(weights_type)
    return w, (None if w is None or kind == "analytic" else float(w.sum()))


def prepare(y, X, clusters, fe_codes: Sequence[np.ndarray] | None = None, bootcluster=None,
            obs_weights=None, weights_type: str = "analytic") -> ClusterDesign:
    """Validate y (n,), X (n x k) and the clusters, partial out ``fe_codes`` and summarise by
    cluster (and by ``bootcluster``, labels of subclusters nested in the clusters whose
    weights are drawn separately); the result serves :func:`bootstrap` for any coefficient of X.
    ``obs_weights``: row weights of a weighted least-squares fit (see the module docstring)."""
    y, x, clusters = _check_data(y, X, clusters)
    w, n_obs = _obs_weights(obs_weights, weights_type, y.size)
    return build(y, x, dense_codes(clusters), _check_codes(fe_codes, y.shape), _boot_codes(bootcluster, y.size),
                 w, n_obs)


def prepare_partialled(zt: np.ndarray, clusters, fe_codes: Sequence[np.ndarray] | None = None,
                       bootcluster=None) -> ClusterDesign:
    """:func:`prepare` for Z = [y, X] from which ``fe_codes`` are already partialled out
    (e.g. by the estimator's own fit), so the fixed effects are not partialled again."""
    zt = np.asarray(zt, dtype=float)
    _check_data(zt[:, 0], zt[:, 1:], clusters)
    return summarise(zt, dense_codes(np.asarray(clusters)), _check_codes(fe_codes, zt.shape[:1]), None,
                     _boot_codes(bootcluster, zt.shape[0]))


def bootstrap(design: ClusterDesign, *, coef_index: int, restricted: bool = True, weights: str = "rademacher",
         draws: int = 9999, seed: int | None = None, null: float = 0.0, alpha: float = 0.05,
         ci: bool = True) -> WildResult:
    """Wild cluster bootstrap test of beta[coef_index] = null on a :func:`prepare`-d design
    (options as in :func:`wild_cluster_bootstrap`)."""
    checks.check_seed("seed", seed)
    j = _check_options(design.xz.shape[1], coef_index, weights, draws, alpha, float(null))
    return _test(design, j, restricted, weights, draws, seed, float(null), alpha, ci)


def _draw_rank(d: ClusterDesign, j: int) -> np.ndarray:
    """Which weight draw each bootstrap cluster gets: clusters in the order of their content
    (:func:`evalkit.core.clusters.content_rank`: x_j'x_j, x_j'y, then every cross product), not of
    their labels, so a seeded bootstrap does not change with the id type or the row order."""
    xz = d.xz if d.boot is None else d.boot.xz
    return content_rank(np.column_stack([xz[:, j, 1 + j], xz[:, j, 0], xz.reshape(xz.shape[0], -1)]))


def _test(d: ClusterDesign, j, restricted, weights, B, seed, null, alpha, ci) -> WildResult:
    xtx, xty = d.xz[:, :, 1:].sum(axis=0), d.xz[:, :, 0].sum(axis=0)
    A, beta = _ols(xtx, xty)
    a = A[:, j]
    se = float(np.sqrt(d.scale * np.sum(_parts(d, np.r_[1.0, -beta], a).d ** 2)))
    if not se > 0:
        raise ValidationError("The CR1 standard error is zero; the hypothesis cannot be tested.")
    est = float(beta[j])
    stat = (est - null) / se
    W = (d.xz[:, :, 1:] @ a) @ A
    FM = (d.ez[:, :, 1:] @ a) @ d.m_inv if d.ez is not None else None
    if restricted:
        c_a, c_b = _restricted(xtx, xty, j)
        pa, pb = _boot_parts(d, c_a, a), _boot_parts(d, c_b, a)
    else:
        pa = _boot_parts(d, np.r_[1.0, -beta], a)
        pb = _Parts(d=np.zeros_like(pa.d), S=np.zeros_like(pa.S), E=None if pa.E is None else np.zeros_like(pa.E))
    H = d.n_boot
    enumerated = weights == "rademacher" and H < 63 and 2 ** H <= B
    rank = _draw_rank(d, j)
    chunks = (V[rank] for V in _weight_chunks(weights, H, B, seed))
    draws = _summarise(pa, pb, W, FM, chunks, d.scale, _aggregator(d))
    if restricted:
        p = _pvalue(draws, stat, null)
        pfun = lambda b0: _pvalue(draws, (est - b0) / se, b0)  # noqa: E731
        lo, hi = ((_bound(pfun, est, se, alpha, -1), _bound(pfun, est, se, alpha, 1)) if ci
                  else (np.nan, np.nan))
    else:
        tstar = np.abs(draws.t(0.0))
        p = float(np.mean(tstar > abs(stat) * (1 + _TIE) + _TIE))
        q = _wcu_critical(tstar, alpha) if ci else np.nan
        lo, hi = est - q * se, est + q * se
    return WildResult(statistic=float(stat), p_value=p, ci_low=float(lo), ci_high=float(hi),
                      B=int(draws.na.size), enumerated=enumerated, weights=weights, restricted=bool(restricted),
                      seed=seed, estimate=est, std_error=se, n_clusters=d.n_clusters, n_boot_clusters=H)


@renamed(B="draws")
def wild_cluster_bootstrap(y, X, clusters, *, coef_index: int, restricted: bool = True,
                           weights: str = "rademacher", draws: int = 9999, seed: int | None = None,
                           null: float = 0.0, alpha: float = 0.05, ci: bool = True,
                           fe_codes: Sequence[np.ndarray] | None = None, bootcluster=None,
                           obs_weights=None, weights_type: str = "analytic") -> WildResult:
    """Wild cluster bootstrap test of beta[coef_index] = null, with its confidence interval.

    Tests H0 in y = X beta + fixed effects + u with the CR1 cluster-robust t-statistic, as
    Stata ``boottest`` (Roodman, MacKinnon, Nielsen & Webb 2019), the fast way: a draw costs
    O(G (k + L)), never O(N). The p-value is symmetric, ``P*(|t*| > |t|)``. The method of choice
    for DiD with few clusters, or few treated clusters (with ``restricted=True``; MacKinnon &
    Webb 2017). Nothing passed in is modified. To test several coefficients of one design,
    :func:`evalkit.inference.wild.prepare` it once and call
    :func:`evalkit.inference.wild.bootstrap` per coefficient.

    Parameters
    ----------
    y : array_like
        Outcome, shape (n,), finite.
    X : array_like
        Regressors, n x k; include a constant yourself unless ``fe_codes`` absorb it.
    clusters : array_like
        n cluster labels (e.g. areas), none missing.
    coef_index : int
        Column of X whose coefficient is tested (e.g. the treatment indicator).
    restricted : bool, default True
        True: WCR, residuals that impose the null (the recommended default, MacKinnon &
        Webb 2017; interval by test inversion). False: WCU, unrestricted residuals (interval
        by percentile-t).
    weights : {"rademacher", "webb", "mammen"}, default "rademacher"
        Distribution of the bootstrap weights: "rademacher" (+-1; all 2^G sign vectors are
        enumerated when 2^G <= draws), "webb" (six-point, better with fewer than about 12
        clusters) or "mammen".
    draws : int, default 9999
        Bootstrap draws (formerly ``B``).
    seed : int, optional
        Seed of the draws; None draws fresh randomness.
    null : float, default 0.0
        The hypothesised value of the coefficient (finite).
    alpha : float, default 0.05
        The interval has level 1 - alpha; must lie in (0, 1).
    ci : bool, default True
        Compute the confidence interval (False saves the test inversion; ``ci_low``/``ci_high``
        are then nan).
    fe_codes : sequence of numpy.ndarray, optional
        Integer code arrays (non-negative, one per row) of fixed effects to absorb, e.g.
        ``[person, year]``; they may be nested in the clusters or cross them (crossing effects
        are corrected for exactly).
    bootcluster : array_like, optional
        Labels of subclusters nested in the clusters (e.g. persons or area-years within
        areas) to draw the weights per subcluster while the t-statistic stays clustered by
        ``clusters``: the subcluster wild bootstrap of MacKinnon & Webb (2018), less
        conservative than the WCR when few clusters are treated, provided the errors are
        independent across subclusters. None: weights drawn per cluster.
    obs_weights : array_like, optional
        Row weights of a weighted least-squares fit (n non-negative numbers): the bootstrap of
        the transformed model sqrt(w) [y, X, D] (Roodman et al. 2019, sec. 3). None: OLS.
    weights_type : {"analytic", "frequency"}, default "analytic"
        Kind of ``obs_weights``: with "frequency", N = sum of the weights in the CR1 factor
        of ``std_error``; p-values and intervals are the same.

    Returns
    -------
    WildResult
        The t-statistic, bootstrap p-value, interval, draws used and the settings.

    Raises
    ------
    ParameterError
        Arrays of mismatched shapes or with non-finite values, missing cluster labels, a bad
        ``coef_index``, ``weights``, ``alpha``, ``null``, ``draws``, ``seed`` or ``fe_codes``.
    ValidationError
        X rank deficient after partialling out the fixed effects, or a CR1 standard error of
        zero.

    References
    ----------
    Roodman, D., MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2019). Fast and wild:
    bootstrap inference in Stata using boottest. *Stata Journal* 19(1), 4-60.
    MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics* 32(2), 233-254.
    MacKinnon, J. G. & Webb, M. D. (2018). The wild bootstrap for few (treated) clusters.
    *Econometrics Journal* 21(2), 114-135.
    Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors.
    *Canadian Journal of Economics* 56(3), 839-858.

    Examples
    --------
    >>> import numpy as np
    >>> import evalkit as ek
    >>> rng = np.random.default_rng(1)
    >>> clusters = np.repeat(np.arange(12), 10)
    >>> d = (clusters < 4).astype(float)
    >>> X = np.column_stack([np.ones(120), d])
    >>> y = 0.3 * d + rng.normal(size=12)[clusters] + rng.normal(size=120)
    >>> res = ek.wild_cluster_bootstrap(y, X, clusters, coef_index=1, weights="webb", seed=1)
    >>> res.p_value  # doctest: +SKIP
    """
    y, x, clusters = _check_data(y, X, clusters)
    checks.check_seed("seed", seed)
    j = _check_options(x.shape[1], coef_index, weights, draws, alpha, float(null))
    w, n_obs = _obs_weights(obs_weights, weights_type, y.size)
    design = build(y, x, dense_codes(clusters), _check_codes(fe_codes, y.shape), _boot_codes(bootcluster, y.size),
                   w, n_obs)
    return _test(design, j, restricted, weights, draws, seed, float(null), alpha, ci)
