"""Index of report runs: read the run manifests, find the latest good run, write ``index.html``.

Each run lives in an immutable folder ``<reports_root>/<report>/<period>/<run_id>/`` with a
``manifest.json`` (schema ``evalkit.run/1``). Nothing here copies or moves runs: the index
*points* to them. ``index.html`` is regenerated from the manifests after every run, written
atomically, and is self-contained static HTML (no scripts, no external CSS or fonts).

Every manifest dict returned here carries one extra key, ``"_dir"``: the run folder relative
to ``reports_root`` (POSIX separators). Missing ``report``/``period``/``run_id`` fields are
filled in from the folder names.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from evalkit.report.manifest import STATUSES
from evalkit.errors import stack_level, EvalkitWarning

MANIFEST_GLOB = "*/*/*/manifest.json"
INDEX_NAME = "index.html"
_EPOCH = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class ManifestProblem:
    """A manifest that could not be read (shown in the index, never fatal)."""

    path: str  # relative to reports_root
    error: str


@dataclass(frozen=True)
class ManifestScan:
    """What :func:`scan_manifests` found: readable manifests (newest first) and problems."""

    manifests: list[dict] = field(default_factory=list)
    problems: list[ManifestProblem] = field(default_factory=list)


def _read_one(path: Path, root: Path) -> dict:
    record = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, found {type(record).__name__}")
    run_dir = path.parent
    record.setdefault("report", run_dir.parent.parent.name)
    record.setdefault("period", run_dir.parent.name)
    record.setdefault("run_id", run_dir.name)
    record["_dir"] = run_dir.relative_to(root).as_posix()
    return record


def _parse_utc(text: object) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%SZ"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def run_time(manifest: dict) -> dt.datetime | None:
    """Start time of a run (``started_utc``, else the timestamp at the head of ``run_id``)."""
    started = _parse_utc(manifest.get("started_utc"))
    if started is None:
        started = _parse_utc(str(manifest.get("run_id", "")).split("_", 1)[0])
    return started


def _newest_first(manifest: dict) -> tuple:
    return (run_time(manifest) or _EPOCH, str(manifest.get("run_id", "")))


def scan_manifests(reports_root: str | Path, report: str | None = None,
                   period: str | None = None) -> ManifestScan:
    """Read every ``<report>/<period>/<run_id>/manifest.json`` (optionally of one report/period)."""
    root = Path(reports_root)
    if not root.is_dir():
        return ManifestScan()
    pattern = "/".join([glob_escape(report) if report else "*", glob_escape(period) if period else "*",
                        "*", "manifest.json"])
    manifests, problems = [], []
    for path in sorted(root.glob(pattern)):
        try:
            manifests.append(_read_one(path, root))
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            problems.append(ManifestProblem(path.relative_to(root).as_posix(), type(exc).__name__))
    manifests.sort(key=_newest_first, reverse=True)
    return ManifestScan(manifests, problems)


def glob_escape(name: str) -> str:
    """Escape glob metacharacters in a folder name."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in str(name))


def read_manifests(reports_root: str | Path) -> list[dict]:
    """All readable run manifests under ``reports_root``, newest run first.

    Corrupt or unreadable manifests are skipped with an :class:`EvalkitWarning` naming the
    file (use :func:`scan_manifests` to get them as data).
    """
    scan = scan_manifests(reports_root)
    for problem in scan.problems:
        warnings.warn(f"skipping unreadable run manifest {problem.path}: {problem.error}", EvalkitWarning,
                      stacklevel=stack_level())
    return scan.manifests


def _pick_latest_good(manifests: list[dict]) -> dict | None:
    good = [m for m in manifests if m.get("status") == "ok"]
    # latest period first (a re-run of an old period does not displace a newer edition), then newest run
    return max(good, key=lambda m: (str(m.get("period", "")), _newest_first(m)), default=None)


def latest_good(reports_root: str | Path, report: str, period: str | None = None) -> dict | None:
    """The newest run with status ``ok`` of ``report`` (and ``period``), or None.

    Without ``period`` the latest *period* wins, then the newest run within it, so that a
    re-run of last year's edition does not replace this year's as "the latest".
    """
    return _pick_latest_good(scan_manifests(reports_root, report=report, period=period).manifests)


