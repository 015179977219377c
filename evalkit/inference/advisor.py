"""A design-calibrated inference advisor for few treated areas.

With few treated clusters no small-sample method is right for every design (MacKinnon & Webb
2017, 2018; Cameron, Gelbach & Miller 2008; Imbens & Kolesar 2016): CR1 over-rejects, the
restricted wild bootstrap can almost never reject, CR2 and randomization inference drift when the
treated areas are unusually noisy. The design itself can say which method works (Ferman 2019, "A
simple way to assess inference methods"): drop the treated areas, treat the same number of
comparison areas from the same year (optionally matched on size), and count how often each method
rejects - its size here - and how often it detects an effect injected into those areas - its power.

Rule. A method holds size when the lower end of the two-sided ``level`` Clopper-Pearson interval
of its measured size (k rejections at ``alpha`` in P placebos) is at most ``alpha``
(:func:`._placebo_design.holds_size`): its size is not significantly above alpha. A method is used
at the p-value threshold ``alpha`` when its measured size is at most alpha, else at the lower
threshold that gives it placebo size alpha (:func:`._placebo_design.p_threshold`), and its power is
measured at that threshold (size-adjusted power): choosing the most powerful of several methods
whose size is measured with error must not reward over-rejection (in the simulation of
``tests/test_advisor_simulation.py`` the unadjusted choice over-rejected). Among the methods that
hold size choose the one with the highest power; power differences the placebos cannot resolve
(:func:`tie_margin`, about 2 binomial standard errors of a difference) do not decide, the order of
``methods`` does: by default the order of preference of :mod:`.advisor_methods` (randomization
inference, exact under random assignment, then CR2, the restricted wild bootstraps, WCU, CR3, CR1).
Without ``effect`` the first method in that order that holds size is chosen. If none holds size,
the ``corrected_by`` method's t is used with a size-corrected critical value, the 1 - alpha
quantile of its placebo |t| (:func:`._placebo_design.corrected_critical_value`), and the result
says so.

Speed: the panel is reduced once (:mod:`._placebo_kernels`); every placebo costs O(G) for CR1/2/3
and a few matrix products for the bootstraps and randomization inference
(:mod:`._placebo_resampling`). Placebos run in chunks through
:func:`evalkit.inference.randomization.map_draws` (forked workers on all cores); all random numbers
are drawn before, from ``seed``, so the table does not depend on the number of workers.
"""
from __future__ import annotations

import math
import numbers
import zlib
from itertools import combinations

import numpy as np
import pandas as pd

from evalkit.core import checks
from evalkit.core.aliases import checked
from evalkit.errors import ParameterError, ValidationError, check_choice
from evalkit.inference import _placebo_design as PD
from evalkit.inference import _placebo_kernels as K
from evalkit.inference._advisor_data import read_panel
from evalkit.inference.advice import InferenceAdvice
from evalkit.inference.advisor_methods import Batch, resolve
from evalkit.inference.randomization import map_draws

CORRECTED_LABEL = {"en": "{label}, size-corrected critical value", "da": "{label}, niveaukorrigeret kritisk værdi"}


