"""Inference as a choice on any result: ``result.with_inference(method, data=...)``.

One table says which (estimator, method) pairs exist; an unsupported pair is
a ParameterError that lists the allowed methods. Every method returns a new
:class:`~evalkit.results.Result` with the same estimates and a new
``std_error`` / ``p_value`` / interval where the method defines one:

* ``"cr1"``, ``"hc1"`` - re-estimated with that covariance (registry.py).
* ``"cr2"`` - Bell-McCaffrey CR2 with Imbens-Kolesar degrees of freedom per term.
* ``"cr3"`` - leave-one-cluster-out jackknife (MacKinnon, Nielsen & Webb 2023), t(G-1).
* ``"wild"`` - restricted (default) or unrestricted wild cluster bootstrap p-values
  and test-inversion intervals per term (Roodman et al. 2019); SEs stay CR1.
* ``"randomization"`` - cohorts re-assigned across clusters (randomization.py);
  p-values with their Monte Carlo error; no interval (NaN).

A weighted result (``meta["weights"]``, :mod:`evalkit.core.weighting`) is re-read with its
weights: CR2/CR3 on the transformed model sqrt(w) X~ (Pustejovsky & Tipton 2018, working model
Var(u) = sigma^2 W^-1), the wild bootstrap on the weighted partialled design (the WLS wild
cluster bootstrap of Roodman et al. 2019, sec. 3) and randomization inference by WLS re-fits.
CR2, CR3, the bootstrap p-values and intervals and the randomization p-values have no N-based
factor, so analytic and frequency weights give the same numbers (with frequency weights, those
of the expanded data).
"""
from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.core import checks
from evalkit.core.aliases import renamed
from evalkit.errors import stack_level, ParameterError, ValidationError, closest
from evalkit.estimators._designs import check_same_fit, linear_design, nested_partial
from evalkit.estimators import _refit
from evalkit.inference.randomization import randomization_test
from evalkit.inference.small_sample import cr2_dof, cr2_vcov, cr3_vcov
from evalkit.inference.wild import bootstrap, prepare, prepare_partialled, wild_cluster_bootstrap
from evalkit.inference.registry import POSTFIT
from evalkit.progress import bar
from evalkit.results import Result, register_postfit
from evalkit.results.result import InferenceInfo

_LINEAR = ["cr1", "hc1", "cr2", "cr3", "wild", "randomization"]
_CS = ["analytic", "multiplier", "randomization"]
SUPPORTED: dict[str, list[str]] = {
    "did2x2": _LINEAR, "twfe": _LINEAR, "event_study": _LINEAR,
    "sun_abraham": ["randomization"], "did_imputation": ["randomization"],
    "cs_att_gt": _CS, **{f"cs_aggregate_{k}": _CS for k in ("simple", "group", "dynamic", "calendar")},
}


def allowed(estimator: str) -> list[str]:
    """Inference methods available for results of ``estimator``."""
    return list(SUPPORTED.get(estimator, []))


def option_names() -> list[str]:
    """The options of :func:`with_inference` (its keyword-only parameters)."""
    return [p.name for p in inspect.signature(with_inference).parameters.values() if p.kind is p.KEYWORD_ONLY]


#: replication counts among the options (any spelling the signature uses)
_COUNTS = ("draws",)
#: earlier names of ``draws`` (README "Conventions"), accepted with a FutureWarning
_OLD_DRAWS = ("B", "n_boot", "n_reps")


def check_options(options: object, param: str = "options") -> dict:
    """``options`` for :func:`with_inference`, checked: a mapping of known option names (an unknown
    one names the closest valid one) with a valid seed, replication counts and flags."""
    for old in _OLD_DRAWS:  # the deprecated names of draws
        if isinstance(options, dict) and old in options:
            if "draws" in options:
                raise ParameterError(f"{param}: pass draws= only ({old}= is its deprecated name).")
            warnings.warn(f"{old}= is deprecated and will be removed; use draws=.", FutureWarning, stacklevel=stack_level())
            options = {("draws" if k == old else k): v for k, v in options.items()}
    opts = checks.check_options(param, options, option_names())
    _check_values(opts)
    return opts


