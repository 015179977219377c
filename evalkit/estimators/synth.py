"""Synthetic control for one (or a few) treated units.

Abadie, Diamond & Hainmueller (2010, JASA); Abadie (2021, JEL). Numbers happen in
:mod:`evalkit.estimators._synth_kernels`; this module validates, orchestrates the
placebo and leave-one-out refits, and packs a :class:`~evalkit.results.Result`.

Several treated units (``treated`` a list): each is fitted on its own against the
donor pool (all untreated units) and the gaps are averaged; the synthetic path is the
average of the synthetic paths (so the reported donor ``weights`` are the averaged
weights). Inference for the average follows Cavallo, Galiani, Noy & Pantano (2013,
REStat): every donor is fitted once as a placebo treated unit (against the other
donors), and the treated average is compared with the averages of all sets of as many
placebo gaps as there are treated units (a random ``max_placebo_sets`` of them, drawn
with ``seed``, when there are more). With one treated unit this is exactly ADH's rule:
p = rank of the treated post/pre RMSPE ratio among the treated unit and all J
placebos, divided by J + 1 (ties count against the treated unit; no placebo is
excluded for poor pre-treatment fit).
"""
from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd

from evalkit.errors import stack_level, EvalkitWarning, check_choice
from evalkit.estimators._synth_data import SynthPanel, build_panel, treatment_timing
from evalkit.estimators._synth_kernels import (WEIGHT_TOL, fit_synth, hull_distance, placebo_pvalues, placebo_sets,
                                               rmspe_ratio)
from evalkit.core import checks
from evalkit.core.checks import check_alpha
from evalkit.core.clusters import content_order
from evalkit.inference.randomization import map_draws
from evalkit.results import InferenceInfo, Result
from evalkit.results.result import register_plotter
from evalkit.core.aliases import checked

MAX_PLACEBO_SETS = 20_000
#: Default seed for drawing placebo sets, so that a result (and its p-values) is the same in every
#: run and process unless another seed is given; ``seed=None`` asks for fresh randomness.
DEFAULT_SEED = 0
#: Warn when the treated pre-period path lies farther than this share of the outcome's pre-period
#: standard deviation (over all units and pre periods) from the donors' convex hull (and farther
#: than 90 % of the donors lie from the hull of the others).
HULL_TOLERANCE = 0.05


def _fit_group(panel: SynthPanel, treated: tuple[int, ...], donors: tuple[int, ...], v: str) -> list:
    """Fit each treated column against ``donors``; returns the list of SynthFit."""
    d = list(donors)
    return [fit_synth(panel.x[:, i], panel.x[:, d], panel.y[:, i], panel.y[:, d], panel.pre, v=v)
            for i in treated]


def _avg_gap(fits: list) -> np.ndarray:
    return np.mean([f.gap for f in fits], axis=0)


#: Placebo gap paths already fitted in this process, by a digest of everything the fit reads (a
#: report fits each of several treated areas against the same donors: their placebos are the same
#: fits). ``fit_synth`` is deterministic, so a remembered gap is the one a new fit would give.
_PLACEBO_GAPS: OrderedDict[bytes, np.ndarray] = OrderedDict()
_PLACEBO_GAPS_SIZE = 4096
_PLACEBO_LOCK = threading.Lock()


def _fit_key(panel: SynthPanel, unit: int, donors: tuple[int, ...], v: str) -> bytes:
    """Digest of the arrays and options ``fit_synth`` reads for ``unit`` against ``donors``."""
    d = list(donors)
    digest = hashlib.blake2b(v.encode(), digest_size=24)
    for a in (panel.x[:, unit], panel.x[:, d], panel.y[:, unit], panel.y[:, d], panel.pre):
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.digest()


