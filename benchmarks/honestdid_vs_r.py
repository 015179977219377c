"""evalkit ``honest_did`` beside R HonestDiD 0.2.6 on the same inputs.

    .venv/bin/python -m benchmarks.honestdid_vs_r                      # both cases, 3 runs each side
    .venv/bin/python -m benchmarks.honestdid_vs_r --cases readme --r-reps 1

Needs ``Rscript`` with HonestDiD (looked up in /opt/rlib first; see benchmarks/honestdid_vs_r.R).

Cases (betahat and sigma are built with evalkit, then written to CSV for both sides):

* ``readme``: the README's event study (``simulate(seed=2024, size="small")``, area panel,
  ``event_study(..., leads=4, lags=5, cluster="OMR_ID")``): 3 pre and 6 post terms.
* ``sun_abraham``: ``sun_abraham`` on did2s's df_het (pyfixest's copy), clustered by state, event
  times -10..10 as in tests/test_honest_did_fast.py: 9 pre and 11 post terms.

Calls, with the same settings on both sides (written to settings.json and to the result JSON):
relative magnitudes (Delta^RM, C-LF hybrid, Mbar = HonestDiD's default seq(0, 2, length.out = 10),
1000 grid points on +-20 sd, seed 0) and smoothness (Delta^SD, FLCI, M = HonestDiD's default
seq(0, DeltaSD_upperBound_Mpre, length.out = 10)); alpha 0.05, l_vec = first post period. evalkit
runs ``honest_did_arrays`` (what ``honest_did(result)`` calls after reading betahat and sigma from the
result) with ``breakdown=False``, since HonestDiD computes no breakdown value; the README's own call
(``honest_did(res)``: 5 Mbar values plus the breakdown bisection) is timed as well.

Each side runs in a fresh process and times only the calls, after imports / library loading;
seconds are the minimum of the runs (every run is kept in the JSON, whose first run includes
evalkit's one-off caches). Writes benchmarks/results/honestdid_vs_r.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata, resources
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ALPHA, GRID_POINTS = 0.05, 1000
MBAR = np.linspace(0, 2, 10).tolist()  # HonestDiD's default Mbarvec, passed explicitly to both
R_INSTALL = ("R 4.2.2 and most dependencies from Debian bookworm (r-base-core, r-cran-*); HonestDiD 0.2.6, "
             "CVXR 1.0-11, osqp 0.6.0.8, scs 3.2.4, lpSolveAPI 5.5.2.0-17.15, latex2exp 0.9.8, qrng 0.0-10 and "
             "TruncatedNormal 2.0 built from the CRAN source releases (GitHub's cran/* mirrors) into /opt/rlib; "
             "TruncatedNormal 2.0 rather than 2.3 because 2.3's dependency spacefillr was not obtainable: "
             "HonestDiD uses only TruncatedNormal::norminvp, whose code (norminvp, cases, normq, Phinv) is "
             "identical in 2.0 and 2.3")


def readme_event_study(tmp: Path):
    import pandas as pd

    import evalkit as ek
    ek.simulate(tmp / "demo", seed=2024, size="small", progress=False)
    area = ek.open_microdata(tmp / "demo").area_panel()
    timing = ek.treatment_cohorts(pd.read_csv(tmp / "demo" / "interventions.csv"), area["OMR_ID"],
                                  intervention="fremskudt_beskaeftigelse")
    panel = ek.attach_cohort(area, timing)
    return ek.event_study(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", cohort="cohort",
                          leads=4, lags=5, cluster="OMR_ID")


def sun_abraham_df_het(tmp: Path):
    import pandas as pd

    import evalkit as ek
    df = pd.read_csv(resources.files("pyfixest") / "did" / "data" / "df_het.csv")
    return ek.sun_abraham(df, outcome="dep_var", unit="unit", time="year", cohort="g", cluster="state")


CASES = {"readme": (readme_event_study, None), "sun_abraham": (sun_abraham_df_het, (-10, 10))}


def event_terms(result, window=None):
    """betahat, sigma, num_pre, num_post as honest_did reads them from a Result (optionally cut)."""
    tab = result.table
    keep = tab[~tab["reference"] & tab["event_time"].notna()].sort_values("event_time")
    if window is not None:
        keep = keep[keep["event_time"].between(*window)]
    et = keep["event_time"].astype(int).to_numpy()
    S = result.covariance(keep["term"].tolist()).to_numpy(float)
    return keep["estimate"].to_numpy(float), S, int((et < 0).sum()), int((et >= 0).sum())


def sd_upper_bound(b, S, num_pre, alpha=0.05):
    """HonestDiD's DeltaSD_upperBound_Mpre: the largest one-sided upper bound of a pre-period second difference."""
    from scipy import stats
    At = np.zeros((num_pre - 1, num_pre + 1))
    for r in range(num_pre - 1):
        At[r, r:r + 3] = [1, -2, 1]
    At = np.delete(At, num_pre, axis=1)  # the reference period's zero
    A = np.vstack([At, -At])
    Sp = S[:num_pre, :num_pre]
    return float(np.max(A @ b[:num_pre] + stats.norm.ppf(1 - alpha) * np.sqrt(np.diag(A @ Sp @ A.T))))