@checked
def inference_advisor(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str,
                      size: str | None = None, weights: str | None = None, cluster: str | None = None,
                      alpha: float = 0.05, effect: float | None = None, placebos: int = 1000, draws: int = 399,
                      match_size: bool = False, pool: int | None = None, methods=None, level: float = 0.95,
                      corrected_by: str = "cr2", seed: int | None = None, progress: bool = False,
                      lang: str = "en") -> InferenceAdvice:
    """Measure each inference method's size and power in this design by placebo assignments; choose one.

    With few treated areas no small-sample method is right for every design (MacKinnon &
    Webb 2017, 2018; Cameron, Gelbach & Miller 2008; Imbens & Kolesar 2016). The design
    itself can say which method works (Ferman 2019): drop the treated areas, treat the same
    number of comparison areas from the same year (optionally matched on size), and count how
    often each method rejects - its size here - and how often it detects an effect injected
    into those areas - its power. A method holds size when the lower end of the ``level``
    Clopper-Pearson interval of its measured size is at most ``alpha``; among those, the most
    powerful (size-adjusted) is chosen, ties broken by the order of ``methods``. If none holds
    size, the ``corrected_by`` method's t is used with a size-corrected critical value.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced area-year panel (one row per area and year); not modified.
    outcome : str
        Numeric outcome column (e.g. an employment rate).
    unit : str
        Area column.
    time : str
        Year column.
    treatment : str
        0/1 column with one common start year for all treated areas (absorbing).
    size : str, optional
        Area size column (residents), needed for ``match_size``; averaged over the years per
        area.
    weights : str, optional
        Analytic weights, constant within each area (e.g. residents): the TWFE fit is WLS.
        None: unweighted.
    cluster : str, optional
        None or a column identifying the areas (clusters = areas = assignment level).
    alpha : float, default 0.05
        Nominal level of the tests.
    effect : float, optional
        Effect injected into the placebo areas to measure power, in outcome units (e.g. 0.015
        for +1.5 percentage points of a rate); non-zero. None: no power; the first method in
        the order of preference that holds size is chosen.
    placebos : int, default 1000
        Placebo assignments (20 to 1,000,000); all distinct ones are used when there are
        fewer (without size matching).
    draws : int, default 399
        Bootstrap draws and re-assignments per test (19 to 1,000,000); choose alpha (draws + 1)
        whole, e.g. 399 or 999 at alpha 0.05.
    match_size : bool, default False
        Draw placebo areas near the treated areas' sizes (needs ``size``).
    pool : int, optional
        With ``match_size``: the number of comparison areas nearest in size to each treated
        area from which its placebo is drawn (between the number of treated and of
        comparison areas). None: max(2k, ceil(G_c / 2)), at most G_c, for k treated and
        G_c comparison areas.
    methods : sequence of str, optional
        Advisor method names, in order of preference: "randomization", "cr2", "wcr_webb",
        "wcr_rademacher", "wcu", "cr3", "cr1". None: all, in that order.
    level : float, default 0.95
        Level of the two-sided Clopper-Pearson interval of the measured size in the rule; in
        [0.5, 1).
    corrected_by : str, default "cr2"
        The method (one of ``methods``) whose t is used with a size-corrected critical value
        when no method holds size.
    seed : int, optional
        Seed of all random numbers (the table does not depend on the number of workers).
        None: one is drawn and recorded on the result.
    progress : bool, default False
        Show a progress bar over the placebos.
    lang : {"en", "da"}, default "en"
        Language of the advice's sentence and table.

    Returns
    -------
    InferenceAdvice
        The size/power table per method, the chosen method and a sentence for the report;
        :meth:`InferenceAdvice.attach` stores it on the TWFE result it is about.

    Raises
    ------
    ParameterError
        An unknown keyword, method or ``lang``; a zero or non-finite ``effect``; ``placebos``,
        ``draws``, ``level`` or ``pool`` out of range; ``draws`` too few for ``alpha``;
        ``match_size`` without ``size``; a ``seed`` that is not a non-negative integer.
    ValidationError
        An unbalanced panel, treated areas starting in different years, fewer than twice as
        many comparison areas as treated ones, or too few distinct placebo assignments.

    References
    ----------
    Ferman, B. (2019). A simple way to assess inference methods. arXiv:1912.08772.
    MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics* 32(2), 233-254.
    MacKinnon, J. G. & Webb, M. D. (2018). The wild bootstrap for few (treated) clusters.
    *Econometrics Journal* 21(2), 114-135.
    Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
    regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
    Imbens, G. W. & Kolesar, M. (2016). Robust standard errors in small samples: some
    practical advice. *Review of Economics and Statistics* 98(4), 701-712.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> panel = staggered_panel(n_units=30, seed=1, cohorts={0: 0.9, 7: 0.1})
    >>> advice = ek.inference_advisor(panel, outcome="y", unit="unit", time="time", treatment="treat",
    ...                               effect=1.0, placebos=100, draws=99, seed=1)
    >>> print(advice.sentence())  # doctest: +SKIP
    """
    opts = _check_options(alpha, effect, placebos, draws, match_size, size, pool, level, seed, progress, lang)
    chosen_methods = resolve(methods)
    check_choice("corrected_by", corrected_by, [m.name for m in chosen_methods])
    panel = read_panel(data, outcome=outcome, unit=unit, time=time, treatment=treatment, cluster=cluster,
                       size=size, weights=weights)
    full = K.collapse(panel.y, panel.post, panel.weights, panel.sizes)
    comp = full.subset(~panel.treated)
    k = int(panel.treated.sum())
    assignments, enumerated = _placebos(comp, full.sizes, panel.treated, k, opts)
    raw = _run_placebos(comp, assignments, chosen_methods, k, opts)
    observed = _observed(full, panel.treated, chosen_methods, k, opts)
    table, chosen, crit = _decide(raw, observed, chosen_methods, assignments.shape[0], corrected_by, opts)
    return InferenceAdvice(table=table, chosen=chosen, size_corrected=chosen.endswith("_corrected"),
                           critical_value=crit, alpha=opts["alpha"], level=opts["level"], effect=opts["effect"],
                           n_placebos=int(assignments.shape[0]), enumerated=enumerated, draws=opts["draws"],
                           seed=opts["seed"], match_size=opts["match_size"], weighted=weights is not None,
                           n_treated=k, n_comparison=comp.n_clusters, first_year=_plain(panel.first_year),
                           lang=opts["lang"], labels=_labels(chosen_methods, corrected_by), outcome=outcome)


