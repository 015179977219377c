"""Confidence intervals by test inversion: the nulls whose p-value exceeds ``alpha``.

For resampling tests whose p-value is a step function of the null (fixed draws, common random
numbers for every null): the ends are bracketed on a geometric ladder of offsets from the
centre (where the test never rejects) and then located by bisection to ``rtol x scale``. The
reported end is the outermost point found with ``p > alpha``; a point ``rtol x scale`` further
out has ``p <= alpha``. After the first rejected rung the ladder looks :data:`LOOKAHEAD` rungs
further (16 x the offset), so an accepted region beyond a first rejection is not cut off. An
end that is still accepted at ``scale x 2**LADDER[1]`` is infinite (the test cannot reject
that far: the interval is unbounded on that side).

Pure functions: ``p_at`` is any callable null -> p-value.
"""
from __future__ import annotations

import math
from collections.abc import Callable

#: offsets tried: ``scale * 2**k`` for k in this range
LADDER = (-10, 60)
#: rungs checked beyond the first rejected one
LOOKAHEAD = 4


def invert(p_at: Callable[[float], float], centre: float, scale: float, alpha: float, *,
           rtol: float = 1e-6) -> tuple[float, float]:
    """``(low, high)``: the ends of ``{null : p_at(null) > alpha}`` around ``centre``, each
    located to ``rtol * scale`` (``-inf``/``inf`` where the test does not reject)."""
    return (centre - _end(p_at, centre, scale, alpha, -1.0, rtol),
            centre + _end(p_at, centre, scale, alpha, 1.0, rtol))


def _end(p_at, centre: float, scale: float, alpha: float, side: float, rtol: float) -> float:
    """The distance from ``centre`` to the interval's end on ``side`` (+1 or -1)."""
    accept = lambda off: p_at(centre + side * off) > alpha  # noqa: E731
    inside, outside = _bracket(accept, scale)
    if outside is None:
        return math.inf
    while outside - inside > rtol * scale:
        mid = 0.5 * (inside + outside)
        if mid in (inside, outside):  # floating-point resolution reached
            break
        inside, outside = (mid, outside) if accept(mid) else (inside, mid)
    return inside


def _bracket(accept: Callable[[float], bool], scale: float) -> tuple[float, float | None]:
    """``(inside, outside)``: the outermost accepted offset on the ladder and the next (rejected)
    rung; ``outside`` None when every rung is accepted."""
    inside, outside, misses = 0.0, None, 0
    for k in range(LADDER[0], LADDER[1] + 1):
        off = scale * 2.0 ** k
        if accept(off):
            inside, outside, misses = off, None, 0
            continue
        outside = off if outside is None else outside
        misses += 1
        if misses > LOOKAHEAD:
            break
    return inside, outside
