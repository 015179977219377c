"""Small worlds with known subgroup effects (tests of issue 15, part 4).

:func:`person_years`: register person-years in the data contract's columns (docs/data_contract.md) in which
employment (BESK_FTE, 0/1) has an additive probability in area, year, origin, sex and age, plus the effect
``tau[origin]`` in the treated areas from ``start``; persons stay in their area (no sorting), so the
area-level effect of each origin subgroup is exactly ``tau[origin]`` (the truth).

:func:`cells`: area x year x subgroup cells for the size of the joint test: no heterogeneity (one effect
for every subgroup), area-year shocks shared by the subgroups of an area and serially correlated within
an area (what clustering by area must account for).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TAU = {"nonwestern": 0.08, "other": 0.02}


def person_years(seed: int = 1, n_areas: int = 30, per_area: int = 250, years=range(2014, 2022),
                 start: int = 2018, tau=TAU) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng([seed, 154])
    years = list(years)
    n = n_areas * per_area
    area = np.repeat(np.arange(1, n_areas + 1), per_area)
    nw = rng.random(n) < rng.uniform(0.3, 0.7, n_areas)[area - 1]
    sex = rng.integers(1, 3, n)
    born = rng.integers(years[0] - 60, years[0] - 18, n)
    edu = rng.choice(["grundskole", "gymnasial", "erhvervsfaglig", "videregaaende"], n, p=[0.4, 0.15, 0.3, 0.15])
    treated = set(range(1, n_areas // 2 + 1))
    area_eff = rng.normal(0, 0.05, n_areas)
    year_eff = dict(zip(years, np.linspace(0, 0.04, len(years)) + rng.normal(0, 0.01, len(years))))
    frames = []
    for y in years:
        d = np.isin(area, list(treated)) & (y >= start)
        effect = np.where(nw, tau["nonwestern"], tau["other"]) * d
        p = 0.55 + area_eff[area - 1] + year_eff[y] - 0.15 * nw - 0.05 * (sex == 2) + effect
        p = p + rng.normal(0, 0.03, n_areas)[area - 1]  # area-year shocks
        besk = (rng.random(n) < np.clip(p, 0.01, 0.99)).astype(float)
        frames.append(pd.DataFrame({
            "PERSON_ID": [f"p{i}" for i in range(n)], "AAR": y, "FOED_AAR": born, "KOEN": sex,
            "HERKOMST": np.where(nw, "ikke_vestlig", np.where(rng.random(n) < 0.1, "vestlig", "dansk")),
            "HFAUDD": edu, "OMR_ID": area, "REGION": 1081 + (area % 5), "BESK_FTE": besk, "UDD_FTE": 0.0,
            "UDENFOR_FTE": 1.0 - besk, "PERINDKIALT": 200000.0, "DOMFAELDT": 0}))
    return pd.concat(frames, ignore_index=True), {a: start for a in treated}


def cells(seed: int, n_areas: int = 40, years=range(2014, 2022), start: int = 2018, groups=("a", "b", "c"),
          tau: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 155])
    years = np.array(list(years))
    n_t, n_g = len(years), len(groups)
    treated = np.zeros(n_areas, bool)
    treated[rng.permutation(n_areas)[: n_areas // 2]] = True
    shock = np.zeros((n_areas, n_t))
    eps = rng.normal(0, 0.03, (n_areas, n_t))
    for t in range(n_t):  # AR(1) area-year shock shared by the area's subgroups
        shock[:, t] = (0.6 * shock[:, t - 1] if t else 0.0) + eps[:, t]
    base = rng.normal(0.5, 0.1, (n_areas, n_g))
    n = rng.integers(20, 300, (n_areas, n_g)).astype(float)
    a, g, t = np.meshgrid(np.arange(n_areas), np.arange(n_g), np.arange(n_t), indexing="ij")
    d = (treated[a] & (years[t] >= start)).astype(int)
    y = base[a, g] + 0.01 * g * t + shock[a, t] + tau * d + rng.normal(size=a.shape) * 0.5 / np.sqrt(n[a, g])
    return pd.DataFrame({"OMR_ID": a.ravel() + 1, "AAR": years[t].ravel(), "subgroup": np.array(groups)[g].ravel(),
                         "y": y.ravel(), "w": n[a, g].ravel(), "D": d.ravel()})


def demo_truth(con, relation: str, treated: list[int], start: int, cf_path) -> dict:
    """The simulated truth per origin subgroup on the demo data: the mean over treated area-years from
    ``start`` of (subgroup employment rate 18-64 in the treated world - the same in the untreated world),
    the untreated world's residents and their BESK_FTE taken from truth/person_counterfactual.parquet
    (it reproduces the untreated world's area rates of truth/area_effects.parquet)."""
    tl = ",".join(str(int(a)) for a in treated)
    origin = "CASE WHEN HERKOMST = 'ikke_vestlig' THEN 'nonwestern' ELSE 'other' END"
    path = str(cf_path).replace("'", "''")
    q = f"""
    WITH attrs AS (SELECT PERSON_ID, any_value(FOED_AAR) AS FOED_AAR, any_value(HERKOMST) AS HERKOMST
                   FROM {relation} GROUP BY 1),
    w1 AS (SELECT OMR_ID, AAR, {origin} AS g, avg(BESK_FTE) AS y1 FROM {relation}
           WHERE OMR_ID IN ({tl}) AND AAR >= {start} AND AAR - FOED_AAR BETWEEN 18 AND 64 GROUP BY 1, 2, 3),
    w0 AS (SELECT c.OMR_ID_0 AS OMR_ID, c.AAR, {origin} AS g, avg(c.BESK_FTE_0) AS y0
           FROM read_parquet('{path}') c JOIN attrs a USING (PERSON_ID)
           WHERE c.OMR_ID_0 IN ({tl}) AND c.AAR >= {start} AND c.AAR - a.FOED_AAR BETWEEN 18 AND 64
           GROUP BY 1, 2, 3)
    SELECT g, avg(y1 - y0) AS truth FROM w1 JOIN w0 USING (OMR_ID, AAR, g) GROUP BY 1"""
    return dict(con.execute(q).fetchall())
