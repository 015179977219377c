"""Run the catalogue: ``python -m tests.bad_inputs [--only SUBSTRING] [--all]``.

Prints a markdown table (entry point x outcome class) and the list of non-passing cases
(cases that wait on another part of issue 12 are marked with its letter).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict

os.environ.setdefault("MPLBACKEND", "Agg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bad_inputs")
    parser.add_argument("--only", default="", help="run only cases whose id contains this text")
    parser.add_argument("--all", action="store_true", help="list every case, not only the non-passing ones")
    args = parser.parse_args(argv)

    from tests.bad_inputs.catalogue import CASES
    from tests.bad_inputs.engine import CLASSES, run_case

    cases = [c for c in CASES if args.only in c.id]
    start = time.perf_counter()
    outcomes = [run_case(c) for c in cases]
    elapsed = time.perf_counter() - start

    counts: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        counts[o.case.entry][o.cls] += 1
    total = Counter(o.cls for o in outcomes)
    print(f"{len(outcomes)} cases, {elapsed:.1f} s\n")
    print("| entry point | cases | " + " | ".join(CLASSES) + " |")
    print("|---|---:|" + "---:|" * len(CLASSES))
    for entry in sorted(counts):
        c = counts[entry]
        print(f"| {entry} | {sum(c.values())} | " + " | ".join(str(c[k] or "") for k in CLASSES) + " |")
    print(f"| **total** | **{len(outcomes)}** | " + " | ".join(f"**{total[k]}**" for k in CLASSES) + " |")

    failing = [o for o in outcomes if not o.passed]
    print(f"\n{len(failing)} non-passing case(s)" + (":" if failing else "."))
    for o in failing:
        dep = f" [waits on item {o.case.depends}]" if o.case.depends else ""
        print(f"- {o.case.id} (expect {o.case.expect}) -> **{o.cls}**{dep}: {o.detail[:300]}")
    slow = sorted(outcomes, key=lambda o: -o.seconds)[:8]
    print("\nSlowest: " + ", ".join(f"{o.case.id} {o.seconds:.2f}s" for o in slow))
    if args.all:
        print("\nAll cases:")
        for o in outcomes:
            print(f"- {o.case.id} (expect {o.case.expect}) -> {o.cls}: {o.detail[:200]}")
    return 1 if any(o.cls not in ("clear error", "correct answer") and not o.case.depends for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