def inference_options_checked(postfit: str | None, options: object) -> dict[str, Any]:
    """``inference_options`` of an estimator, checked before the fit: a mapping whose keys are options
    of :func:`with_inference` (an unknown key names the closest valid one)
    and whose seeds, replication counts and flags are valid; only with a post-fit method."""
    opts = check_options(options, "inference_options")
    if opts and postfit is None:  # a ValidationError, as before the options were checked up front
        raise ValidationError(f"inference_options={opts} are only used with inference in {list(POSTFIT)}; "
                             "pass inference='wild' (or another of them) or drop inference_options.")
    return opts


def _check_values(opts: dict) -> None:
    if "seed" in opts:
        checks.check_seed("seed", opts["seed"])
    for name in _COUNTS:
        if opts.get(name) is not None:
            checks.check_count(name, opts[name])
    for name in ("restricted", "progress"):
        if name in opts:
            checks.check_bool(name, opts[name])


@renamed(B="draws", n_boot="draws", n_reps="draws")
def with_inference(result, method: str, data: pd.DataFrame | None = None, *, seed: int | None = None,
                   draws: int | None = None, weights: str = "rademacher", restricted: bool = True,
                   bootcluster: str | None = None, statistic: str = "t", terms: list[str] | None = None,
                   progress: bool = False):
    """A copy of ``result`` with inference by ``method`` (see the module docstring).

    ``data``: the data the result was estimated on (every method but the
    result's own re-reads it; a design that does not reproduce the estimates
    is an error). ``terms``: rows to test (default every estimated term).
    ``draws``: resampling draws (default 9999 for the wild bootstrap, 999 for randomization
    inference; formerly ``B`` for the wild bootstrap). ``weights`` (the bootstrap weight
    distribution, "rademacher", "webb" or "mammen"; the regression weights of a weighted fit are
    read from the result's ``meta["weights"]`` column of ``data``)/``restricted``/``bootcluster``:
    wild bootstrap (``bootcluster="unit"`` draws the weights per panel unit within the clusters, the
    subcluster bootstrap of MacKinnon & Webb 2018); ``statistic``: randomization inference;
    ``seed`` for both.
    """
    given = dict(locals())
    _check_values({k: given[k] for k in option_names()})  # seeds, counts and flags, before any work
    ok = allowed(result.estimator)
    if not ok:
        raise ParameterError(f"No inference choice for {result.estimator!r} results; supported estimators: "
                             f"{sorted(SUPPORTED)}.")
    if not isinstance(method, str) or method not in ok:
        raise ParameterError(f"inference={method!r} is not available for {result.estimator!r}; choose one of {ok}."
                             + closest(str(method), ok))
    if method == result.inference.method and method in ("cr1", "hc1", "analytic"):
        return result
    if data is None or not isinstance(data, pd.DataFrame):
        raise ParameterError(f"inference={method!r} re-reads the data: pass data=<the DataFrame the result "
                             "was estimated on>.")
    terms = _terms(result, terms)
    if method in ("cr1", "hc1"):  # hc1 ignores the clusters, so it is fitted without them
        return _refit.refit(result, data, inference=method, **({"cluster": None} if method == "hc1" else {}))
    if method in ("analytic", "multiplier"):
        return _refit.refit(result, data, bootstrap=method == "multiplier", seed=seed)
    if method == "randomization":
        return _randomization(result, data, terms, draws=999 if draws is None else draws, seed=seed,
                              statistic=statistic, progress=progress)
    if method == "wild":
        return _wild(result, data, terms, B=9999 if draws is None else draws, weights=weights, restricted=restricted, seed=seed,
                     bootcluster=bootcluster, progress=progress)
    return _small_sample(result, data, terms, method)


def _terms(result, terms):
    est = result.table.loc[~result.table["reference"] & result.table["std_error"].notna(), "term"].tolist()
    if terms is None:
        return est
    if isinstance(terms, str):
        terms = [terms]
    elif not isinstance(terms, (list, tuple)) or not all(isinstance(t, str) for t in terms):
        raise ParameterError(f"terms={terms!r} must be a term name or a list of term names; choose from {est}.")
    bad = [t for t in terms if t not in est]
    if bad:
        raise ParameterError(f"terms={bad} are not estimated terms of this result; choose from {est}.")
    return list(terms)


