"""Plots of a result's tidy table (matplotlib object-oriented API only).

The functions read only the tidy table, join on keys (``event_time``,
``term``) and never change global matplotlib state. Without ``ax`` they build
a new :class:`matplotlib.figure.Figure` that is not registered with pyplot,
so nothing needs closing; it displays in a notebook as a cell's last line
(:mod:`evalkit.results.figure`).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from evalkit.errors import EvalkitWarning, ParameterError, check_choice, stack_level
from evalkit.i18n import label as outcome_label
from evalkit.results.figure import new_figure

LABELS = {
    "en": {"event_x": "Periods relative to first treated period", "effect_y": "Estimated effect on {outcome}",
           "pre": "Before treatment", "post": "After treatment", "ref": "Reference period (normalised to 0)",
           "truth": "simulated truth", "ci": "{level:g}% confidence interval", "term": "Term",
           "band": "uniform (sup-t) band", "pp": "{label}, percentage points"},
    "da": {"event_x": "Perioder i forhold til første behandlede periode",
           "effect_y": "Estimeret effekt på {outcome}", "pre": "Før indsatsen", "post": "Efter indsatsen",
           "ref": "Referenceperiode (sat til 0)", "truth": "simuleret sand effekt",
           "ci": "{level:g} %-konfidensinterval", "term": "Parameter", "band": "simultant (sup-t) bånd",
           "pp": "{label}, procentpoint"},
}
COLORS = {"pre": "#6c757d", "post": "#0b5394", "ref": "#000000", "truth": "#c0392b"}


def plot_result(table: pd.DataFrame, *, ax: Axes | None = None, lang: str = "en", truth=None,
                title: str | None = None, alpha: float = 0.05, outcome: str = "outcome", pp: bool = False) -> Figure:
    """Event-study plot if the table has event times, else a coefficient plot; with ``pp`` a share's
    effects (and truth) in percentage points (x 100), as report text states them."""
    check_choice("lang", lang, list(LABELS))
    fig, ax = _figure(ax)
    shown = _outcome_text(outcome, lang)
    labels = {k: v.format(outcome=shown, level=100 * (1 - alpha), label="{label}") for k, v in LABELS[lang].items()}
    if pp:
        check_share(table, outcome)
        labels["effect_y"] = labels["pp"].format(label=labels["effect_y"])
        table, truth = in_percentage_points(table, truth)
    if table["event_time"].notna().any():
        event_study_plot(ax, table, labels, truth)
    else:
        if truth is not None:
            raise ParameterError("truth= is only supported for event-study results (event_time -> effect).")
        coefficient_plot(ax, table, labels, lang=lang)
    if title:
        ax.set_title(title)
    fit_labels(ax)
    if lang == "da":
        decimal_comma(ax)
    return fig


_SCALED = ("estimate", "conf_low", "conf_high", "band_low", "band_high")


def check_share(table: pd.DataFrame, outcome: str) -> None:
    """Refuse percentage points for an outcome evalkit knows is not a share (``income_rel_region``, a
    ratio), and warn when an estimate lies beyond +-1, which no effect on a share (0 to 1) can."""
    from evalkit.data.outcomes import OUTCOMES, is_share

    if outcome in OUTCOMES and not is_share(outcome):
        raise ParameterError(f"pp=True shows a share's effects in percentage points; {outcome!r} is not a share "
                             "(0 to 1). Use pp=False.")
    if (table["estimate"].abs() > 1).any():
        warnings.warn(f"pp=True: an estimate beyond +-1 cannot be an effect on a share (0 to 1); is {outcome!r} "
                      "a share? The figure shows the estimates x 100.", EvalkitWarning, stacklevel=stack_level())


def in_percentage_points(table: pd.DataFrame, truth=None):
    """The effect columns of ``table`` and the ``truth`` values x 100 (a share's effect in
    percentage points); new objects, the inputs are not changed."""
    cols = [c for c in _SCALED if c in table.columns]
    scaled = table.assign(**{c: 100 * table[c].astype(float) for c in cols})
    return scaled, (None if truth is None else 100 * _truth_series(truth))


def fit_labels(ax: Axes) -> Axes:
    """Let the axis labels and title of ``ax`` wrap onto more lines when drawn, so a long label
    ("Estimeret effekt på beskæftigelsesandel (18-64 år, fuldtidspersoner)" along a 4.2-inch
    y-axis) is shown whole in a saved figure instead of cut at the figure's edges. The label text
    (``ax.get_ylabel()``) is unchanged; matplotlib breaks it at spaces at draw time.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes whose labels may be long.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
        text.set_wrap(True)
    return ax


class _CommaFormatter(ScalarFormatter):
    """matplotlib's default tick labels with the Danish decimal comma ("0,01"; years stay "2024")."""

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).replace(".", ",")


