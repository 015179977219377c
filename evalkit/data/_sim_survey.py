"""The tryghed survey: yearly repeated cross-sections of area residents (15+) and a
national reference sample. Respondent keys are random and not linkable.

Each wave a simple random sample of ``N_PER_AREA`` residents aged 15+ per area (keyed random
order), with design weight ``VAEGT`` = the area's residents 15+ / the sample size. Nonresponse is
selective: young and non-western residents answer less often (``RESP_AGE``, ``RESP_ORIGIN``), and
the answer depends on age band and origin (``TRYG_AGE``, ``TRYG_ORIGIN``, additive on the area's
probability), so design weights alone misrepresent the population and raking to the register's
age, sex and origin margins corrects it. A sampled person who did not answer is kept as a row
with ``TRYG`` missing (the response rate is the share of rows with an answer). The effect of POA
is additive on the probability, so the area truth (``tryghed_prob``) is the same for every cell.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R
from evalkit.data._sim_areas import Areas, Treatment
from evalkit.data._sim_output import SURVEY_SCHEMA, omr_array

N_PER_AREA, N_NATIONAL, YEAR_NOISE_SD = 200, 1000, 0.015
AGE_BOUNDS = np.array([15, 30, 45, 65])
RESP_AGE, RESP_ORIGIN = np.array([0.40, 0.55, 0.70, 0.75]), np.array([1.0, 0.85, 0.65])
TRYG_AGE, TRYG_ORIGIN = np.array([-0.04, -0.01, 0.02, 0.04]), np.array([0.02, 0.0, -0.03])
NATIONAL_ORIGIN = np.array([0.85, 0.05, 0.10])


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


def _design_weights(rec: dict, omr: np.ndarray) -> np.ndarray:
    """Residents 15+ of the respondent's area / sampled persons of the area (simple random sample)."""
    adults = (rec["omr"] > 0) & (rec["age"] >= 15)
    size = np.bincount(rec["omr"][adults], minlength=int(omr.max()) + 1)
    return size[omr] / np.minimum(size[omr], N_PER_AREA)


def survey_year(seed: int, rec: dict, year: int, areas: Areas, treat: Treatment, start_id: int) -> pa.Table:
    """One survey year: sampled area residents (nonrespondents with TRYG missing), then the national sample."""
    rng = np.random.default_rng([int(seed), 304, year])
    pick = _sample_residents(seed, rec, year)
    origin = np.concatenate([rec["origin"][pick], rng.choice(3, N_NATIONAL, p=NATIONAL_ORIGIN)]).astype(np.int8)
    omr = np.concatenate([rec["omr"][pick], np.zeros(N_NATIONAL, dtype=np.int32)])
    koen = np.concatenate([rec["koen"][pick], rng.integers(1, 3, N_NATIONAL)]).astype(np.int8)
    alder = np.concatenate([rec["age"][pick], rng.integers(15, 90, N_NATIONAL)]).astype(np.int16)
    band = np.searchsorted(AGE_BOUNDS, alder, side="right") - 1
    p = np.clip(tryg_probabilities(seed, areas, treat, year)[omr] + TRYG_AGE[band] + TRYG_ORIGIN[origin], 0.0, 1.0)
    tryg = (rng.random(len(omr)) < p).astype(np.int8)
    answered = (rng.random(len(omr)) < RESP_AGE[band] * RESP_ORIGIN[origin]) | (omr == 0)
    weight = np.concatenate([_design_weights(rec, rec["omr"][pick]), np.ones(N_NATIONAL)])
    resp = R.hash64(seed, np.arange(start_id, start_id + len(omr), dtype=np.uint64), 0, R.S_SURVEY)
    cols = [R.hex_strings(resp, 12), pa.array(np.full(len(omr), year, dtype=np.int16)),
            omr_array(omr), pa.array(koen), pa.array(alder),
            pa.array(np.asarray(P.HERKOMST, dtype=object)[origin], type=pa.string()), pa.array(weight),
            pa.array(tryg, mask=~answered)]
    return pa.Table.from_arrays(cols, schema=SURVEY_SCHEMA)


def survey(seed: int, records: dict, areas: Areas, treat: Treatment) -> pa.Table:
    """All survey years from the treated world's yearly records."""
    tables, start = [], 0
    for year in sorted(records):
        t = survey_year(seed, records[year], year, areas, treat, start)
        tables.append(t)
        start += t.num_rows
    return pa.concat_tables(tables)