def _replace(result, table: pd.DataFrame, info: InferenceInfo, extra: dict, vcov=None):
    diag = {**dict(result.diagnostics), "inference_details": extra}
    return Result(estimator=result.estimator, estimand=result.estimand, table=table,
                  vcov=result.vcov if vcov is None else vcov, alpha=result.alpha, inference=info, n_obs=result.n_obs,
                  outcome=result.outcome, diagnostics=diag, meta=dict(result.meta), influence=result.influence)


def _require_cluster(result, method):
    if result.meta.get("cluster") is None:
        raise ParameterError(f"inference={method!r} needs a clustered result (cluster=...); this result has none.")


def _small_sample(result, data, terms, method):
    _require_cluster(result, method)
    design = linear_design(result, data)
    y, x = nested_partial(design)
    w = design.weights
    root = np.ones(len(y)) if w is None else np.sqrt(w)
    beta, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)  # WLS = OLS on sqrt(w) [y, X]
    names = list(design.X.columns)
    check_same_fit(result, beta, names)
    resid = y - x @ beta
    kernel = cr2_vcov if method == "cr2" else cr3_vcov
    vcov = kernel(x, resid, design.clusters, weights=w)
    n_cl = int(design.clusters.max()) + 1
    idx = [names.index(t) for t in terms]
    dof = [cr2_dof(x, design.clusters, np.eye(x.shape[1])[j], weights=w) if method == "cr2" else n_cl - 1.0
           for j in idx]
    table = result.tidy()
    for term, j, df in zip(terms, idx, dof):
        _set_t(table, term, beta[j], float(np.sqrt(vcov[j, j])), df, result.alpha)
    info = InferenceInfo(method=method, cluster=result.inference.cluster, n_clusters=n_cl,
                         df=float(dof[terms.index("ATT")] if "ATT" in terms else min(dof)))
    v = pd.DataFrame(vcov[np.ix_(idx, idx)], index=terms, columns=terms)
    return _replace(result, table, info, {"dof": dict(zip(terms, map(float, dof)))}, vcov=v)


def _set_t(table, term, est, se, df, alpha):
    row = table["term"] == term
    crit = stats.t.ppf(1 - alpha / 2, df)
    table.loc[row, ["std_error", "statistic", "p_value", "conf_low", "conf_high"]] = [
        se, est / se, 2 * stats.t.sf(abs(est / se), df), est - crit * se, est + crit * se]


#: partialled designs handed over by an estimator for the inference call it makes itself (by id of the result)
_FIT_DESIGNS: dict[int, tuple] = {}


@contextmanager
def fit_design(result, zt: np.ndarray, names: list[str], clusters: np.ndarray, fe_codes: list[np.ndarray]):
    """While open, ``with_inference(result, "wild", ...)`` uses the fit's own partialled
    Z = [y, X] (columns ``names``) instead of rebuilding the design from the data and
    partialling the fixed effects again. Only for the call the estimator makes on its own
    data: nothing outlives the block, so a later call re-reads (and checks) its data."""
    _FIT_DESIGNS[id(result)] = (zt, names, clusters, fe_codes)
    try:
        yield
    finally:
        _FIT_DESIGNS.pop(id(result), None)


def _wild_design(result, data, bootcluster=None):
    """(cluster-level design, term names): the fit's partialled design if handed over, else rebuilt;
    ``bootcluster="unit"``: weights drawn per panel unit (rebuilt from the data)."""
    handed = _FIT_DESIGNS.get(id(result))
    if handed is not None and bootcluster is None:
        zt, names, clusters, fe_codes = handed
        return prepare_partialled(zt, clusters, fe_codes), names
    design = linear_design(result, data)
    boot = None
    if bootcluster is not None:
        if bootcluster != "unit" or design.unit is None:
            raise ParameterError(f"bootcluster={bootcluster!r}: use None (weights per cluster) or 'unit' "
                                 "(per panel unit within the clusters; twfe and event_study results).")
        boot = design.unit
    return prepare(design.y, design.X.to_numpy(float), design.clusters, fe_codes=list(design.fe) or None,
                   bootcluster=boot, obs_weights=design.weights,
                   weights_type=design.weights_type), list(design.X.columns)


