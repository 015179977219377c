"""Run the benchmark matrix: evalkit and its peers on the same data, in one run.

    python -m benchmarks.run                                   # 100k and 1M rows, every task and cell
    python -m benchmarks.run --sizes 10M --libraries evalkit --repeat 3
    python -m benchmarks.run --sizes 1M --tasks cs_dr --shapes balanced --ids str,category
    python -m benchmarks.run --sizes 100k,1M,10M --save-latest  # also write results/latest.json
    python -m benchmarks.run --smoke                           # CI: every task once at 100k, not timed

Callaway-Sant'Anna (the ``cs_dr`` and ``cs_dr_boot999`` families) runs over the whole matrix:
balanced and unbalanced panels and repeated cross-sections, integer, text and categorical ids,
with and without the two covariates, never-treated and not-yet-treated controls. The other
designs (TWFE, event study, Sun-Abraham, imputation, wild bootstrap, synthetic control) run on
the unbalanced panel with integer ids and, for the linear panel designs, on the balanced one.

Each task runs in its own process (fresh interpreter, same Parquet file). The child times the
estimation only and reports its peak resident memory from the end of loading on (the data
included, the Parquet reader's transient peak not; ``data_mb`` is the data's share); the
parent kills a child that passes ``--mem-limit-gb`` or ``--timeout``.
The table shows time ratios peer / evalkit and the agreement of the estimates; JSON goes to
``benchmarks/results/`` with the machine, the library versions and the load average before and
after. ``python -m benchmarks.table`` turns ``results/latest.json`` into the README table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
CONTROLS = ("never", "notyet")
LIBRARIES = ("evalkit", "csdid", "moderndid", "differences", "pyfixest", "pysyncon", "wildboottest",
             "numpy", "pandas", "scipy", "linearmodels")


def _run_one(task: str, df, spec: dict) -> dict:
    from benchmarks.tasks import LIBRARY_MODULES, MATRIX_FAMILIES, TASKS

    family, library, func = TASKS[task]
    try:
        for module in LIBRARY_MODULES[library]:  # imports are not part of the timing
            importlib.import_module(module)
    except ImportError:
        return {"ok": False, "error": f"{library} not installed"}
    start = time.perf_counter()
    estimate = func(df, spec) if family in MATRIX_FAMILIES else func(df)
    return {"ok": True, "seconds": time.perf_counter() - start, "estimate": float(estimate)}


def _status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _release_reader_memory() -> None:
    """Return the Parquet reader's freed buffers to the system (Arrow's allocator keeps them: at
    10M rows 1.5-1.9 GB resident for a 0.6 GB frame), so no library is charged for the reader."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass


def child(task: str, path: str, spec: str) -> None:
    """Entry point of one measured process: load, time the task, print JSON.

    ``peak_mb`` is the peak resident memory from the end of loading on (the data frame included;
    Linux resets the high-water mark through /proc/self/clear_refs, so the Parquet reader's own
    transient peak is not charged to the library); ``data_mb`` is the resident memory after loading."""
    import pandas as pd

    df = pd.read_parquet(path)
    _release_reader_memory()
    data_mb = _status_mb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    out = _run_one(task, df, json.loads(spec))
    if not out["ok"]:
        print(out["error"], file=sys.stderr)
        sys.exit(1)
    peak = _status_mb("VmHWM") if reset else None
    out["peak_mb"] = peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["data_mb"] = data_mb
    print(json.dumps(out))


def smoke_child(jobs: str, path: str) -> None:
    """Smoke mode: every (task, spec) of one data file in one process, failures reported, not timed."""
    import pandas as pd

    df = pd.read_parquet(path)
    for task, spec in json.loads(jobs):
        try:
            out = _run_one(task, df, spec)
        except Exception as err:  # noqa: BLE001 - a peer's failure is a result of the run
            out = {"ok": False, "error": f"{type(err).__name__}: {str(err)[:150]}"}
        print(json.dumps({"task": task, "spec": spec, "peak_mb": 0.0, **out}), flush=True)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(task: str, path: Path, spec: dict, timeout: float, mem_limit_mb: float) -> dict:
    """Run one task in a child process; return seconds, peak MB, estimate or the failure."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.run", "--child", task, str(path), json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE.parent)
    killed, seen = {}, [0.0]

    def watch():
        while proc.poll() is None:
            seen[0] = max(seen[0], _rss_mb(proc.pid))
            if seen[0] > mem_limit_mb:
                killed["reason"] = f"killed above {mem_limit_mb / 1024:.0f} GB"
                proc.kill()
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        killed["reason"] = f"timeout after {timeout:.0f} s"
    if proc.returncode != 0 or not out.strip():
        reason = killed.get("reason") or (err.strip().splitlines() or ["failed"])[-1][:160]
        return {"ok": False, "error": reason, "peak_mb": seen[0]}  # sampled peak
    return {"ok": True, **json.loads(out.strip().splitlines()[-1])}


def _summary(runs: list[dict]) -> dict:
    """One row from repeated runs: minimum seconds and peak MB, the median and every run's seconds."""
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return runs[-1]
    secs = [r["seconds"] for r in ok]
    best = min(ok, key=lambda r: r["seconds"])
    return {**best, "peak_mb": min(r["peak_mb"] for r in ok), "median_seconds": statistics.median(secs),
            "runs": secs, "n_runs": len(runs)}


