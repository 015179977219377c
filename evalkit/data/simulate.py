"""Seeded, deterministic simulator of register microdata with recorded true effects.

``simulate(out)`` writes the layout of docs/data_contract.md. The area system (the
residents of the social-housing areas and everyone who moves out of them) is simulated
twice from 2015 on, in a treated world (written as the data) and an untreated world,
with common random numbers; their difference is the recorded truth. The never-in-area
comparison population does not depend on treatment and is simulated once, streamed in
chunks of ``chunk_persons`` persons, one parquet part file per chunk.
"""
from __future__ import annotations

import json
from pathlib import Path

from evalkit.data.io import connect
import numpy as np
import pyarrow as pa

from evalkit.data import _sim_params as P
from evalkit.data import _sim_world as W
from evalkit.data._sim_areas import Treatment, areas_frame, assign_interventions, make_areas
from evalkit.data._sim_outside import write_outside
from evalkit.data._sim_output import part_path, person_year_table, prepare_dir, write_json, write_parquet
from evalkit.data._sim_survey import survey
from evalkit.data._sim_truth import area_effects, area_means, counterfactual_table, truth_document
from evalkit import progress as prog
from evalkit.errors import ParameterError, check_choice
from evalkit.core.aliases import checked

__all__ = ["simulate", "SIZES"]
SIZES = dict(P.SIZES)
_SPLIT_YEAR = min(P.OUTREACH_COHORTS)  # both worlds are identical before this year


def _logger(progress: bool):
    """Stage messages through evalkit.progress: console lines in scripts, one status bar in a notebook."""
    return prog.logger("simulate", enabled=progress)


def _check_args(seed, size, chunk_persons, n_outside) -> int:
    check_choice("size", size, list(P.SIZES))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer.")
    if isinstance(chunk_persons, bool) or not isinstance(chunk_persons, (int, np.integer)) or chunk_persons < 1:
        raise ParameterError(f"chunk_persons={chunk_persons!r} must be a positive integer.")
    n = P.SIZES[size] if n_outside is None else n_outside
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n_outside={n_outside!r} must be a non-negative integer.")
    return int(n)


def _pre_period_levels(records: dict, n_areas: int) -> tuple[np.ndarray, np.ndarray]:
    """K1 and conviction share by area, averaged over the two years before treatment."""
    k1, conv = [], []
    for year in (_SPLIT_YEAR - 2, _SPLIT_YEAR - 1):
        rec = records[year]
        k1.append(area_means({**rec, "besk": rec["udenfor"]}, n_areas)[0])
        conv.append(area_means(rec, n_areas)[1])
    return np.mean(k1, axis=0), np.mean(conv, axis=0)


def _simulate_worlds(seed: int, log):
    """Common history to 2014, selection of treated areas, then the two worlds."""
    areas = make_areas(seed)
    log(f"area system: {areas.n} areas, burn-in from {P.BURN_IN_START}")
    st, pre = W.run(seed, W.initial_state(seed, areas), range(P.BURN_IN_START, _SPLIT_YEAR),
                    areas, Treatment.none(areas.n), W.keep_full, log)
    interventions, treat = assign_interventions(seed, areas, *_pre_period_levels(pre, areas.n))
    log("treated world")
    _, post1 = W.run(seed, st, range(_SPLIT_YEAR, P.LAST_YEAR + 1), areas, treat, W.keep_full, log)
    log("untreated world")
    _, post0 = W.run(seed, st, range(_SPLIT_YEAR, P.LAST_YEAR + 1), areas, Treatment.none(areas.n),
                     W.keep_counterfactual, log)
    rec1 = {**pre, **post1}
    rec0 = {**{y: W.keep_counterfactual(r, r) for y, r in pre.items()}, **post0}
    return areas, interventions, treat, rec1, rec0


def _write_area_system(out: Path, seed: int, rec1: dict, log) -> dict:
    written = {}
    for part, year in enumerate(sorted(rec1)):
        path = part_path(out, part)
        written[path] = write_parquet(person_year_table(seed, rec1[year], year), path)
    log(f"wrote {len(written)} area-system part files, {sum(written.values()):,} rows")
    return written


def _outside_income(parts: list) -> dict:
    """{year: (income sum, count) by region} of the outside population's K4 taxpayers (from its parts)."""
    con = connect()
    try:
        files = ", ".join("'" + p.as_posix().replace("'", "''") + "'" for p in parts)
        rows = con.execute(f"""SELECT AAR, REGION, sum(PERINDKIALT), count(*) FROM read_parquet([{files}])
            WHERE AAR - FOED_AAR BETWEEN 15 AND 64 AND UDD_FTE < 0.5 AND PERINDKIALT IS NOT NULL
            GROUP BY ALL""").fetchall() if parts else []
    finally:
        con.close()
    sums = {y: (np.zeros(len(P.REGIONS)), np.zeros(len(P.REGIONS))) for y in range(P.FIRST_YEAR, P.LAST_YEAR + 1)}
    for year, region, total, n in rows:
        i = int(np.searchsorted(P.REGIONS, region))
        sums[int(year)][0][i], sums[int(year)][1][i] = total, n
    return sums