# ------------------------------------------------------------------ checks
def _check_options(alpha, effect, placebos, draws, match_size, size, pool, level, seed, progress, lang) -> dict:
    alpha = checks.check_alpha(alpha)
    if effect is not None and (isinstance(effect, bool) or not isinstance(effect, numbers.Real)
                               or not math.isfinite(effect) or effect == 0):
        raise ParameterError(f"effect={effect!r} must be None or a non-zero finite number in outcome units "
                             "(e.g. 0.015 for +1.5 percentage points of a rate).")
    placebos = checks.check_count("placebos", placebos, minimum=20, maximum=1_000_000)
    draws = checks.check_count("draws", draws, minimum=19, maximum=1_000_000)
    if alpha * (draws + 1) < 1 - 1e-9:
        raise ParameterError(f"draws={draws} is too few for alpha={alpha:g}: a resampling p-value is at least "
                             f"1/(draws + 1) = {1 / (draws + 1):.3g} > alpha, so randomization inference and the "
                             f"bootstraps could never reject; use draws >= {math.ceil(1 / alpha) - 1} (with "
                             "alpha (draws + 1) whole, e.g. 399 or 999 at alpha 0.05).")
    if checks.check_bool("match_size", match_size) and size is None:
        raise ParameterError("match_size=True needs size=<the column of area sizes (residents)>.")
    if pool is not None:
        pool = checks.check_int("pool", pool, minimum=1)
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0.5 <= level < 1:
        raise ParameterError(f"level={level!r} must be a number in [0.5, 1), e.g. 0.95 or 0.99.")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))  # drawn once and recorded on the result
    elif isinstance(seed, np.random.Generator) or checks.check_seed("seed", seed) is None:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer or None (a Generator's state cannot "
                             "be recorded on the result).")
    check_choice("lang", lang, ["da", "en"])
    return {"alpha": alpha, "effect": None if effect is None else float(effect), "placebos": placebos,
            "draws": draws, "match_size": bool(match_size), "pool": pool, "level": float(level), "seed": int(seed),
            "progress": checks.check_bool("progress", progress), "lang": lang}


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([seed, *tags])


def _tag(name: str) -> int:
    return zlib.crc32(name.encode())


