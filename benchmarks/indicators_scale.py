"""Scale test of the indicator build: a national-size register (6M persons x 15 years = 90M person-years).

    python -m benchmarks.indicators_scale --persons 6000000 --years 15 --out /tmp/bigreg

1. Writes a register-shaped extract, one file per year (``bef2010.parquet`` ...), with every
   register variable of ``docs/data_contract.md`` in realistic shapes (ages 0-95, 9 % non-western,
   ~16 % of persons living in 500 social-housing areas with weaker employment and more convictions,
   unknown education for some immigrants, null income below 15, yearly moves). Numpy and pyarrow, in
   yearly chunks; not the full simulator (no causal structure), just the shapes the SQL sees.
2. Builds all indicators for all areas and years with :func:`evalkit.area_indicators` in a child
   process (DuckDB ``threads=2``, ``memory_limit='6GB'``) and reports its wall time and peak
   resident memory (``getrusage(RUSAGE_CHILDREN).ru_maxrss``). Not part of the pytest suite.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.data._sim_rng import hash64, hex_strings

REGIONS = np.array([1081, 1082, 1083, 1084, 1085], dtype=np.int16)
HERKOMST = np.array(["dansk", "vestlig", "ikke_vestlig"])
HFAUDD = np.array(["grundskole", "gymnasial", "erhvervsfaglig", "videregaaende"])
FIRST_YEAR = 2010


def population(n: int, n_areas: int, seed: int) -> dict:
    """Time-invariant person traits and the base area (0 = outside)."""
    rng = np.random.default_rng([seed, 0])
    in_area = rng.random(n) < 0.16
    area = np.where(in_area, rng.integers(1, n_areas + 1, n), 0).astype(np.int32)
    area_nw = rng.beta(2.0, 3.0, n_areas + 1)
    area_nw[0] = 0.07
    origin = np.where(rng.random(n) < area_nw[area], 2, np.where(rng.random(n) < 0.05, 1, 0)).astype(np.int8)
    edu = rng.choice(4, n, p=[0.30, 0.12, 0.33, 0.25]).astype(np.int8)
    edu = np.where(in_area & (rng.random(n) < 0.25), 0, edu).astype(np.int8)
    return dict(
        pid=hex_strings(hash64(seed, np.arange(n), 0, 21)), area=area, origin=origin, edu=edu,
        unknown_edu=(origin > 0) & (rng.random(n) < 0.12), birth=(FIRST_YEAR - rng.integers(0, 96, n)).astype(np.int16),
        koen=rng.integers(1, 3, n).astype(np.int8), region_out=rng.choice(REGIONS, n, p=[0.1, 0.23, 0.21, 0.32, 0.14]),
        area_region=rng.choice(REGIONS, n_areas + 1), n_areas=n_areas,
    )


def year_table(pop: dict, year: int, seed: int) -> pa.Table:
    """One year of person-years (every person once; about 10 % of area residents move each year)."""
    rng = np.random.default_rng([seed, year])
    n = len(pop["area"])
    moved = rng.random(n) < 0.10
    area = np.where(moved & (pop["area"] > 0), rng.integers(0, pop["n_areas"] + 1, n), pop["area"]).astype(np.int32)
    age = year - pop["birth"].astype(np.int32)
    working_age = (age >= 18) & (age <= 64)
    study = rng.random(n) < np.select([age < 16, age < 20, age < 30, age < 65], [1.0, 0.6, 0.2, 0.01], 0.0)
    p_emp = np.where(area > 0, 0.55, 0.78) - 0.12 * (pop["origin"] == 2)
    emp = ~study & (rng.random(n) < np.where(working_age, p_emp, np.where(age < 70, 0.2, 0.0)))
    frac = np.where(rng.random(n) < 0.8, 1.0, rng.random(n)) * (age >= 16)
    udd = study.astype(np.float32)
    besk = (emp * frac).astype(np.float32)
    income = np.where(age >= 15, 110e3 + besk * rng.lognormal(12.9, 0.35, n), np.nan)
    convicted = (age >= 18) & (rng.random(n) < np.where(area > 0, 0.026, 0.008))
    edu = np.where(age < 16, 0, pop["edu"])
    region = np.where(area > 0, pop["area_region"][area], pop["region_out"]).astype(np.int16)
    return pa.table({
        "PERSON_ID": pop["pid"], "AAR": pa.array(np.full(n, year, np.int16)), "FOED_AAR": pop["birth"],
        "KOEN": pop["koen"], "HERKOMST": pa.array(HERKOMST[pop["origin"]]),
        "IE_TYPE": np.where(pop["origin"] == 0, 1, 2 + (rng.random(n) < 0.3)).astype(np.int8),
        "HFAUDD": pa.array(HFAUDD[edu], mask=pop["unknown_edu"] & (age >= 16)),
        "OMR_ID": pa.array(area, mask=area == 0), "REGION": region, "BESK_FTE": besk, "UDD_FTE": udd,
        "UDENFOR_FTE": (1.0 - besk - udd).clip(0, 1).astype(np.float32),
        "PERINDKIALT": pa.array(income, mask=np.isnan(income)), "DOMFAELDT": convicted.astype(np.int8),
    })


def generate(out: Path, persons: int, years: int, seed: int, n_areas: int) -> int:
    """Write ``bef<year>.parquet`` for each year and ``areas.parquet``; return the number of rows."""
    out.mkdir(parents=True, exist_ok=True)
    pop = population(persons, n_areas, seed)
    pq.write_table(pa.table({"OMR_ID": np.arange(1, n_areas + 1, dtype=np.int32),
                             "REGION": pop["area_region"][1:]}), out / "areas.parquet")
    rows = 0
    for year in range(FIRST_YEAR, FIRST_YEAR + years):
        table = year_table(pop, year, seed)
        pq.write_table(table, out / f"bef{year}.parquet", compression="zstd", row_group_size=1_000_000)
        rows += table.num_rows
        print(f"  wrote bef{year}.parquet ({table.num_rows:,} rows)", flush=True)
    return rows


_CHILD = """
import json, sys, time
from evalkit import area_indicators
start = time.perf_counter()
ind = area_indicators(sys.argv[1], threads=2, memory_limit=sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start, "area_years": len(ind.area_years),
                  "areas": int(ind.area_years["OMR_ID"].nunique()), "years": len(ind.years)}))
"""


def build(out: Path, memory_limit: str) -> dict:
    """Run the indicator build in a child process; wall time and the child's peak memory."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(out), memory_limit],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"indicator build failed:\n{done.stderr}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {**child, "wall_seconds_incl_startup": wall, "peak_rss_gb": peak_kb / 1024**2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=6_000_000)
    parser.add_argument("--years", type=int, default=15)
    parser.add_argument("--areas", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bigreg"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the files in --out")
    args = parser.parse_args(argv)
    rows = None
    if not args.skip_generate:
        start = time.perf_counter()
        rows = generate(args.out, args.persons, args.years, args.seed, args.areas)
        print(f"generated {rows:,} person-years in {time.perf_counter() - start:.0f} s", flush=True)
    result = build(args.out, args.memory_limit)
    result["person_years"] = rows if rows is not None else args.persons * args.years
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
