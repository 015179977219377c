"""The advisor's immutable result: one tidy table of every method's measured size and power, the choice.

:class:`InferenceAdvice` renders in JupyterLab (``_repr_html_``) with Danish or English labels,
serialises with :meth:`InferenceAdvice.to_dict`, and :meth:`InferenceAdvice.attach` returns a copy
of a :class:`~evalkit.results.Result` with the table under ``diagnostics["inference_advice"]``
(the result passed in is not changed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.core.checks import check_choice
from evalkit.errors import ParameterError
from evalkit.i18n import format_p
from evalkit.results.result import immutable_value

#: columns of :attr:`InferenceAdvice.table`
COLUMNS = ("method", "label", "size", "size_low", "size_high", "threshold", "power", "holds_size", "chosen",
           "statistic", "p_value", "reject", "note")
#: why a method cannot be chosen although its measured size may look fine (the table's ``note``)
NOTES = {"en": {"undefined": "undefined (missing p-values)", "never_rejects": "never rejects at alpha"},
         "da": {"undefined": "ikke defineret (manglende p-værdier)", "never_rejects": "afviser aldrig ved α"}}
HEADERS = {
    "en": {"label": "Method", "size": "Measured size", "size_ci": "{level} interval", "power": "Power",
           "holds_size": "Holds size", "threshold": "Rejects when p ≤", "chosen": "Chosen", "p_value": "p-value (data)"},
    "da": {"label": "Metode", "size": "Målt testniveau", "size_ci": "{level}-interval", "power": "Styrke",
           "holds_size": "Holder niveau", "threshold": "Afviser når p ≤", "chosen": "Valgt",
           "p_value": "p-værdi (data)"},
}
YES_NO = {"en": ("no", "yes"), "da": ("nej", "ja")}


#: the advice's sentence for a reviewer, by language
SENTENCES = {
    "en": {"head": "{p} placebo assignments of {k} of the {g} comparison areas from {y}: ",
           "corrected": "no method held size at {a}; {label} is used with the size-corrected critical value "
                        "|t| > {c}{pw}.",
           "at": " at p ≤ {th} (size-adjusted)",
           "power": ", power {pw} for an effect of {e}",
           "holds": "{label} holds size (measured {size}, not significantly above {a}){pw} and is used{at}."},
    "da": {"head": "{p} placebo-tildelinger af {k} af de {g} sammenligningsområder fra {y}: ",
           "corrected": "ingen metode holdt niveauet {a}; {label} bruges med den niveaukorrigerede kritiske "
                        "værdi |t| > {c}{pw}.",
           "at": " ved p ≤ {th} (niveaujusteret)",
           "power": ", styrke {pw} for en effekt på {e}",
           "holds": "{label} holder niveauet (målt {size}, ikke signifikant over {a}){pw} og bruges{at}."},
}


@immutable_value
@dataclass(frozen=True)
class InferenceAdvice:
    """Result of :func:`inference_advisor`: measured size and power per inference method, and the choice.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per method (:data:`COLUMNS`): measured size at ``alpha`` over the placebos
        and its two-sided ``level`` Clopper-Pearson interval, the p-value threshold the method
        is used at (``alpha``, or lower when its measured size exceeds alpha), its power at
        that threshold for ``effect`` (NaN without one), whether it holds size, whether it is
        chosen, and its statistic, p-value and decision (p <= threshold) on the data at hand.
    chosen : str
        The chosen method's name ("<method>_corrected" for size-corrected critical values).
    size_corrected : bool
        Whether no method held size and a size-corrected critical value is used.
    critical_value : float
        The size-corrected |t| critical value (NaN unless ``size_corrected``).
    alpha : float
        Nominal level of the tests.
    level : float
        Level of the Clopper-Pearson interval of the measured size.
    effect : float or None
        Effect injected for the power, in outcome units.
    n_placebos : int
        Number of distinct placebo assignments used.
    enumerated : bool
        Whether every possible placebo assignment was used.
    draws : int
        Bootstrap draws and re-assignments per test.
    seed : int or None
        Seed of the random numbers.
    match_size : bool
        Whether placebo areas were matched on size.
    weighted : bool
        Whether the fits were weighted.
    n_treated : int
        Number of treated areas.
    n_comparison : int
        Number of comparison (never-treated) areas.
    first_year : object
        The common first treated year.
    lang : {"en", "da"}, default "en"
        Default language of :meth:`sentence`, :meth:`display_table` and :meth:`summary`.
    labels : dict, optional
        Method name -> {"da": ..., "en": ...} display labels.
    outcome : str, optional
        The advised outcome (checked by :meth:`attach`).

    References
    ----------
    Ferman, B. (2019). A simple way to assess inference methods. arXiv:1912.08772.
    """

    table: pd.DataFrame = field(repr=False)
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
    labels: dict | None = field(default=None, repr=False)  # method -> {"da": ..., "en": ...}
    outcome: str | None = None

    # ----------------------------------------------------------- reading
    def to_dict(self) -> dict:
        """JSON-ready dictionary of the advice (the table as a list of records; NaN as None).

        Returns
        -------
        dict
            Every field; stored by :meth:`attach` under ``diagnostics["inference_advice"]``.
        """
        tab = self.table.astype(object).where(self.table.notna(), None)
        out = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "table"}
        out["table"] = [{k: _plain(v) for k, v in row.items()} for row in tab.to_dict("records")]
        return {k: _plain(v) for k, v in out.items()}

    def attach(self, result):
        """A copy of the TWFE ``result`` with this advice under ``diagnostics["inference_advice"]``.

        Parameters
        ----------
        result : Result
            The static :func:`twfe` (or :func:`did2x2`) fit of the advised outcome with the same
            number of treated areas; the advice is about that design, not about another fit.

        Returns
        -------
        Result
            A new result (the given one is unchanged); the report reads the advice from it.

        Raises
        ------
        ParameterError
            A ``result`` that is not a TWFE/did2x2 :class:`Result`, of another outcome, or with
            another number of treated areas.
        """
        from evalkit.results import Result

        if not isinstance(result, Result):
            raise ParameterError(f"attach needs an evalkit Result, not {type(result).__name__}.")
        if result.estimator not in ("twfe", "did2x2"):
            raise ParameterError(f"attach needs the static TWFE (or did2x2) result the advice is about, not a "
                                 f"{result.estimator!r} result.")
        if self.outcome is not None and result.outcome != self.outcome:
            raise ParameterError(f"The advice is about outcome {self.outcome!r}; the result estimates "
                                 f"{result.outcome!r}.")
        treated = result.diagnostics.get("n_treated_clusters")
        if treated is not None and int(treated) != self.n_treated:
            raise ParameterError(f"The advice is about {self.n_treated} treated areas; the result has {treated}.")
        return result.replace(diagnostics={**dict(result.diagnostics), "inference_advice": self.to_dict()})

    def sentence(self, lang: str | None = None) -> str:
        """One sentence a reviewer can read, naming the chosen method, its size and power.

        Parameters
        ----------
        lang : {"en", "da"}, optional
            Language (Danish with decimal commas); None: the advice's ``lang``.

        Returns
        -------
        str
            The sentence.
        """
        lang = check_choice("lang", lang or self.lang, ["da", "en"])
        row = self.table.set_index("method").loc[self.chosen.removesuffix("_corrected")].copy()
        label = self._label(self.chosen.removesuffix("_corrected"), lang)
        text = SENTENCES[lang]
        pw = "" if self.effect is None else text["power"].format(pw=_num(row["power"], lang, "pct"),
                                                                 e=_num(self.effect, lang, "g"))
        head = text["head"].format(p=self.n_placebos, k=self.n_treated, g=self.n_comparison, y=self.first_year)
        a = _num(self.alpha, lang, "g")
        if self.size_corrected:
            return head + text["corrected"].format(a=a, label=label, c=_num(self.critical_value, lang, "3g"), pw=pw)
        at = "" if row["threshold"] >= self.alpha else text["at"].format(th=_num(row["threshold"], lang, "p"))
        return head + text["holds"].format(label=label, size=_num(row["size"], lang, "pct"), a=a, pw=pw, at=at)

    # ---------------------------------------------------------- rendering
    def display_table(self, lang: str | None = None) -> pd.DataFrame:
        """The size/power table as shown, with headers, labels and numbers formatted in ``lang``.

        Parameters
        ----------
        lang : {"en", "da"}, optional
            Language of headers and labels; None: the advice's ``lang``.

        Returns
        -------
        pandas.DataFrame
            One row per method, all cells text.
        """
        lang = check_choice("lang", lang or self.lang, ["da", "en"])
        h, yn, t = HEADERS[lang], YES_NO[lang], self.table

        def fmt(x, how):
            return _num(x, lang, how) if np.isfinite(x) else ""
        ci = ["" if not np.isfinite(lo) else f"[{fmt(lo, 'pct')}; {fmt(hi, 'pct')}]"
              for lo, hi in zip(t["size_low"], t["size_high"])]
        notes = t["note"] if "note" in t else [""] * len(t)
        return pd.DataFrame({
            h["label"]: [self._label(m, lang) for m in t["method"]], h["size"]: [fmt(x, "pct") for x in t["size"]],
            h["size_ci"].format(level=_num(self.level, lang, "pct0")): ci, h["power"]: [fmt(x, "pct") for x in t["power"]],
            h["holds_size"]: [yn[bool(x)] + (f" ({NOTES[lang][n]})" if n else "") for x, n in zip(t["holds_size"], notes)],
            h["threshold"]: [fmt(x, "p") for x in t["threshold"]], h["chosen"]: ["✓" if c else "" for c in t["chosen"]],
            h["p_value"]: [format_p(x, lang, digits=4, comma=lang == "da", draws=self.draws) for x in t["p_value"]]})

    def _label(self, method: str, lang: str) -> str:
        labels = self.labels or {}
        if method in labels:
            return labels[method][lang]
        return str(self.table.set_index("method").loc[method, "label"])

    def summary(self, lang: str | None = None) -> str:
        """The sentence and the table as plain text (what ``print(advice)`` shows).

        Parameters
        ----------
        lang : {"en", "da"}, optional
            Language; None: the advice's ``lang``.

        Returns
        -------
        str
            :meth:`sentence`, a blank line and :meth:`display_table` as text.
        """
        return self.sentence(lang) + "\n\n" + self.display_table(lang).to_string(index=False)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        body = self.display_table().to_html(index=False, border=0, classes="evalkit-table", escape=True)
        note = (f"seed = {self.seed}, placebos = {self.n_placebos}{' (all)' if self.enumerated else ''}, "
                f"draws = {self.draws}, alpha = {self.alpha:g}, match_size = {self.match_size}")
        return (f"<div class='evalkit-advice'><p>{_esc(self.sentence())}</p>{body}"
                f"<p style='font-size:smaller'>{_esc(note)}</p></div>")


def _num(x: float, lang: str, how: str) -> str:
    """A number as text: "pct" one-decimal percent ("pct0" whole percent), "p" a p-value threshold
    with at most four decimals ("0.05", "0.0086"), "g"/"3g" general. Danish with a decimal comma and
    a space before the percent sign ("4,6 %", the Danish convention)."""
    if how in ("pct", "pct0"):
        out = f"{100 * x:.{1 if how == 'pct' else 0}f}" + (" %" if lang == "da" else "%")
    elif how == "p":
        out = ("< 0.0001" if 0 < x < 0.00005 else f"{x:.4f}".rstrip("0").rstrip(".")) if np.isfinite(x) else "–"
    else:
        out = f"{x:.3g}" if how == "3g" else f"{x:g}"
    return out.replace(".", ",") if lang == "da" else out


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
