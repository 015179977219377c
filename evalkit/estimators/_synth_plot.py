"""Plots of a synthetic-control result (matplotlib object-oriented API, no pyplot state).

They read the result's ``diagnostics["paths"]`` and ``diagnostics["placebo_gaps"]``
(keyed by period), never positions in the tidy table.
"""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evalkit.errors import ParameterError, check_choice
from evalkit.results.figure import new_figure
from evalkit.i18n import label as outcome_label
from evalkit.results.plot import LABELS as RESULT_LABELS, _outcome_text, _truth_series, decimal_comma, fit_labels

LABELS = {
    "en": {"time": "Period", "treated": "Treated", "synthetic": "Synthetic control",
           "gap": "Gap (treated minus synthetic) in {outcome}", "start": "Treatment start",
           "placebos": "Placebos (donors treated in turn)", "y": "{outcome}"},
    "da": {"time": "Periode", "treated": "Behandlet", "synthetic": "Syntetisk kontrolgruppe",
           "gap": "Forskel (behandlet minus syntetisk) i {outcome}", "start": "Indsatsens start",
           "placebos": "Placebo (donorer behandlet på skift)", "y": "{outcome}"},
}


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        return new_figure(figsize=(7, 4.2), layout="constrained").add_subplot()
    if not isinstance(ax, Axes):
        raise ParameterError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}.")
    return ax


def plot(result, *, kind: str = "paths", lang: str = "en", ax: Axes | None = None, truth=None,
         title: str | None = None) -> Figure:
    """Draw ``kind`` ("paths", "gap", "placebo") of a synth result; returns the Figure.

    ``truth`` (event time -> true effect, as in :meth:`Result.plot`) is drawn on the gap at the
    periods ``treatment_start + event time``; it needs ``kind="gap"`` or ``"placebo"``."""
    check_choice("kind", kind, ["paths", "gap", "placebo"])
    check_choice("lang", lang, list(LABELS))
    if result.estimator != "synth" or "paths" not in result.diagnostics:
        raise ParameterError(f"synth_plot needs a result of synth(), not of {result.estimator!r}.")
    if truth is not None and kind == "paths":
        raise ParameterError("truth= is drawn on the gap: use kind='gap' or kind='placebo'.")
    named = outcome_label(result.outcome, lang)
    labels = {k: s.format(outcome=_outcome_text(result.outcome, lang) if k == "gap" else named)
              for k, s in LABELS[lang].items()}
    ax = _axes(ax)
    paths = result.diagnostics["paths"]
    times = np.asarray(paths["time"], dtype=float)
    if kind == "paths":
        ax.plot(times, paths["treated"], color="#0b5394", lw=2, label=labels["treated"])
        ax.plot(times, paths["synthetic"], color="#6c757d", lw=2, ls="--", label=labels["synthetic"])
        ax.set_ylabel(labels["y"])
    else:
        if kind == "placebo":
            placebo = result.diagnostics.get("placebo_gaps")
            if not placebo:
                raise ParameterError("kind='placebo' needs a result fitted with placebo=True.")
            for i, g in enumerate(placebo["gaps"]):
                ax.plot(times, g, color="#bbbbbb", lw=0.8, label=labels["placebos"] if i == 0 else None)
        ax.plot(times, paths["gap"], color="#0b5394", lw=2, label=labels["treated"])
        if truth is not None:
            t = _truth_series(truth).sort_index()
            ax.plot(result.meta["treatment_start"] + t.index.to_numpy(float), t.to_numpy(float), "--x",
                    color="#c0392b", lw=1.2, label=RESULT_LABELS[lang]["truth"])
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel(labels["gap"])
    ax.axvline(result.meta["treatment_start"] - 0.5, color="#c0392b", lw=0.9, ls=":", label=labels["start"])
    ax.set_xlabel(labels["time"])
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize="small")
    fit_labels(ax)
    ax.spines[["top", "right"]].set_visible(False)
    if lang == "da":
        decimal_comma(ax)
    return ax.figure
