"""The README tables from a benchmark JSON (``results/latest.json`` by default).

    python -m benchmarks.table                    # print the Markdown
    python -m benchmarks.table --write            # replace the block between the markers in README.md

Callaway-Sant'Anna: one row per size and matrix cell with evalkit's time and peak memory, the
fastest peer that ran it and the ratio (peer / evalkit); peers that failed are named with their
error. Other designs: every library's time beside evalkit's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"
SIZE_ORDER = {"100k": 0, "1M": 1, "10M": 2}


def _cell(r: dict) -> tuple:
    return (SIZE_ORDER.get(r["size"], 9), r["size"], r["family"], r["shape"], r["ids"], r["covariates"], r["control"])


def _secs(r: dict) -> str:
    if not r["ok"]:
        return "fails: " + r["error"][:60].replace("|", "/")
    return f"{r['seconds']:.2f}" if "seconds" in r else "–"


def cs_table(rows: list[dict]) -> str:
    """Markdown: the CS matrix, evalkit against the fastest peer per cell."""
    out = ["| rows | estimator | shape | ids | covariates | control | evalkit s | peak MB | fastest peer | peer s "
           "| x evalkit | peers failing |", "|" + "---|" * 12]
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["family"].startswith("cs_"):
            cells.setdefault(_cell(r), []).append(r)
    for key in sorted(cells):
        group = cells[key]
        ek = next((r for r in group if r["library"] == "evalkit"), None)
        peers = [r for r in group if r["library"] != "evalkit"]
        ran = [r for r in peers if r["ok"] and "seconds" in r]
        best = min(ran, key=lambda r: r["seconds"]) if ran else None
        failing = ", ".join(sorted({r["library"] for r in peers if not r["ok"]}))
        _, size, family, shape, ids, cov, control = key
        ratio = f"**{best['seconds'] / ek['seconds']:.1f}**" if best and ek and ek["ok"] and "seconds" in ek else ""
        out.append(f"| {size} | {family} | {shape} | {ids} | {'yes' if cov else 'no'} | {control} | "
                   f"{_secs(ek) if ek else ''} | {ek['peak_mb']:.0f} | " if ek else "| ")
        out[-1] += (f"{best['library'] if best else ''} | {_secs(best) if best else ''} | {ratio} | {failing} |")
    return "\n".join(out)


def other_table(rows: list[dict]) -> str:
    """Markdown: the other designs, every library."""
    out = ["| rows | estimator | shape | library | seconds | x evalkit | peak MB | estimate diff |", "|" + "---|" * 8]
    for r in sorted((r for r in rows if not r["family"].startswith("cs_")),
                    key=lambda r: (_cell(r), r["library"] != "evalkit", r["library"])):
        ratio = f"{r['ratio']:.1f}" if r.get("ratio") else ""
        diff = f"{r['diff']:.0e}" if r.get("diff") is not None else ""
        out.append(f"| {r['size']} | {r['family']} | {r['shape']} | {r['library']} | {_secs(r)} | {ratio} | "
                   f"{r['peak_mb']:.0f} | {diff} |")
    return "\n".join(out)


def render(result: dict) -> str:
    """The Markdown block: machine line, CS matrix, other designs."""
    lines = []
    for m in result.get("runs", [result["meta"]]):
        versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items() if v)
        lines.append(f"Run {m['utc']} on {m.get('cpus')} cores, {m.get('memory_gb')} GB ({m.get('platform')}); "
                     f"load average {', '.join(f'{x:.2f}' for x in m['load_average_before'])} before and "
                     f"{', '.join(f'{x:.2f}' for x in m['load_average_after'])} after; {versions}. "
                     f"Command: `python -m benchmarks.run {' '.join(m.get('command', []))}`.")
    head = "\n\n".join(lines)
    if result.get("smoke"):
        head += " Smoke run: not timed."
    return f"{head}\n\n{cs_table(result['rows'])}\n\n{other_table(result['rows'])}\n"


def write_readme(block: str, readme: Path = HERE / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} block")
    before, rest = text.split(START, 1)
    readme.write_text(before + START + "\n" + block + END + rest.split(END, 1)[1], encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--write", action="store_true", help="replace the table block in benchmarks/README.md")
    args = parser.parse_args(argv)
    block = render(json.loads(args.json.read_text()))
    if args.write:
        write_readme(block)
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