def _wild(result, data, terms, *, B, weights, restricted, seed, bootcluster=None, progress=False):
    _require_cluster(result, "wild")
    table, details = result.tidy(), {}
    prepared, names = _wild_design(result, data, bootcluster)
    # one set-up (fixed effects out, cluster sums) for every term; progress counts the terms tested
    for term in bar(terms, total=len(terms), description=f"wild bootstrap ({B} draws per term)", enabled=progress):
        w = bootstrap(prepared, coef_index=names.index(term), restricted=restricted, weights=weights, draws=B,
                      seed=seed, alpha=result.alpha)
        check_same_fit(result, np.array([w.estimate]), [term])
        row = table["term"] == term
        table.loc[row, ["p_value", "conf_low", "conf_high"]] = [w.p_value, w.ci_low, w.ci_high]
        details[term] = {"B": w.B, "enumerated": w.enumerated, "weights": w.weights, "restricted": w.restricted,
                         "bootcluster": bootcluster, "n_boot_clusters": w.n_boot_clusters}
    # df stays the CR1 fit's: the vcov kept on the result is CR1, and lincom/wald_test read it with df
    info = InferenceInfo(method="wild" if restricted else "wild_unrestricted", cluster=result.inference.cluster,
                         n_clusters=result.inference.n_clusters, df=result.inference.df,
                         seed=checks.seed_label(seed), draws=B)
    return _replace(result, table, info, details)


_LINEAR_EST = ("did2x2", "twfe", "event_study")


def _no_boot(result) -> dict:
    return {"bootstrap": False} if result.estimator.startswith("cs_") else {}


def _linear_refit(result, data, apply, terms):
    """Re-estimation of a linear design by FWL: y is partialled once; per draw only the
    regressors are rebuilt and partialled (same ranking as re-running the estimator).
    Returns cohorts -> (estimates, unscaled cluster-robust t) of ``terms``."""
    from evalkit.core.demean import demean
    from evalkit.inference.randomization import ols_cluster_t

    design = linear_design(result, data)
    fe, w = list(design.fe), design.weights
    y = demean(design.y, fe, weights=w).values[:, 0] if fe else design.y
    names = list(design.X.columns)
    cols = [names.index(t) for t in terms]

    def refit(cohorts):
        x = linear_design(result, apply(cohorts)).X.to_numpy(float)
        return ols_cluster_t(y, x, fe, design.clusters, cols, weights=w)
    return refit


def _randomization(result, data, terms, *, draws, seed, statistic, progress):
    if statistic not in ("t", "estimate"):
        raise ParameterError(f"statistic={statistic!r}; choose 't' (studentised) or 'estimate'.")
    level, labels, cohorts, apply = _refit.assignment(result, data)
    order = _refit.cluster_order(result, data, level, labels, cohorts)

    def stat(res):
        """The statistic per term; NaN for a term the re-estimate has no row for (att_gt drops a cell
        that a re-assignment leaves inestimable, e.g. a separable propensity score): an undefined draw,
        counted as extreme by ``randomization.p_values``, instead of a KeyError that stopped the test."""
        tab = res.table.set_index("term").reindex(terms)
        s = tab["estimate"] / (tab["std_error"] if statistic == "t" else 1.0)
        return s.to_numpy(float)

    if result.estimator in _LINEAR_EST:
        fit = _linear_refit(result, data, apply, terms)
        pick = 1 if statistic == "t" else 0

        def refit(c):
            return fit(c)[pick]
        beta, t_obs = fit(cohorts)  # the observed statistic on the same (unscaled) footing as the draws
        observed = t_obs if statistic == "t" else beta
    else:  # re-run the estimator; analytic SEs for the observed statistic and every draw alike
        def refit(c):
            return stat(_refit.refit(result, apply(c), **_no_boot(result)))
        again = _refit.refit(result, apply(cohorts), **_no_boot(result))
        beta, observed = again.table.set_index("term").loc[terms, "estimate"].to_numpy(float), stat(again)
    check_same_fit(result, beta, terms)
    ri = randomization_test(refit, cohorts, observed, terms, draws=draws, seed=seed, statistic=statistic,
                            progress=progress, order=order)
    table = result.tidy()
    for term, p in zip(terms, ri.p_value):
        table.loc[table["term"] == term, ["p_value", "conf_low", "conf_high"]] = [p, np.nan, np.nan]
    info = InferenceInfo(method="randomization", cluster=level, n_clusters=int(cohorts.size),
                         df=result.inference.df, seed=checks.seed_label(seed), draws=ri.draws)  # df of the CR1 vcov
    details = {"statistic": statistic, "mc_se": dict(zip(terms, map(float, ri.mc_se))), "draws": ri.draws,
               "n_failed": ri.n_failed, "n_nonfinite": dict(zip(terms, ri.n_nonfinite)),
               "n_assignment_units": int(cohorts.size),
               "n_treated_units": int(np.sum(cohorts > 0))}
    return _replace(result, table, info, details)


