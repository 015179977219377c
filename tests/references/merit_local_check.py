"""Local check (not part of the test suite): evalkit's Conley-Taber and Ferman-Pinto on Conley & Taber's
merit-aid data against L. Alvarez's printed numbers and the exact enumeration.

The data may not be committed (they come from a fetched repository), so this runs by hand where the
612 state-year cells are placed (columns ``state, year, coll, merit, n``; the Alvarez panel drops the
first record of ``merit.dta``, state 11 in 1993):

    .venv/bin/python tests/references/merit_local_check.py [path/to/merit_state_year.csv]

Default path: ``../shared/data/merit_state_year.csv`` next to the repository. Prints the numbers and
exits 1 if a check fails, 2 if the file is missing. The CI witness of the same code is
``tests/test_few_treated_reference.py`` (simulated panels, external R implementations).

Reference numbers: Alvarez's notes, github.com/luisfantozzialvarez/ta_microeconometrics,
``5_causal_panel_data/inference_did.md`` at commit c44879509caab0d4aecc5a8bc657d1d52f88861b: TWFE
0.054337, Conley-Taber p 0.0116 (|W| >= |alpha|, 10,000 draws); exact value by complete enumeration of
the 41^10 pairings (meet in the middle, our computation) 0.0096432; Ferman-Pinto with the paper's
rescaling (sd(own)/sd(drawn)) about 0.0098 (Alvarez's printed 0.027 / 0.0308 use the inverted ratio).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.inference import few_treated as ft

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "merit_state_year.csv"
EXACT_SYMMETRIC = 0.0096432
ALVAREZ_SYMMETRIC, ALVAREZ_DRAWS = 0.0116, 10_000
FP_CORRECT = 0.0098


def main(path: Path) -> int:
    if not path.exists():
        print(f"merit-aid cells not found at {path}: nothing checked")
        return 2
    cells = pd.read_csv(path)
    y = cells.pivot(index="state", columns="year", values="coll").to_numpy(float)
    d = cells.pivot(index="state", columns="year", values="merit").to_numpy(float)
    sizes = cells.pivot(index="state", columns="year", values="n").to_numpy(float).mean(axis=1)
    checks = []
    est, w, exact = ft.ct_distribution(y, d, draws=200_000, rng=np.random.default_rng(1))
    checks.append(("TWFE estimate vs printed 0.054337 (5 decimals)", est, abs(est - 0.054337) < 5e-7))
    p = ft.ct_p_value(w, est, exact, tails="symmetric")
    se = np.sqrt(EXACT_SYMMETRIC * (1 - EXACT_SYMMETRIC) / w.size)
    checks.append((f"CT symmetric p, {w.size:,} draws, vs exact {EXACT_SYMMETRIC} (4 s.e.)", p,
                   abs(p - EXACT_SYMMETRIC) < 4 * se))
    tol = 3 * np.sqrt(ALVAREZ_SYMMETRIC * (1 - ALVAREZ_SYMMETRIC) / ALVAREZ_DRAWS + se ** 2)
    checks.append((f"CT symmetric p vs Alvarez's printed {ALVAREZ_SYMMETRIC} (3 s.e.)", p,
                   abs(p - ALVAREZ_SYMMETRIC) < tol))
    ct = ft.conley_taber(y, d, draws=200_000, rng=np.random.default_rng(1))
    checks.append(("CT reported (equal-tailed) p, 200,000 draws (no reference)", ct.p_value, True))
    checks.append(("CT 95% interval low (no reference)", ct.conf_low, True))
    checks.append(("CT 95% interval high (no reference)", ct.conf_high, True))
    fp = ft.ferman_pinto(y, d, sizes, draws=20_000, rng=np.random.default_rng(2))
    checks.append((f"FP p, 20,000 draws, vs {FP_CORRECT} (4 s.e.)", fp.p_value,
                   abs(fp.p_value - FP_CORRECT) < 4 * np.sqrt(FP_CORRECT / 20_000)))
    checks.append(("FP 95% interval low (no reference)", fp.conf_low, True))
    checks.append(("FP 95% interval high (no reference)", fp.conf_high, True))
    print(f"merit-aid cells: {path} ({len(cells)} cells, {y.shape[0]} states x {y.shape[1]} years, "
          f"{int(d.any(axis=1).sum())} treated)")
    for label, value, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {value:.6g}")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
