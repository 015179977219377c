"""Design check: how many clusters are treated, is assignment constant within them, and is
conventional cluster-robust inference trustworthy?

With few treated clusters, CR1 standard errors over-reject badly (MacKinnon & Webb 2017,
"Wild bootstrap inference for wildly different cluster sizes", J. Applied Econometrics 32(2);
Conley & Taber 2011). Below about 10 treated clusters evalkit recommends the restricted wild
cluster bootstrap (Roodman, MacKinnon, Nielsen & Webb 2019) for the main effect.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalkit.errors import ColumnError, ValidationError

MIN_TREATED_FOR_CR1 = 10


@dataclass(frozen=True, slots=True)
class DesignCheck:
    """Counts of treated and comparison clusters and the inference they call for."""

    n_treated_clusters: int
    n_control_clusters: int
    cr1_reliable: bool
    recommended: str  # "cr1" or "wild"


def design_check(data: pd.DataFrame, *, cohort: str, cluster: str, min_treated: int = MIN_TREATED_FOR_CR1) -> DesignCheck:
    """Check that the cohort (first treated period, 0 = never) is constant within each cluster
    and count treated and comparison clusters. Raises when assignment varies within a cluster."""
    missing = [c for c in (cohort, cluster) if c not in data.columns]
    if missing:
        raise ColumnError(f"design_check needs column(s) {missing}; available: {sorted(map(str, data.columns))}.")
    per_cluster = data.groupby(cluster)[cohort].nunique()
    if (per_cluster > 1).any():
        bad = per_cluster[per_cluster > 1].index[0]
        raise ValidationError(f"treatment timing {cohort!r} varies within cluster {cluster}={bad!r}; "
                              "treatment must be assigned at the cluster level.")
    first = data.groupby(cluster)[cohort].first()
    n_treated, n_control = int((first > 0).sum()), int((first == 0).sum())
    reliable = n_treated >= min_treated and n_control >= min_treated
    return DesignCheck(n_treated, n_control, reliable, "cr1" if reliable else "wild")


def twfe_wild_p(panel: pd.DataFrame, *, outcome: str, treatment: str, unit: str, time: str, cluster: str,
                seed: int, alpha: float = 0.05, draws: int = 9999):
    """Restricted wild cluster bootstrap (Rademacher, enumerated when 2^G <= draws) of the static TWFE
    effect with unit and time fixed effects partialled out."""
    from evalkit.inference.wild import wild_cluster_bootstrap

    fe = [pd.factorize(panel[unit])[0], pd.factorize(panel[time])[0]]
    X = panel[[treatment]].to_numpy(float)
    return wild_cluster_bootstrap(panel[outcome].to_numpy(float), X, panel[cluster].to_numpy(), coef_index=0,
                                  restricted=True, draws=draws, seed=seed, alpha=alpha, fe_codes=fe)


__all__ = ["DesignCheck", "MIN_TREATED_FOR_CR1", "design_check", "twfe_wild_p"]
