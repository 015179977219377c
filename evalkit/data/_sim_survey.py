"""The tryghed survey: yearly repeated cross-sections of area residents (15+) and a
national reference sample. Respondent keys are random and not linkable."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R
from evalkit.data._sim_areas import Areas, Treatment
from evalkit.data._sim_output import SURVEY_SCHEMA, omr_array

N_PER_AREA, N_NATIONAL, YEAR_NOISE_SD = 120, 1000, 0.015


def tryg_probabilities(seed: int, areas: Areas, treat: Treatment, year: int) -> np.ndarray:
    """Probability of feeling safe by area (index 0 = national) in ``year`` and world ``treat``."""
    rng = np.random.default_rng([int(seed), 303, year])
    base = areas.tryg + rng.normal(0.0, YEAR_NOISE_SD, len(areas.tryg))
    effect = P.poa_tryg_effect(year - treat.poa_start)
    return np.clip(base + effect, 0.0, 1.0)


def _sample_residents(seed: int, rec: dict, year: int) -> np.ndarray:
    """Indices of up to N_PER_AREA residents aged 15+ per area, by a keyed random order."""
    idx = np.flatnonzero((rec["omr"] > 0) & (rec["age"] >= 15))
    key = R.uniform(seed, rec["id"][idx], year, R.S_SURVEY)
    order = idx[np.lexsort((key, rec["omr"][idx]))]
    omr = rec["omr"][order]
    first = np.searchsorted(omr, omr, side="left")
    return order[np.arange(len(order)) - first < N_PER_AREA]


def survey_year(seed: int, rec: dict, year: int, areas: Areas, treat: Treatment, start_id: int) -> pa.Table:
    """One survey year: area respondents then the national reference sample."""
    rng = np.random.default_rng([int(seed), 304, year])
    pick = _sample_residents(seed, rec, year)
    omr = np.concatenate([rec["omr"][pick], np.zeros(N_NATIONAL, dtype=np.int32)])
    koen = np.concatenate([rec["koen"][pick], rng.integers(1, 3, N_NATIONAL)]).astype(np.int8)
    alder = np.concatenate([rec["age"][pick], rng.integers(15, 90, N_NATIONAL)]).astype(np.int16)
    p = tryg_probabilities(seed, areas, treat, year)[omr]
    tryg = (rng.random(len(omr)) < p).astype(np.int8)
    resp = R.hash64(seed, np.arange(start_id, start_id + len(omr), dtype=np.uint64), 0, R.S_SURVEY)
    cols = [R.hex_strings(resp, 12), pa.array(np.full(len(omr), year, dtype=np.int16)),
            omr_array(omr), pa.array(koen), pa.array(alder), pa.array(tryg)]
    return pa.Table.from_arrays(cols, schema=SURVEY_SCHEMA)


def survey(seed: int, records: dict, areas: Areas, treat: Treatment) -> pa.Table:
    """All survey years from the treated world's yearly records."""
    tables, start = [], 0
    for year in sorted(records):
        t = survey_year(seed, records[year], year, areas, treat, start)
        tables.append(t)
        start += t.num_rows
    return pa.concat_tables(tables)