def cells(args) -> list[dict]:
    """The matrix cells selected on the command line."""
    from benchmarks.data import ID_TYPES, SHAPES

    pick = lambda text, allowed: [v for v in allowed if not text or v in text.split(",")]  # noqa: E731
    covs = {"yes": True, "no": False}
    return [{"shape": s, "ids": i, "covariates": c, "control": k}
            for s, i, c, k in itertools.product(pick(args.shapes, SHAPES), pick(args.ids, ID_TYPES),
                                                [covs[v] for v in pick(args.covariates, ("yes", "no"))],
                                                pick(args.controls, CONTROLS))]


#: peer tasks left out of the smoke run: minutes or gigabytes at 100k rows (pyfixest's did2s took
#: 58 s, wildboottest was killed by the kernel); the timed runs include them
SMOKE_SKIP = {"imputation/pyfixest_did2s", "wild_twfe/pyfixest", "synth/pysyncon"}
DEFAULT_CELL = {"shape": "unbalanced", "ids": "int", "covariates": True, "control": "never"}
PANEL_FAMILIES = {"twfe", "event_study20", "sun_abraham", "imputation", "wild_twfe"}


def plan(args) -> list[tuple[str, dict]]:
    """(task, cell) pairs: the matrix for the CS families, the default cell (and the balanced
    panel for the linear panel designs) for the others."""
    from benchmarks.tasks import MATRIX_FAMILIES, TASKS

    families = set(filter(None, args.tasks.split(",")))
    libraries = set(filter(None, args.libraries.split(",")))
    matrix = cells(args)
    jobs = []
    for name, (family, library, _) in TASKS.items():
        if (families and family not in families) or (libraries and library not in libraries):
            continue
        if family in MATRIX_FAMILIES:
            jobs += [(name, c) for c in matrix]
        else:
            shapes = ("unbalanced", "balanced") if family in PANEL_FAMILIES else ("unbalanced",)
            jobs += [(name, {**DEFAULT_CELL, "shape": s}) for s in shapes
                     if not args.shapes or s in args.shapes.split(",")]
    return jobs


def _key(row: dict) -> tuple:
    return row["size"], row["family"], row["shape"], row["ids"], row["covariates"], row["control"]


def compare(rows: list[dict]) -> None:
    """Time ratio (peer / evalkit) and estimate difference against evalkit's entry of the same cell."""
    base = {_key(r): r for r in rows if r["library"] == "evalkit" and r["ok"]}
    for r in rows:
        ref = base.get(_key(r))
        if ref is None or not r["ok"] or r is ref:
            continue
        r["diff"] = abs(r["estimate"] - ref["estimate"])
        if "seconds" in r and "seconds" in ref:
            r["ratio"] = r["seconds"] / ref["seconds"]


def machine() -> dict:
    """The machine, the versions of evalkit and its peers, and the time of the run."""
    mem = next((int(line.split()[1]) / 1024**2 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), None) if Path("/proc/meminfo").exists() else None
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "memory_gb": round(mem, 1) if mem else None, "versions": versions,
            "utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _table(rows: list[dict]) -> str:
    lines = [f"{'rows':>5} {'family':14} {'shape':10} {'ids':8} {'cov':3} {'ctrl':6} {'library':12} "
             f"{'seconds':>9} {'median':>7} {'x evalkit':>9} {'peak MB':>8} {'estimate':>10} {'diff':>8}"]
    for r in rows:
        sec = f"{r['seconds']:.3f}" if r["ok"] and "seconds" in r else ("" if r["ok"] else r["error"][:40])
        ratio = f"{r['ratio']:.1f}" if r.get("ratio") else ""
        est = f"{r['estimate']:.5f}" if r["ok"] else ""
        diff = f"{r['diff']:.1e}" if r.get("diff") is not None else ""
        med = f"{r['median_seconds']:.3f}" if r.get("n_runs", 1) > 1 and r["ok"] else ""
        lines.append(f"{r['size']:>5} {r['family']:14} {r['shape']:10} {r['ids']:8} "
                     f"{'yes' if r['covariates'] else 'no':3} {r['control']:6} {r['library']:12} {sec:>9} "
                     f"{med:>7} {ratio:>9} {r['peak_mb']:8.0f} {est:>10} {diff:>8}")
    return "\n".join(lines)


def _data(size: str, cell: dict) -> Path:
    from benchmarks.data import cached_panel

    return cached_panel(SIZES[size], HERE / ".data", shape=cell["shape"], id_type=cell["ids"])