# ----------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
p.meta{color:#555;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}
tr.latest td{background:#f2faf3}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;border:1px solid;font-size:.85em;
  font-weight:600;white-space:nowrap}
.s-ok{background:#e3f4e6;color:#17612a;border-color:#17612a}
.s-failed{background:#fbe4e4;color:#9b1c1c;border-color:#9b1c1c}
.s-needs_review{background:#fff2d6;color:#7a4b00;border-color:#7a4b00}
.s-running{background:#e3eefb;color:#1a4f8b;border-color:#1a4f8b}
.s-other{background:#eee;color:#333;border-color:#333}
.latest-mark{font-weight:600;color:#17612a;white-space:nowrap}
.dirty{color:#9b1c1c;font-weight:600}
.muted{color:#777}
@media print{
  body{margin:0;font-size:10pt}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  a{color:inherit;text-decoration:none}
  tr{break-inside:avoid}
  thead{display:table-header-group}
}
"""

_LABELS = {"ok": "ok", "failed": "failed", "needs_review": "needs review", "running": "running"}
_LABELS_DA = {"ok": "ok", "failed": "fejlet", "needs_review": "kræver gennemsyn", "running": "kører"}

#: the index's words in each language (:func:`index_lang` picks the language)
WORDS: dict[str, dict[str, str]] = {
    "en": {"title": "evalkit report runs", "runs": "{n} runs", "meta": " · generated {when} from the run manifests; "
           "each run folder is immutable.", "latest_h": "Latest good run per report", "report": "Report",
           "period": "Period", "run_time": "Run time", "status": "Status", "commit": "Commit",
           "parameters": "Parameters", "links": "Links", "no_good": "No successful run yet.",
           "all_h": "All runs, newest first", "no_runs": "No runs yet.", "unreadable_h": "Unreadable manifests",
           "latest": "★ latest", "latest_title": "latest good run of this report", "dirty": "dirty",
           "unknown": "unknown", "report_link": "report", "withheld": "report (outputs withheld)",
           "missing": "report missing", "manifest": "manifest", "in_cell": "{kind} in cell {cell}"},
    "da": {"title": "evalkit-rapportkørsler", "runs": "{n} kørsler", "meta": " · dannet {when} ud fra kørslernes "
           "manifester; hver kørselsmappe ændres aldrig.", "latest_h": "Seneste gode kørsel pr. rapport",
           "report": "Rapport", "period": "Periode", "run_time": "Kørselstidspunkt", "status": "Status",
           "commit": "Commit", "parameters": "Parametre", "links": "Links",
           "no_good": "Ingen vellykket kørsel endnu.", "all_h": "Alle kørsler, nyeste først",
           "no_runs": "Ingen kørsler endnu.", "unreadable_h": "Manifester, der ikke kan læses",
           "latest": "★ seneste", "latest_title": "seneste gode kørsel af denne rapport", "dirty": "lokale ændringer",
           "unknown": "ukendt", "report_link": "rapport", "withheld": "rapport (output tilbageholdt)",
           "missing": "rapport mangler", "manifest": "manifest", "in_cell": "{kind} i celle {cell}"},
}


def index_lang(manifests: list[dict]) -> str:
    """The index's language: "da" when every run that names a language is a Danish report
    (parameter ``lang: da``), else "en" (also with no runs, or with Danish and English reports mixed)."""
    langs = {str(m["parameters"].get("lang")) for m in manifests
             if isinstance(m.get("parameters"), dict) and m["parameters"].get("lang")}
    return "da" if langs == {"da"} else "en"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in "/".join(parts).split("/"))


def _badge(status: object, lang: str = "en") -> str:
    status = str(status) if status is not None else WORDS[lang]["unknown"]
    css = f"s-{status}" if status in STATUSES else "s-other"
    return f'<span class="badge {css}">{_e((_LABELS_DA if lang == "da" else _LABELS).get(status, status))}</span>'


def _commit(manifest: dict, lang: str = "en") -> str:
    git = manifest.get("git") if isinstance(manifest.get("git"), dict) else {}
    commit = str(git.get("commit") or "")
    text = f"<code>{_e(commit[:7])}</code>" if commit else '<span class="muted">–</span>'
    return text + (f' <span class="dirty">{WORDS[lang]["dirty"]}</span>' if git.get("dirty") else "")


def _when(manifest: dict, lang: str = "en") -> str:
    start = run_time(manifest)
    if start is None:
        return f'<span class="muted">{WORDS[lang]["unknown"]}</span>'
    text = start.strftime("%Y-%m-%d %H:%M UTC")
    finish = _parse_utc(manifest.get("finished_utc"))
    if finish is not None and finish >= start:
        seconds = int((finish - start).total_seconds())
        text += f' <span class="muted">({seconds // 60} min {seconds % 60} s)</span>'
    return text


def _links(manifest: dict, root: Path, lang: str = "en") -> str:
    """Links a reviewer may follow: the released HTML, its PDF and the manifest. Executed notebooks live
    in the restricted folder and are never linked (docs/disclosure.md)."""
    run_dir = manifest["_dir"]
    links = []
    html_name = manifest.get("html")
    if manifest.get("status") in ("ok", "needs_review") and isinstance(html_name, str) and html_name:
        label = WORDS[lang]["report_link"] if manifest.get("status") == "ok" else WORDS[lang]["withheld"]
        if (root / run_dir / html_name).is_file():
            links.append(f'<a href="{_e(_href(run_dir, html_name))}">{label}</a>')
        else:
            links.append(f'<span class="muted">{WORDS[lang]["missing"]}</span>')
        pdf = manifest.get("pdf") if isinstance(manifest.get("pdf"), dict) else {}
        pdf_name = pdf.get("file")
        if isinstance(pdf_name, str) and pdf_name and (root / run_dir / pdf_name).is_file():
            links.append(f'<a href="{_e(_href(run_dir, pdf_name))}">PDF</a>')
    links.append(f'<a href="{_e(_href(run_dir, "manifest.json"))}">{WORDS[lang]["manifest"]}</a>')
    return " · ".join(links)


def error_summary(error: object, lang: str = "en") -> str:
    """An error as its type and cell only, never its message (messages can hold data)."""
    if isinstance(error, dict):
        kind = str(error.get("type") or "error")
        return WORDS[lang]["in_cell"].format(kind=kind, cell=error["cell"]) if error.get("cell") else kind
    return "error" if error else ""


def _row(manifest: dict, root: Path, is_latest: bool, lang: str = "en") -> str:
    params = str(manifest.get("parameters_sha256") or "")
    words = WORDS[lang]
    mark = (f' <span class="latest-mark" title="{words["latest_title"]}">{words["latest"]}</span>'
            if is_latest else "")
    error = error_summary(manifest.get("error"), lang)
    status = _badge(manifest.get("status"), lang) + (f'<br><span class="muted">{_e(error[:160])}</span>'
                                               if error and manifest.get("status") != "ok" else "")
    cells = [
        f"{_e(manifest.get('report'))}{mark}",
        _e(manifest.get("period")),
        _when(manifest, lang),
        status,
        _commit(manifest, lang),
        f'<code title="{_e(params)}">{_e(params[:12])}</code>' if params else '<span class="muted">–</span>',
        _links(manifest, root, lang),
    ]
    css = ' class="latest"' if is_latest else ""
    return f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _latest_by_report(manifests: list[dict]) -> dict[str, dict]:
    reports: dict[str, list[dict]] = {}
    for m in manifests:
        reports.setdefault(str(m.get("report")), []).append(m)
    picked = {name: _pick_latest_good(runs) for name, runs in sorted(reports.items())}
    return {name: m for name, m in picked.items() if m is not None}


def render_index(scan: ManifestScan, reports_root: str | Path, generated: dt.datetime | None = None,
                 lang: str | None = None) -> str:
    """The HTML text of the index for the manifests in ``scan``; ``lang`` "da" or "en", None: the
    reports' language (:func:`index_lang`)."""
    from evalkit.errors import check_choice

    lang = index_lang(scan.manifests) if lang is None else lang
    check_choice("lang", lang, ("da", "en"))
    words = WORDS[lang]
    root = Path(reports_root)
    generated = generated or dt.datetime.now(dt.timezone.utc)
    latest = _latest_by_report(scan.manifests)
    latest_ids = {id(m) for m in latest.values()}
    head = "".join(f"<th>{words[h]}</th>" for h in ("report", "period", "run_time", "status", "commit",
                                                     "parameters", "links"))
    parts = [
        "<!DOCTYPE html>", f'<html lang="{lang}">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{words['title']}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{words['title']}</h1>",
        f'<p class="meta">{words["runs"].format(n=len(scan.manifests))}'
        f'{words["meta"].format(when=f"{generated:%Y-%m-%d %H:%M UTC}")}</p>',
        f"<h2>{words['latest_h']}</h2>",
    ]
    if latest:
        parts += ["<table>", f"<thead><tr><th>{words['report']}</th><th>{words['period']}</th>"
                  f"<th>{words['run_time']}</th><th>{words['links']}</th></tr></thead>", "<tbody>"]
        parts += [f"<tr><td>{_e(name)}</td><td>{_e(m.get('period'))}</td><td>{_when(m, lang)}</td>"
                  f"<td>{_links(m, root, lang)}</td></tr>" for name, m in latest.items()]
        parts += ["</tbody>", "</table>"]
    else:
        parts.append(f'<p class="muted">{words["no_good"]}</p>')
    parts += [f"<h2>{words['all_h']}</h2>"]
    if scan.manifests:
        parts += ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
        parts += [_row(m, root, id(m) in latest_ids, lang) for m in scan.manifests]
        parts += ["</tbody>", "</table>"]
    else:
        parts.append(f'<p class="muted">{words["no_runs"]}</p>')
    if scan.problems:
        parts += [f"<h2>{words['unreadable_h']}</h2>", "<ul>"]
        parts += [f"<li><code>{_e(p.path)}</code>: {_e(p.error)}</li>" for p in scan.problems]
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; the index is meant to be served/read by others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_index(reports_root: str | Path, lang: str | None = None) -> Path:
    """Regenerate ``<reports_root>/index.html`` from the run manifests (atomically); return its path.

    ``lang``: "da" or "en"; None (default): Danish when the reports are Danish (every run that names
    a language has ``lang: da``), else English (:func:`index_lang`). Unreadable manifests are listed
    in the index (and warned about), never fatal.
    """
    root = Path(reports_root)
    root.mkdir(parents=True, exist_ok=True)
    scan = scan_manifests(root)
    for problem in scan.problems:
        warnings.warn(f"unreadable run manifest {problem.path}: {problem.error}", EvalkitWarning, stacklevel=stack_level())
    return write_atomic(root / INDEX_NAME, render_index(scan, root, lang=lang))
