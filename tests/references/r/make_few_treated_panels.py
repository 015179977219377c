"""Generate tests/references/few_treated_panels.csv: state x year panels in the shape of Conley &
Taber's merit-aid data, for the external Conley-Taber / Ferman-Pinto witness
(tests/test_few_treated_reference.py, driver tests/references/r/few_treated.R).

Our own simulation (no third-party data). Each cell is the share of ``n`` simulated persons with
outcome 1 (like the merit data's college attendance ``coll``), ``n`` constant over the years of a
state (so Ferman-Pinto's variance model ``A + B/M_j`` holds with ``M_j = n``), plus a state-year
shock (the ``A`` part). Four panels:

* ``one_unequal``: 46 states x 11 years (1990-2000), 1 treated state (from 1997), a small one
  (n = 18) among states of 10-400 persons;
* ``common_equal``: 50 x 12 (1989-2000), 3 treated from 1996, every state n = 120;
* ``staggered_equal``: 51 x 12, 2 treated from 1993 and 4 from 1998, every state n = 150;
* ``staggered_unequal``: 51 x 12, the same timing, states of 10-400 persons.

Values are written with 17 significant digits, so R and Python read identical numbers.

    python tests/references/r/make_few_treated_panels.py  # rewrites tests/references/few_treated_panels.csv
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "few_treated_panels.csv"
# The first seed from 20261204 up whose unequal panels give positive coefficients in the
# unconstrained OLS variance fit (where the external codes' OLS and evalkit's non-negative fit
# are the same fit) and whose Conley-Taber p-values (evalkit's, 1,999 draws) all lie in
# (0.03, 0.3), so that the Monte Carlo comparisons are informative.
SEED = 20261227


def _panel(rng, name, n_states, years, starts, sizes, effect):
    """``starts``: {state index: first treated year}; ``sizes``: persons per state."""
    base = rng.uniform(0.35, 0.65, n_states)
    trend = np.cumsum(rng.normal(0.004, 0.01, len(years)))
    rows = []
    for j in range(n_states):
        for k, year in enumerate(years):
            d = int(j in starts and year >= starts[j])
            p = float(np.clip(base[j] + trend[k] + effect * d + rng.normal(0, 0.03), 0.02, 0.98))
            n = int(sizes[j])
            rows.append({"panel": name, "state": j + 1, "year": int(year), "y": rng.binomial(n, p) / n,
                         "d": d, "n": n})
    return rows


def make(seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    wide = lambda g: np.round(np.exp(rng.uniform(np.log(10), np.log(400), g)))  # noqa: E731
    sizes = wide(46)
    sizes[0] = 18
    rows += _panel(rng, "one_unequal", 46, range(1990, 2001), {0: 1997}, sizes, 0.03)
    rows += _panel(rng, "common_equal", 50, range(1989, 2001), {0: 1996, 1: 1996, 2: 1996}, np.full(50, 120), 0.03)
    stagger = {0: 1993, 1: 1993, 2: 1998, 3: 1998, 4: 1998, 5: 1998}
    rows += _panel(rng, "staggered_equal", 51, range(1989, 2001), stagger, np.full(51, 150), 0.02)
    sizes = wide(51)
    sizes[[0, 2, 3]] = [15, 22, 12]  # some small treated states, as in the merit data
    rows += _panel(rng, "staggered_unequal", 51, range(1989, 2001), stagger, sizes, 0.03)
    return pd.DataFrame(rows)


def load(path: Path = OUT) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{panel: (y, d, sizes)}`` as state x year matrices (states and years sorted)."""
    cells = pd.read_csv(path)
    out = {}
    for name, c in cells.groupby("panel", sort=False):
        y = c.pivot(index="state", columns="year", values="y").to_numpy(float)
        d = c.pivot(index="state", columns="year", values="d").to_numpy(float)
        n = c.pivot(index="state", columns="year", values="n").to_numpy(float).mean(axis=1)
        out[name] = (y, d, n)
    return out


if __name__ == "__main__":
    make().to_csv(OUT, index=False, float_format="%.17g")
    print(f"wrote {OUT}")