def _placebo_gaps(panel: SynthPanel, v: str, progress: bool) -> np.ndarray:
    """(J, T) gaps with each donor in turn treated and the other donors as its pool.

    The J fits are independent and deterministic: those not fitted before in this process (with
    the same data) run on all cores (:func:`map_draws`), with the same numbers as one after the
    other."""
    pools = [tuple(d for d in panel.donors if d != j) for j in panel.donors]
    keys = [_fit_key(panel, j, pool, v) for j, pool in zip(panel.donors, pools)]
    with _PLACEBO_LOCK:
        gaps = {key: _PLACEBO_GAPS[key] for key in keys if key in _PLACEBO_GAPS}
    todo = [k for k, key in enumerate(keys) if key not in gaps]

    def gap(m: int) -> np.ndarray:
        k = todo[m]
        return _fit_group(panel, (panel.donors[k],), pools[k], v)[0].gap

    fitted = map_draws(gap, len(todo), progress=progress, description="synth placebos")
    with _PLACEBO_LOCK:
        for k, g in zip(todo, fitted):
            gaps[keys[k]] = _PLACEBO_GAPS[keys[k]] = g
        for key in keys:
            _PLACEBO_GAPS.move_to_end(key)
        while len(_PLACEBO_GAPS) > _PLACEBO_GAPS_SIZE:
            _PLACEBO_GAPS.popitem(last=False)
    return np.array([gaps[key] for key in keys])


def _leave_one_out(panel: SynthPanel, fits: list, v: str, progress: bool) -> dict:
    """ATT after dropping each donor that has positive weight for some treated unit (on all cores)."""
    post = ~panel.pre
    positive = [d for k, d in enumerate(panel.donors) if any(f.weights[k] > WEIGHT_TOL for f in fits)]

    def att(k: int) -> float:
        pool = tuple(x for x in panel.donors if x != positive[k])
        return float(_avg_gap(_fit_group(panel, panel.treated, pool, v))[post].mean())

    values = map_draws(att, len(positive), progress=progress, description="synth leave-one-out")
    return {panel.units[d]: value for d, value in zip(positive, values)}


