"""A small survey world with selective nonresponse and a known effect (tests of issue 15).

Register population per area, year and cell (age band x sex x origin); each wave a simple random
sample of ``n_sample`` residents per area (design weight N / n_sample); respondents answer with a
probability that depends on the cell, and in the treated areas after the start non-western and
young residents answer less often (the intervention changes who answers, not only the answers).
The answer (feels safe, 0/1) is Bernoulli with an additive probability in area, year, cell and the
effect ``tau`` of treatment: missing at random given the cell, so raking to the register's one-way
margins removes the nonresponse bias, and design weights alone do not.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

BANDS = np.array(["15-29", "30-44", "45-64", "65+"])
BAND_AGE = np.array([22, 37, 55, 72])
ORIGINS = np.array(["dansk", "vestlig", "ikke_vestlig"])
AGE_EFF, SEX_EFF, ORIGIN_EFF = np.array([-0.10, 0.0, 0.05, 0.12]), np.array([0.0, -0.08]), np.array([0.0, 0.02, -0.15])
RESP_AGE, RESP_ORIGIN = np.array([0.30, 0.45, 0.60, 0.70]), np.array([1.0, 0.8, 0.55])


def _population(rng, n_areas: int, years) -> pd.DataFrame:
    """Residents per (area, year, band, sex, origin)."""
    rows = []
    for area in range(1, n_areas + 1):
        size = rng.uniform(1200, 2500)
        nw = rng.uniform(0.3, 0.7)
        origin = np.array([0.94 - nw, 0.06, nw])
        age = rng.dirichlet([8, 7, 8, 4])
        for year in years:
            share = (age[:, None, None] * np.array([0.5, 0.5])[None, :, None] * origin[None, None, :])
            counts = np.round(size * share).astype(int)
            for (b, s, o), n in np.ndenumerate(counts):
                rows.append((area, year, BANDS[b], s + 1, ORIGINS[o], float(n), b, o))
    return pd.DataFrame(rows, columns=["OMR_ID", "AAR", "age_band", "KOEN", "HERKOMST", "N", "_b", "_o"])


def world(seed: int = 0, n_areas: int = 16, years=range(2016, 2022), start: int = 2019, tau: float = 0.08):
    """(population with cell effects, cohorts {area: start}, tau): the fixed part of the design."""
    rng = np.random.default_rng([seed, 15])
    pop = _population(rng, n_areas, list(years))
    treated = set(range(1, n_areas // 2 + 1))
    area_eff = dict(zip(range(1, n_areas + 1), rng.normal(0, 0.04, n_areas)))
    year_eff = dict(zip(years, np.linspace(0, 0.03, len(years))))
    d = pop["OMR_ID"].isin(treated) & (pop["AAR"] >= start)
    pop["p"] = (0.62 + pop["OMR_ID"].map(area_eff) + pop["AAR"].map(year_eff) + AGE_EFF[pop["_b"]]
                + SEX_EFF[pop["KOEN"] - 1] + ORIGIN_EFF[pop["_o"]] + tau * d).clip(0.01, 0.99)
    shift = np.where(d, np.where(pop["_o"] == 2, 0.5, 1.0) * np.where(pop["_b"] == 0, 0.7, 1.0), 1.0)
    pop["r"] = RESP_AGE[pop["_b"]] * RESP_ORIGIN[pop["_o"]] * shift
    return pop, {a: start for a in treated}, tau


def draw(pop: pd.DataFrame, seed: int, n_sample: int = 400) -> pd.DataFrame:
    """One survey: respondents with RESP_ID, AAR, OMR_ID, KOEN, ALDER, HERKOMST, VAEGT, TRYG."""
    rng = np.random.default_rng([seed, 16])
    sampled = np.zeros(len(pop), dtype=int)
    for _, idx in pop.groupby(["OMR_ID", "AAR"]).indices.items():
        n = pop["N"].to_numpy()[idx]
        sampled[idx] = rng.multivariate_hypergeometric(n.astype(int), n_sample)
    resp = rng.binomial(sampled, pop["r"].to_numpy())
    rows = np.repeat(np.arange(len(pop)), resp)
    sub = pop.iloc[rows]
    total = pop.groupby(["OMR_ID", "AAR"])["N"].transform("sum").to_numpy()[rows]
    return pd.DataFrame({
        "RESP_ID": [f"r{seed}_{i}" for i in range(len(rows))], "AAR": sub["AAR"].to_numpy(),
        "OMR_ID": sub["OMR_ID"].to_numpy(), "KOEN": sub["KOEN"].to_numpy(),
        "ALDER": BAND_AGE[sub["_b"].to_numpy()] + rng.integers(-3, 4, len(rows)),
        "HERKOMST": sub["HERKOMST"].to_numpy(), "VAEGT": total / n_sample,
        "TRYG": (rng.random(len(rows)) < sub["p"].to_numpy()).astype(int)})


def margins(pop: pd.DataFrame) -> pd.DataFrame:
    return pop[["OMR_ID", "AAR", "age_band", "KOEN", "HERKOMST", "N"]].copy()
