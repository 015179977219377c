"""Matched comparison areas on pre-period indicators, with a balance table.

Distances
    ``"propensity"``: the logit of the propensity score from a logistic regression of
    treatment on the standardised pre-period indicators (statsmodels ``Logit``;
    Rosenbaum & Rubin 1983, *Biometrika* 70(1), 41-55); the caliper is in standard
    deviations of the logit score (0.2 is the usual choice, Austin 2011, *Pharmaceutical
    Statistics* 10(2), 150-161). ``"mahalanobis"``: Mahalanobis distance with the pooled
    covariance of the indicators (Rubin 1980); the caliper is in distance units.
Matching
    Greedy nearest neighbour, ``ratio`` comparison areas per treated area, with or without
    replacement (Stuart 2010, *Statistical Science* 25(1), 1-21, sec. 3). Treated areas are
    matched in an order drawn from ``seed`` (ties in distance go to the lower area id), so
    the result is deterministic given the seed. Treated areas left without a comparison area
    are dropped *and reported* (``unmatched``, ``notes``, plus an :class:`EvalkitWarning`
    that gives the reason): either the comparison pool ran out (matching without
    replacement, ``ratio`` comparison areas per treated area, more than the pool holds) or
    no comparison area lay within the caliper. Treated areas that got some but fewer than
    ``ratio`` comparison areas are reported the same way.
Covariates
    Each area's covariate is its mean over ``pre_years``. A covariate missing in some of an
    area's pre-years is averaged over the years it has, with an :class:`EvalkitWarning` saying
    how many area-years were missing for which covariate; an area missing a covariate in every
    pre-year is an error. A covariate that is constant across the pool's areas, or a linear
    combination of the others, is refused (:class:`ValidationError` naming it): it carries no
    information for the distance and makes the propensity model singular. The test is
    scale-invariant (:func:`evalkit.core.checks.check_covariates`).
Balance
    Standardised mean difference (SMD) = (mean_t - mean_c) / sqrt((s_t^2 + s_c^2) / 2),
    with the *before-matching* standard deviations as denominator both before and after,
    and the variance ratio s_t^2 / s_c^2 (Stuart 2010, sec. 6.1; Austin 2009, *Statistics in
    Medicine* 28, 3083-3107). After matching, comparison areas are weighted by how often
    they were used over ``ratio``.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.aliases import checked
from evalkit.core.checks import check_covariates, checked_init
from evalkit.domain._common import (_plain, check_bool, check_names, check_number, check_numeric_columns,
                                    check_positive_int, check_same_ids, check_seed, check_unique, check_year_column,
                                    check_years, frame_html, require_columns, restore_ids, show_ids, with_plain_ids)
from evalkit.domain.pools import check_cohorts
from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError, check_choice
from evalkit.results.result import immutable_value

METHODS = ("propensity", "mahalanobis")


def pre_period_features(panel: pd.DataFrame, covariates: list[str], years: list[int]) -> pd.DataFrame:
    """Mean of each covariate over ``years`` per area (index ``OMR_ID``), over the years observed;
    areas missing a covariate in every one of ``years`` raise (see :func:`missing_area_years`)."""
    require_columns(panel, ["OMR_ID", "AAR", *covariates], "panel")
    have = sorted(set(panel["AAR"]))
    missing = [y for y in years if y not in have]
    if not years or missing:
        raise ParameterError(f"pre_years={list(years)!r} must be years in the panel ({have[0]}-{have[-1]}).")
    feats = panel[panel["AAR"].isin(years)].groupby("OMR_ID", observed=True)[covariates].mean()
    bad = feats.index[feats.isna().any(axis=1)].tolist()
    if bad:
        raise ValidationError(f"areas {show_ids(bad)} have no value of some covariate in pre_years; "
                              "choose other covariates or years, or drop those areas explicitly.")
    return feats


def missing_area_years(panel: pd.DataFrame, covariates: list[str], years: list[int], areas) -> dict[str, int]:
    """Per covariate, the area-years of ``areas`` x ``years`` without a value (a missing value or
    no row at all); only covariates with some are listed."""
    sub = panel[panel["OMR_ID"].isin(areas) & panel["AAR"].isin(years)]
    cells = len(pd.unique(np.asarray(areas, dtype=object))) * len(years)
    counts = {c: cells - int(sub[c].notna().sum()) for c in covariates}
    return {c: n for c, n in counts.items() if n > 0}


def logit_score(X: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Linear predictor (logit of the propensity score) of a statsmodels Logit on standardised X."""
    import statsmodels.api as sm

    Z = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    design = sm.add_constant(Z, has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(treated.astype(float), design).fit(disp=0, maxiter=200)
    except np.linalg.LinAlgError as err:
        raise ValidationError(f"the propensity model could not be fitted ({err}); use fewer covariates.") from None
    return design @ np.asarray(fit.params)


def distance_matrix(X: np.ndarray, treated: np.ndarray, method: str) -> tuple[np.ndarray, float]:
    """(n_treated x n_control) distances and the scale the caliper is measured in."""
    t, c = X[treated], X[~treated]
    if method == "propensity":
        score = logit_score(X, treated)
        return np.abs(score[treated][:, None] - score[~treated][None, :]), float(np.std(score, ddof=1))
    cov = np.atleast_2d(np.cov(X, rowvar=False))
    inv = np.linalg.pinv(cov)
    diff = t[:, None, :] - c[None, :, :]
    return np.sqrt(np.einsum("tck,kl,tcl->tc", diff, inv, diff)), 1.0


def greedy_match(dist: np.ndarray, *, ratio: int, replace: bool, caliper: float | None,
                 order: np.ndarray) -> list[tuple[int, int, float]]:
    """Greedy nearest-neighbour matching: (treated row, control column, distance) triples.

    Treated rows are visited in ``order``; each takes its ``ratio`` nearest controls within
    ``caliper`` (ties to the lower column), removing them from the pool unless ``replace``.
    """
    used = np.zeros(dist.shape[1], bool)
    pairs = []
    for i in order:
        d = np.where(used, np.inf, dist[i])
        if caliper is not None:
            d = np.where(d <= caliper, d, np.inf)
        for j in np.argsort(d, kind="stable")[:ratio]:
            if not np.isfinite(d[j]):
                break
            pairs.append((int(i), int(j), float(d[j])))
            used[j] = used[j] or not replace
    return pairs


def shortfalls(pairs: list[tuple[int, int, float]], order: np.ndarray, n_controls: int, *, ratio: int,
               replace: bool) -> dict[str, list[int]]:
    """Treated rows that got fewer than ``ratio`` comparison areas, by reason (pure; replays
    :func:`greedy_match` in ``order``).

    ``"pool"``: the row took every comparison area still unused (the pool ran out, or holds fewer
    than ``ratio`` areas); ``"caliper"``: unused comparison areas were left but outside the caliper.
    Keys ``pool_dropped``, ``caliper_dropped`` (no match at all) and ``pool_short``,
    ``caliper_short`` (some, but fewer than ``ratio``)."""
    got = np.zeros(int(max(order, default=-1)) + 1, dtype=int)
    for i, _, _ in pairs:
        got[i] += 1
    out: dict[str, list[int]] = {"pool_dropped": [], "caliper_dropped": [], "pool_short": [], "caliper_short": []}
    used = 0
    for i in order:
        k = int(got[i])
        left = n_controls if replace else n_controls - used
        if k < ratio:
            reason = "pool" if k >= left else "caliper"
            out[f"{reason}_{'dropped' if k == 0 else 'short'}"].append(int(i))
        if not replace:
            used += k
    return out


def smd_table(X: pd.DataFrame, treated: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """SMD and variance ratio before (all areas) and after (``weights`` on matched areas)."""
    rows = []
    t_w = weights[treated] > 0
    c_w = weights[~treated]
    for col in X.columns:
        x = X[col].to_numpy(float)
        xt, xc = x[treated], x[~treated]
        sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
        mt_a = xt[t_w].mean()
        mc_a = np.average(xc, weights=c_w) if c_w.sum() > 0 else np.nan
        vc_a = np.average((xc - mc_a) ** 2, weights=c_w) if c_w.sum() > 0 else np.nan
        rows.append({"covariate": col, "mean_treated_before": xt.mean(), "mean_comparison_before": xc.mean(),
                     "smd_before": (xt.mean() - xc.mean()) / sd if sd > 0 else np.nan,
                     "var_ratio_before": xt.var(ddof=1) / xc.var(ddof=1) if xc.var(ddof=1) > 0 else np.nan,
                     "mean_treated_after": mt_a, "mean_comparison_after": mc_a,
                     "smd_after": (mt_a - mc_a) / sd if sd > 0 else np.nan,
                     "var_ratio_after": xt[t_w].var(ddof=1) / vc_a if vc_a and vc_a > 0 else np.nan})
    return pd.DataFrame(rows)


@checked_init
@immutable_value
@dataclass(frozen=True)
class MatchResult:
    """Matching result of :func:`match_areas`; every frame is handed out as a copy.

    Attributes
    ----------
    pairs : pandas.DataFrame
        treated OMR_ID, comparison OMR_ID, distance, match (rank within the treated area).
    balance : pandas.DataFrame
        The balance table: per covariate, means, standardised mean difference and variance
        ratio before and after matching.
    unmatched : tuple
        Treated OMR_IDs dropped (the comparison pool ran out, or no comparison area within the
        caliper; ``notes`` says which).
    cohorts : pandas.DataFrame
        OMR_ID, cohort, role (treated / comparison / excluded) for :func:`attach_cohort`;
        unmatched treated and unused comparison areas are ``excluded``.
    weights : pandas.DataFrame
        OMR_ID, weight (treated 1; comparison uses / ratio).
    method : str
        "propensity" or "mahalanobis".
    ratio : int
        Comparison areas per treated area.
    replace : bool
        Whether matching was with replacement.
    caliper : float or None
        The caliper, if any.
    seed : int
        The seed of the matching order.
    notes : tuple of str, default ()
        The warnings issued (why treated areas were dropped or got fewer than ``ratio``
        comparison areas).
    """

    pairs: pd.DataFrame
    balance: pd.DataFrame
    unmatched: tuple[int, ...]
    cohorts: pd.DataFrame
    weights: pd.DataFrame
    method: str
    ratio: int
    replace: bool
    caliper: float | None
    seed: int
    notes: tuple[str, ...] = ()

    @checked
    def tidy(self) -> pd.DataFrame:
        """Return a copy of the balance table.

        Returns
        -------
        pandas.DataFrame
            One row per covariate with the balance before and after matching.
        """
        return self.balance.copy(deep=True)

    def _repr_html_(self) -> str:
        note = " ".join(self.notes) if self.notes else "every treated area matched"
        return frame_html(f"Matching ({self.method}, 1:{self.ratio}, replace={self.replace}); {note}", self.balance)


def _check_match_args(method, ratio, replace, caliper, seed):
    check_choice("method", method, METHODS)
    check_positive_int("ratio", ratio, maximum=100)
    check_bool("replace", replace)
    if caliper is not None:
        check_number("caliper", caliper, low=0, low_open=True)
    check_seed("seed", seed)


def _default_pre_years(panel: pd.DataFrame, cohorts: pd.Series) -> list[int]:
    if not (cohorts > 0).any():
        raise ValidationError("matching needs both treated and comparison areas in the pool; cohorts has no "
                              "treated area (cohort > 0) outside role 'excluded'.")
    first = int(cohorts[cohorts > 0].min())
    years = sorted(y for y in set(panel["AAR"]) if y < first)
    if not years:
        raise ParameterError(f"no panel year before the first treated year {first}; pass pre_years explicitly.")
    return years[-3:]


def _pack(feats, roles, pairs, treated, method, ratio, replace, caliper, seed, notes=()) -> MatchResult:
    ids = feats.index.to_numpy()
    t_ids, c_ids = ids[treated], ids[~treated]
    pt = pd.DataFrame(pairs, columns=["t", "c", "distance"])
    pt["treated_OMR_ID"], pt["comparison_OMR_ID"] = t_ids[pt["t"]], c_ids[pt["c"]]
    pt["match"] = pt.groupby("t").cumcount() + 1
    k = pt.groupby("t")["c"].transform("size")
    w = np.zeros(len(ids))
    w[np.flatnonzero(treated)[pt["t"].unique()]] = 1.0
    np.add.at(w, np.flatnonzero(~treated)[pt["c"].to_numpy()], 1.0 / k.to_numpy())
    unmatched = tuple(_plain(a) for a in sorted(set(t_ids) - set(pt["treated_OMR_ID"])))
    out = roles.set_index("OMR_ID").loc[ids, ["cohort", "role"]].copy()
    out.loc[w == 0, "role"] = "excluded"
    before = roles.loc[roles["role"] == "excluded", ["OMR_ID", "cohort", "role"]]  # excluded before matching
    cohorts = pd.concat([out.reset_index(), before]).drop_duplicates("OMR_ID")
    return MatchResult(pairs=pt[["treated_OMR_ID", "comparison_OMR_ID", "distance", "match"]],
                       balance=smd_table(feats, treated, w), unmatched=unmatched,
                       cohorts=cohorts.sort_values("OMR_ID").reset_index(drop=True),
                       weights=pd.DataFrame({"OMR_ID": ids, "weight": w}),
                       method=method, ratio=ratio, replace=replace, caliper=caliper, seed=seed,
                       notes=tuple(notes))


def replace_ids(result: MatchResult, like: pd.Series) -> MatchResult:
    """``result`` with its area ids in the type of ``like`` (a categorical keeps its categories)."""
    pairs = result.pairs.assign(treated_OMR_ID=restore_ids(result.pairs["treated_OMR_ID"], like),
                                comparison_OMR_ID=restore_ids(result.pairs["comparison_OMR_ID"], like))
    return dataclasses.replace(result, pairs=pairs,
                               cohorts=result.cohorts.assign(OMR_ID=restore_ids(result.cohorts["OMR_ID"], like)),
                               weights=result.weights.assign(OMR_ID=restore_ids(result.weights["OMR_ID"], like)))


@checked
def match_areas(panel: pd.DataFrame, cohorts: pd.DataFrame, *, covariates: list[str],
                pre_years: list[int] | None = None, method: str = "propensity", ratio: int = 1,
                replace: bool = False, caliper: float | None = None, seed: int = 0) -> MatchResult:
    """Match comparison areas to treated areas on pre-period indicators, with a balance table.

    Greedy nearest-neighbour matching, ``ratio`` comparison areas per treated area, with or
    without replacement (Stuart 2010), on the propensity-score logit (Rosenbaum & Rubin 1983)
    or the Mahalanobis distance of the areas' pre-period means. Treated areas are matched in
    an order drawn from ``seed`` (ties go to the lower area id), so the result is
    deterministic given the seed. Treated areas left without a comparison area are dropped
    *and reported* (``unmatched``, ``notes`` and an :class:`EvalkitWarning` giving the reason).
    Balance: standardised mean differences with the before-matching standard deviations,
    and variance ratios (Austin 2009). Inputs are never modified. Area ids may be whole
    numbers, text or categorical; the results use the ids of ``cohorts``.

    Parameters
    ----------
    panel : pandas.DataFrame
        Area x year with ``OMR_ID, AAR`` and the ``covariates``.
    cohorts : pandas.DataFrame
        ``OMR_ID, cohort, role`` from :func:`treatment_cohorts` or :func:`cohorts_from_history`;
        areas with role ``excluded`` are not in the pool.
    covariates : list of str
        Numeric indicator columns of ``panel`` to match on (each area's mean over
        ``pre_years``). A covariate missing in some pre-years is averaged over the observed
        years with an :class:`EvalkitWarning`; a covariate constant across the pool or
        collinear with the others is a :class:`ValidationError` naming it.
    pre_years : list of int, optional
        Years averaged per area; None: the last 3 panel years before the first treated year.
    method : {"propensity", "mahalanobis"}, default "propensity"
        The distance: the logit of the propensity score from a logistic regression of
        treatment on the standardised covariates, or the Mahalanobis distance with the pooled
        covariance.
    ratio : int, default 1
        Comparison areas per treated area (1-100). Without replacement the pool can run out,
        and the treated areas left over are dropped with a warning naming ``ratio`` and
        ``replace``.
    replace : bool, default False
        Whether a comparison area may be matched to several treated areas (it is then weighted
        by its uses).
    caliper : float, optional
        Maximum distance (> 0): standard deviations of the logit score for "propensity" (0.2 is
        the usual choice, Austin 2011), distance units for "mahalanobis". None: no caliper.
    seed : int, default 0
        Seed of the order in which treated areas are matched.

    Returns
    -------
    MatchResult
        Pairs, balance table, unmatched treated areas, a cohorts table for
        :func:`attach_cohort` (unmatched treated and unused comparison areas ``excluded``;
        every area of the input table kept) and weights.

    Raises
    ------
    ParameterError
        An unknown ``method``, ``ratio`` out of range, a non-bool ``replace``, a non-positive
        ``caliper``, a bad ``seed``, or no panel year before the first treated year.
    ColumnError
        A required column is missing or not numeric.
    ValidationError
        No treated or no comparison area in the pool, a covariate missing in every pre-year
        for an area, or a constant or collinear covariate.

    References
    ----------
    Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the propensity score in
    observational studies for causal effects. *Biometrika* 70(1), 41-55.
    Stuart, E. A. (2010). Matching methods for causal inference: a review and a look forward.
    *Statistical Science* 25(1), 1-21.
    Austin, P. C. (2011). Optimal caliper widths for propensity-score matching when estimating
    differences in means and differences in proportions in observational studies.
    *Pharmaceutical Statistics* 10(2), 150-161.
    """
    _check_match_args(method, ratio, replace, caliper, seed)
    covariates = check_names("covariates", covariates)
    require_columns(panel, ["OMR_ID", "AAR", *covariates], "panel")
    clash = [c for c in covariates if c in ("OMR_ID", "AAR")]
    if clash:
        raise ParameterError(f"covariates={covariates!r} name the key column(s) {clash}; give indicator columns.")
    check_year_column(panel, "AAR", "panel")
    check_numeric_columns(panel, covariates, "panel")
    coh = check_cohorts(cohorts)
    data = with_plain_ids(panel[["OMR_ID", "AAR", *covariates]], "OMR_ID", "panel")
    check_same_ids(data["OMR_ID"], "panel", coh["OMR_ID"], "cohorts")
    check_unique(data, ["OMR_ID", "AAR"], "panel")
    pool = coh[coh["role"] != "excluded"]
    pre_years = check_years("pre_years", pre_years) if pre_years is not None \
        else _default_pre_years(data, pool["cohort"])
    pooled = data[data["OMR_ID"].isin(pool["OMR_ID"])]
    feats = pre_period_features(pooled, covariates, pre_years)
    absent = sorted(set(pool["OMR_ID"]) - set(feats.index))
    if absent:
        raise ValidationError(f"areas {show_ids(absent)} of cohorts have no rows in pre_years {pre_years}.")
    treated = feats.index.map(pool.set_index("OMR_ID")["cohort"]).to_numpy() > 0
    if treated.all() or not treated.any():
        raise ValidationError("matching needs both treated and comparison areas in the pool.")
    try:
        check_covariates(feats, covariates)
    except ValidationError as err:
        raise ValidationError(f"{err} (Judged on the {len(feats)} pool areas' means over pre_years {pre_years}, "
                              f"which the {method} distance uses.)") from None
    gaps = missing_area_years(pooled, covariates, pre_years, feats.index)
    if gaps:
        what = ", ".join(f"{c!r} in {n}" for c, n in gaps.items())
        warnings.warn(f"match_areas: covariate(s) missing in some pre-years: {what} of the "
                      f"{len(feats) * len(pre_years)} area-years ({len(feats)} pool areas x pre_years {pre_years}); "
                      "each area's mean uses the years it has.", EvalkitWarning, stacklevel=stack_level())
    dist, scale = distance_matrix(feats.to_numpy(float), treated, method)
    order = np.random.default_rng(seed).permutation(int(treated.sum()))
    pairs = greedy_match(dist, ratio=ratio, replace=replace, caliper=None if caliper is None else caliper * scale,
                         order=order)
    if not pairs:  # only a caliper can leave every treated area without a match
        raise ValidationError(f"no treated area has a comparison area within caliper={caliper} (in "
                              f"{'SDs of the logit score' if method == 'propensity' else 'Mahalanobis distance units'}"
                              "); widen the caliper or pass caliper=None.")
    notes = _shortfall_notes(shortfalls(pairs, order, int((~treated).sum()), ratio=ratio, replace=replace),
                             feats.index.to_numpy()[treated], int(treated.sum()), int((~treated).sum()),
                             ratio=ratio, replace=replace, caliper=caliper)
    result = _pack(feats, coh, pairs, treated, method, ratio, replace, caliper, seed, notes)
    if isinstance(getattr(cohorts["OMR_ID"], "dtype", None), pd.CategoricalDtype):  # ids back in the caller's type
        like = cohorts["OMR_ID"]
        result = replace_ids(result, like)
    for note in notes:
        warnings.warn(note, EvalkitWarning, stacklevel=stack_level())
    return result


def _shortfall_notes(short: dict[str, list[int]], t_ids: np.ndarray, n_treated: int, n_controls: int, *,
                     ratio: int, replace: bool, caliper: float | None) -> list[str]:
    """One message per reason a treated area was dropped or got fewer than ``ratio`` comparison areas."""
    def ids(rows):
        return show_ids(sorted(t_ids[rows].tolist()), limit=len(rows))

    notes = []
    if short["pool_dropped"]:  # only without replacement: with it, every area can reuse the whole pool
        rows = short["pool_dropped"]
        notes.append(f"{len(rows)} treated area(s) were dropped because the comparison pool ran out: matching "
                     f"with replace={replace} uses each comparison area once, {n_treated} treated areas x "
                     f"ratio={ratio} need up to {n_treated * ratio}, and the pool holds {n_controls}. Dropped: "
                     f"{ids(rows)}. Lower ratio, or pass replace=True to reuse comparison areas.")
    if short["caliper_dropped"]:
        rows = short["caliper_dropped"]
        notes.append(f"{len(rows)} treated area(s) had no comparison area within caliper={caliper} and were "
                     f"dropped: {ids(rows)}.")
    if short["pool_short"]:
        rows = short["pool_short"]
        notes.append(f"{len(rows)} treated area(s) got fewer than ratio={ratio} comparison areas because the "
                     f"comparison pool ran out (replace={replace}, {n_controls} comparison areas in the pool): "
                     f"{ids(rows)}.")
    if short["caliper_short"]:
        rows = short["caliper_short"]
        notes.append(f"{len(rows)} treated area(s) got fewer than ratio={ratio} comparison areas within "
                     f"caliper={caliper}: {ids(rows)}.")
    return notes
