"""The advisor's immutable result: one tidy table of every method's measured size and power, the choice.

:class:`InferenceAdvice` renders in JupyterLab (``_repr_html_``) with Danish or English labels,
serialises with :meth:`InferenceAdvice.to_dict`, and :meth:`InferenceAdvice.attach` returns a copy
of a :class:`~evalkit.results.Result` with the table under ``diagnostics["inference_advice"]``
(the result passed in is not changed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.checks import check_choice
from evalkit.errors import ParameterError
from evalkit.results.result import immutable_value

#: columns of :attr:`InferenceAdvice.table`
COLUMNS = ("method", "label", "size", "size_low", "size_high", "threshold", "power", "holds_size", "chosen",
           "statistic", "p_value", "reject")
HEADERS = {
    "en": {"label": "Method", "size": "Measured size", "size_ci": "{level} interval", "power": "Power",
           "holds_size": "Holds size", "threshold": "Rejects when p <=", "chosen": "Chosen", "p_value": "p-value (data)"},
    "da": {"label": "Metode", "size": "Målt testniveau", "size_ci": "{level}-interval", "power": "Styrke",
           "holds_size": "Holder niveau", "threshold": "Afviser når p <=", "chosen": "Valgt",
           "p_value": "p-værdi (data)"},
}
YES_NO = {"en": ("no", "yes"), "da": ("nej", "ja")}


#: the advice's sentence for a reviewer, by language
SENTENCES = {
    "en": {"head": "{p} placebo assignments of {k} of the {g} comparison areas from {y}: ",
           "corrected": "no method held size at {a:g}; {label} is used with the size-corrected critical value "
                        "|t| > {c:.3g}{pw}.",
           "at": " at p <= {th:.3g} (size-adjusted)",
           "holds": "{label} holds size (measured {size:.1%}){pw} and is used{at}."},
    "da": {"head": "{p} placebo-tildelinger af {k} af de {g} sammenligningsområder fra {y}: ",
           "corrected": "ingen metode holdt niveauet {a:g}; {label} bruges med den niveaukorrigerede kritiske "
                        "værdi |t| > {c:.3g}{pw}.",
           "at": " ved p <= {th:.3g} (niveaujusteret)",
           "holds": "{label} holder niveauet (målt {size:.1%}){pw} og bruges{at}."},
}


@immutable_value
@dataclass(frozen=True)
class InferenceAdvice:
    """Result of :func:`evalkit.inference.advisor.inference_advisor`.

    table: one row per method (:data:`COLUMNS`): measured size at ``alpha`` over the placebos and its
    two-sided ``level`` Clopper-Pearson interval, the p-value threshold the method is used at
    (``alpha``, or lower when its measured size exceeds alpha; :func:`._placebo_design.p_threshold`),
    its power at that threshold for ``effect`` (NaN without one), whether it holds size, whether it
    is chosen, and its statistic, p-value and decision (p <= threshold) on the data at hand.
    chosen: the chosen method's name ("<method>_corrected" for size-corrected critical values);
    critical_value: the size-corrected |t| critical value (NaN unless ``size_corrected``).
    """

    table: pd.DataFrame
    chosen: str
    size_corrected: bool
    critical_value: float
    alpha: float
    level: float
    effect: float | None
    n_placebos: int
    enumerated: bool
    draws: int
    seed: int | None
    match_size: bool
    weighted: bool
    n_treated: int
    n_comparison: int
    first_year: object
    lang: str = "en"
    labels: dict | None = None  # method -> {"da": ..., "en": ...} for display in either language

    # ----------------------------------------------------------- reading
    def to_dict(self) -> dict:
        """JSON-ready dictionary (the table as a list of records; NaN as None)."""
        tab = self.table.astype(object).where(self.table.notna(), None)
        out = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "table"}
        out["table"] = [{k: _plain(v) for k, v in row.items()} for row in tab.to_dict("records")]
        return {k: _plain(v) for k, v in out.items()}

    def attach(self, result):
        """A copy of the TWFE ``result`` with this advice under ``diagnostics["inference_advice"]``."""
        from evalkit.results import Result

        if not isinstance(result, Result):
            raise ParameterError(f"attach needs an evalkit Result, not {type(result).__name__}.")
        return result.replace(diagnostics={**dict(result.diagnostics), "inference_advice": self.to_dict()})

    def sentence(self, lang: str | None = None) -> str:
        """One sentence a reviewer can read (da/en)."""
        lang = check_choice("lang", lang or self.lang, ["da", "en"])
        row = self.table.set_index("method").loc[self.chosen.removesuffix("_corrected")].copy()
        row["label"] = self._label(self.chosen.removesuffix("_corrected"), lang)
        pw = "" if self.effect is None else (
            f", power {row['power']:.0%} for an effect of {self.effect:g}" if lang == "en"
            else f", styrke {row['power']:.0%} for en effekt på {self.effect:g}")
        text = SENTENCES[lang]
        head = text["head"].format(p=self.n_placebos, k=self.n_treated, g=self.n_comparison, y=self.first_year)
        if self.size_corrected:
            return head + text["corrected"].format(a=self.alpha, label=row["label"], c=self.critical_value, pw=pw)
        at = "" if row["threshold"] >= self.alpha else text["at"].format(th=row["threshold"])
        return head + text["holds"].format(label=row["label"], size=row["size"], pw=pw, at=at)

    # ---------------------------------------------------------- rendering
    def display_table(self, lang: str | None = None) -> pd.DataFrame:
        """The table as shown, with headers and labels in ``lang`` ("da" or "en")."""
        lang = check_choice("lang", lang or self.lang, ["da", "en"])
        h, yn, t = HEADERS[lang], YES_NO[lang], self.table
        ci = [f"[{lo:.1%}, {hi:.1%}]" for lo, hi in zip(t["size_low"], t["size_high"])]
        return pd.DataFrame({
            h["label"]: [self._label(m, lang) for m in t["method"]], h["size"]: [f"{x:.1%}" for x in t["size"]], h["size_ci"].format(level=f"{self.level:.0%}"): ci,
            h["power"]: ["" if not np.isfinite(x) else f"{x:.1%}" for x in t["power"]],
            h["holds_size"]: [yn[bool(x)] for x in t["holds_size"]],
            h["threshold"]: ["" if not np.isfinite(x) else f"{x:.4g}" for x in t["threshold"]], h["chosen"]: ["✓" if c else "" for c in t["chosen"]],
            h["p_value"]: ["" if not np.isfinite(x) else f"{x:.3f}" for x in t["p_value"]]})

    def _label(self, method: str, lang: str) -> str:
        labels = self.labels or {}
        if method in labels:
            return labels[method][lang]
        return str(self.table.set_index("method").loc[method, "label"])

    def summary(self, lang: str | None = None) -> str:
        return self.sentence(lang) + "\n\n" + self.display_table(lang).to_string(index=False)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        body = self.display_table().to_html(index=False, border=0, classes="evalkit-table", escape=True)
        note = (f"seed = {self.seed}, placebos = {self.n_placebos}{' (all)' if self.enumerated else ''}, "
                f"draws = {self.draws}, alpha = {self.alpha:g}, match_size = {self.match_size}")
        return (f"<div class='evalkit-advice'><p>{_esc(self.sentence())}</p>{body}"
                f"<p style='font-size:smaller'>{_esc(note)}</p></div>")


def _plain(v):
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else float(v)
    return v


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["COLUMNS", "InferenceAdvice"]
