"""Parameter text shared by the docstrings of :func:`evalkit.domain.subgroups.subgroup_effects` and
:func:`evalkit.domain.survey_subgroups.survey_subgroup_effects` (numpydoc sections, written once).

A docstring names a shared block by a line ``{{name}}`` (indented like a parameter); :func:`shared_parameters`
puts the block there. ``{{unit}}`` inside a block is the counted unit ("persons", "respondents").
"""
from __future__ import annotations

BLOCKS = {
    "cohorts": """cohorts : dict or pandas.DataFrame
    {area: first treated year} or a frame ``OMR_ID, cohort``; areas not listed are
    comparison areas.""",
    "min_cell": """min_cell : int, default 5
    Disclosure threshold (>= 3): every area x year x subgroup cell an estimate rests on
    must hold at least this many {{unit}} (smaller cells are dropped at the source), and a
    subgroup whose treated or comparison areas hold fewer in some year is *thin*. In a
    report run the run's ``min_cell`` is the least that applies.""",
    "thin": """thin : {"auto", "pool", "suppress"}, default "auto"
    Policy for thin subgroups: "auto" pools ordered categories (age bands, education) with
    the adjacent smaller category and suppresses unordered ones (origin, sex: the row stays
    with blank numbers and a note); "pool" or "suppress" for every kind.""",
    "round_base": """round_base : int, default 5
    The counts ``n`` shown are rounded to the nearest multiple of it (half up, never below
    ``min_cell``) so that subgroup counts cannot be differenced against other tables;
    1 shows exact counts.""",
    "alpha": """alpha : float, default 0.05
    Intervals have level 1 - alpha.""",
    "inference": """inference : str, optional
    Per-subgroup inference of :func:`twfe` (e.g. "wild" with few treated areas).
inference_options : mapping, optional
    Options of the post-fit ``inference`` method, as in :func:`twfe`.""",
    "areas": """areas : sequence, optional
    The areas to use (treated and comparison pool, e.g. without the areas of other
    interventions); None: every area in the data.""",
    "joint": """joint : {"wild", "f"}, default "wild"
    The joint test's p-value: "wild" from the wild cluster restricted bootstrap of the Wald
    statistic with the null imposed (Roodman et al. 2019); "f" from F(k - 1, G - 1) (CR1;
    over-rejects unless many areas are treated).
joint_options : mapping, optional
    ``draws`` (default 9999), ``weights`` ("rademacher", "webb" or "mammen") and ``seed``
    of the joint bootstrap; None takes them from ``inference_options`` when ``inference``
    is "wild" (9999 Rademacher draws with seed 0, reproducible, otherwise; ``seed: None``
    draws fresh randomness).""",
    "returns": """SubgroupEffects
    One row per subgroup and the joint test.""",
}


def shared_parameters(unit: str):
    """Decorator: replace each ``{{name}}`` line of the function's docstring by the block ``name``
    of :data:`BLOCKS`, indented as the marker, with ``{{unit}}`` read as ``unit``."""
    def put(func):
        lines = []
        for line in func.__doc__.splitlines():
            name = line.strip()
            if name.startswith("{{") and name.endswith("}}") and name[2:-2] in BLOCKS:
                indent = line[: len(line) - len(line.lstrip())]
                block = BLOCKS[name[2:-2]].replace("{{unit}}", unit)
                lines.extend(indent + part for part in block.splitlines())
            else:
                lines.append(line)
        func.__doc__ = "\n".join(lines)
        return func
    return put
