"""Report figures (matplotlib OO API) and their embedding as HTML with alt text."""
from __future__ import annotations

import base64
import html
import io
import json

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from evalkit.report.i18n import label
from evalkit.results.plot import decimal_comma

PALETTE = {"treated": "#1f5f8b", "comparison": "#8c8c8c"}


def trends_figure(panel: pd.DataFrame, outcome: str, *, lang: str) -> Figure:
    """Mean outcome by year: each treatment cohort against the comparison areas.

    Plots area means only (never single persons); a vertical tick marks each cohort's start.
    """
    fig = Figure(figsize=(7.5, 4.2), dpi=110)
    ax = fig.add_subplot()
    comp = panel[panel["cohort"] == 0].groupby("AAR")[outcome].mean()
    ax.plot(comp.index, comp.to_numpy(), color=PALETTE["comparison"], lw=2.5, label=label("comparison", lang))
    cohorts = sorted(c for c in panel["cohort"].unique() if c > 0)
    shades = [f"C{i}" for i in range(len(cohorts))]
    for colour, cohort in zip(shades, cohorts):
        series = panel[panel["cohort"] == cohort].groupby("AAR")[outcome].mean()
        ax.plot(series.index, series.to_numpy(), color=colour, lw=1.4, marker="o", ms=3,
                label=f"{label('cohort', lang)} {cohort}")
        ax.axvline(cohort - 0.5, color=colour, lw=0.8, ls=":")
    ax.set_xlabel(label("year", lang))
    ax.set_ylabel(label(outcome, lang))
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, ncol=2)
    if lang == "da":
        decimal_comma(ax)
    fig.tight_layout()
    return fig


def figure_texts(fig) -> list[str]:
    """Titles, axis labels, annotations and legend entries; tick labels are left to the reviewer
    (an event-time axis from -4 to 5 is not a count)."""
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")]
        texts += [ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        texts += [t.get_text() for t in legend.get_texts()] if legend else []
    return [t for t in texts if t]


def figure_html(fig: Figure, alt: str, caption: str = "") -> str:
    """Embed ``fig`` as a PNG ``<img>`` with alt text (the default nbconvert output has none). The
    figure's words (titles, axis labels, legend entries: what the picture shows as text) go into the
    ``data-labels`` attribute too, so the language of a figure can be checked like a table's
    (tests/test_report_outcomes.py)."""
    labels = html.escape(json.dumps(figure_texts(fig), ensure_ascii=False), quote=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)  # no second, alt-less copy from the inline backend
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure data-labels="{labels}"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(alt, quote=True)}" '
            f'style="max-width:100%">{cap}</figure>')