@renamed(B="draws")
def wild_combination(result, data: pd.DataFrame, weights: dict[str, float], *, draws: int = 9999,
                     boot_weights: str = "rademacher", seed: int | None = None, restricted: bool = True):
    """Wild cluster bootstrap test and interval of theta = sum_j w_j b_j (e.g. a post-period average).

    Reparametrises the regression so that theta is one coefficient: with a pivot term p
    (w_p != 0), X b = (X_p / w_p) theta + sum_{j != p} (X_j - (w_j / w_p) X_p) b_j; the bootstrap
    of that coefficient is then the usual one (Roodman et al. 2019, sec. 3.4: any linear hypothesis).
    Returns a :class:`~evalkit.inference.wild.WildResult`.
    """
    if result.estimator not in SUPPORTED or "wild" not in SUPPORTED[result.estimator]:
        raise ParameterError(f"wild_combination needs a did2x2/twfe/event_study result, not {result.estimator!r}.")
    _require_cluster(result, "wild")
    design = linear_design(result, data)
    names = list(design.X.columns)
    bad = [t for t in weights if t not in names]
    if bad or not weights:
        raise ParameterError(f"weights must name estimated terms {names}; got {list(weights)}.")
    x, p = _combination_design(design.X.to_numpy(float), names, weights)
    out = wild_cluster_bootstrap(design.y, x, design.clusters, coef_index=p, restricted=restricted,
                                 weights=boot_weights, draws=draws, seed=seed, alpha=result.alpha,
                                 fe_codes=list(design.fe) or None, obs_weights=design.weights,
                                 weights_type=design.weights_type)
    est = result.table.set_index("term")["estimate"]
    theta = float(sum(w * est[t] for t, w in weights.items()))
    if not np.isclose(out.estimate, theta, rtol=1e-6, atol=1e-9):
        raise ValidationError("The data do not reproduce this result; pass the data it was estimated on.")
    return out



def _combination_design(x: np.ndarray, names: list[str], weights: dict[str, float]) -> tuple[np.ndarray, int]:
    """(X reparametrised so theta = sum_j w_j b_j is the coefficient of column p, p): with a pivot
    term p (the largest |w_p|), X b = (X_p / w_p) theta + sum_{j != p} (X_j - (w_j / w_p) X_p) b_j."""
    pivot = max(weights, key=lambda t: abs(weights[t]))
    x = np.array(x, dtype=float, copy=True)
    p = names.index(pivot)
    xp = x[:, p].copy()
    for term, w in weights.items():
        j = names.index(term)
        if j != p:
            x[:, j] -= (w / weights[pivot]) * xp
    x[:, p] = xp / weights[pivot]
    return x, p


