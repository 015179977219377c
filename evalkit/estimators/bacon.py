"""Goodman-Bacon (2021) decomposition of the two-way fixed effects estimate.

Goodman-Bacon, "Difference-in-differences with variation in treatment
timing", J. Econometrics 225(2), Theorem 1: in a balanced panel with an
absorbing binary treatment and no covariates, the TWFE coefficient is a
weighted average of all 2x2 DiD comparisons between timing groups:

* "Treated vs never treated": group k against the never-treated, all periods;
* "Earlier vs later treated": k (earlier) against l (later, not yet treated),
  periods before l is treated;
* "Later vs earlier treated": l against k (already treated), periods from k's
  start on - the "forbidden" comparisons;
* "Treated vs always treated": like the previous, against units treated in every period.

Weights follow eqs. (10a)-(10c) (sample shares n, treated-period shares D and
the variance of the double-demeaned treatment); they sum to 1 and
sum(weight * estimate) equals the TWFE coefficient up to rounding
(tests/test_bacon.py checks 1e-8 against :func:`evalkit.estimators.twfe`).

Weighted (``weights=``, one weight per unit): with weights constant over time the weighted
two-way projection of a balanced panel is the unweighted one of the panel in which unit i
counts w_i times, so Theorem 1 holds with the weighted empirical distribution of units:
group shares n_k = sum_{i in k} w_i / sum_i w_i, weighted group means and the weighted
variance of the double-demeaned treatment. sum(weight * estimate) then equals the weighted TWFE
coefficient (``tests/test_weights.py``). Weights that vary within a unit have no such
decomposition and are refused.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evalkit.errors import ParameterError, ValidationError, check_choice
from evalkit.core import checks as v, weighting
from evalkit.results import InferenceInfo, Result
from evalkit.results.figure import new_figure
from evalkit.core.aliases import checked

ESTIMAND = "TWFE coefficient decomposed into 2x2 DiD comparisons (Goodman-Bacon 2021)"
TYPES = ("Treated vs never treated", "Earlier vs later treated", "Later vs earlier treated",
         "Treated vs always treated")


@checked
def bacon(data: pd.DataFrame, *, outcome: str, unit: str, time: str, treatment: str, weights: str | None = None,
          weights_type: str = "analytic") -> Result:
    """Goodman-Bacon (2021) decomposition of the TWFE coefficient into all 2x2 comparisons.

    Each row is one 2x2 DiD between two timing groups ("2004 vs never", "2004 vs 2006", ...)
    with its estimate; the row "TWFE" holds their weighted sum, equal to the coefficient of
    :func:`twfe`. Comparisons that use already-treated units as controls ("later vs earlier")
    are the ones that can give the TWFE estimate negative weights on some effects. No
    standard errors (a decomposition, not an estimator).

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced panel (every unit in every period, no missing outcome). Not modified.
    outcome : str
        Numeric outcome column.
    unit : str
        Panel unit column; (unit, time) must be unique.
    time : str
        Period column.
    treatment : str
        0/1 treatment column that never switches off (absorbing).
    weights : str, optional
        Column of non-negative unit weights w_i (e.g. residents in the base year), constant
        within each unit (weights that vary over time have no decomposition: an error). The
        decomposition is then that of the weighted TWFE coefficient (:func:`twfe` with the
        same weights): group shares n_k = sum_{i in k} w_i / sum_i w_i, weighted group means
        and the weighted variance of the double-demeaned treatment in Goodman-Bacon's eqs.
        (10a)-(10c). Units of weight 0 are dropped with an
        :class:`~evalkit.errors.EvalkitWarning`. Recorded in
        ``meta["weights"]``/``meta["weights_type"]``. Default None: unweighted.
    weights_type : {"analytic", "frequency"}, default "analytic"
        "analytic" (aweights) or "frequency" (fweights: unit i stands for w_i identical
        units; whole numbers only). The decomposition has no standard errors, so both give
        the same numbers.

    Returns
    -------
    Result
        Rows "<g> vs <g'>" and "TWFE"; the weight and type of each comparison are in
        ``diagnostics["weights"]`` / ``["types"]`` (keyed by term), and
        :func:`evalkit.estimators.bacon.bacon_table` joins them to the tidy table.

    Raises
    ------
    ParameterError
        An unknown keyword or ``weights_type``.
    ColumnError
        A named column is missing or not numeric.
    ValidationError
        An unbalanced panel, missing outcomes, duplicate (unit, time) rows, a treatment that
        is not 0/1 or switches off, weights varying within a unit, or a single treatment timing.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics* 225(2), 254-277.

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> dec = ek.bacon(staggered_panel(seed=1), outcome="y", unit="unit", time="time", treatment="treat")
    >>> fig = ek.bacon_plot(dec)
    """
    weights_type = weighting.check_weights_type(weights_type)
    df = v.select(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment,
                         "weights": weights})
    v.check_numeric(df, outcome, "outcome")
    v.check_no_missing(df, {"outcome": outcome})
    for param, col in (("unit", unit), ("time", time)):
        v.check_label_column(df, col, param)
    v.check_binary(df, treatment, "treatment")
    v.check_varies(df, outcome, "outcome")
    v.check_levels(df, time, "time", 2, "periods")
    v.check_both_values(df, treatment, "treatment")
    v.check_unique_keys(df, unit, time)
    weighting.check_column(df, weights, weights_type, unit=unit)
    df, n_zero = weighting.drop_zero(df, weights)
    wide_y, wide_d = _balanced(df, outcome, unit, time, treatment)
    times = wide_y.columns.to_numpy()
    start = _start_index(wide_d.to_numpy(int), wide_d.index, treatment)
    y = wide_y.to_numpy(float)
    n_units, n_t = y.shape
    omega = _unit_weights(df, unit, weights, wide_y.index)
    groups = np.unique(start)  # index of first treated period; n_t = never, 0 = always
    if len(groups) < 2:
        raise ValidationError("All units share one treatment timing; there is no 2x2 comparison to decompose.")
    share = {gk: float(omega[start == gk].sum()) for gk in groups}
    dbar = {gk: (n_t - gk) / n_t for gk in groups}
    means = {gk: np.average(y[start == gk], axis=0, weights=omega[start == gk]) for gk in groups}
    vd = _treatment_variance(wide_d.to_numpy(float), None if weights is None else omega)
    rows = []
    for a, k in enumerate(groups):
        for l in groups[a + 1:]:  # k treated earlier than l
            nk, nl = share[k], share[l]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[l]
            if k > 0 and dk > dl:  # k vs l, window before l's start
                s = ((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * (dk - dl) / (1 - dl) * (1 - dk) / (1 - dl) / vd
                est = _did(means[k], means[l], pre=slice(0, k), post=slice(k, l))
                rows.append(_row(times, k, l, n_t, s, est, start))
            if l < n_t and dk > dl:  # l vs k, window from k's start
                s = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * dl / dk * (dk - dl) / dk / vd
                est = _did(means[l], means[k], pre=slice(k, l), post=slice(l, n_t))
                rows.append(_row(times, l, k, n_t, s, est, start))
    table = pd.DataFrame(rows)
    total = float((table["weight"] * table["estimate"]).sum())
    out = table[["term", "estimate", "group", "n_treated", "n_control"]].copy()
    out["std_error"] = np.nan
    out = pd.concat([out, pd.DataFrame({"term": ["TWFE"], "estimate": [total]})], ignore_index=True)
    diagnostics = {
        "weights": dict(zip(table["term"], table["weight"].astype(float))),
        "types": dict(zip(table["term"], table["type"])),
        "controls": dict(zip(table["term"], table["control"])),
        "weight_sum": float(table["weight"].sum()), "twfe": total,
        "by_type": {t: {"weight": float(g["weight"].sum()),
                        "estimate": float((g["weight"] * g["estimate"]).sum() / g["weight"].sum())}
                    for t, g in table.groupby("type", sort=False)},
        "n_units": n_units, "n_periods": n_t, **weighting.diagnostics(df, weights, n_zero),
    }
    return Result(estimator="bacon", estimand=ESTIMAND, table=out, vcov=None, alpha=0.05,
                  inference=InferenceInfo(method="none"), n_obs=len(df), outcome=outcome,
                  diagnostics=diagnostics, meta={"unit": unit, "time": time, "treatment": treatment,
                                                 **weighting.meta(weights, weights_type)})


def _balanced(df, outcome, unit, time, treatment):
    n_u, n_t = df[unit].nunique(), df[time].nunique()
    if len(df) != n_u * n_t:
        raise ValidationError(
            f"bacon needs a balanced panel: {n_u} units x {n_t} periods = {n_u * n_t} rows expected, found "
            f"{len(df)}. The decomposition (Goodman-Bacon 2021, Theorem 1) holds only for balanced panels."
        )
    wide_y = df.pivot(index=unit, columns=time, values=outcome).sort_index(axis=1)
    wide_d = df.pivot(index=unit, columns=time, values=treatment).sort_index(axis=1)
    return wide_y, wide_d


def _start_index(d: np.ndarray, units: pd.Index, treatment: str = "treatment") -> np.ndarray:
    """Index of each unit's first treated period (n_periods if never); error if treatment switches off."""
    off = (np.diff(d, axis=1) < 0).any(axis=1)
    if off.any():
        raise ValidationError(
            f"treatment={treatment!r} switches off (1 then 0) for {int(off.sum())} unit(s), e.g. "
            f"{v._plain(units[np.argmax(off)])!r}; "
            "the decomposition needs an absorbing treatment (once treated, always treated)."
        )
    return d.shape[1] - d.sum(axis=1)


