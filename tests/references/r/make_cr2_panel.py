"""Generate tests/references/cr2_panel.csv: a small unbalanced panel for the CR2/CR3 witness.

Our own simulated data (no third-party source). 14 municipalities holding 1 to 5 areas
each (so clusters differ in size), years 2010-2019, about 8% of area-years dropped at
random (unbalanced), staggered treatment of all areas of 4 municipalities (from 2014,
2015, 2016 and 2017), one covariate x. Values are rounded to 6 decimals so that the CSV
is the data: R and Python read identical numbers.

    python tests/references/r/make_cr2_panel.py  # rewrites tests/references/cr2_panel.csv
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "cr2_panel.csv"


def make(seed: int = 20240517) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 5, 3, 1, 4, 2, 2, 5, 1, 3, 2, 4, 1]
    start = {1: 2014, 4: 2015, 8: 2016, 12: 2017}
    rows = []
    for m, size in enumerate(sizes):
        mun_effect = rng.normal(0, 1.0)
        for a in range(size):
            area_effect = rng.normal(0, 0.7)
            for year in range(2010, 2020):
                if rng.random() < 0.08:
                    continue
                d = int(m in start and year >= start[m])
                x = rng.normal(0.3 * (year - 2015) / 5, 1.0)
                y = (mun_effect + area_effect + 0.15 * (year - 2010) + 0.5 * x + 0.8 * d
                     + rng.normal(0, 0.6) + 0.4 * mun_effect * rng.normal())
                rows.append({"municipality": f"m{m:02d}", "area": f"m{m:02d}a{a}", "year": year,
                             "D": d, "x": round(x, 6), "y": round(y, 6)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    df = make()
    df.to_csv(OUT, index=False)
    print(f"wrote {OUT}: {len(df)} rows, {df['area'].nunique()} areas, {df['municipality'].nunique()} clusters")
