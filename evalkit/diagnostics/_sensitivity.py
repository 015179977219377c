"""The frozen result of a HonestDiD sensitivity analysis, with text, HTML and a plot."""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import pandas as pd

from evalkit.errors import check_choice
from evalkit.i18n import HONEST_METHODS
from evalkit.core.checks import check_bool
from evalkit.results.result import immutable_value

_LABELS = {
    "en": {"title": "Sensitivity of the effect to violations of parallel trends", "orig": "Original",
           "robust": "Robust ({ci})", "y": "{lvl:g}% confidence interval",
           "Mbar": "Mbar (post violation relative to max pre violation)", "M": "M (change in slope per period)",
           "bd": "Breakdown value", "pp": ", percentage points"},
    "da": {"title": "Effektens følsomhed over for brud på parallelle forløb", "orig": "Oprindelig",
           "robust": "Robust ({ci})", "y": "{lvl:g} %-konfidensinterval",
           "Mbar": "Mbar (brud efter relativt til største brud før)", "M": "M (ændring i hældning pr. periode)",
           "bd": "Nedbrudsværdi", "pp": ", procentpoint"},
}


def _method_short(ci: str, lang: str) -> str:
    """The robust interval's method for the legend: its abbreviation ("C-LF", "FLCI") where its name
    has one (:data:`evalkit.i18n.HONEST_METHODS`), else the name ("Betinget test")."""
    name = HONEST_METHODS.get(ci, {}).get(lang, ci)
    short = re.search(r"\(([^()]+)\)$", name)
    return short.group(1) if short else name


