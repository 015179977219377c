"""After a report run: gate the notebook, render, vet the results folder, scan what reviewers open.

Everything a reviewer can open lives in the run folder (HTML, ``results/``, ``manifest.json``,
``run.log``) or is ``reports/index.html``. Each is scanned after it is written for the person
keys of the run's data, in every form :mod:`evalkit.report.keyscan` knows; a file with a hit
is moved to the restricted folder and the run ends ``needs_review``. The executed notebook,
the kernel's console and the line ledger stay in the restricted folder
(``docs/disclosure.md``).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from evalkit import seal
from evalkit.report import manifest as mf
from evalkit.report.gate import gate_notebook, read_ledger
from evalkit.report.index import error_summary
from evalkit.report.manifest import RESULTS_LINE, results_line  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Outcome:
    status: str
    html: Path | None
    disclosure: dict
    keys: object


def _quarantine(path: Path, base: Path, private: Path) -> str:
    rel = path.relative_to(base).as_posix()
    target = private / "withheld" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
    return rel


def vet_results(run_dir: Path, private: Path, key: bytes, ledger: set[str]) -> int:
    """Move every results file that evalkit's results writer did not make (or that changed since)."""
    folder, moved = run_dir / "results", 0
    if not folder.is_dir():
        return 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink() or seal.line_mac(key, results_line(name, path)) not in ledger:
            _quarantine(path, run_dir, private)
            moved += 1
    return moved


def scan_or_quarantine(path: Path, base: Path, private: Path, keys) -> dict:
    """Scan one reviewer-visible file for person keys; move it away on a hit. {relative path: kinds}."""
    from evalkit.report.keyscan import scan_file

    if keys is None or not path.is_file():
        return {}
    hits = scan_file(path, keys)
    if not hits:
        return {}
    return {_quarantine(path, base, private): sorted(set(hits))}


RUN_FILES = ("manifest.json", "run.log")


def vet_run_dir(run_dir: Path, private: Path, html: Path | None) -> int:
    """Move every file in the run folder that the runner did not write (results/ is vetted apart)."""
    allowed = {run_dir / name for name in RUN_FILES} | ({html} if html else set())
    moved = 0
    for path in sorted(run_dir.rglob("*")):
        if (path.is_file() or path.is_symlink()) and path not in allowed and "results" != path.relative_to(run_dir).parts[0]:
            _quarantine(path, run_dir, private)
            moved += 1
    return moved


TOP_FILES = ("index.html", "README.md", ".run-due.lock")


def _run_files(run: Path) -> set[str] | None:
    """Files a finished run vouches for (its manifest's output hashes), None while it runs."""
    try:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(manifest, dict) or manifest.get("status") in (None, "running"):
        return None
    outputs = manifest.get("outputs") if isinstance(manifest.get("outputs"), dict) else {}
    return {name for name, digest in outputs.items() if (run / name).is_file()
            and mf.sha256_file(run / name) == digest} | {"manifest.json"}


def vet_reports_tree(reports_root: Path, private: Path, current: Path) -> list[str]:
    """Move every file under ``reports_root`` that no finished run's manifest vouches for (a file
    a notebook wrote next to other runs, or changed after they finished); returns their paths."""
    moved, vouched = [], {}
    for path in sorted(p for p in reports_root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(reports_root)
        if len(rel.parts) == 1 and rel.name in TOP_FILES:
            continue
        run = reports_root.joinpath(*rel.parts[:3]) if len(rel.parts) > 3 else None
        if run == current:
            continue
        if run is not None and run not in vouched:
            vouched[run] = _run_files(run)
        allowed = vouched.get(run) if run is not None else set()
        if allowed is None or (run is not None and path.relative_to(run).as_posix() in allowed):
            continue
        moved.append(_quarantine(path, reports_root, private / "foreign"))
    return moved


def _scan_run_dir(run_dir: Path, private: Path, keys) -> dict:
    found = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != "manifest.json"):
        found.update(scan_or_quarantine(path, run_dir, private, keys))
    return found


def run_keys(params: dict, *, threads: int | None = None):
    """The person keys of every input the run reads (:func:`evalkit.report.keyscan.collect_run_keys`: the
    files under ``data_dir`` and the survey given by ``survey.path`` wherever it is, with the key columns
    as the run's survey configuration names them); ``threads``: DuckDB threads, all cores by default."""
    from evalkit.report.keyscan import collect_run_keys

    return collect_run_keys(params, threads=threads)