@checked
def synth(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str | None = None,
          treatment: str | None = None, treated=None, treatment_start: int | None = None, predictors=None, pre_periods=None, v: str = "optimize", alpha: float = 0.05,
          placebo: bool = True, loo: bool = True, progress: bool = False, seed: int | None = DEFAULT_SEED,
          max_placebo_sets: int = MAX_PLACEBO_SETS) -> Result:
    """Synthetic control estimate of the effect on the treated unit(s) (Abadie, Diamond & Hainmueller 2010).

    A weighted average of donor units (non-negative weights summing to 1) is chosen to match
    the treated unit's pre-treatment predictors; the post-period gap between the treated unit
    and this synthetic control is the effect. Several treated units (sharing one adoption
    period) are each fitted against the donor pool and their gaps averaged; inference for the
    average follows Cavallo, Galiani, Noy & Pantano (2013). With one treated unit the p-value
    is exactly ADH's rule: the rank of the treated post/pre RMSPE ratio among the treated unit
    and all J placebos, divided by J + 1.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced long panel, one row per unit and period (not modified).
    outcome : str
        Numeric outcome column.
    unit : str
        Unit id column (e.g. area).
    time : str
        Period column of whole numbers (e.g. years).
    cohort : str, optional
        Column with each unit's first treated period (0 or missing: never treated; the other
        estimators, :func:`sdid` included, take 0 only); the treated units are those with a
        cohort, and they must share one adoption period (use ``sdid(cohort=...)`` for
        staggered adoption). Give ``cohort`` or ``treatment``.
    treatment : str, optional
        Alternatively, a 0/1 column that switches on once, in the same period for every
        treated unit.
    treated : object or list, optional
        Deprecated (a :class:`FutureWarning`): the treated unit id(s), with
        ``treatment_start``. Use ``cohort`` or ``treatment``.
    treatment_start : int, optional
        Deprecated, with ``treated``: the first treated period.
    predictors : list of str or mapping, optional
        None, a list of columns (each averaged over all pre periods), or a mapping column ->
        periods averaged over (e.g. ``{"beer": range(1984, 1989)}``).
    pre_periods : list of int, optional
        Pre-treatment periods whose outcome level is a predictor. With neither this nor
        ``predictors``, every pre-period outcome is a predictor.
    v : {"optimize", "equal"}, default "optimize"
        Predictor weights V: "optimize" (diagonal V minimising the pre-period outcome MSPE,
        nested as in Synth) or "equal" (all predictors weigh the same after scaling by their
        standard deviation).
    alpha : float, default 0.05
        Level recorded on the result (synthetic control reports placebo p-values, no
        standard errors or intervals).
    placebo : bool, default True
        Run in-space placebos (every donor treated in turn) for p-values.
    loo : bool, default True
        Leave-one-out ATTs, dropping each donor with positive weight
        (``diagnostics["loo_att"]``): how much the estimate rests on one donor.
    progress : bool, default False
        Show a progress bar over the placebo and leave-one-out fits.
    seed : int, numpy.random.Generator or None, default 0
        Used only to draw placebo sets for several treated units when they number more than
        ``max_placebo_sets``; the fit itself is deterministic. The fixed default makes the
        p-values the same in every run and process; ``None`` draws fresh sets each call (the
        p-values then vary a little between runs), and the seed used is recorded in
        ``result.inference.seed``.
    max_placebo_sets : int, default 20000
        With several treated units, the most sets of placebo units compared with the treated
        average; more sets than this are sampled with ``seed``.

    Returns
    -------
    Result
        One row per post period ("gap t=<period>") and an "ATT" row (mean post-period gap).
        p-values are placebo p-values: on "ATT" the RMSPE-ratio test, on each gap row the
        share of placebo ``|gap|`` at least as large. There are no standard errors. A treated
        unit outside the donors' convex hull gives an :class:`EvalkitWarning`
        (``diagnostics["outside_hull"]``).

    Raises
    ------
    ParameterError
        An unknown keyword or ``v``; none or both of ``cohort``/``treatment``; bad
        ``predictors``/``pre_periods``; treated ids not in the data.
    ColumnError
        A named column is missing.
    ValidationError
        Non-whole periods, no treated unit, treated units starting in different periods,
        a non-absorbing treatment, fewer than two donors, or predictors that are missing or
        constant.

    References
    ----------
    Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods for
    comparative case studies. *JASA* 105(490), 493-505.
    Abadie, A. (2021). Using synthetic controls: feasibility, data requirements, and
    methodological aspects. *Journal of Economic Literature* 59(2), 391-425.
    Cavallo, E., Galiani, S., Noy, I. & Pantano, J. (2013). Catastrophic natural disasters
    and economic growth. *Review of Economics and Statistics* 95(5), 1549-1561.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(n_units=20, seed=1, cohorts={0: 0.95, 8: 0.05})
    >>> res = ek.synth(panel, outcome="y", unit="unit", time="time", cohort="cohort", loo=False)
    >>> fig = ek.synth_plot(res, kind="gap")
    """
    check_choice("v", v, ["optimize", "equal"])
    alpha = check_alpha(alpha)
    max_placebo_sets = checks.check_count("max_placebo_sets", max_placebo_sets)
    seed = checks.check_seed("seed", seed)
    placebo, loo, progress = (checks.check_bool(k, x) for k, x in
                              (("placebo", placebo), ("loo", loo), ("progress", progress)))
    treated, treatment_start = treatment_timing(data, unit=unit, time=time, cohort=cohort, treatment=treatment,
                                                treated=treated, treatment_start=treatment_start)
    panel = build_panel(data, outcome=outcome, unit=unit, time=time, treated=treated,
                        treatment_start=treatment_start, predictors=predictors, pre_periods=pre_periods)
    fits = _fit_group(panel, panel.treated, panel.donors, v)
    hull, outside = _warn_outside_hull(panel, fits)
    gap = _avg_gap(fits)
    p_att, p_t, n_sets, placebo_diag = np.nan, np.full((~panel.pre).sum(), np.nan), None, {}
    if placebo:
        pgaps = _placebo_gaps(panel, v, progress)
        sets = placebo_sets(len(panel.donors), len(panel.treated), max_placebo_sets, seed,
                            order=content_order(panel.y[:, list(panel.donors)].T))
        p_att, p_t, _ = placebo_pvalues(gap, pgaps, sets, panel.pre)
        n_sets = len(sets)
        placebo_diag = _placebo_diag(panel, pgaps)
    loo_att = _leave_one_out(panel, fits, v, progress) if loo else None
    table = _table(panel, gap, p_att, p_t, int(treatment_start))
    diagnostics = {**_diagnostics(panel, fits, gap), **placebo_diag, "hull_distance": hull,
                   "outside_hull": outside, "placebo_p_value": p_att,
                   "n_placebo_sets": n_sets, "loo_att": loo_att}
    method = "placebo in space (RMSPE ratio)" if placebo else "none"
    return Result(
        estimator="synth", estimand="ATT on the treated unit(s), treated minus synthetic control",
        table=table, vcov=None, alpha=alpha,
        inference=InferenceInfo(method=method, seed=checks.seed_label(seed), draws=n_sets),
        n_obs=panel.y.size, outcome=outcome, diagnostics=diagnostics,
        meta={"unit": unit, "time": time, "treated": [panel.units[i] for i in panel.treated],
              "treatment_start": int(treatment_start), "v": v, "predictors": list(panel.predictor_names)},
    )