def decimal_comma(ax: Axes) -> Axes:
    """Write the tick labels of both axes of ``ax`` with the Danish decimal comma ("0,01", "-0,005").

    The ticks keep matplotlib's default choice and format; only the decimal mark changes, so whole
    numbers such as years or event times are unchanged.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes of a figure in a Danish report.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, its major tick formatters replaced.
    """
    for axis in (ax.xaxis, ax.yaxis):
        if type(axis.get_major_formatter()) is ScalarFormatter:  # leave dates, categories, custom formats
            axis.set_major_formatter(_CommaFormatter())
    return ax


def _outcome_text(outcome: str, lang: str) -> str:
    """The outcome's label in ``lang`` from evalkit's label map (:mod:`evalkit.i18n`), lower-cased
    after "effect on"; a column the map does not know is shown by its name."""
    shown = outcome_label(outcome, lang)
    return shown if shown == outcome else shown[:1].lower() + shown[1:]


def _figure(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is None:
        fig = new_figure(figsize=(7, 4.2), layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise ParameterError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}.")
    return ax.figure, ax


def event_study_plot(ax: Axes, table: pd.DataFrame, labels: Mapping[str, str], truth=None) -> None:
    """Estimates with interval bars by event time; pre, post and reference styled apart."""
    tab = table[table["event_time"].notna()].sort_values("event_time")
    e = tab["event_time"].astype(int)
    ref = tab["reference"].to_numpy(bool)
    pre, post = (e < 0).to_numpy() & ~ref, (e >= 0).to_numpy() & ~ref
    for mask, key, marker in ((pre, "pre", "o"), (post, "post", "s")):
        part = tab[mask]
        if part.empty:  # e.g. no pre-period rows: no legend entry for what is not drawn
            continue
        banded = part[part["band_low"].notna() & part["band_high"].notna()]
        if len(banded):  # simultaneous band drawn wide and light behind the pointwise interval
            ax.vlines(banded["event_time"].astype(int), banded["band_low"], banded["band_high"], color=COLORS[key],
                      lw=7, alpha=0.2, label=f"{labels[key]}: {labels['band']}")
        err = np.vstack([part["estimate"] - part["conf_low"], part["conf_high"] - part["estimate"]])
        ax.errorbar(part["event_time"].astype(int), part["estimate"], yerr=err, fmt=marker, color=COLORS[key],
                    ecolor=COLORS[key], elinewidth=1.2, capsize=3, markersize=5, label=labels[key])
    if ref.any():  # no reference row (e.g. Callaway-Sant'Anna's varying base): no legend entry for one
        ax.plot(e[ref], tab.loc[ref, "estimate"], "D", mfc="white", color=COLORS["ref"], label=labels["ref"])
    if truth is not None:
        t = _truth_series(truth).reindex(sorted(e.unique()))
        ax.plot(t.index, t.to_numpy(float), "--x", color=COLORS["truth"], lw=1.2, label=labels["truth"])
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="black", lw=0.8, ls="--")
    ax.set_xticks(sorted(e.unique()))
    ax.set_xlabel(labels["event_x"])
    ax.set_ylabel(labels["effect_y"])
    # the legend is titled by the interval only when intervals are drawn (not for placebo p-values alone)
    ci = (tab["conf_low"].notna() & tab["conf_high"].notna()).any()
    ax.legend(frameon=False, fontsize="small", title=labels["ci"] if ci else None, title_fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)


def coefficient_plot(ax: Axes, table: pd.DataFrame, labels: Mapping[str, str], *, lang: str = "en") -> None:
    """Horizontal point-and-interval plot, one row per term (terms named in ``lang``: "ATT(post avg)"
    is "ATT (gns. efter start)" in Danish, as in :func:`evalkit.compare`)."""
    from evalkit.results._compare_labels import term_label

    tab = table.reset_index(drop=True)
    y = np.arange(len(tab))[::-1]
    err = np.vstack([tab["estimate"] - tab["conf_low"], tab["conf_high"] - tab["estimate"]])
    ci = (tab["conf_low"].notna() & tab["conf_high"].notna()).any()
    ax.errorbar(tab["estimate"], y, xerr=err, fmt="o", color=COLORS["post"], capsize=3,
                label=labels["ci"] if ci else "_nolegend_")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [term_label(str(t), lang) for t in tab["term"]])
    ax.set_xlabel(labels["effect_y"])
    ax.set_ylabel(labels["term"])
    ax.margins(y=0.3)
    if ci:
        ax.legend(frameon=False, fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)


def _truth_series(truth) -> pd.Series:
    if isinstance(truth, pd.Series):
        s = truth.copy()
    elif isinstance(truth, Mapping):
        s = pd.Series(dict(truth))
    else:
        raise ParameterError(f"truth must be a dict or Series event_time -> effect, not {type(truth).__name__}.")
    s.index = s.index.astype(int)
    return s.astype(float)
