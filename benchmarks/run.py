"""Run the benchmarks: evalkit and its peers on the same data, in one run.

    python -m benchmarks.run                       # 100k and 1M rows, every task
    python -m benchmarks.run --sizes 100k,1M,10M --tasks cs_dr_cov,twfe
    python -m benchmarks.run --sizes 10M --tasks cs_dr_cov --libraries evalkit --repeat 3

Each task runs in its own process (fresh interpreter, same Parquet file). The child times
the estimation only; the parent records the child's peak resident memory (``ru_maxrss``, which
includes loading the data) and kills a child that passes ``--mem-limit-gb`` or ``--timeout``.
Prints a table with time ratios against evalkit and the agreement of the estimates, and writes
JSON to ``benchmarks/results/``. With ``--repeat N`` every task runs N times (N processes); the
table shows the minimum time and peak memory, with the median time and every run in the JSON.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}


def child(task: str, path: str) -> None:
    """Entry point of one measured process: load, time the task, print JSON."""
    import pandas as pd

    import importlib

    from benchmarks.tasks import LIBRARY_MODULES, TASKS

    df = pd.read_parquet(path)
    for module in LIBRARY_MODULES[TASKS[task][1]]:  # imports are not part of the timing
        importlib.import_module(module)
    start = time.perf_counter()
    estimate = TASKS[task][2](df)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(json.dumps({"seconds": seconds, "estimate": float(estimate), "peak_mb": peak_mb}))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(task: str, path: Path, timeout: float, mem_limit_mb: float) -> dict:
    """Run one task in a child process; return seconds, peak MB, estimate or the failure."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.run", "--child", task, str(path)],
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
        return {"task": task, "ok": False, "error": reason, "peak_mb": seen[0]}  # sampled peak
    return {"task": task, "ok": True, **json.loads(out.strip().splitlines()[-1])}


def _summary(runs: list[dict]) -> dict:
    """One row from repeated runs: minimum seconds and peak MB, the median and every run's seconds."""
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return runs[-1]
    secs = [r["seconds"] for r in ok]
    best = min(ok, key=lambda r: r["seconds"])
    return {**best, "peak_mb": min(r["peak_mb"] for r in ok), "median_seconds": statistics.median(secs),
            "runs": secs, "n_runs": len(runs)}


def _table(rows: list[dict]) -> str:
    lines = [f"{'rows':>5} {'estimator':18} {'library':12} {'seconds':>9} {'median':>7} {'x evalkit':>9} "
             f"{'peak MB':>8} {'estimate':>10} {'diff':>9}"]
    for r in rows:
        sec = f"{r['seconds']:.3f}" if r["ok"] else r["error"][:40]
        ratio = f"{r['ratio']:.1f}" if r.get("ratio") else ""
        est = f"{r['estimate']:.5f}" if r["ok"] else ""
        diff = f"{r['diff']:.1e}" if r.get("diff") is not None else ""
        med = f"{r['median_seconds']:.3f}" if r.get("n_runs", 1) > 1 and r["ok"] else ""
        lines.append(f"{r['size']:>5} {r['family']:18} {r['library']:12} {sec:>9} {med:>7} {ratio:>9} "
                     f"{r['peak_mb']:8.0f} {est:>10} {diff:>9}")
    return "\n".join(lines)


def _compare(rows: list[dict]) -> None:
    """Time ratio (peer / evalkit) and estimate difference against evalkit's entry of the family."""
    base = {(r["size"], r["family"]): r for r in rows if r["library"] == "evalkit" and r["ok"]}
    for r in rows:
        ref = base.get((r["size"], r["family"]))
        if ref is None or not r["ok"] or r is ref:
            continue
        r["ratio"] = r["seconds"] / ref["seconds"]
        r["diff"] = abs(r["estimate"] - ref["estimate"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100k,1M", help=f"comma list of {list(SIZES)}")
    parser.add_argument("--tasks", default="", help="comma list of estimator families (default: all)")
    parser.add_argument("--libraries", default="", help="comma list of libraries (default: all), e.g. evalkit")
    parser.add_argument("--repeat", type=int, default=1, help="runs per task (fresh process each); min and median")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--mem-limit-gb", type=float, default=18)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    from benchmarks.data import cached_panel
    from benchmarks.tasks import TASKS

    families = set(filter(None, args.tasks.split(",")))
    libraries = set(filter(None, args.libraries.split(",")))
    rows = []
    for size in args.sizes.split(","):
        path = cached_panel(SIZES[size], HERE / ".data")
        for name, (family, library, _) in TASKS.items():
            if (families and family not in families) or (libraries and library not in libraries):
                continue
            print(f"[{size}] {name} ...", file=sys.stderr, flush=True)
            runs = [measure(name, path, args.timeout, args.mem_limit_gb * 1024) for _ in range(max(args.repeat, 1))]
            rows.append({"size": size, "family": family, "library": library, **_summary(runs)})
    _compare(rows)
    print(_table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    meta = {"python": sys.version, "machine": platform.machine(), "cpus": os.cpu_count(), "utc": stamp}
    (args.out / f"bench_{stamp}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