# ---------------------------------------------------------------- placebos
def _placebos(comp: K.Collapsed, sizes, treated, k: int, opts) -> tuple[np.ndarray, bool]:
    G = comp.n_clusters
    if G < 2 * k or G - k < 2:
        raise ValidationError(f"The advisor needs at least 2 x {k} = {2 * k} comparison (never-treated) areas and "
                              f"2 left untreated in each placebo, for {k} treated areas; the data have {G}.")
    n_sets = math.comb(G, k)
    if n_sets < math.ceil(1 / opts["alpha"]):
        raise ValidationError(f"Only {n_sets} distinct placebo assignments of {k} of {G} comparison areas: too few "
                              f"to measure a size at alpha={opts['alpha']:g}.")
    rng = _rng(opts["seed"], 0)
    if opts["match_size"]:
        pool = opts["pool"] or PD.default_pool(G, k)
        if not k <= pool <= G:
            raise ParameterError(f"pool={pool} must lie between the number of treated areas ({k}) and the number of "
                                 f"comparison areas ({G}).")
        pools = PD.matched_pools(comp.sizes, sizes[treated], pool)
        return _distinct(PD.matched_placebos(pools, G, opts["placebos"], rng), opts, f"pool={pool}"), False
    if n_sets <= opts["placebos"]:
        out = np.zeros((n_sets, G))
        for i, idx in enumerate(combinations(range(G), k)):
            out[i, list(idx)] = 1.0
        return out, True
    return _distinct(PD.uniform_placebos(G, k, opts["placebos"], rng), opts, ""), False


def _distinct(assignments: np.ndarray, opts, how: str) -> np.ndarray:
    """The distinct placebo assignments, in the order drawn: a set drawn twice is one experiment, not
    two (size matching with small pools has few distinct sets; counting repeats would overstate the
    precision of the measured size)."""
    _, first = np.unique(assignments, axis=0, return_index=True)
    out = assignments[np.sort(first)]
    if out.shape[0] < math.ceil(1 / opts["alpha"]):
        raise ValidationError(f"Only {out.shape[0]} distinct placebo assignments {how and f'with {how} '}were drawn "
                              f"in {opts['placebos']} tries: too few to measure a size at alpha={opts['alpha']:g}. "
                              "Widen the size-matching pool (pool=) or drop match_size.")
    return out


def _prepare(methods, design: K.Collapsed, k: int, opts, world: int) -> dict:
    return {m.name: (None if m.prepare is None else m.prepare(design, k, opts["draws"],
                                                             _rng(opts["seed"], world, _tag(m.name))))
            for m in methods}


def _run_placebos(comp: K.Collapsed, assignments: np.ndarray, methods, k: int, opts) -> dict:
    """Per method: (t, p) without effect and (t, p) with the effect injected, over all placebos."""
    prepared = _prepare(methods, comp, k, opts, 1)
    n = assignments.shape[0]
    step = max(8, math.ceil(n / 32))
    bounds = [(s, min(s + step, n)) for s in range(0, n, step)]
    effect = opts["effect"]

    def chunk(i: int) -> dict:
        S = assignments[bounds[i][0]:bounds[i][1]]
        null = Batch.build(comp, S, seed=(opts["seed"], 1, i, 0))
        alt = None if effect is None else Batch.build(comp, S, K.inject(comp, S, effect), seed=(opts["seed"], 1, i, 1))
        out = {}
        for m in methods:
            t0, p0 = m.test(null, prepared[m.name])
            t1, p1 = (np.full(len(S), np.nan),) * 2 if alt is None else m.test(alt, prepared[m.name])
            out[m.name] = (t0, p0, t1, p1)
        return out

    parts = map_draws(chunk, len(bounds), progress=opts["progress"], description="inference advisor placebos")
    return {m.name: tuple(np.concatenate([p[m.name][j] for p in parts]) for j in range(4)) for m in methods}


def _observed(full: K.Collapsed, treated: np.ndarray, methods, k: int, opts) -> dict:
    """Per method: (t, p) on the data at hand (all areas, the true assignment)."""
    prepared = _prepare(methods, full, k, opts, 2)
    batch = Batch.build(full, treated[None, :].astype(float), seed=(opts["seed"], 2, 0, 0))
    out = {}
    for m in methods:
        t, p = m.test(batch, prepared[m.name])
        out[m.name] = (float(t[0]), float(p[0]))
    return out


