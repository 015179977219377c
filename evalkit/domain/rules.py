"""Pure kernels of the list rule engine: which register years feed a list, criterion values
and their distance to the thresholds (almenboligloven §§ 61 a, 61 b; ``shared/domain.md``).

**Year mapping.** The list of 1 December of year ``L`` uses (``AAR`` is the register year;
the address is the one on 1 January):

* residents (the 1,000-resident floor) and NW: ``AAR = L`` (residents on 1 January of ``L``);
* averaged criteria (K1, K2; window ``w`` = 2, or 4 in the 2010 regime): ``AAR = L-w .. L-1``,
  the unweighted mean of the yearly shares; the national K2 reference is averaged the same way;
* point-in-time K3 and K4: ``AAR = L-1`` (the latest complete year).

**Inequalities** exactly as the law: "overstiger" is ``>``, "mindst" is ``>=``, "mindre end" is ``<``.
A value within ``tolerance`` (default 1e-12) of its threshold counts as equal, so that
0.027 ≥ 3 × 0.009 holds although 3 * 0.009 is 0.027000000000000003 in floating point.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from evalkit.core.checks import checked_init
from evalkit.domain.thresholds import Criterion
from evalkit.errors import ColumnError, ParameterError, check_choice

K1_BASES = ("by_regime", "fte", "headcount")
UNKNOWN_EDUCATION = ("basic", "excluded", "not_basic")
_K3_COLUMN = {"basic": "k3_unknown_basic", "excluded": "k3_unknown_excluded", "not_basic": "k3_unknown_not_basic"}
_N_COLUMN = {"k1": "n_18_64", "k2": "n_18plus", "k4": "n_taxpayers_15_64", "nw": "residents"}


@checked_init
@dataclass(frozen=True)
class ListRules:
    """The open choices of the list rules (``shared/domain.md``) as parameters, with their defaults.

    Pass to :func:`compute_lists` as ``rules=``.

    Parameters
    ----------
    k1_basis : {"by_regime", "fte", "headcount"}, default "by_regime"
        How K1 (outside labour market and education) is counted: "by_regime" in full-time
        persons from the 2018 regime and by headcount before (see :func:`area_indicators`);
        or force one basis.
    unknown_education : {"basic", "excluded", "not_basic"}, default "basic"
        How unknown education enters K3 in the 2018 and 2021 regimes (an open question).
        "basic": only education taken or approved in Denmark counts, so a person without a
        recorded Danish education has none above grundskole that counts; "excluded": left
        out of numerator and denominator; "not_basic": counted as above basic. The 2013
        regime counts unknown as basic by its own rule, whatever this says.
    hard_years_2018 : int, default 5
        Lists as ghetto needed for hård ghetto in the 2018 regime (1-50); 5 is the
        transitional rule used for the lists 2018-2020 (the 2018 law said 4).
    hard_years_2021 : int, default 5
        Lists as parallelsamfund needed for omdannelse (§ 61 a, stk. 4: 5), 1-50.
    forebyggelse_excludes_udsat : bool, default True
        An udsat area is not also listed as forebyggelse, as the published lists do (areas
        leaving the udsat list appear on the forebyggelse list instead); § 61 b itself does
        not say.
    tolerance : float, default 1e-12
        Equality tolerance of threshold comparisons, in [0, 1e-3).

    Raises
    ------
    ParameterError
        A value outside the allowed choices or ranges.
    """

    k1_basis: str = "by_regime"
    unknown_education: str = "basic"
    hard_years_2018: int = 5
    hard_years_2021: int = 5
    forebyggelse_excludes_udsat: bool = True
    tolerance: float = 1e-12

    def __post_init__(self) -> None:
        check_choice("k1_basis", self.k1_basis, K1_BASES)
        check_choice("unknown_education", self.unknown_education, UNKNOWN_EDUCATION)
        for name in ("hard_years_2018", "hard_years_2021"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 1 <= value <= 50:
                raise ParameterError(f"{name}={value!r} must be a whole number of lists in 1-50.")
        if not isinstance(self.forebyggelse_excludes_udsat, (bool, np.bool_)):
            raise ParameterError(f"forebyggelse_excludes_udsat={self.forebyggelse_excludes_udsat!r} must be True or False.")
        tol = self.tolerance
        if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)) \
                or not np.isfinite(tol) or not 0 <= tol < 1e-3:
            raise ParameterError(f"tolerance={tol!r} must be a number in [0, 1e-3).")

    def hard_years(self, regime: str) -> int:
        """Lists needed for hård ghetto / omdannelse under ``regime``.

        Parameters
        ----------
        regime : str
            "2018" (``hard_years_2018``); any other regime gives ``hard_years_2021``.

        Returns
        -------
        int
            The number of consecutive lists.
        """
        return self.hard_years_2018 if regime == "2018" else self.hard_years_2021

    def as_dict(self) -> dict:
        """The rules as a plain dictionary (field name -> value).

        Returns
        -------
        dict
            For recording in results and reports.
        """
        return asdict(self)


def source_years(list_year: int, indicator: str, window: int) -> tuple[int, ...]:
    """Register years behind ``indicator`` on the list of 1 December ``list_year`` (module docstring)."""
    if indicator in ("nw", "residents"):
        return (int(list_year),)
    return tuple(range(int(list_year) - int(window), int(list_year)))


def indicator_column(indicator: str, regime: str, rules: ListRules) -> tuple[str, str]:
    """(value column, denominator column) of ``indicator`` in the area-year table under ``regime``."""
    if indicator == "k1":
        basis = rules.k1_basis if rules.k1_basis != "by_regime" else ("fte" if regime >= "2018" else "headcount")
        return f"k1_{basis}", "n_18_64"
    if indicator == "k3":
        rule = "basic" if regime < "2018" else rules.unknown_education
        return _K3_COLUMN[rule], "n_30_59_known" if rule == "excluded" else "n_30_59"
    return indicator, _N_COLUMN[indicator]


def compare(values: np.ndarray, comparison: str, threshold: float, tolerance: float) -> np.ndarray:
    """Boolean ``values <comparison> threshold`` with ties within ``tolerance``; NaN never meets."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        out = {">": v > threshold + tolerance, ">=": v >= threshold - tolerance,
               "<": v < threshold - tolerance, "<=": v <= threshold + tolerance}[comparison]
    return out & ~np.isnan(v)


