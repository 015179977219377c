"""Synthetic difference in differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER).

Numbers happen in :mod:`evalkit.estimators._sdid_kernels` (weights and the weighted DiD,
Algorithm 1) and :mod:`evalkit.estimators._sdid_infer` (cohorts and the bootstrap,
jackknife and placebo standard errors, Algorithms 2-4); this module validates, calls
and packs a :class:`~evalkit.results.Result`. Reproduces R ``synthdid``
(``synthdid_estimate``, ``sc_estimate``, ``did_estimate``, ``vcov``) on block designs.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from scipy import stats

from evalkit.core.aliases import checked, renamed
from evalkit.errors import ValidationError, check_choice
from evalkit.estimators import _sdid_infer as infer
from evalkit.estimators._sdid_data import SdidPanel, build_panel
from evalkit.estimators._sdid_kernels import METHODS
from evalkit.core import checks
from evalkit.core.checks import check_alpha
from evalkit.results import InferenceInfo, Result

SE_METHODS = ("placebo", "jackknife", "bootstrap")
ALGORITHM = {"bootstrap": 2, "jackknife": 3, "placebo": 4}
ESTIMAND = {"sdid": "ATT on the treated unit-periods, synthetic DiD (Arkhangelsky et al. 2021)",
            "sc": "ATT on the treated unit-periods, synthetic control (synthdid sc_estimate)",
            "did": "ATT on the treated unit-periods, difference in differences (synthdid did_estimate)"}


@renamed(n_reps="draws")
def sdid(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str | None = None,
         cohort: str | None = None, covariates=None, method: str = "sdid", se: str | None = "placebo", draws: int = 200,
         seed: int | None = None, alpha: float = 0.05, progress: bool = False) -> Result:
    """Synthetic difference-in-differences (Arkhangelsky et al. 2021) estimate of the ATT.

    Reweights the never-treated units (unit weights omega) so their pre-period path parallels
    the treated units', and the pre-periods (time weights lambda) so they resemble the
    post-periods, then takes the weighted DiD. Works for one adoption period or staggered
    adoption: every unit first treated in the same period forms a cohort; each cohort is a
    block design against the never-treated units, and the overall "ATT" weighs the cohort
    estimates by their treated unit-periods (Arkhangelsky et al. 2021, Appendix A; Clarke et
    al. 2023). Suited to few treated areas with many comparison areas.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced long panel, one row per unit and period, outcome never missing (not modified).
    outcome : str
        Numeric outcome column.
    unit : str
        Unit id column (e.g. area).
    time : str
        Period column of whole numbers (e.g. years).
    treatment : str, optional
        A 0/1 column, 1 from a unit's first treated period on (absorbing). Give exactly one of
        ``treatment`` and ``cohort``.
    cohort : str, optional
        The first treated period, 0 = never treated (as in :func:`att_gt`). Units first
        treated after the last period are treated as never treated, with a warning.
    covariates : str or sequence of str, optional
        Numeric columns (time-varying allowed, never missing) adjusted for as R ``synthdid``
        does: beta is fitted jointly with the weights on the collapsed panel and the weighted
        DiD is taken of ``outcome - covariates @ beta`` (Arkhangelsky et al. 2021, sec. 2,
        footnote 4); ``diagnostics["beta"]`` holds the coefficients. Default None.
    method : {"sdid", "sc", "did"}, default "sdid"
        "sdid" (Algorithm 1), or the special cases "sc" (synthetic control, R
        ``sc_estimate``) and "did" (uniform weights: the plain DiD, R ``did_estimate``).
    se : {"placebo", "jackknife", "bootstrap", None}, default "placebo"
        Standard error: "placebo" (Algorithm 4; the only choice with one treated unit, needs
        more never-treated than treated units), "jackknife" (Algorithm 3; needs two treated
        units per cohort), "bootstrap" (Algorithm 2; needs two treated units), or None (no SE).
    draws : int, default 200
        Placebo or bootstrap replications (formerly ``n_reps``).
    seed : int, optional
        Seed of the placebo or bootstrap draws, for reproducible standard errors.
    alpha : float, default 0.05
        Normal intervals est +- z_{1-alpha/2} * se have level 1 - alpha (as R ``synthdid``).
    progress : bool, default False
        Show a progress bar over the replications (a widget in JupyterLab).

    Returns
    -------
    Result
        One "ATT(g=<period>)" row per cohort (when there are several) and the "ATT" row.
        ``diagnostics`` hold per cohort the unit weights omega (by unit id), time weights
        lambda (by period), noise level, zeta_omega, zeta_lambda, pre-period fit and the
        trajectories plotted by :func:`sdid_plot`; with one cohort these are also at the top
        level.

    Raises
    ------
    ParameterError
        An unknown keyword, ``method`` or ``se``; both or neither of ``treatment``/``cohort``.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        An unbalanced panel or missing outcome, non-whole periods, a non-absorbing treatment,
        no never-treated or no treated unit, or an ``se`` that is undefined for the design
        (e.g. "bootstrap" or "jackknife" with one treated unit, "placebo" with no more
        never-treated than treated units).

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W. & Wager, S. (2021).
    Synthetic difference-in-differences. *American Economic Review* 111(12), 4088-4118.
    Clarke, D., Pailanir, D., Athey, S. & Imbens, G. (2023). On synthetic
    difference-in-differences and related estimation methods in Stata. IZA DP 16437.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(n_units=30, seed=1, cohorts={0: 0.8, 8: 0.2})
    >>> res = ek.sdid(panel, outcome="y", unit="unit", time="time", cohort="cohort", draws=50, seed=1)
    >>> fig = ek.sdid_plot(res)
    """
    check_choice("method", method, list(METHODS))
    check_choice("se", se, [*SE_METHODS, None])
    alpha = check_alpha(alpha)
    _check_reps(draws, seed)
    progress = checks.check_bool("progress", progress)
    panel = build_panel(data, outcome=outcome, unit=unit, time=time, treatment=treatment, cohort=cohort,
                        covariates=covariates)
    _check_se_design(panel, se, method)
    base = infer.fit_design(panel.y, panel.cohort, panel.times, method, x=panel.x)
    if se == "jackknife" and method != "did":
        _check_jackknife_weights(base)
    reps = _replicates(base, panel, method, se, draws, seed, progress)
    se_values = infer.replicate_se(reps, se) if reps is not None else np.full(len(base.cohorts) + 1, np.nan)
    table = _table(base, panel, se_values, alpha)
    n_draws = None if se is None else (panel.y.shape[0] if se == "jackknife" else draws)
    method_name = "none" if se is None else f"{se} (Arkhangelsky et al. 2021, Algorithm {ALGORITHM[se]})"
    return Result(
        estimator="sdid" if method == "sdid" else f"sdid_{method}", estimand=ESTIMAND[method], table=table,
        vcov=None, alpha=alpha, inference=InferenceInfo(method=method_name, seed=checks.seed_label(seed),
                                                        draws=n_draws),
        n_obs=panel.y.size, outcome=outcome, diagnostics=_diagnostics(base, panel, method),
        meta={"kind": "sdid", "unit": unit, "time": time, "treatment": treatment, "cohort": cohort,
              "covariates": list(panel.covariates), "method": method, "se": se, "draws": draws, "cohorts": list(panel.cohorts)},
    )


def _check_reps(n_reps: object, seed: object) -> None:
    checks.check_count("draws", n_reps, minimum=2)  # 200 or more for reporting
    checks.check_seed("seed", seed)


def _check_se_design(panel: SdidPanel, se: str | None, method: str) -> None:
    n_treated, n_control = int((panel.cohort > 0).sum()), int((panel.cohort == 0).sum())
    if se == "placebo" and n_control <= n_treated:
        raise ValidationError(f"se='placebo' needs more never-treated units than treated units; there are "
                              f"{n_control} never-treated and {n_treated} treated. Use se='jackknife' or 'bootstrap'.")
    if se == "bootstrap" and n_treated < 2:
        raise ValidationError("se='bootstrap' is undefined with one treated unit (Arkhangelsky et al. 2021, "
                              "sec. 5); use se='placebo'.")
    if se == "jackknife":
        single = [g for g in panel.cohorts if (panel.cohort == g).sum() < 2]
        if single:
            raise ValidationError(f"se='jackknife' is undefined with one treated unit in a cohort (cohorts {single} "
                                  "have one; Arkhangelsky et al. 2021, Algorithm 3); use se='placebo'.")
        if n_control < 2:
            raise ValidationError("se='jackknife' needs at least 2 never-treated units; use se='placebo'.")


def _check_jackknife_weights(base: infer.DesignFit) -> None:
    for c in base.cohorts:
        if np.count_nonzero(c.fit.omega) == 1:
            raise ValidationError(f"se='jackknife' is undefined when one control unit carries all the weight "
                                  f"(cohort {c.cohort}), as in R synthdid; use se='placebo' or 'bootstrap'.")


def _replicates(base, panel: SdidPanel, method: str, se: str | None, n_reps: int, seed, progress: bool):
    if se is None:
        return None
    if se == "jackknife":
        return infer.jackknife(base, panel.y, panel.x, panel.cohort, panel.times, method, progress)
    rng = np.random.default_rng(seed)
    run = infer.placebo if se == "placebo" else infer.bootstrap
    return run(base, panel.y, panel.x, panel.cohort, panel.times, method, int(n_reps), rng, progress)


def _table(base: infer.DesignFit, panel: SdidPanel, se: np.ndarray, alpha: float) -> pd.DataFrame:
    z = float(stats.norm.ppf(1 - alpha / 2))
    n_control = int((panel.cohort == 0).sum())
    rows = [{"term": f"ATT(g={c.cohort})", "estimate": c.fit.estimate, "group": c.cohort,
             "n_treated": c.treated.size, "n_control": n_control} for c in base.cohorts]
    rows.append({"term": "ATT", "estimate": base.att, "n_treated": int((panel.cohort > 0).sum()),
                 "n_control": n_control, "group": base.cohorts[0].cohort if len(base.cohorts) == 1 else None})
    for row, s in zip(rows, se):
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = row["estimate"] / s if s > 0 else np.nan
        row.update(std_error=s, statistic=stat, p_value=2 * stats.norm.sf(abs(stat)) if np.isfinite(stat) else np.nan,
                   conf_low=row["estimate"] - z * s, conf_high=row["estimate"] + z * s)
    if len(base.cohorts) == 1:
        rows = rows[1:]
    return pd.DataFrame(rows)


def _cohort_diag(c: infer.CohortFit, panel: SdidPanel, method: str, share: float) -> dict:
    y = panel.y - panel.x @ c.fit.beta if c.fit.beta.size else panel.y   # paths of the adjusted outcome
    treated = y[c.treated].mean(axis=0)
    synthetic = c.fit.omega @ y[c.controls]
    pre = slice(0, c.t0)
    gap = treated[pre] - synthetic[pre]
    intercept = float(gap.mean()) if c.opts.omega_intercept else 0.0
    return {
        "omega": {str(panel.units[i]): float(w) for i, w in zip(c.controls, c.fit.omega)},
        "lambda": {str(int(t)): float(w) for t, w in zip(panel.times[:c.t0], c.fit.lam)},
        "noise_level": c.opts.noise_level, "zeta_omega": float(c.opts.zeta_omega),
        "zeta_lambda": float(c.opts.zeta_lambda), "omega_intercept": intercept,
        "pre_fit_rmse": float(np.sqrt(np.mean((gap - intercept) ** 2))),
        "n_treated": int(c.treated.size), "n_post": int(panel.times.size - c.t0), "weight": share,
        "beta": dict(zip(panel.covariates, (c.fit.beta / np.asarray(panel.x_scale)).tolist())),
        "n_iter_omega": c.fit.n_iter_omega, "n_iter_lambda": c.fit.n_iter_lambda,
        "treated_units": [str(panel.units[i]) for i in c.treated],
        "paths": {"time": [int(t) for t in panel.times], "treated": treated.tolist(),
                  "synthetic": synthetic.tolist()},
    }


def _diagnostics(base: infer.DesignFit, panel: SdidPanel, method: str) -> dict:
    total = sum(c.weight for c in base.cohorts)
    cohorts = {str(c.cohort): _cohort_diag(c, panel, method, c.weight / total) for c in base.cohorts}
    out = {"method": method, "cohorts": cohorts, "cohort_weights": {g: d["weight"] for g, d in cohorts.items()},
           "n_never_treated": int((panel.cohort == 0).sum())}
    if len(cohorts) == 1:
        only = next(iter(cohorts.values()))
        out.update({k: only[k] for k in ("omega", "lambda", "noise_level", "zeta_omega", "zeta_lambda",
                                         "pre_fit_rmse", "beta")})
    return out


@checked
def sdid_plot(result: Result, *, kind: str = "paths", cohort: int | None = None, lang: str = "en", ax=None):
    """Plot a :func:`sdid` result: the treated and synthetic paths, or the unit weights.

    Parameters
    ----------
    result : Result
        A result of :func:`sdid`.
    kind : {"paths", "weights"}, default "paths"
        "paths": treated vs synthetic control over time with the time weights lambda shaded
        (as R ``synthdid_plot``); "weights": the unit weights omega of the control units.
    cohort : int, optional
        The cohort (first treated period) to draw with staggered adoption; None: the first.
    lang : {"en", "da"}, default "en"
        Language of titles, axis labels and legends.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; None creates a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ParameterError
        A result not of :func:`sdid`, an unknown ``kind``/``lang``, a ``cohort`` not in the
        result, or an ``ax`` that is not a matplotlib Axes.

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W. & Wager, S. (2021).
    Synthetic difference-in-differences. *American Economic Review* 111(12), 4088-4118.
    """
    from evalkit.estimators._sdid_plot import plot

    return plot(result, kind=kind, cohort=cohort, lang=lang, ax=ax)
