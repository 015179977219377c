"""The never-in-area comparison population, simulated and written chunk by chunk.

Persons are ids 0..n-1; everything about a person is keyed by its id, so the data do
not depend on ``chunk_persons``. Only one chunk is held in memory at a time.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R
from evalkit.data._sim_output import part_path, person_year_table, write_parquet
from evalkit.data._sim_people import outside_persons, take, yearly_outcomes


def outside_chunk(seed: int, lo: int, hi: int) -> pa.Table:
    """Person-years 2010-2024 of outside persons ``lo..hi-1`` (born later ones from birth)."""
    st = outside_persons(seed, np.arange(lo, hi, dtype=np.uint64))
    alive = np.ones(hi - lo, dtype=bool)
    tables = []
    for year in range(P.FIRST_YEAR, P.LAST_YEAR + 1):
        present = alive & (st["foed"] <= year)
        cur = take(st, present)
        out = yearly_outcomes(seed, cur, year, 0.0, 1.0, 1.0)
        tables.append(person_year_table(seed, {**cur, **out}, year))
        dies = R.uniform(seed, st["id"], year, R.S_DEATH) < P.mortality(year - st["foed"].astype(np.int64))
        alive &= ~(present & dies)
    return pa.concat_tables(tables)


def write_outside(out: Path, seed: int, n_persons: int, chunk_persons: int, first_part: int,
                  log: Callable[[str], None]) -> dict:
    """Write the outside population as one part file per chunk; returns {path: rows}."""
    written = {}
    n_chunks = max(1, -(-n_persons // chunk_persons))
    for c in range(n_chunks):
        lo, hi = c * chunk_persons, min(n_persons, (c + 1) * chunk_persons)
        if hi <= lo:
            break
        path = part_path(out, first_part + c)
        written[path] = write_parquet(outside_chunk(seed, lo, hi), path)
        log(f"  outside chunk {c + 1}/{n_chunks}: persons {lo:,}-{hi - 1:,}, {written[path]:,} rows")
    return written
