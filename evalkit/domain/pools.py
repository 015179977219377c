"""List history -> treatment timing, and comparison pools.

List history table (tidy, one row per area, list year and category; any table with these
columns, e.g. the output of the rule engine or a hand-made copy of the published lists):

| column | type | meaning |
|---|---|---|
| ``OMR_ID`` | int or str | area (whole numbers, text such as ``"A1"`` or area names, or categorical) |
| ``list_year`` | int | year of the list (published 1 December of that year) |
| ``category`` | str | list category: the labels :func:`evalkit.compute_lists` writes (``"udsat_boligomraade"``, ``"ghettoomraade"``, ``"parallelsamfund"``, ``"haardt_ghettoomraade"``, ``"omdannelsesomraade"``, ``"forebyggelsesomraade"``) or short names (``"udsat"``, ``"ghetto"``, ``"haard"``, ``"forebyggelse"``) |

Categories are selected by a label of the history or by a short name of :data:`CATEGORY_ALIASES`,
which spans the regimes: ``"haard"`` (the default) is hårdt ghettoområde (2018-2020) or its
successor omdannelsesområde (2021-), ``"ghetto"`` is ghettoområde or parallelsamfund, so the
history of :func:`evalkit.compute_lists` works with the defaults.

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

import warnings

import numpy as np
import pandas as pd

from evalkit.domain._common import (area_ids, check_numeric_columns, check_positive_int, check_same_ids, check_unique,
                                    check_year_column, require_columns, restore_ids, show_ids, sorted_ids,
                                    with_plain_ids)
from evalkit.domain.thresholds import LIST_TYPES
from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError, check_choice, closest
from evalkit.core.aliases import checked

POOLS = {
    "never_treated": "all areas never in a treating category",
    "never_listed": "areas on no list in any year",
    "forebyggelse": "never-treated areas listed as forebyggelse (prevention) at some point",
    "categories": "never-treated areas listed in one of pool_categories at some point",
}
#: short category names -> the labels they select. A short name spans the regimes: ``"ghetto"`` is the
#: ghettoområde list (2010-2020) and its successor parallelsamfund (2021-), ``"haard"`` is hårdt
#: ghettoområde (2018-2020) and its successor omdannelsesområde (2021-) (``shared/domain.md``). The
#: labels :func:`evalkit.compute_lists` writes (:data:`evalkit.domain.thresholds.LIST_TYPES`) select
#: exactly themselves; a hand-made history may use the short names as labels.
CATEGORY_ALIASES = {
    "udsat": ("udsat", "udsat_boligomraade"),
    "ghetto": ("ghetto", "ghettoomraade", "parallelsamfund"),
    "haard": ("haard", "haardt_ghettoomraade", "omdannelsesomraade"),
    "forebyggelse": ("forebyggelse", "forebyggelsesomraade"),
}
MAX_LAG = 30
ROLES = ("treated", "comparison", "excluded")


def _as_list(name: str, value) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple, set, frozenset, pd.Index, pd.Series, np.ndarray)) \
            or not len(values) or not all(isinstance(v, str) and v for v in values):
        raise ParameterError(f"{name}={value!r} must be a category name or a non-empty list of them, "
                             f"e.g. 'haard' or {list(CATEGORY_ALIASES)}.")
    return list(values)


def _check_history(history: pd.DataFrame) -> pd.DataFrame:
    """The history's three columns, checked: ids (numbers or text), whole list years, text categories."""
    require_columns(history, ["OMR_ID", "list_year", "category"], "history", allow_empty=True)
    hist = history[["OMR_ID", "list_year", "category"]]
    if hist.isna().any().any():
        cols = [c for c in hist.columns if hist[c].isna().any()]
        raise ValidationError(f"history has missing values in {cols}; fill or drop those rows first.")
    if len(hist):
        check_year_column(hist, "list_year", "history")
        if not all(isinstance(c, str) for c in hist["category"]):
            bad = next(c for c in hist["category"] if not isinstance(c, str))
            raise ValidationError(f"history column 'category' must hold list category names (text); found {bad!r}.")
    hist = with_plain_ids(hist, "OMR_ID", "history")
    check_unique(hist, ["OMR_ID", "list_year", "category"], "history", " (an area is on a list once a year)")
    return hist.astype({"list_year": "int64"}) if len(hist) else hist


