"""List history -> treatment timing, and comparison pools.

List history table (tidy, one row per area, list year and category; any table with these
columns, e.g. the output of the rule engine or a hand-made copy of the published lists):

| column | type | meaning |
|---|---|---|
| ``OMR_ID`` | int | area |
| ``list_year`` | int | year of the list (published 1 December of that year) |
| ``category`` | str | list category, e.g. ``"udsat"``, ``"ghetto"``, ``"haard"``, ``"forebyggelse"`` |

An area's cohort (Callaway & Sant'Anna 2021 coding: first treated year, 0 = never) is the
first ``list_year`` in which it is in one of the treating ``categories`` plus ``lag``
(default 1: a list published on 1 December takes effect the following year, e.g. the first
year as ``"haard"`` starts a udviklingsplan). Areas that later drop off the list stay
treated (the udviklingsplan duty remains; ``shared/domain.md``).

Comparison pools (``comparison=``), for areas never in a treating category:

* ``"never_treated"``: all of them;
* ``"never_listed"``: only areas on no list in any year and category;
* ``"forebyggelse"``: only areas listed as ``"forebyggelse"`` at some point;
* ``"categories"``: only areas listed in one of ``pool_categories`` at some point.

Areas outside the pool get ``role="excluded"`` so nothing disappears silently.
"""
from __future__ import annotations

import pandas as pd

from evalkit.domain._common import require_columns
from evalkit.errors import ParameterError, ValidationError, check_choice

POOLS = {
    "never_treated": "all areas never in a treating category",
    "never_listed": "areas on no list in any year",
    "forebyggelse": "never-treated areas listed as forebyggelse (prevention) at some point",
    "categories": "never-treated areas listed in one of pool_categories at some point",
}


def _as_list(name: str, value) -> list[str]:
    values = [value] if isinstance(value, str) else list(value or [])
    if not values or not all(isinstance(v, str) for v in values):
        raise ParameterError(f"{name}={value!r} must be a category name or a list of them.")
    return values


def _check_history(history: pd.DataFrame) -> pd.DataFrame:
    require_columns(history, ["OMR_ID", "list_year", "category"], "history")
    if history[["OMR_ID", "list_year", "category"]].isna().any().any():
        raise ValidationError("history has missing OMR_ID, list_year or category values; fill or drop them first.")
    return history[["OMR_ID", "list_year", "category"]].astype({"OMR_ID": "int64", "list_year": "int64"})


def _check_categories(name: str, wanted: list[str], present: list[str]) -> None:
    for cat in wanted:
        check_choice(name, cat, present)


def cohorts_from_history(history: pd.DataFrame, areas, *, categories="haard", lag: int = 1,
                         comparison: str = "never_treated", pool_categories=None) -> pd.DataFrame:
    """One row per area: ``OMR_ID, cohort, role`` (``treated`` / ``comparison`` / ``excluded``).

    ``areas`` lists every area id of the panel (areas never listed are not in ``history``).
    ``categories``: the category (or list) whose first appearance starts treatment.
    ``lag``: years from the list year to the first treated year (>= 0).
    Listed areas missing from ``areas`` raise (they would vanish from the design).
    """
    hist = _check_history(history)
    present = sorted(hist["category"].unique())
    cats = _as_list("categories", categories)
    _check_categories("categories", cats, present)
    check_choice("comparison", comparison, list(POOLS))
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 0:
        raise ParameterError(f"lag={lag!r} must be a whole number of years >= 0.")
    ids = pd.Series(areas).drop_duplicates().sort_values().astype("int64").to_numpy()
    unknown = sorted(set(hist["OMR_ID"]) - set(ids))
    if unknown:
        raise ValidationError(f"history lists areas {unknown[:5]} that are not in areas; pass every area id.")
    first = hist[hist["category"].isin(cats)].groupby("OMR_ID")["list_year"].min() + lag
    out = pd.DataFrame({"OMR_ID": ids})
    out["cohort"] = out["OMR_ID"].map(first).fillna(0).astype("int64")
    out["role"] = "comparison"
    out.loc[out["cohort"] > 0, "role"] = "treated"
    keep = _pool_members(hist, comparison, pool_categories, present, ids)
    if keep is not None:
        out.loc[(out["cohort"] == 0) & ~out["OMR_ID"].isin(keep), "role"] = "excluded"
    return out


def _pool_members(hist: pd.DataFrame, comparison: str, pool_categories, present: list[str], ids) -> set | None:
    """Areas allowed in the comparison pool (None = every never-treated area)."""
    if comparison == "never_treated":
        return None
    if comparison == "never_listed":
        return set(ids) - set(hist["OMR_ID"])
    cats = ["forebyggelse"] if comparison == "forebyggelse" else _as_list("pool_categories", pool_categories)
    _check_categories("pool_categories", cats, present)
    return set(hist.loc[hist["category"].isin(cats), "OMR_ID"])


def restrict_pool(cohorts: pd.DataFrame, history: pd.DataFrame, *, comparison: str,
                  pool_categories=None) -> pd.DataFrame:
    """Apply a list-based comparison pool to any cohorts table (e.g. from an interventions table).

    Returns a copy of ``cohorts`` (``OMR_ID, cohort, role``) where never-treated areas outside
    the pool are ``excluded``; treated areas keep their role.
    """
    require_columns(cohorts, ["OMR_ID", "cohort", "role"], "cohorts")
    hist = _check_history(history)
    check_choice("comparison", comparison, list(POOLS))
    out = cohorts.copy()
    keep = _pool_members(hist, comparison, pool_categories, sorted(hist["category"].unique()), out["OMR_ID"])
    if keep is None:
        return out
    out.loc[(out["cohort"] == 0) & ~out["OMR_ID"].isin(keep), "role"] = "excluded"
    return out