def _donor_hull_distances(z0: np.ndarray) -> np.ndarray:
    """Each donor's distance from the hull of the other donors: how far out a unit lies by chance."""
    J = z0.shape[1]
    return np.array([hull_distance(z0[:, j], np.delete(z0, j, axis=1)) for j in range(J)]) if J > 2 else np.zeros(J)


def _warn_outside_hull(panel: SynthPanel, fits: list) -> tuple[dict, dict]:
    """Distance of each treated unit's pre-period path from the donors' convex hull, and a warning,
    with the pre-period RMSPE of its fit, for each unit that is materially outside: farther than
    HULL_TOLERANCE of the outcome's pre-period SD and farther than 90 % of the donors lie from
    the hull of the others (noise puts most paths slightly outside any hull; Abadie 2021, sec. 3.2)."""
    z0 = panel.y[panel.pre][:, list(panel.donors)]
    scale = float(np.std(panel.y[panel.pre], ddof=1)) if panel.pre.sum() * panel.y.shape[1] > 1 else 0.0
    usual = float(np.quantile(_donor_hull_distances(z0), 0.9))
    out, outside = {}, {}
    for i, fit in zip(panel.treated, fits):
        dist = hull_distance(panel.y[panel.pre, i], z0)
        out[str(panel.units[i])] = dist
        outside[str(panel.units[i])] = bool(scale > 0 and dist > HULL_TOLERANCE * scale and dist > usual)
        if outside[str(panel.units[i])]:
            rmspe = float(np.sqrt(np.mean(fit.gap[panel.pre] ** 2)))
            warnings.warn(
                f"Treated unit {checks.plain(panel.units[i])!r} lies outside the donors' convex hull: its pre-period outcome path "
                f"is {dist:.4g} (root mean square) from the nearest weighted average of donors (90 % of donors lie "
                f"within {usual:.4g} of the others), and the fitted synthetic control misses it by a pre-period "
                f"RMSPE of {rmspe:.4g}. No donor weighting can reproduce it; the post-period gap mixes the effect "
                "with this misfit. Consider synthetic DiD (evalkit.sdid), which allows a level difference.",
                EvalkitWarning, stacklevel=stack_level())
    return out, outside


def _table(panel: SynthPanel, gap: np.ndarray, p_att: float, p_t: np.ndarray, start: int) -> pd.DataFrame:
    post = ~panel.pre
    n_t, n_c = len(panel.treated), len(panel.donors)
    rows = [{"term": f"gap t={t}", "estimate": g, "p_value": p, "time": int(t), "event_time": int(t) - start,
             "n_treated": n_t, "n_control": n_c}
            for t, g, p in zip(panel.times[post], gap[post], p_t)]
    rows.append({"term": "ATT", "estimate": float(gap[post].mean()), "p_value": p_att,
                 "n_treated": n_t, "n_control": n_c})
    return pd.DataFrame(rows)