def write_case(d: Path, b, S, num_pre, num_post) -> dict:
    settings = {"num_pre": num_pre, "num_post": num_post, "alpha": ALPHA, "grid_points": GRID_POINTS,
                "Mbar": MBAR, "M": np.linspace(0, sd_upper_bound(b, S, num_pre, ALPHA), 10).tolist(),
                "l_vec": np.eye(num_post)[0].tolist()}
    d.mkdir(parents=True, exist_ok=True)
    np.savetxt(d / "betahat.csv", b, delimiter=",", fmt="%.17g")
    np.savetxt(d / "sigma.csv", S, delimiter=",", fmt="%.17g")
    (d / "settings.json").write_text(json.dumps(settings, indent=1))
    return settings


def child(case_dir: Path, reps: int) -> dict:
    """Runs in a fresh interpreter: times evalkit on the files in case_dir."""
    from evalkit.diagnostics import honest_did_arrays
    s = json.loads((case_dir / "settings.json").read_text())
    b = np.loadtxt(case_dir / "betahat.csv", delimiter=",")
    S = np.loadtxt(case_dir / "sigma.csv", delimiter=",")
    common = {"l_vec": s["l_vec"], "alpha": s["alpha"], "seed": 0}
    calls = {
        "relative_magnitudes": dict(method="relative_magnitudes", ci="c-lf", Mbar=s["Mbar"],
                                    grid_points=s["grid_points"], breakdown=False, **common),
        "smoothness": dict(method="smoothness", ci="flci", M=s["M"], breakdown=False, **common),
        "readme_default_call": {},  # honest_did(res) as in the README: Mbar 0..2 by 0.5, breakdown value
    }
    out = {}
    for name, kw in calls.items():
        secs, cpu = [], []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(reps):
                t0, c0 = time.perf_counter(), time.process_time()
                res = honest_did_arrays(b, S, s["num_pre"], s["num_post"], **kw)
                secs.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        tab = res.table[res.table["method"] != "original"]
        out[name] = {"seconds": secs, "cpu_seconds": cpu, "lb": tab["lb"].tolist(), "ub": tab["ub"].tolist(),
                     "warnings": sorted({str(w.message) for w in caught})}
    return out


def _floats(values) -> np.ndarray:
    """R's bounds as floats: jsonlite writes non-finite numbers as "Inf", "-Inf", "NaN" or "NA"; an empty
    accepted set is lb = Inf, ub = -Inf in HonestDiD (min/max of nothing) and nan in evalkit."""
    x = np.array([np.nan if v in (None, "NA") else float(v) for v in values])
    return np.where(np.isinf(x), np.nan, x)


