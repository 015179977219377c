"""Inference methods: the CR1/HC1 registry used by the fits and the few-cluster kernels (wild
cluster bootstrap, CR2 / CR3, randomization inference). They work on arrays and import no
estimator; ``Result.with_inference``, which rebuilds an estimator's design or re-estimates it,
lives one layer up in :mod:`evalkit.estimators.postfit`."""
from evalkit.inference.registry import POSTFIT, REGISTRY, FitRequest, available, info, resolve, split, wald_table
from evalkit.inference.small_sample import cr2_dof, cr2_vcov, cr3_vcov
from evalkit.inference.wild import WildResult, wild_cluster_bootstrap

__all__ = ["POSTFIT", "split", "REGISTRY", "FitRequest", "WildResult", "available", "cr2_dof", "cr2_vcov", "cr3_vcov", "info",
           "resolve", "wald_table", "wild_cluster_bootstrap"]