def finish(executed: Path, run_dir: Path, private: Path, *, key: bytes, error: dict | None, params: dict,
           record: dict, render, reports_root: Path, keys=None) -> Outcome:
    """Gate, render and vet a finished run; return its status, HTML and disclosure record.

    ``keys``: the data's person keys if already collected (the runner collects them while the
    kernel runs), else collected here."""
    keys = run_keys(params) if keys is None else keys
    ledger = read_ledger(private / "ledger.txt")
    gate, html = None, None
    refused = error is not None and error.get("type") == "DisclosureError"  # evalkit refused to show something
    if (error is None or refused) and executed.is_file():
        released, gate = gate_notebook(nbformat.read(executed, as_version=4), key, ledger, lang=params["lang"],
                                       min_cell=params["min_cell"])
        nbformat.write(released, private / "released.ipynb")
        html = render(private / "released.ipynb", run_dir / f"{executed.stem}.html", run=record)
    moved = vet_results(run_dir, private, key, ledger) + vet_run_dir(run_dir, private, html)
    foreign = vet_reports_tree(reports_root, private, run_dir)
    scan = _scan_run_dir(run_dir, private, keys)
    if html is not None and not html.is_file():
        html = None  # quarantined by the scan
    disclosure = {"ok": bool(gate and gate.ok) and not moved and not scan and not foreign,
                  "min_cell": params["min_cell"],
                  # person counts in the HTML and in results/*.json are rounded to multiples of it
                  "round_base": params.get("round_base"), "gate": gate.to_dict() if gate else None,
                  "results_withheld": moved, "foreign_files_withheld": len(foreign),
                  "scan": scan, "keys_checked": len(keys)}
    disclosure["ok"] = disclosure["ok"] and not refused
    status = "failed" if gate is None else ("ok" if disclosure["ok"] else "needs_review")
    return Outcome(status=status, html=html, disclosure=disclosure, keys=keys)


def log_lines(record: dict) -> list[str]:
    """The run log: status, error type and cell, withheld cells and kinds, release reasons."""
    lines = [f"run {record['run_id']} of report {record['report']} ({record['template']}), period {record['period']}",
             f"status: {record['status']}"]
    if record.get("error"):
        lines.append(f"error: {error_summary(record['error'])}")
    disclosure = record.get("disclosure") or {}
    gate = disclosure.get("gate") or {}
    lines += [f"withheld: cell {w['cell']}: {w['kind']}" for w in gate.get("withheld", [])]
    lines += [f"released by the analyst: cell {r['cell']}: {r['reason']}" for r in gate.get("releases", [])]
    if disclosure.get("results_withheld"):
        lines.append(f"files not written by evalkit (results or run folder), withheld: {disclosure['results_withheld']}")
    lines += [f"withheld after the scan: {name} ({', '.join(kinds)})" for name, kinds in disclosure.get("scan", {}).items()]
    pdf = record.get("pdf")
    if isinstance(pdf, dict):
        lines.append(f"pdf: {pdf['file']} (printed from the checked {pdf.get('from')})" if pdf.get("file")
                     else f"pdf: not printed: {pdf.get('error')}")
    if disclosure.get("foreign_files_withheld"):
        lines.append(f"files outside any run's outputs under the reports folder, withheld: "
                     f"{disclosure['foreign_files_withheld']}")
    return lines


def write_log(run_dir: Path, record: dict) -> Path:
    path = run_dir / "run.log"
    path.write_text("\n".join(log_lines(record)) + "\n", encoding="utf-8")
    return path


def write_manifest(record: dict, run_dir: Path, private: Path, keys) -> None:
    """Write the manifest; if it (or the log) shows a person key, keep a minimal one instead."""
    path = mf.write_json(record, run_dir / "manifest.json")
    hits = {**scan_or_quarantine(path, run_dir, private, keys),
            **scan_or_quarantine(run_dir / "run.log", run_dir, private, keys)}
    if hits:
        record.update(status="needs_review")
        minimal = {k: record.get(k) for k in ("schema", "report", "template", "period", "run_id", "started_utc",
                                              "finished_utc", "git", "data_sha256", "parameters_sha256")}
        minimal.update(status="needs_review", note="the full manifest or log held a person key and was withheld",
                       disclosure={"ok": False, "scan": hits})
        mf.write_json(minimal, run_dir / "manifest.json")
        record.update(disclosure={**(record.get("disclosure") or {}), "ok": False})