def _period(t: object) -> str:
    """A period label: 2004, 2004.5, 't04', or the date of a datetime period."""
    if isinstance(t, np.datetime64):
        return str(np.datetime_as_string(t, unit="D"))
    return str(v._plain(t))


def _unit_weights(df: pd.DataFrame, unit: str, weights: str | None, units: pd.Index) -> np.ndarray:
    """Each unit's share of the total weight, in the order of ``units`` (1/n each without weights)."""
    if weights is None:
        return np.full(len(units), 1.0 / len(units))
    w = df.groupby(unit, sort=False)[weights].first().reindex(units).to_numpy(float)
    return w / w.sum()


def _treatment_variance(d: np.ndarray, omega: np.ndarray | None = None) -> float:
    """Variance of the double-demeaned treatment (units weighted by ``omega``, summing to 1)."""
    if omega is None:
        dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
        return float(np.mean(dd ** 2))
    col = omega @ d  # weighted cross-sectional means per period
    dd = d - d.mean(axis=1, keepdims=True) - col[None, :] + col.mean()
    return float(omega @ np.mean(dd ** 2, axis=1))


def _did(treat: np.ndarray, ctrl: np.ndarray, pre: slice, post: slice) -> float:
    return float((treat[post].mean() - treat[pre].mean()) - (ctrl[post].mean() - ctrl[pre].mean()))


