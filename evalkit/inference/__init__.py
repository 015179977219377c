"""Inference methods: the CR1/HC1 registry used by the estimators, and the few-cluster tools
(wild cluster bootstrap, CR2 / CR3) as pure functions (not yet registry methods)."""
from evalkit.inference.registry import REGISTRY, FitRequest, available, info, resolve, wald_table
from evalkit.inference.small_sample import cr2_dof, cr2_vcov, cr3_vcov
from evalkit.inference.wild import WildResult, wild_cluster_bootstrap

__all__ = ["REGISTRY", "FitRequest", "WildResult", "available", "cr2_dof", "cr2_vcov", "cr3_vcov", "info",
           "resolve", "wald_table", "wild_cluster_bootstrap"]