def window_mean(area_years: pd.DataFrame, column: str, n_column: str, years: tuple[int, ...],
                areas: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Mean of ``column`` over ``years`` per area (NaN if a year is missing) and the smallest denominator."""
    missing = [c for c in (column, n_column) if c not in area_years.columns]
    if missing:
        raise ColumnError(f"the area indicators lack column(s) {missing}, needed by the list criteria.")
    sub = area_years.loc[area_years["AAR"].isin(years)]
    wide = sub.pivot(index="OMR_ID", columns="AAR", values=column).reindex(index=areas, columns=list(years))
    n = sub.pivot(index="OMR_ID", columns="AAR", values=n_column).reindex(index=areas, columns=list(years))
    return wide.mean(axis=1, skipna=False), n.min(axis=1, skipna=False).fillna(0).astype("int64")


def national_reference(national: pd.DataFrame, years: tuple[int, ...]) -> float:
    """National conviction share averaged over ``years`` (the K2 reference, § 61 a, stk. 1, nr. 2)."""
    shares = national.set_index("AAR")["conviction_share"].reindex(list(years))
    if shares.isna().any():
        missing = [y for y, s in shares.items() if pd.isna(s)]
        raise ParameterError(f"the national conviction share is missing for year(s) {missing}.")
    return float(shares.mean())


def evaluate_criterion(criterion: Criterion, list_year: int, area_years: pd.DataFrame, national: pd.DataFrame,
                       areas: pd.Index, rules: ListRules) -> pd.DataFrame:
    """One row per area: value, threshold, distance (value - threshold), margin (> 0 or = 0 on the meeting side), met."""
    column, n_column = indicator_column(criterion.indicator, criterion.regime, rules)
    years = source_years(list_year, criterion.indicator, criterion.window)
    value, n_persons = window_mean(area_years, column, n_column, years, areas)
    reference = national_reference(national, years) if criterion.relative_to == "national" else np.nan
    threshold = criterion.threshold * reference if criterion.relative_to == "national" else criterion.threshold
    distance = value.to_numpy() - threshold
    return pd.DataFrame({
        "list_year": int(list_year), "regime": criterion.regime, "OMR_ID": areas.to_numpy(),
        "category": criterion.list_type, "criterion_id": criterion.criterion_id, "indicator": criterion.indicator,
        "column": column, "years": f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0]),
        "value": value.to_numpy(), "comparison": criterion.comparison, "threshold": threshold,
        "multiplier": criterion.threshold if criterion.relative_to else np.nan, "reference": reference,
        "distance": distance, "margin": -distance if criterion.comparison.startswith("<") else distance,
        "met": compare(value.to_numpy(), criterion.comparison, threshold, rules.tolerance),
        "counted": criterion.counted, "n_persons": n_persons.to_numpy(),
    })