def _write_truth(out: Path, seed: int, size: str, areas, interventions, treat, rec1, rec0, outside) -> dict:
    effects = area_effects(seed, rec1, rec0, areas, treat, outside)
    written = {out / "truth" / "area_effects.parquet": write_parquet(
        pa.Table.from_pandas(effects, preserve_index=False), out / "truth" / "area_effects.parquet")}
    cf = pa.concat_tables([counterfactual_table(seed, rec1[y], rec0[y], y) for y in sorted(rec1)])
    written[out / "truth" / "person_counterfactual.parquet"] = write_parquet(
        cf, out / "truth" / "person_counterfactual.parquet")
    write_json(truth_document(seed, size, effects, interventions), out / "truth" / "truth.json")
    return written


def _write_small_tables(out: Path, seed: int, areas, interventions, treat, rec1) -> dict:
    af = pa.Table.from_pandas(areas_frame(areas), preserve_index=False).cast(pa.schema([
        ("OMR_ID", pa.int32()), ("OMR_NAVN", pa.string()), ("REGION", pa.int16()), ("KOMMUNE", pa.int16())]))
    written = {out / "areas.parquet": write_parquet(af, out / "areas.parquet")}
    interventions.to_csv(out / "interventions.csv", index=False)
    written[out / "interventions.csv"] = len(interventions)
    written[out / "tryghed_survey.parquet"] = write_parquet(
        survey(seed, rec1, areas, treat), out / "tryghed_survey.parquet")
    return written


def _manifest(out: Path, seed: int, size: str, n_areas: int, n_persons: int, written: dict) -> dict:
    py_rows = sum(r for p, r in written.items() if p.parent.name == "person_years")
    return {
        "generator": P.GENERATOR_VERSION, "seed": int(seed), "size": size, "n_areas": n_areas,
        "n_persons": int(n_persons), "n_person_years": int(py_rows),
        "years": [P.FIRST_YEAR, P.LAST_YEAR], "burn_in_start": P.BURN_IN_START,
        "files": {p.relative_to(out).as_posix(): int(r) for p, r in sorted(written.items())},
    }


def is_current(out, *, seed: int, size: str) -> bool:
    """True when ``out`` already holds this generator version's data for ``seed`` and ``size``."""
    try:
        manifest = json.loads((Path(out) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (manifest.get("generator"), manifest.get("seed"), manifest.get("size")) == (
        P.GENERATOR_VERSION, int(seed), size)


@checked
def simulate(out, *, seed: int = 2024, size: str = "small", chunk_persons: int = 250_000,
             progress: bool = True) -> Path:
    """Simulate register microdata with recorded true effects into directory ``out``.

    Writes the layout of ``docs/data_contract.md`` (person-years, areas, interventions,
    survey, manifest) for trying the pipeline and checking estimators against a known
    truth. The area system is simulated twice from 2015 on, in a treated world (written as
    the data) and an untreated world, with common random numbers; their difference is the
    recorded truth (``truth`` files). Deterministic: the same ``seed`` gives the same data.

    Parameters
    ----------
    out : str or pathlib.Path
        Output directory: new, empty, or a previous simulate output (which is replaced).
    seed : int, default 2024
        Non-negative seed of all random numbers.
    size : {"small", "medium", "national"}, default "small"
        The comparison population outside the areas: "small" (40,000 persons), "medium"
        (400,000) or "national" (5.5 million, streamed in chunks of ``chunk_persons``).
    chunk_persons : int, default 250000
        Persons of the outside population simulated and written per parquet part file
        (bounds memory).
    progress : bool, default True
        Report the stages (console lines in a script, one status bar in a notebook).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ParameterError
        An unknown ``size``, a negative or non-integer ``seed``, a non-positive
        ``chunk_persons``, or an ``out`` that is a file or a non-empty directory that is not a
        simulate output.

    Examples
    --------
    >>> import evalkit as ek
    >>> path = ek.simulate("demo_data", size="small", seed=1, progress=False)  # doctest: +SKIP
    >>> panel = ek.outcome_panel(path)  # doctest: +SKIP
    """
    return simulate_sized(out, seed=seed, size=size, chunk_persons=chunk_persons, progress=progress)


def simulate_sized(out, *, seed: int, size: str, chunk_persons: int, progress: bool,
                   n_outside: int | None = None) -> Path:
    """:func:`simulate` with ``n_outside`` persons outside the areas instead of the ``size``'s count
    (small test worlds; not public). Parameters as :func:`simulate`."""
    n_outside = _check_args(seed, size, chunk_persons, n_outside)
    out = prepare_dir(out)
    log = _logger(progress)
    areas, interventions, treat, rec1, rec0 = _simulate_worlds(int(seed), log)
    written = _write_area_system(out, seed, rec1, log)
    outside_parts = write_outside(out, seed, n_outside, int(chunk_persons), len(written), log)
    written.update(outside_parts)
    written.update(_write_small_tables(out, seed, areas, interventions, treat, rec1))
    written.update(_write_truth(out, seed, size, areas, interventions, treat, rec1, rec0,
                                _outside_income(sorted(outside_parts))))
    n_area_persons = len(np.unique(np.concatenate([r["id"] for r in rec1.values()])))
    write_json(_manifest(out, seed, size, areas.n, n_area_persons + n_outside, written), out / "manifest.json")
    log(f"done: {out}")
    return out