@immutable_value
@dataclass(frozen=True, slots=True, eq=False)
class SensitivityResult:
    """HonestDiD robust confidence intervals over M (smoothness) or Mbar (relative magnitudes).

    Returned by :func:`honest_did` and :func:`honest_did_arrays`.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns method, M or Mbar, lb, ub: one row per grid value, and a last row (method
        "original") with the usual interval under exact parallel trends.
    restriction : {"relative_magnitudes", "smoothness"}
        The restriction Delta on the violations of parallel trends.
    ci : {"flci", "c-lf", "conditional"}
        The construction of the robust intervals.
    parameter : {"Mbar", "M"}
        Name of the grid column of ``table``.
    alpha : float
        The intervals have level 1 - alpha.
    l_vec : tuple of float
        Weights of the post-period effects in the target theta = l' tau_post.
    estimate : float
        The estimate of theta.
    std_error : float
        Its standard error.
    breakdown : float
        The largest M/Mbar whose robust CI excludes zero (nan if none on the grid does).
    breakdown_exceeds_grid : bool
        True when every grid value excludes zero: ``breakdown`` is then the largest grid value,
        a lower bound.
    num_pre : int
        Number of pre-period coefficients.
    num_post : int
        Number of post-period coefficients.

    References
    ----------
    Rambachan, A. & Roth, J. (2023). A more credible approach to parallel trends.
    *Review of Economic Studies* 90(5), 2555-2591.
    """

    table: pd.DataFrame
    restriction: str
    ci: str
    parameter: str
    alpha: float
    l_vec: tuple[float, ...]
    estimate: float
    std_error: float
    breakdown: float
    breakdown_exceeds_grid: bool
    num_pre: int
    num_post: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the table of robust intervals.

        Returns
        -------
        pandas.DataFrame
            Columns method, M or Mbar, lb, ub (the last row the original interval).
        """
        return self.table.copy(deep=True)

    def _breakdown_text(self) -> str:
        if math.isnan(self.breakdown):
            return "none (the robust CI includes 0 at the smallest value)"
        return (">= " if self.breakdown_exceeds_grid else "") + f"{self.breakdown:.4g}"

    def _breakdown_label(self, lang: str) -> str:
        """The (finite) breakdown value for the plot legend: two decimals, as evalkit's reports write it
        (:func:`evalkit.report.text.breakdown_value`), with the Danish decimal comma in Danish."""
        shown = (">= " if self.breakdown_exceeds_grid else "") + f"{self.breakdown:.2f}"
        return shown.replace(".", ",") if lang == "da" else shown

    def _header(self) -> list[tuple[str, str]]:
        return [("Restriction", self.restriction), ("CI", self.ci), ("Parameter", f"l'tau_post, l={list(self.l_vec)}"),
                ("Periods", f"{self.num_pre} pre, {self.num_post} post"),
                ("Estimate", f"{self.estimate:.4g} (se {self.std_error:.4g})"),
                ("alpha", f"{self.alpha:g}"), ("Breakdown", self._breakdown_text())]

    def summary(self) -> str:
        """Return a plain-text summary: restriction, target, estimate, breakdown value, then the table.

        Returns
        -------
        str
            The summary (what ``print(sensitivity)`` shows).
        """
        head = "\n".join(f"{k:<12}{v}" for k, v in self._header())
        return f"{head}\n\n{self.table.to_string(index=False, float_format=lambda x: f'{x:.5g}', na_rep='')}"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self._header())
        body = self.table.to_html(index=False, float_format=lambda x: f"{x:.5g}", na_rep="", border=0,
                                  classes="evalkit-table")
        return f"<div class='evalkit-sensitivity'><table>{head}</table>{body}</div>"

    def plot(self, ax=None, *, lang: str = "en", pp: bool = False):
        """Plot the robust intervals against M/Mbar next to the original interval.

        A dotted line marks the breakdown value.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; None creates a new figure.
        lang : {"en", "da"}, default "en"
            Language of axis labels, title and legend.
        pp : bool, default False
            The effect of a share (0 to 1) in percentage points: interval ends x 100, and the
            axis says so.

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn on.

        Raises
        ------
        ParameterError
            An unknown ``lang``, or ``pp`` not True or False.
        """
        check_choice("lang", lang, list(_LABELS))
        check_bool("pp", pp)
        t = _LABELS[lang]
        if ax is None:
            from evalkit.results.figure import new_figure
            fig = new_figure(figsize=(6.5, 4))
            ax = fig.add_subplot()
        fig = ax.figure
        scale = 100.0 if pp else 1.0
        tab = self.table.assign(lb=lambda d: scale * d["lb"], ub=lambda d: scale * d["ub"])
        rob, orig = tab[tab["method"] != "original"], tab[tab["method"] == "original"].iloc[0]
        x = rob[self.parameter].to_numpy(float)
        step = (x.max() - x.min()) / max(len(x) - 1, 1) if len(x) > 1 else 1.0
        x0 = x.min() - step
        ax.errorbar([x0], [(orig["lb"] + orig["ub"]) / 2], yerr=[[(orig["ub"] - orig["lb"]) / 2]] * 1, fmt="none",
                    ecolor="tab:red", capsize=4, lw=2, label=t["orig"])
        mid, half = (rob["lb"] + rob["ub"]) / 2, (rob["ub"] - rob["lb"]) / 2
        ax.errorbar(x, mid, yerr=half, fmt="none", ecolor="tab:blue", capsize=4, lw=2,
                    label=t["robust"].format(ci=_method_short(self.ci, lang)))
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        if not math.isnan(self.breakdown):
            ax.axvline(self.breakdown, color="grey", lw=0.8, ls=":", label=f"{t['bd']} = {self._breakdown_label(lang)}")
        # the original interval stands left of the grid under its own name, not at a negative M or Mbar
        ticks = x[:: math.ceil(len(x) / 8)] if len(x) else x  # at most 8 grid labels
        grid = [f"{v:g}".replace(".", ",") if lang == "da" else f"{v:g}" for v in ticks]
        ax.set_xticks([x0, *ticks], [t["orig"], *grid])
        ax.set_xlabel(t[self.parameter])
        ax.set_ylabel(t["y"].format(lvl=100 * (1 - self.alpha)) + (t["pp"] if pp else ""))
        ax.set_title(t["title"])
        ax.legend(loc="best", fontsize="small")
        if lang == "da":
            from evalkit.results.plot import decimal_comma
            decimal_comma(ax)
        return fig