def run_timed(args, jobs) -> list[dict]:
    from benchmarks.tasks import TASKS

    rows = []
    for size in args.sizes.split(","):
        for task, cell in jobs:
            print(f"[{size}] {task} {cell} ...", file=sys.stderr, flush=True)
            path = _data(size, cell)
            runs = [measure(task, path, cell, args.timeout, args.mem_limit_gb * 1024)
                    for _ in range(max(args.repeat, 1))]
            family, library, _ = TASKS[task]
            rows.append({"size": size, "family": family, "library": library, "task": task, **cell,
                         **_summary(runs)})
    return rows


def run_smoke(jobs) -> list[dict]:
    """Every job once at 100k rows, one process per data file; failures are rows, nothing is timed."""
    from benchmarks.tasks import TASKS

    by_file: dict[Path, list] = {}
    for task, cell in jobs:
        by_file.setdefault(_data("100k", cell), []).append((task, cell))
    rows = []
    for path, file_jobs in by_file.items():
        proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke-child", json.dumps(file_jobs),
                               str(path)], capture_output=True, text=True, cwd=HERE.parent, check=False,
                              timeout=900)
        done = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or len(done) != len(file_jobs):
            raise RuntimeError(f"smoke run on {path.name} failed: {proc.stderr.strip()[-400:]}")
        for out in done:
            family, library, _ = TASKS[out["task"]]
            spec = out.pop("spec")
            out.pop("seconds", None)   # not timed: tasks share a process
            rows.append({"size": "100k", "family": family, "library": library, **spec, **out})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("TASK", "PATH", "SPEC"), help=argparse.SUPPRESS)
    parser.add_argument("--smoke-child", nargs=2, metavar=("JOBS", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100k,1M", help=f"comma list of {list(SIZES)}")
    parser.add_argument("--tasks", default="", help="comma list of estimator families (default: all)")
    parser.add_argument("--libraries", default="", help="comma list of libraries (default: all), e.g. evalkit")
    parser.add_argument("--shapes", default="", help="comma list of balanced,unbalanced,rcs (default: all)")
    parser.add_argument("--ids", default="", help="comma list of int,str,category (default: all)")
    parser.add_argument("--covariates", default="", help="yes, no or yes,no (default: both)")
    parser.add_argument("--controls", default="", help="never, notyet or both (default: both)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per task (fresh process each); min and median")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--mem-limit-gb", type=float, default=18)
    parser.add_argument("--smoke", action="store_true", help="every task once at 100k rows, not timed (CI)")
    parser.add_argument("--save-latest", action="store_true", help="also write results/latest.json")
    parser.add_argument("--append-latest", action="store_true",
                        help="merge into results/latest.json (rows of the same task and cell replaced; each "
                             "row names its run, and the runs' machine and load averages are kept)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.smoke_child:
        smoke_child(*args.smoke_child)
        return 0
    meta = {**machine(), "load_average_before": os.getloadavg(), "command": sys.argv[1:] if argv is None else argv}
    jobs = plan(args)
    if args.smoke:  # evalkit over the whole matrix; each peer on the default cell
        jobs = [(t, c) for t, c in jobs if t not in SMOKE_SKIP and (t.endswith("/evalkit") or c["ids"] == "int")]
    rows = run_smoke(jobs) if args.smoke else run_timed(args, jobs)
    compare(rows)
    meta["load_average_after"] = os.getloadavg()
    print(_table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = meta["utc"].replace("-", "").replace(":", "")
    text = json.dumps({"meta": meta, "smoke": args.smoke, "rows": rows}, indent=1)
    (args.out / f"bench_{stamp}.json").write_text(text)
    if (args.save_latest or args.append_latest) and not args.smoke:
        latest = args.out / "latest.json"
        old = json.loads(latest.read_text()) if (args.append_latest and latest.exists()) else None
        (args.out / "latest.json").write_text(json.dumps(merge_latest(old, meta, rows), indent=1))
    return 0


def merge_latest(old: dict | None, meta: dict, rows: list[dict]) -> dict:
    """latest.json from this run, or this run merged into ``old``: ``runs`` lists every run's meta
    (machine, versions, load averages, command); each row carries its run's ``utc``."""
    rows = [{**r, "run": meta["utc"]} for r in rows]
    if old is None:
        return {"meta": meta, "runs": [meta], "smoke": False, "rows": rows}
    fresh = {(r["size"], r["task"], r["shape"], r["ids"], r["covariates"], r["control"]) for r in rows}
    kept = [r for r in old["rows"] if (r["size"], r["task"], r["shape"], r["ids"], r["covariates"], r["control"])
            not in fresh]
    runs = [m for m in old.get("runs", [old["meta"]]) if any(r.get("run", m["utc"]) == m["utc"] for r in kept)]
    return {"meta": meta, "runs": runs + [meta], "smoke": False, "rows": kept + rows}


if __name__ == "__main__":
    sys.exit(main())
