"""Figures that show themselves in Jupyter without pyplot or ``%matplotlib``.

evalkit draws with matplotlib's object-oriented API on figures that pyplot does not track (no
global state, nothing to close). IPython only learns to draw a :class:`~matplotlib.figure.Figure`
when pyplot is imported with the inline backend, so such a figure as a cell's last line showed
``<Figure size 700x420 with 1 Axes>``. :class:`NotebookFigure` is a plain ``Figure`` (``savefig``,
``axes``, pickling and embedding in reports unchanged) with a ``_repr_png_`` that IPython's display
formatter calls. When the inline backend is active its own Figure printer is used instead, so a
figure is never shown twice.
"""
from __future__ import annotations

import io

from matplotlib.figure import Figure


class NotebookFigure(Figure):
    """A :class:`matplotlib.figure.Figure` with a PNG representation for Jupyter."""

    def _repr_png_(self) -> bytes | None:
        if not self.axes:
            return None
        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


def new_figure(**kwargs) -> NotebookFigure:
    """A new figure (keyword arguments as :class:`matplotlib.figure.Figure`) that displays in notebooks."""
    return NotebookFigure(**kwargs)
