"""The area system: residents of the areas and everyone who moves out of them.

One world is simulated year by year, vectorised over all its persons. Draws are keyed
by (seed, person, year, stream), and in-movers get ids keyed by (area, year, slot), so
the treated and the untreated world share their random numbers.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R
from evalkit.data._sim_areas import Areas, Treatment, nw_share, target_size
from evalkit.data._sim_people import concat, new_persons, take, yearly_outcomes

_INITIAL_BASE = np.uint64(1 << 40)
_INMOVER_BASE = np.uint64(2 << 40)
RECORD_KEYS = ("id", "foed", "koen", "origin", "ie", "edu", "region", "omr")


def _arrivals(seed: int, areas: Areas, counts: np.ndarray, year: int, *, kind: str,
              letting_start: np.ndarray | None = None) -> dict:
    """``counts[a]`` new residents of area a in ``year``; ids keyed by (area, year, slot).

    In-movers of an area under a letting rule from ``letting_start`` on are let by it (``prio``).
    """
    omr = np.repeat(np.arange(len(counts)), counts)
    slot = np.arange(len(omr)) - np.repeat(np.cumsum(counts) - counts, counts)
    if kind == "area_initial":
        ids = _INITIAL_BASE + (omr.astype(np.uint64) << np.uint64(20)) + slot.astype(np.uint64)
    else:
        key = (omr.astype(np.uint64) << np.uint64(24)) + (np.uint64(year - P.BURN_IN_START) << np.uint64(16))
        ids = _INMOVER_BASE + key + slot.astype(np.uint64)
    persons = new_persons(seed, ids, kind=kind, year=year, omr=omr, region=areas.region[omr],
                          nw=nw_share(areas, year)[omr])
    # the area's employment component is sorting (who moves in), carried when a person
    # moves on, not a place effect: otherwise movers' gains would break parallel trends
    # of the baseline-cohort estimand by construction
    persons["alpha"] = persons["alpha"] + areas.emp[omr]
    if letting_start is not None:
        persons["prio"] = year >= letting_start[omr]
    return persons


def initial_state(seed: int, areas: Areas) -> dict:
    """Residents of every area at the start of the burn-in."""
    counts = target_size(areas, P.BURN_IN_START)
    counts[0] = 0
    return _arrivals(seed, areas, counts, P.BURN_IN_START, kind="area_initial")


def outcomes(seed: int, st: dict, year: int, areas: Areas, treat: Treatment) -> dict:
    """Outcomes of year ``year`` in the world defined by ``treat``.

    The letting rule selects who moves in: tenants it let (``prio``) have an employment
    probability higher by ``P.LETTING_DELTA`` (18-64) than the applicant who would otherwise
    have got the dwelling (the same person in the untreated world), wherever they live later.
    """
    omr = st["omr"]
    event = year - treat.outreach_start[omr]
    delta = np.where(omr > 0, P.outreach_delta(event), 0.0) + P.LETTING_DELTA * st["prio"]
    conv_mult = np.where((omr > 0) & (year >= treat.poa_start[omr]), P.POA_CONVICTION_MULT, 1.0)
    return yearly_outcomes(seed, st, year, delta, conv_mult, areas.crime[omr])


def transition(seed: int, st: dict, out: dict, year: int, areas: Areas, treat: Treatment) -> dict:
    """Deaths, selective out-moves and refilling in-movers: the state of ``year + 1``.

    Out-movers stay in the data (outside, same region) from the first data year on;
    those who leave during the burn-in are dropped.
    """
    ids, age = st["id"], out["age"]
    alive = R.uniform(seed, ids, year, R.S_DEATH) >= P.mortality(age)
    in_area = st["omr"] > 0
    p_move = P.out_move_prob(age, out["besk"] > 0)
    moves = in_area & (R.uniform(seed, ids, year, R.S_MOVE) < p_move)
    keep = alive & (~moves | (year + 1 > P.FIRST_YEAR))
    nxt = take(st, keep)
    nxt["omr"] = np.where(moves[keep], 0, nxt["omr"]).astype(np.int32)
    stay = np.bincount(nxt["omr"], minlength=areas.n + 1)
    need = np.maximum(target_size(areas, year + 1) - stay, 0)
    need[0] = 0
    return concat(nxt, _arrivals(seed, areas, need, year + 1, kind="in_mover", letting_start=treat.letting_start))


def run(seed: int, st: dict, years: range, areas: Areas, treat: Treatment,
        keep: Callable[[dict, dict], dict], log: Callable[[str], None] = lambda s: None):
    """Simulate ``years``; returns (state after the last year, {year: keep(state, outcomes)})."""
    records = {}
    for year in years:
        out = outcomes(seed, st, year, areas, treat)
        if year >= P.FIRST_YEAR:
            records[year] = keep(st, out)
        st = transition(seed, st, out, year, areas, treat)
        if year % 5 == 4 or year == years[-1]:
            log(f"  year {year} done; {len(st['id']):,} persons in the area system on 1 Jan {year + 1}")
    return st, records


def keep_full(st: dict, out: dict) -> dict:
    """Everything needed to write person-years (treated world)."""
    rec = {k: st[k] for k in RECORD_KEYS}
    rec.update({k: out[k] for k in ("besk", "udd", "udenfor", "income", "domf", "age")})
    return rec


def keep_counterfactual(st: dict, out: dict) -> dict:
    """What the untreated world must keep for the truth (every area indicator and movers)."""
    rec = {k: st[k] for k in ("id", "omr", "origin", "edu", "region")}
    rec.update({k: out[k] for k in ("besk", "udd", "udenfor", "income", "domf", "age")})
    return rec