def _diagnostics(panel: SynthPanel, fits: list, gap: np.ndarray) -> dict:
    names = [str(panel.units[d]) for d in panel.donors]
    weights = np.mean([f.weights for f in fits], axis=0)
    by_treated = {str(panel.units[i]): dict(zip(names, f.weights.tolist())) for i, f in zip(panel.treated, fits)}
    v_by = {str(panel.units[i]): dict(zip(panel.predictor_names, f.v.tolist())) for i, f in zip(panel.treated, fits)}
    pre, post = panel.pre, ~panel.pre
    x1 = panel.x[:, list(panel.treated)].mean(axis=1)
    xs = np.mean([panel.x[:, list(panel.donors)] @ f.weights for f in fits], axis=0)
    balance = {n: {"treated": a, "synthetic": b, "donor_mean": c} for n, a, b, c in
               zip(panel.predictor_names, x1, xs, panel.x[:, list(panel.donors)].mean(axis=1))}
    treated_path = panel.y[:, list(panel.treated)].mean(axis=1)
    return {
        "weights": dict(zip(names, weights.tolist())),
        "weights_by_treated": by_treated,
        "V": next(iter(v_by.values())) if len(fits) == 1 else None,
        "V_by_treated": v_by,
        "pre_rmspe": float(np.sqrt(np.mean(gap[pre] ** 2))),
        "post_rmspe": float(np.sqrt(np.mean(gap[post] ** 2))),
        "rmspe_ratio": float(rmspe_ratio(gap, pre)[0]),
        "predictor_balance": balance,
        "paths": {"time": panel.times.tolist(), "treated": treated_path.tolist(),
                  "synthetic": (treated_path - gap).tolist(), "gap": gap.tolist()},
        "n_donors": len(panel.donors),
    }


def _placebo_diag(panel: SynthPanel, pgaps: np.ndarray) -> dict:
    names = [str(panel.units[d]) for d in panel.donors]
    ratios = rmspe_ratio(pgaps, panel.pre)
    pre_r = np.sqrt(np.mean(pgaps[:, panel.pre] ** 2, axis=1))
    return {"placebo_gaps": {"units": names, "gaps": pgaps.tolist()},
            "placebo_ratios": dict(zip(names, ratios.tolist())),
            "placebo_pre_rmspe": dict(zip(names, pre_r.tolist()))}


@checked
def synth_plot(result: Result, *, kind: str = "paths", lang: str = "en", ax=None):
    """Plot a :func:`synth` result: paths, gap, or placebo gaps.

    Parameters
    ----------
    result : Result
        A result of :func:`synth`.
    kind : {"paths", "gap", "placebo"}, default "paths"
        "paths": treated vs synthetic control over time; "gap": their difference;
        "placebo": the treated gap over the placebo gaps of every donor (needs
        ``placebo=True`` in :func:`synth`).
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
        A result not of :func:`synth`, an unknown ``kind``/``lang``, ``kind="placebo"``
        without placebos, or an ``ax`` that is not a matplotlib Axes.

    References
    ----------
    Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods for
    comparative case studies. *JASA* 105(490), 493-505.
    """
    from evalkit.estimators._synth_plot import plot

    return plot(result, kind=kind, lang=lang, ax=ax)


def _result_plot(result, *, lang, ax, truth, title):
    """:meth:`Result.plot` of a synth result: the paths (pre-period fit included), or the gap with ``truth``."""
    from evalkit.estimators._synth_plot import plot

    if "paths" not in result.diagnostics:  # e.g. rebuilt from JSON: the table's plot instead
        return None
    return plot(result, kind="paths" if truth is None else "gap", lang=lang, ax=ax, truth=truth, title=title)


register_plotter("synth", _result_plot)
