"""The recorded truth: treated world vs untreated world, area by area and person by person."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R
from evalkit.data import _sim_indicators as I
from evalkit.data._sim_areas import Areas, Treatment
from evalkit.data._sim_output import omr_array
from evalkit.data._sim_survey import tryg_probabilities

OUTCOMES = ("employment_rate", "conviction_share", "tryghed_prob")
ALL_OUTCOMES = OUTCOMES + I.OUTCOMES
COUNTERFACTUAL_SCHEMA = pa.schema([
    ("PERSON_ID", pa.string()), ("AAR", pa.int16()), ("OMR_ID_0", pa.int32()),
    ("BESK_FTE_0", pa.float32()), ("DOMFAELDT_0", pa.int8()),
])


def area_means(rec: dict, n_areas: int) -> tuple[np.ndarray, np.ndarray]:
    """(employment rate among 18-64, conviction share among 18+) by area 1..n."""
    omr, age = rec["omr"], rec["age"]
    wa = (omr > 0) & (age >= 18) & (age < 65)
    ad = (omr > 0) & (age >= 18)
    m = n_areas + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        emp, conv = _ratios(omr, wa, ad, rec, m)
    return emp[1:], conv[1:]


def _ratios(omr, wa, ad, rec, m):
    emp = np.bincount(omr[wa], rec["besk"][wa].astype(np.float64), m) / np.bincount(omr[wa], minlength=m)
    conv = np.bincount(omr[ad], rec["domf"][ad].astype(np.float64), m) / np.bincount(omr[ad], minlength=m)
    return emp, conv


def _world_values(seed: int, rec: dict, year: int, areas: Areas, treat: Treatment, outside: dict) -> tuple:
    """Every recorded outcome of one world in ``year`` (``ALL_OUTCOMES`` order, areas 1..n)."""
    new = I.area_values(rec[year], rec.get(year - 1), outside[year], areas.region)
    return (*area_means(rec[year], areas.n), tryg_probabilities(seed, areas, treat, year)[1:],
            *(new[k] for k in I.OUTCOMES))


def area_effects(seed: int, rec1: dict, rec0: dict, areas: Areas, treat: Treatment, outside: dict) -> pd.DataFrame:
    """truth/area_effects.parquet: one row per area, year and outcome.

    ``outside``: {year: (income sum, count)} of the outside population's K4 taxpayers by region
    (the regional mean of income relative to the region includes them).
    """
    frames = []
    untreated = Treatment.none(areas.n)
    for year in sorted(rec1):
        y1 = _world_values(seed, rec1, year, areas, treat, outside)
        y0 = _world_values(seed, rec0, year, areas, untreated, outside)
        for name, a, b in zip(ALL_OUTCOMES, y1, y0):
            frames.append(pd.DataFrame({
                "OMR_ID": np.arange(1, areas.n + 1, dtype=np.int32), "AAR": np.int16(year),
                "outcome": name, "y_treated_world": a, "y_untreated_world": b, "effect": a - b}))
    out = pd.concat(frames, ignore_index=True)
    out["outcome"] = out["outcome"].astype("str")
    return out.sort_values(["outcome", "OMR_ID", "AAR"], ignore_index=True)


def counterfactual_table(seed: int, rec1: dict, rec0: dict, year: int) -> pa.Table:
    """Untreated-world outcomes of person-years present in both worlds (treated-world order)."""
    _, i1, i0 = np.intersect1d(rec1["id"], rec0["id"], assume_unique=True, return_indices=True)
    i0 = i0[np.argsort(i1, kind="stable")]
    i1 = np.sort(i1)
    cols = [R.person_ids(seed, rec1["id"][i1]), pa.array(np.full(len(i1), year, dtype=np.int16)),
            omr_array(rec0["omr"][i0]), pa.array(rec0["besk"][i0].astype(np.float32)),
            pa.array(rec0["domf"][i0].astype(np.int8))]
    return pa.Table.from_arrays(cols, schema=COUNTERFACTUAL_SCHEMA)


def effects_by_event_time(effects: pd.DataFrame, interventions: pd.DataFrame) -> dict:
    """{intervention: {outcome: {event_time: mean effect over treated areas}}}."""
    result = {}
    for name, grp in interventions.groupby("intervention", sort=True):
        merged = effects.dropna(subset=["effect"]).merge(grp[["OMR_ID", "start_year"]], on="OMR_ID")
        merged["event_time"] = merged["AAR"].astype(int) - merged["start_year"]
        table = merged.groupby(["outcome", "event_time"])["effect"].mean()
        result[name] = {o: {str(int(e)): round(float(v), 6) for e, v in table[o].items()}
                        for o in table.index.get_level_values(0).unique()}
    return result


def truth_document(seed: int, size: str, effects: pd.DataFrame, interventions: pd.DataFrame) -> dict:
    """truth/truth.json content."""
    return {
        "generator": P.GENERATOR_VERSION, "seed": int(seed), "size": size,
        "parameters": {
            P.OUTREACH: {
                "effect_on": "employment probability of residents 18-64 not in education, "
                             "living in a treated area in year t >= start_year",
                "delta_by_event_time": {str(e): round(float(P.outreach_delta(e)), 6) for e in range(0, 10)},
                "formula": f"{P.OUTREACH_DELTA_MAX} * min(e + 1, 3) / 3",
            },
            P.POA: {
                "conviction_probability_multiplier": P.POA_CONVICTION_MULT,
                "tryghed_effect_by_event_time": {"0": P.POA_TRYG_EFFECT[0], ">=1": P.POA_TRYG_EFFECT[1]},
            },
            P.LETTING: {
                "effect_on": "who moves in: in-movers let a dwelling in a treated area in a year t >= start_year "
                             "are applicants whose employment probability (ages 18-64) is higher, every year "
                             "and wherever they live later, than that of the applicant who would otherwise "
                             "have moved in",
                "employment_probability_delta": P.LETTING_DELTA,
                "expected_in_emp_edu_share_effect": "about 0.04 from event time 0 (the delta, less students "
                                                    "and part-time work); recorded area by area below",
            },
        },
        "outcomes": {
            "employment_rate": "mean BESK_FTE among residents 18-64",
            "conviction_share": "mean DOMFAELDT among residents 18+",
            "tryghed_prob": "probability of TRYG = 1 in the survey of the area",
            "other": "every other outcome as defined in evalkit.data.outcomes.OUTCOMES (the area panel)",
        },
        "mean_area_effect_by_event_time": effects_by_event_time(effects, interventions),
        "note": "The untreated world shares every random draw with the treated world "
                "(common random numbers); effects include sorting responses. Person-years "
                "of the never-in-area comparison population are identical in both worlds "
                "and are not repeated in person_counterfactual.parquet.",
    }