def _row(times, treated_g, control_g, n_t, weight, est, start) -> dict:
    label = {n_t: "never", 0: "always"}
    ctrl = label[control_g] if control_g in label else _period(times[control_g])
    if control_g == n_t:
        kind = TYPES[0]
    elif control_g == 0:
        kind = TYPES[3]
    else:
        kind = TYPES[1] if treated_g < control_g else TYPES[2]
    group = times[treated_g]  # the first treated period; a text or date period has no integer group
    group = int(group) if isinstance(group, (int, float, np.number)) and float(group).is_integer() else None
    return {"term": f"{_period(times[treated_g])} vs {ctrl}", "estimate": est, "weight": float(weight), "type": kind,
            "group": group, "control": ctrl, "n_treated": int((start == treated_g).sum()),
            "n_control": int((start == control_g).sum())}


def bacon_table(result: Result) -> pd.DataFrame:
    """The 2x2 rows of a :func:`bacon` result with their ``weight`` and ``type`` (joined on term)."""
    if result.estimator != "bacon":
        raise ParameterError(f"bacon_table needs a result of bacon(), not of {result.estimator!r}.")
    tab = result.tidy()
    tab = tab[tab["term"].isin(list(result.diagnostics["weights"]))].copy()
    tab["weight"] = tab["term"].map(dict(result.diagnostics["weights"]))
    tab["type"] = tab["term"].map(dict(result.diagnostics["types"]))
    return tab[["term", "type", "group", "estimate", "weight", "n_treated", "n_control"]].reset_index(drop=True)


_LABELS = {
    "en": {"x": "Weight", "y": "2x2 DiD estimate", "twfe": "TWFE estimate = {v:.3g}",
           TYPES[0]: TYPES[0], TYPES[1]: TYPES[1], TYPES[2]: TYPES[2], TYPES[3]: TYPES[3]},
    "da": {"x": "Vægt", "y": "2x2 DiD-estimat", "twfe": "TWFE-estimat = {v:.3g}",
           TYPES[0]: "Behandlet mod aldrig behandlet", TYPES[1]: "Tidligt mod senere behandlet",
           TYPES[2]: "Senere mod tidligere behandlet", TYPES[3]: "Behandlet mod altid behandlet"},
}
_COLORS = dict(zip(TYPES, ("#0b5394", "#6aa84f", "#c0392b", "#8e44ad")))


@checked
def bacon_plot(result: Result, *, lang: str = "en", ax: Axes | None = None) -> Figure:
    """Scatter of each 2x2 estimate against its weight, coloured by comparison type.

    A dashed line marks the TWFE estimate (the weighted sum), as in Goodman-Bacon (2021),
    fig. 6.

    Parameters
    ----------
    result : Result
        A result of :func:`bacon`.
    lang : {"en", "da"}, default "en"
        Language of the axis labels and legend.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; None creates a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ParameterError
        A result not of :func:`bacon`, an unknown ``lang``, or an ``ax`` that is not a
        matplotlib Axes.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics* 225(2), 254-277.
    """
    check_choice("lang", lang, list(_LABELS))
    if ax is None:
        fig = new_figure(figsize=(7, 4.2), layout="constrained")
        ax = fig.add_subplot()
    elif not isinstance(ax, Axes):
        raise ParameterError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}.")
    labels = _LABELS[lang]
    tab = bacon_table(result)
    for kind in TYPES:
        part = tab[tab["type"] == kind]
        if len(part):
            ax.scatter(part["weight"], part["estimate"], color=_COLORS[kind], label=labels[kind], s=28)
    twfe = result.estimate("TWFE")
    ax.axhline(twfe, color="black", lw=0.9, ls="--", label=labels["twfe"].format(v=twfe))
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax.legend(frameon=False, fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    return ax.figure
