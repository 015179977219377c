"""Cost per effect: an intervention's budget over the additional outcomes it produced.

    additional = beneficial effect x n_persons          (e.g. 0.025 x 4,000 = 100 more employed)
    cost per additional outcome = budget_dkk / additional

``effect`` is in outcome units per person (a share: 0.025 = 2.5 pp), so ``effect x n_persons``
is the number of additional persons employed (or convictions avoided, with
``desired="decrease"``, where the beneficial effect is minus the estimate).

The interval is carried through from the effect's confidence interval [lo, hi] of the
beneficial effect: cost = budget / (effect x n) is decreasing in the effect when the effect
is positive, so for lo > 0 the cost interval is [budget / (hi n), budget / (lo n)]. When the
interval includes zero (lo <= 0 < hi) the data are compatible with no effect, and the cost
per additional outcome has **no finite upper bound**: the interval is [budget / (hi n), inf)
(Fieller-type unboundedness of a ratio, cf. Briggs, O'Brien & Blackhouse 2002, *Annual Review
of Public Health* 23, 377-401). When even hi <= 0 no beneficial effect is compatible with the
data and no cost per effect is reported (NaN). A point estimate <= 0 gives no point cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.results.result import immutable_value
from evalkit.domain._common import check_number, check_probability, check_str, frame_html
from evalkit.errors import ParameterError, check_choice
from evalkit.core.aliases import checked

DESIRED = ("increase", "decrease")
UNITS = {"employed": {"da": "ekstra person i beskæftigelse", "en": "additional person employed"},
         "conviction_avoided": {"da": "undgået dom", "en": "conviction avoided"}}
#: a budget above 10 trillion DKK or more persons than 100 million is a unit or typing error
MAX_BUDGET, MAX_PERSONS = 1e13, 1e8
COLUMNS = ["budget_dkk", "n_persons", "effect", "effect_low", "effect_high", "additional", "additional_low",
           "additional_high", "cost", "cost_low", "cost_high", "bounded", "status"]


def cost_interval(budget: float, n: float, effect: float, low: float, high: float) -> dict:
    """Point cost and interval for a *beneficial* effect with interval [low, high] (pure; see module)."""
    point = budget / (effect * n) if effect > 0 else math.nan
    if low > 0:
        status, lo, hi = "bounded", budget / (high * n), budget / (low * n)
    elif high > 0:
        status, lo, hi = "unbounded", budget / (high * n), math.inf
    else:
        status, lo, hi = "no_beneficial_effect", math.nan, math.nan
    return {"cost": point, "cost_low": lo, "cost_high": hi, "bounded": status == "bounded", "status": status}


@checked_init
@immutable_value
@dataclass(frozen=True)
class CostPerEffect:
    """Cost per additional outcome with its interval, from :func:`cost_per_effect`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row with :data:`COLUMNS`: budget_dkk, n_persons, effect and its interval,
        additional outcomes and their interval, cost, cost_low, cost_high, bounded and status
        ("bounded", "unbounded" or "no_beneficial_effect").
    outcome_unit : str
        What one additional outcome is (a key of :data:`UNITS` or free text).
    alpha : float
        The interval has level 1 - alpha.
    """

    table: pd.DataFrame
    outcome_unit: str
    alpha: float

    def __post_init__(self):
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def tidy(self) -> pd.DataFrame:
        """Return a copy of the one-row table.

        Returns
        -------
        pandas.DataFrame
            The columns of :data:`COLUMNS`.
        """
        return self.table.copy(deep=True)

    def sentence(self, lang: str = "en") -> str:
        """One honest sentence about the cost per effect, including an unbounded interval.

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of the sentence (Danish with Danish thousands separators).

        Returns
        -------
        str
            The sentence.
        """
        return cost_sentence(self.table.iloc[0], self.outcome_unit, self.alpha, lang=lang)

    def _repr_html_(self) -> str:
        return frame_html(self.sentence("en"), self.table, digits=2)


def _effect_numbers(result, term, effect, conf_low, conf_high):
    if result is not None:
        if any(v is not None for v in (effect, conf_low, conf_high)):
            raise ParameterError("give either result or effect/conf_low/conf_high, not both.")
        if not callable(getattr(result, "tidy", None)) or not hasattr(result, "alpha"):
            raise ParameterError(f"result must be an evalkit Result (with tidy() and alpha), got {type(result).__name__}.")
        check_str("term", term)
        row = result.tidy().set_index("term")
        if term not in row.index:
            raise ParameterError(f"term={term!r} is not in the result; terms are {list(row.index)}.")
        e, lo, hi = (check_number(f"the result's {k} of {term!r}", row.loc[term, k])
                     for k in ("estimate", "conf_low", "conf_high"))
        return e, lo, hi, check_probability("the result's alpha", result.alpha)
    if effect is None or conf_low is None or conf_high is None:
        raise ParameterError("give a Result (result=) or all of effect, conf_low and conf_high.")
    e, lo, hi = (check_number(n, v) for n, v in (("effect", effect), ("conf_low", conf_low), ("conf_high", conf_high)))
    if not lo <= e <= hi:
        raise ParameterError(f"conf_low={lo} <= effect={e} <= conf_high={hi} must hold.")
    return e, lo, hi, None


@checked
def cost_per_effect(*, budget_dkk: float, n_persons: float, result=None, term: str = "ATT",
                    effect: float | None = None, conf_low: float | None = None, conf_high: float | None = None,
                    desired: str = "increase", alpha: float = 0.05,
                    outcome_unit: str = "employed") -> CostPerEffect:
    """Cost (DKK) per additional outcome of an intervention, with the interval carried through.

    additional = beneficial effect x n_persons (e.g. 0.025 x 4,000 = 100 more employed); cost
    per additional outcome = budget_dkk / additional. The interval comes from the effect's
    confidence interval [lo, hi]: for lo > 0 the cost interval is
    [budget / (hi n), budget / (lo n)]; when the interval includes zero the data are compatible
    with no effect and the cost has **no finite upper bound**, [budget / (hi n), inf)
    (Fieller-type unboundedness of a ratio); when even hi <= 0 no cost is reported (NaN).

    Parameters
    ----------
    budget_dkk : float
        The intervention's budget in DKK (> 0, at most 1e13).
    n_persons : float
        Persons the effect applies to (e.g. residents 18-64 of the treated areas); > 0, at
        most 1e8.
    result : Result, optional
        An evalkit result to take the effect, interval and ``alpha`` from. Give either
        ``result`` or ``effect``/``conf_low``/``conf_high``.
    term : str, default "ATT"
        The term of ``result`` to use (e.g. "ATT(post avg)").
    effect : float, optional
        Without ``result``: the effect in outcome units per person (a share: 0.025 = 2.5 pp).
    conf_low : float, optional
        Without ``result``: lower end of the effect's interval (conf_low <= effect).
    conf_high : float, optional
        Without ``result``: upper end of the effect's interval (effect <= conf_high).
    desired : {"increase", "decrease"}, default "increase"
        The beneficial direction: "increase" (employment) or "decrease" (convictions: the
        beneficial effect is minus the estimate).
    alpha : float, default 0.05
        Level of the given interval (1 - alpha), used only without ``result`` (a result's own
        ``alpha`` is used otherwise).
    outcome_unit : str, default "employed"
        A key of :data:`UNITS` ("employed", "conviction_avoided": Danish and English wording)
        or free text used in both languages.

    Returns
    -------
    CostPerEffect
        A one-row table and a sentence for the report.

    Raises
    ------
    ParameterError
        Both or neither of ``result`` and the numbers, a term not in the result, budget or
        persons out of range, effect outside its interval, or an unknown ``desired``.

    References
    ----------
    Briggs, A. H., O'Brien, B. J. & Blackhouse, G. (2002). Thinking outside the box: recent
    advances in the analysis and presentation of uncertainty in cost-effectiveness studies.
    *Annual Review of Public Health* 23, 377-401.

    Examples
    --------
    >>> import evalkit as ek
    >>> cpe = ek.cost_per_effect(budget_dkk=20e6, n_persons=4000, effect=0.025, conf_low=0.005, conf_high=0.045)
    >>> round(cpe.tidy()["cost"].iloc[0])
    200000
    """
    budget = check_number("budget_dkk", budget_dkk, low=0, high=MAX_BUDGET, low_open=True)
    n = check_number("n_persons", n_persons, low=0, high=MAX_PERSONS, low_open=True)
    check_choice("desired", desired, DESIRED)
    check_str("outcome_unit", outcome_unit)
    e, lo, hi, res_alpha = _effect_numbers(result, term, effect, conf_low, conf_high)
    alpha = res_alpha if res_alpha is not None else check_probability("alpha", alpha)
    if desired == "decrease":
        e, lo, hi = -e, -hi, -lo
    row = {"budget_dkk": budget, "n_persons": n, "effect": e, "effect_low": lo, "effect_high": hi,
           "additional": e * n, "additional_low": lo * n, "additional_high": hi * n} | cost_interval(budget, n, e, lo, hi)
    return CostPerEffect(table=pd.DataFrame([row], columns=COLUMNS), outcome_unit=outcome_unit, alpha=float(alpha))


def _dkk(v: float, lang: str) -> str:
    text = f"{v:,.0f}"
    return (text.replace(",", ".") if lang == "da" else text) + " DKK" if np.isfinite(v) else "–"


def cost_sentence(row: pd.Series, unit: str, alpha: float, *, lang: str = "en") -> str:
    """One honest sentence (da/en) about the cost per effect, including an unbounded interval."""
    check_choice("lang", lang, ("da", "en"))
    if not isinstance(row, (pd.Series, dict)) or "status" not in row:
        raise ParameterError("row must be a row of CostPerEffect.tidy() (with cost, cost_low, cost_high, status).")
    alpha = check_probability("alpha", alpha)
    unit = UNITS.get(unit, {}).get(lang, unit)
    level = f"{100 * (1 - alpha):g}{' ' if lang == 'da' else ''}%"  # "95 %" in Danish, "95%" in English
    if row["status"] == "no_beneficial_effect":
        return {"da": f"Konfidensintervallet ({level}) for effekten indeholder ingen gavnlig effekt; "
                      "en pris pr. effekt kan ikke beregnes.",
                "en": f"The {level} confidence interval of the effect contains no beneficial effect; "
                      "no cost per effect can be computed."}[lang]
    point = _dkk(row["cost"], lang)
    if not np.isfinite(row["cost"]):
        point = {"da": "ikke defineret (punktestimatet viser ingen gavnlig effekt)",
                 "en": "undefined (the point estimate shows no beneficial effect)"}[lang]
    if row["status"] == "unbounded":
        return {"da": f"Prisen pr. {unit} er {point}. Konfidensintervallet ({level}) for effekten omfatter nul, "
                      f"så prisen har ingen øvre grænse: mindst {_dkk(row['cost_low'], lang)}, opadtil ubegrænset.",
                "en": f"The cost per {unit} is {point}. The {level} confidence interval of the effect includes zero, "
                      f"so the cost has no upper bound: at least {_dkk(row['cost_low'], lang)}, unbounded above."}[lang]
    return {"da": f"Prisen pr. {unit} er {point} ({level} interval {_dkk(row['cost_low'], lang)} til "
                  f"{_dkk(row['cost_high'], lang)}).",
            "en": f"The cost per {unit} is {point} ({level} interval {_dkk(row['cost_low'], lang)} to "
                  f"{_dkk(row['cost_high'], lang)})."}[lang]
