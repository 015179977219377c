"""Plots of a synthetic-DiD result (matplotlib object-oriented API, no pyplot state).

Mirror R ``synthdid_plot`` (treated and synthetic-control trajectories, the time weights
lambda shaded along the bottom) and ``synthdid_controls`` (unit weights omega). They
read ``diagnostics["cohorts"]``, keyed by cohort, period and unit id, never positions.
"""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evalkit.errors import ParameterError, check_choice
from evalkit.results.figure import new_figure
from evalkit.results.plot import decimal_comma, fit_labels

LABELS = {
    "en": {"time": "Period", "treated": "Treated", "synthetic": "Synthetic control (unit weights ω)",
           "lambda": "Time weights λ", "start": "Treatment start", "y": "{outcome}", "omega": "Unit weight ω",
           "unit": "Control unit", "title": "Cohort first treated in {g}"},
    "da": {"time": "Periode", "treated": "Behandlet", "synthetic": "Syntetisk kontrolgruppe (enhedsvægte ω)",
           "lambda": "Tidsvægte λ", "start": "Indsatsens start", "y": "{outcome}", "omega": "Enhedsvægt ω",
           "unit": "Kontrolenhed", "title": "Kohorte med start i {g}"},
}


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        return new_figure(figsize=size, layout="constrained").add_subplot()
    if not isinstance(ax, Axes):
        raise ParameterError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}.")
    return ax


def _cohort(result, cohort: int | None) -> tuple[str, dict]:
    if result.meta.get("kind") != "sdid" or "cohorts" not in result.diagnostics:
        raise ParameterError(f"sdid_plot needs a result of sdid(), not of {result.estimator!r}.")
    cohorts = result.diagnostics["cohorts"]
    key = next(iter(cohorts)) if cohort is None else str(cohort)
    if key not in cohorts:
        raise ParameterError(f"cohort={cohort!r} is not in this result; cohorts are {[int(g) for g in cohorts]}.")
    return key, cohorts[key]


def plot(result, *, kind: str = "paths", cohort: int | None = None, lang: str = "en",
         ax: Axes | None = None) -> Figure:
    """Draw ``kind`` ("paths" or "weights") for one cohort (default: the first); returns the Figure."""
    check_choice("kind", kind, ["paths", "weights"])
    check_choice("lang", lang, list(LABELS))
    key, d = _cohort(result, cohort)
    labels = {k: s.format(outcome=result.outcome, g=key) for k, s in LABELS[lang].items()}
    if kind == "weights":
        fig = _weights(d, labels, ax)
        if lang == "da":
            decimal_comma(fig.axes[0] if ax is None else ax)
        return fig
    ax = _axes(ax, (7, 4.2))
    paths = d["paths"]
    times = np.asarray(paths["time"], dtype=float)
    ax.plot(times, paths["treated"], color="#0b5394", lw=2, label=labels["treated"])
    ax.plot(times, paths["synthetic"], color="#6c757d", lw=2, ls="--", label=labels["synthetic"])
    lam_t = np.array([float(t) for t in d["lambda"]])
    lam = np.array(list(d["lambda"].values()), dtype=float)
    lo, hi = ax.get_ylim()
    if lam.max() > 0:
        height = 0.25 * (hi - lo) * lam / lam.max()
        ax.bar(lam_t, height, bottom=lo, width=0.8, color="#e69138", alpha=0.45, label=labels["lambda"])
    ax.set_ylim(lo, hi)
    ax.axvline(int(key) - 0.5, color="#c0392b", lw=0.9, ls=":", label=labels["start"])
    ax.set_xlabel(labels["time"])
    ax.set_ylabel(labels["y"])
    if len(result.diagnostics["cohorts"]) > 1:
        ax.set_title(labels["title"])
    ax.legend(frameon=False, fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    fit_labels(ax)
    if lang == "da":
        decimal_comma(ax)
    return ax.figure


def _weights(d: dict, labels: dict, ax: Axes | None) -> Figure:
    omega = sorted(d["omega"].items(), key=lambda kv: (-kv[1], kv[0]))
    ax = _axes(ax, (6, max(2.5, 0.18 * len(omega) + 1)))
    names = [k for k, _ in omega][::-1]
    values = [w for _, w in omega][::-1]
    ax.hlines(range(len(names)), 0, values, color="#0b5394", lw=1.5)
    ax.plot(values, range(len(names)), "o", color="#0b5394", ms=4)
    ax.set_yticks(range(len(names)), names, fontsize="small")
    ax.set_xlabel(labels["omega"])
    ax.set_ylabel(labels["unit"])
    ax.set_xlim(left=0)
    ax.spines[["top", "right"]].set_visible(False)
    fit_labels(ax)
    return ax.figure
