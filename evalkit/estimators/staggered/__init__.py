"""Staggered-adoption estimators: Callaway & Sant'Anna (2021) ATT(g,t) and aggregation."""
from evalkit.estimators.staggered.cs import aggregate, att_gt

__all__ = ["aggregate", "att_gt"]