def _cohort_time_table(result, design, cohorts: np.ndarray):
    """x(new cohorts per cluster) read from a (cohort, period) table of the observed design, or None
    when the regressors are not a function of the cluster's cohort and the row's period alone
    (did2x2, covariates, a cohort not observed in some period): checked on the observed assignment."""
    if result.estimator not in ("twfe", "event_study") or design.clusters is None or len(design.fe) != 2:
        return None
    x = design.X.to_numpy(float)
    g, t = np.asarray(design.clusters), np.asarray(design.fe[1])
    values, k = np.unique(np.asarray(cohorts, float), return_inverse=True)
    if g.max() + 1 != len(values[k]):
        return None
    table = np.full((len(values), t.max() + 1, x.shape[1]), np.nan)
    table[k[g], t] = x
    if np.isnan(table).any() or not np.array_equal(table[k[g], t], x):
        return None

    def lookup(new: np.ndarray) -> np.ndarray:
        return table[np.searchsorted(values, np.asarray(new, float))[g], t]
    return lookup


def randomization_combination(result, data: pd.DataFrame, weights: dict[str, float], *, draws: int = 999,
                              seed: int | None = None, progress: bool = False, _lookup: bool = True):
    """Randomization inference for theta = sum_j w_j b_j (e.g. a post-period average) of a
    did2x2/twfe/event_study result: the studentised theta (CR1 t of the reparametrised regression,
    :func:`_combination_design`) re-computed under re-assigned treatment timing, as
    ``with_inference(result, "randomization")`` does per term (Wu & Ding 2021; MacKinnon & Webb
    2020). Returns the :class:`~evalkit.inference.randomization.RandomizationResult` (one term,
    "theta": p-value and its Monte Carlo error, and the re-assignments' statistics in ``null``).

    Speed: when the observed design's regressors are a function of (the cluster's cohort, the row's
    period) - twfe and event_study without covariates on a panel where every cohort is observed in
    every period - each re-assignment reads them from that table (:func:`_cohort_time_table`)
    instead of rebuilding the design; the statistics are the same (a test compares both paths)."""
    from evalkit.core.demean import demean
    from evalkit.inference.randomization import ols_cluster_t

    if result.estimator not in ("did2x2", "twfe", "event_study"):
        raise ParameterError(f"randomization_combination needs a did2x2/twfe/event_study result, not "
                             f"{result.estimator!r}.")
    checks.check_count("draws", draws)
    design = linear_design(result, data)
    names = list(design.X.columns)
    bad = [t for t in weights if t not in names]
    if bad or not weights:
        raise ParameterError(f"weights must name estimated terms {names}; got {list(weights)}.")
    level, _labels, cohorts, apply = _refit.assignment(result, data)
    order = _refit.cluster_order(result, data, level, _labels, cohorts)
    fe, w = list(design.fe), design.weights
    y = demean(design.y, fe, weights=w).values[:, 0] if fe else design.y
    lookup = _cohort_time_table(result, design, cohorts) if _lookup else None

    def regressors(c) -> np.ndarray:
        return lookup(c) if lookup is not None else linear_design(result, apply(c)).X.to_numpy(float)

    def refit(c):
        x, p = _combination_design(regressors(c), names, weights)
        return ols_cluster_t(y, x, fe, design.clusters, [p], weights=w)[1]

    est = result.table.set_index("term")["estimate"]
    theta = float(sum(wt * est[t] for t, wt in weights.items()))
    x, p = _combination_design(design.X.to_numpy(float), names, weights)
    beta, observed = ols_cluster_t(y, x, fe, design.clusters, [p], weights=w)
    if not np.isclose(beta[0], theta, rtol=1e-6, atol=1e-9):
        raise ValidationError("The data do not reproduce this result; pass the data it was estimated on.")
    return randomization_test(refit, cohorts, observed, ["theta"], draws=draws, seed=seed, statistic="t",
                              progress=progress, order=order)

__all__ = ["SUPPORTED", "allowed", "randomization_combination", "wild_combination", "with_inference"]


def register() -> None:
    """Make :meth:`Result.with_inference` dispatch to :func:`with_inference` (called when
    :mod:`evalkit.estimators` loads; results sit below the estimators and import none of them)."""
    register_postfit(lambda result, method, data, options: with_inference(result, method, data,
                                                                          **check_options(options)))
