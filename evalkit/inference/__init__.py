"""Inference methods, looked up by name in one registry."""
from evalkit.inference.registry import REGISTRY, FitRequest, available, info, resolve, wald_table

__all__ = ["REGISTRY", "FitRequest", "available", "info", "resolve", "wald_table"]