def _labels(name: str, wanted: list[str], present: list[str]) -> set[str]:
    """The history labels ``wanted`` selects (aliases expanded); unknown names raise with the closest."""
    known = sorted(set(LIST_TYPES) | set(CATEGORY_ALIASES) | set(present))
    out: set[str] = set()
    for cat in wanted:
        if cat not in known:
            raise ParameterError(f"{name}={cat!r} is not a list category; choose one of {known} (short names "
                                 f"{list(CATEGORY_ALIASES)} span the regimes)." + closest(cat, known))
        out |= set(CATEGORY_ALIASES.get(cat, (cat,)))
    return out


def _check_pool_args(comparison, pool_categories) -> None:
    check_choice("comparison", comparison, list(POOLS))
    if pool_categories is not None and comparison != "categories":
        raise ParameterError(f"pool_categories={pool_categories!r} is used only with comparison='categories'; "
                             f"comparison={comparison!r} ignores it.")


@checked
def cohorts_from_history(history: pd.DataFrame, areas, *, categories="haard", lag: int = 1,
                         comparison: str = "never_treated", pool_categories=None) -> pd.DataFrame:
    """Treatment timing from the list history: one row per area, ``OMR_ID, cohort, role``.

    An area's cohort (Callaway & Sant'Anna 2021 coding: first treated year, 0 = never) is the
    first ``list_year`` in which it is in one of the treating ``categories`` plus ``lag``.
    Areas that later drop off the list stay treated (the udviklingsplan duty remains).
    Pass the table to :func:`attach_cohort`.

    Parameters
    ----------
    history : pandas.DataFrame
        ``OMR_ID, list_year, category``, e.g. :func:`list_history` of :func:`compute_lists`,
        or a hand-made copy of the published lists.
    areas : array_like
        Every area id of the panel (areas never listed are not in ``history``); ids may be
        whole numbers, text or categorical, and come back in the type of ``areas``. Listed
        areas missing from ``areas`` raise (they would vanish from the design).
    categories : str or list of str, default "haard"
        The category (or list) whose first appearance starts treatment: a label of the
        history (e.g. "haardt_ghettoomraade") or a short name of :data:`CATEGORY_ALIASES`
        ("udsat", "ghetto", "haard", "forebyggelse"; the default "haard" is hårdt
        ghettoområde or its successor omdannelsesområde).
    lag : int, default 1
        Years from the list year to the first treated year (0-30); 1: a list published on
        1 December takes effect the following year.
    comparison : {"never_treated", "never_listed", "forebyggelse", "categories"}, default "never_treated"
        The comparison pool among areas never in a treating category: "never_treated" all of
        them; "never_listed" only areas on no list in any year and category; "forebyggelse"
        only areas listed as forebyggelsesområde at some point; "categories" only areas listed
        in one of ``pool_categories`` at some point. Areas outside the pool get
        ``role="excluded"`` so nothing disappears silently.
    pool_categories : str or list of str, optional
        With ``comparison="categories"`` only (an error otherwise): the list categories (labels
        or short names of :data:`CATEGORY_ALIASES`) whose areas form the pool.

    Returns
    -------
    pandas.DataFrame
        Columns OMR_ID, cohort, role ("treated", "comparison" or "excluded").

    Raises
    ------
    ParameterError
        An unknown category, ``comparison`` or ``lag`` outside 0-30, or ``pool_categories``
        without ``comparison="categories"``.
    ColumnError
        ``history`` lacks OMR_ID, list_year or category.
    ValidationError
        Missing values or non-whole years in ``history``, or listed areas not in ``areas``.

    References
    ----------
    Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics* 225(2), 200-230.

    Examples
    --------
    >>> import pandas as pd
    >>> import evalkit as ek
    >>> history = pd.DataFrame({"OMR_ID": [1, 1, 2], "list_year": [2018, 2019, 2019],
    ...                         "category": ["haard", "haard", "udsat"]})
    >>> ek.cohorts_from_history(history, [1, 2, 3])["cohort"].tolist()
    [2019, 0, 0]
    """
    hist = _check_history(history)
    ids_in = area_ids(areas, "areas")
    check_same_ids(hist["OMR_ID"], "history", ids_in, "areas")
    present = sorted(hist["category"].unique())
    cats = _labels("categories", _as_list("categories", categories), present)
    _check_pool_args(comparison, pool_categories)
    lag = check_positive_int("lag", lag, minimum=0, maximum=MAX_LAG)
    ids = sorted_ids(ids_in)
    unknown = sorted(set(hist["OMR_ID"]) - set(ids))
    if unknown:
        raise ValidationError(f"history lists areas {show_ids(unknown)} that are not in areas; pass every area id.")
    treating = hist[hist["category"].isin(cats)]
    if len(hist) and treating.empty:
        warnings.warn(f"no area of the history is ever in categories {sorted(cats)}; every area is never treated "
                      f"(the history holds {present}).", EvalkitWarning, stacklevel=stack_level())
    first = treating.groupby("OMR_ID")["list_year"].min() + lag
    cohort = pd.Series(ids).map(first).fillna(0).astype("int64").to_numpy()
    role = np.where(cohort > 0, "treated", "comparison").astype(object)
    keep = _pool_members(hist, comparison, pool_categories, present, ids)
    if keep is not None:
        role[(cohort == 0) & ~pd.Series(ids).isin(keep).to_numpy()] = "excluded"
    return pd.DataFrame({"OMR_ID": restore_ids(ids, areas), "cohort": cohort, "role": role})