def run_case(name: str, tmp: Path, reps: int, r_reps: int) -> dict:
    build, window = CASES[name]
    b, S, num_pre, num_post = event_terms(build(tmp), window)
    d = tmp / name
    settings = write_case(d, b, S, num_pre, num_post)
    ek = subprocess.run([sys.executable, "-m", "benchmarks.honestdid_vs_r", "--child", str(d), "--reps", str(reps)],
                        cwd=HERE.parent, check=True, capture_output=True, text=True)
    ek = json.loads(ek.stdout.strip().splitlines()[-1])
    subprocess.run(["Rscript", str(HERE / "honestdid_vs_r.R"), str(d), str(r_reps), str(d / "r.json")], check=True)
    r = json.loads((d / "r.json").read_text())
    case = {"num_pre": num_pre, "num_post": num_post, "settings": settings}
    for call in ("relative_magnitudes", "smoothness"):
        e, rr = ek[call], r[call]
        r_secs = rr["seconds"]
        ours, theirs = np.r_[e["lb"], e["ub"]], np.r_[_floats(rr["lb"]), _floats(rr["ub"])]
        both = np.isfinite(ours) & np.isfinite(theirs)
        case[call] = {"evalkit_seconds": min(e["seconds"]), "r_seconds": min(r_secs),
                      "ratio_r_over_evalkit": min(r_secs) / min(e["seconds"]),
                      "max_abs_bound_diff": float(np.max(np.abs(ours - theirs)[both], initial=0.0)),
                      "bounds_finite_on_one_side_only": int((np.isfinite(ours) != np.isfinite(theirs)).sum()),
                      "evalkit_runs": e["seconds"], "evalkit_cpu_runs": e["cpu_seconds"],
                      "r_runs": r_secs, "r_cpu_runs": rr["cpu_seconds"],
                      "evalkit_lb": e["lb"], "evalkit_ub": e["ub"], "r_lb": rr["lb"], "r_ub": rr["ub"],
                      "evalkit_warnings": e["warnings"]}
    case["evalkit_readme_default_call"] = {"seconds": min(ek["readme_default_call"]["seconds"]),
                                           "runs": ek["readme_default_call"]["seconds"]}
    return case, r


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--reps", type=int, default=3, help="evalkit runs per call")
    p.add_argument("--r-reps", type=int, default=3, help="R runs per call")
    p.add_argument("--out", type=Path, default=HERE / "results" / "honestdid_vs_r.json")
    p.add_argument("--work", type=Path, help="keep the inputs and R's output here (default: a temporary folder)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.reps)))
        return
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "nproc": os.cpu_count(),
            "load_average_before": os.getloadavg(), "python": platform.python_version(),
            "evalkit": metadata.version("evalkit"), "numpy": metadata.version("numpy"),
            "scipy": metadata.version("scipy"), "command": sys.argv[1:] if argv is None else argv,
            "timing": "wall seconds (Python time.perf_counter, R system.time elapsed), min over runs, "
                      "each side in a fresh process after imports/library loading",
            "settings": {"alpha": ALPHA, "grid_points": GRID_POINTS, "Mbar": MBAR,
                         "relative_magnitudes": "Delta^RM, C-LF (evalkit ci='c-lf'), theta grid +-20 sd, seed 0",
                         "smoothness": "Delta^SD, FLCI; M = seq(0, DeltaSD_upperBound_Mpre(alpha=0.05), length.out=10)",
                         "l_vec": "first post period", "evalkit_breakdown": False}}
    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        for name in a.cases.split(","):
            cases[name], r = run_case(name, work, a.reps, a.r_reps)
            for call in ("relative_magnitudes", "smoothness"):
                c = cases[name][call]  # bound differences where both sides are finite
                print(f"{name:12s} {call:20s} evalkit {c['evalkit_seconds']:8.3f} s   R {c['r_seconds']:8.2f} s   "
                      f"R/evalkit {c['ratio_r_over_evalkit']:7.1f}   max|bound diff| {c['max_abs_bound_diff']:.2g}")
            readme_call = cases[name]["evalkit_readme_default_call"]["seconds"]
            print(f"{name:12s} evalkit with the README's call honest_did(res): {readme_call:.3f} s")
    meta.update(r_version=r["r_version"], r_packages=r["packages"], r_install=R_INSTALL,
                load_average_after=os.getloadavg(), cases=cases)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(meta, indent=1) + "\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