# ------------------------------------------------------------------ choice
def _rows(raw, observed, methods, n, opts) -> pd.DataFrame:
    alpha, lang, effect = opts["alpha"], opts["lang"], opts["effect"]
    rows = []
    for m in methods:
        t0, p0, t1, p1 = raw[m.name]
        t_obs, p_obs = observed[m.name]
        note = _undefined(p0, p1 if effect is not None else None, p_obs)
        rej = int(np.sum(p0 <= alpha * (1 + 1e-12)))
        lo, hi = PD.clopper_pearson(rej, n, opts["level"])
        cut = PD.p_threshold(p0, alpha)
        level = cut * (1 + 1e-12) if cut == alpha else cut
        power = float(np.mean(p1 <= level)) if effect is not None else np.nan
        if not note and not (np.isfinite(cut) and ((p0 <= level).any() or power > 0)):
            note = "never_rejects"
        row = {"method": m.name, "label": m.labels[lang], "size": rej / n, "size_low": float(lo),
               "size_high": float(hi), "threshold": cut, "power": power,
               "holds_size": not note and bool(PD.holds_size(rej, n, alpha, opts["level"])), "chosen": False,
               "statistic": t_obs, "p_value": p_obs, "reject": bool(p_obs <= level), "note": note}
        if note == "undefined":
            row.update(size=np.nan, size_low=np.nan, size_high=np.nan, threshold=np.nan, power=np.nan, reject=False)
        rows.append(row)
    return pd.DataFrame(rows)


def _undefined(p0, p1, p_obs) -> str:
    """"undefined" when a method's p-value is missing on the data or in a placebo (e.g. CR3 with one
    treated area: its leave-one-out fit has no treated area); a missing p-value is not a non-rejection."""
    finite = np.isfinite(p0).all() and np.isfinite(p_obs) and (p1 is None or np.isfinite(p1).all())
    return "" if finite else "undefined"


def _decide(raw, observed, methods, n, corrected_by, opts):
    table = _rows(raw, observed, methods, n, opts)
    ok = table[table["holds_size"]]
    if len(ok):
        chosen = str(ok["method"].iloc[0])  # without an effect: the first in the order of preference
        if opts["effect"] is not None:
            chosen = str(ok["method"][ok["power"] >= ok["power"].max() - tie_margin(ok["power"].max(), n)].iloc[0])
        table.loc[table["method"] == chosen, "chosen"] = True
        return table, chosen, float("nan")
    return _corrected(table, raw, observed, methods, n, corrected_by, opts)


def tie_margin(power: float, n: int) -> float:
    """Power differences the placebos cannot resolve: 1.96 sqrt(2 p (1 - p) / n), about the 95%
    bound of the difference of two power estimates from n placebos each."""
    return 1.96 * math.sqrt(2 * power * (1 - power) / n)


def _corrected(table, raw, observed, methods, n, base, opts):
    """No method holds size: ``base``'s t with the placebo |t| quantile as critical value."""
    alpha, lang = opts["alpha"], opts["lang"]
    t0, _, t1, _ = raw[base]
    crit = PD.corrected_critical_value(np.abs(t0), alpha)
    t_obs = observed[base][0]
    label = CORRECTED_LABEL[lang].format(label=table.loc[table["method"] == base, "label"].iloc[0])
    rej = int(np.sum(np.abs(t0) > crit))
    lo, hi = PD.clopper_pearson(rej, n, opts["level"])
    row = {"method": f"{base}_corrected", "label": label, "size": rej / n, "size_low": float(lo),
           "size_high": float(hi), "threshold": np.nan,
           "power": float(np.mean(np.abs(t1) > crit)) if opts["effect"] is not None else np.nan,
           "holds_size": True, "chosen": True, "statistic": t_obs,
           "p_value": float((1 + np.sum(np.abs(t0) >= abs(t_obs))) / (1 + n)), "reject": bool(abs(t_obs) > crit),
           "note": ""}
    return pd.concat([table, pd.DataFrame([row])], ignore_index=True), row["method"], crit


def _labels(methods, base: str) -> dict:
    """Every row's label in both languages (the corrected row's too)."""
    out = {m.name: dict(m.labels) for m in methods}
    out[f"{base}_corrected"] = {lang: CORRECTED_LABEL[lang].format(label=out[base][lang]) for lang in ("da", "en")}
    return out


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


__all__ = ["inference_advisor"]