def _pool_members(hist: pd.DataFrame, comparison: str, pool_categories, present: list[str], ids) -> set | None:
    """Areas allowed in the comparison pool (None = every never-treated area)."""
    if comparison == "never_treated":
        return None
    if comparison == "never_listed":
        return set(ids) - set(hist["OMR_ID"])
    wanted = ["forebyggelse"] if comparison == "forebyggelse" else _as_list("pool_categories", pool_categories)
    cats = _labels("pool_categories", wanted, present)
    return set(hist.loc[hist["category"].isin(cats), "OMR_ID"])


def check_cohorts(cohorts: pd.DataFrame, what: str = "cohorts") -> pd.DataFrame:
    """A cohorts table (``OMR_ID, cohort, role``): unique plain ids, whole cohorts >= 0, known roles.
    Returns a checked copy with plain ids."""
    require_columns(cohorts, ["OMR_ID", "cohort", "role"], what)
    out = with_plain_ids(cohorts, "OMR_ID", what)
    check_unique(out, ["OMR_ID"], what, " (one cohort and role per area)")
    check_numeric_columns(out, ["cohort"], what, allow_missing=False, low=0)
    if not np.all(np.mod(out["cohort"].to_numpy(dtype=float), 1) == 0):
        raise ValidationError(f"{what} column 'cohort' must hold whole years (first treated year, 0 = never).")
    bad = sorted({str(r) for r in out["role"] if r not in ROLES})
    if bad:
        raise ValidationError(f"{what} column 'role' holds {bad}; roles are {list(ROLES)}." + closest(bad[0], ROLES))
    return out


@checked
def restrict_pool(cohorts: pd.DataFrame, history: pd.DataFrame, *, comparison: str,
                  pool_categories=None) -> pd.DataFrame:
    """Apply a list-based comparison pool to any cohorts table (e.g. from an interventions table).

    Parameters
    ----------
    cohorts : pandas.DataFrame
        ``OMR_ID, cohort, role``, e.g. from :func:`treatment_cohorts`.
    history : pandas.DataFrame
        The list history ``OMR_ID, list_year, category`` (see :func:`cohorts_from_history`).
    comparison : {"never_treated", "never_listed", "forebyggelse", "categories"}
        The comparison pool among areas never in a treating category: "never_treated" all of
        them; "never_listed" only areas on no list in any year and category; "forebyggelse"
        only areas listed as forebyggelsesområde at some point; "categories" only areas listed
        in one of ``pool_categories`` at some point. Areas outside the pool get
        ``role="excluded"`` so nothing disappears silently.
    pool_categories : str or list of str, optional
        With ``comparison="categories"`` only (an error otherwise): the list categories (labels
        or short names of :data:`CATEGORY_ALIASES`) whose areas form the pool.

    Returns
    -------
    pandas.DataFrame
        A copy of ``cohorts`` where never-treated areas outside the pool are ``excluded``;
        treated areas keep their role. Ids keep the caller's type.

    Raises
    ------
    ParameterError
        An unknown ``comparison`` or category, or ``pool_categories`` without
        ``comparison="categories"``.
    ValidationError
        A malformed ``cohorts`` or ``history`` table.
    """
    plain = check_cohorts(cohorts)
    hist = _check_history(history)
    check_same_ids(hist["OMR_ID"], "history", plain["OMR_ID"], "cohorts")
    _check_pool_args(comparison, pool_categories)
    out = cohorts.copy()
    keep = _pool_members(hist, comparison, pool_categories, sorted(hist["category"].unique()), plain["OMR_ID"])
    if keep is None:
        return out
    mask = ((plain["cohort"] == 0) & ~plain["OMR_ID"].isin(keep)).to_numpy()
    out.loc[mask, "role"] = "excluded"
    return out
