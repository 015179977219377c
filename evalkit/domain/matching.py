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
    the result is deterministic given the seed. Treated areas with no comparison area inside
    the caliper are dropped *and reported* (``unmatched``, plus an :class:`EvalkitWarning`).
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

from evalkit.domain._common import (_plain, check_bool, check_names, check_number, check_numeric_columns,
                                    check_positive_int, check_same_ids, check_seed, check_unique, check_year_column,
                                    check_years, frame_html, require_columns, restore_ids, with_plain_ids)
from evalkit.domain.pools import check_cohorts
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError, check_choice
from evalkit.core.aliases import checked

METHODS = ("propensity", "mahalanobis")


def pre_period_features(panel: pd.DataFrame, covariates: list[str], years: list[int]) -> pd.DataFrame:
    """Mean of each covariate over ``years`` per area (index ``OMR_ID``); areas missing a value raise."""
    require_columns(panel, ["OMR_ID", "AAR", *covariates], "panel")
    have = sorted(set(panel["AAR"]))
    missing = [y for y in years if y not in have]
    if not years or missing:
        raise ParameterError(f"pre_years={list(years)!r} must be years in the panel ({have[0]}-{have[-1]}).")
    feats = panel[panel["AAR"].isin(years)].groupby("OMR_ID", observed=True)[covariates].mean()
    bad = feats.index[feats.isna().any(axis=1)].tolist()
    if bad:
        raise ValidationError(f"areas {bad[:5]} have no value of some covariate in pre_years; "
                              "choose other covariates or years, or drop those areas explicitly.")
    return feats


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


@dataclass(frozen=True)
class MatchResult:
    """Immutable matching result.

    ``pairs``: treated OMR_ID, comparison OMR_ID, distance, match (rank within the treated area).
    ``balance``: the balance table (:func:`smd_table`). ``unmatched``: treated OMR_IDs dropped by
    the caliper. ``cohorts``: OMR_ID, cohort, role (treated / comparison / excluded) for
    :func:`evalkit.attach_cohort`; unmatched treated and unused comparison areas are ``excluded``.
    ``weights``: OMR_ID, weight (treated 1; comparison uses / ratio).
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

    def tidy(self) -> pd.DataFrame:
        return self.balance.copy(deep=True)

    def _repr_html_(self) -> str:
        note = f"{len(self.unmatched)} treated area(s) dropped by the caliper: {list(self.unmatched)}"
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


def _pack(feats, roles, pairs, treated, method, ratio, replace, caliper, seed) -> MatchResult:
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
                       method=method, ratio=ratio, replace=replace, caliper=caliper, seed=seed)


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
    """Match comparison areas to treated areas on pre-period indicators (see module docstring).

    ``panel``: area x year (``OMR_ID, AAR`` and the ``covariates``). ``cohorts``: ``OMR_ID, cohort,
    role`` from :func:`evalkit.treatment_cohorts` or :func:`cohorts_from_history`; areas with role
    ``excluded`` are not in the pool. ``pre_years``: years averaged per area (default: the last 3
    years before the first treated year). ``caliper``: maximum distance (SD of the logit score
    for ``"propensity"``), None = no caliper. Inputs are never modified. Area ids may be whole
    numbers, text or categorical; the results use the ids of ``cohorts``. ``cohorts`` in the result
    keeps every area of the input table (areas excluded before matching stay ``excluded``).
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
    feats = pre_period_features(data[data["OMR_ID"].isin(pool["OMR_ID"])], covariates, pre_years)
    absent = sorted(set(pool["OMR_ID"]) - set(feats.index))
    if absent:
        raise ValidationError(f"areas {absent[:5]} of cohorts have no rows in pre_years {pre_years}.")
    treated = feats.index.map(pool.set_index("OMR_ID")["cohort"]).to_numpy() > 0
    if treated.all() or not treated.any():
        raise ValidationError("matching needs both treated and comparison areas in the pool.")
    dist, scale = distance_matrix(feats.to_numpy(float), treated, method)
    order = np.random.default_rng(seed).permutation(int(treated.sum()))
    pairs = greedy_match(dist, ratio=ratio, replace=replace, caliper=None if caliper is None else caliper * scale,
                         order=order)
    result = _pack(feats, coh, pairs, treated, method, ratio, replace, caliper, seed)
    if isinstance(getattr(cohorts["OMR_ID"], "dtype", None), pd.CategoricalDtype):  # ids back in the caller's type
        like = cohorts["OMR_ID"]
        result = replace_ids(result, like)
    if result.unmatched:
        warnings.warn(f"{len(result.unmatched)} treated area(s) had no comparison area within caliper={caliper} "
                      f"and were dropped: {list(result.unmatched)}.", EvalkitWarning, stacklevel=2)
    return result
