"""The post-run disclosure scanner: the control before an executed notebook is released.

:func:`scan_notebook` reads every output of every code cell and reports

``unsafe_table``
    an HTML ``<table`` without a valid ``evalkit_safe`` stamp (see
    :mod:`evalkit.report.disclosure`) in the output metadata, or whose stamp digest does not
    match the HTML; a pandas-like text table (``text/plain`` or ``print``) without a stamp.
``identifier``
    an identifier name (PERSON_ID, CPR, CVR ...), a pseudonymised key (16 lowercase hex
    characters) or a CPR-like number (ddmmyy-xxxx) in any text output, markdown or error.
``raw_dump``
    stream output longer than ``max_stream_lines`` lines, or a table / text output with
    more than ``max_table_rows`` rows.
``small_cell``
    a stamped table made with a lower threshold or showing a count below ``min_cell``;
    defensively, an integer below ``min_cell`` in a count-like column of an unstamped table.

Only text mimetypes are read; images and base64 ``data:`` URIs are skipped.
Run it from the shell: ``python -m evalkit.report.scan executed.ipynb [--min-cell 5]``.
"""
from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from evalkit.errors import EvalkitError
from evalkit.report.disclosure import (CPR_PATTERN, DEFAULT_MIN_CELL, IDENTIFIER_PATTERN, KEY_PATTERN, MAX_ROWS,
                                       check_threshold)

KINDS = ("unsafe_table", "identifier", "raw_dump", "small_cell")
COUNT_HEADER = re.compile(r"^(n|n_persons|persons|personer|count|residents|beboere|indbyggere"
                          r"|(number of|antal) (persons|personer|residents|beboere|indbyggere))$", re.IGNORECASE)
DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]*")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
COLUMN_GAP = re.compile(r"\S {2,}\S")
ROWS_COLS = re.compile(r"\[(\d+) rows x (\d+) columns\]")
SERIES_FOOTER = re.compile(r"^(Name: .*, )?(Length: \d+, )?dtype: \w+", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    """One problem: the code cell's index in the notebook, its kind and what was seen."""

    cell_index: int
    kind: str
    detail: str
    output_index: int | None = None

    def to_dict(self) -> dict:
        return {"cell_index": self.cell_index, "output_index": self.output_index, "kind": self.kind,
                "detail": self.detail}


@dataclass(frozen=True)
class ScanReport:
    """Result of :func:`scan_notebook`; ``ok`` when there are no findings."""

    ok: bool
    findings: tuple[Finding, ...]
    min_cell: int = DEFAULT_MIN_CELL
    cells_scanned: int = 0

    def to_dict(self) -> dict:
        return {"ok": self.ok, "min_cell": self.min_cell, "cells_scanned": self.cells_scanned,
                "counts": {k: sum(f.kind == k for f in self.findings) for k in KINDS},
                "findings": [f.to_dict() for f in self.findings]}

    def __str__(self) -> str:
        if self.ok:
            return f"disclosure scan: ok ({self.cells_scanned} code cells)"
        lines = [f"disclosure scan: {len(self.findings)} finding(s)"]
        lines += [f"  cell {f.cell_index} output {f.output_index}: {f.kind}: {f.detail}" for f in self.findings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- text checks
def _identifiers(text: str) -> list[str]:
    text = ANSI.sub("", DATA_URI.sub("", text))
    hits = []
    for pattern, what in ((IDENTIFIER_PATTERN, "identifier name"), (KEY_PATTERN, "key-like value"),
                          (CPR_PATTERN, "CPR-like number")):
        match = pattern.search(text)
        if match:
            hits.append(f"{what} {_mask(match.group(0))!r}")
    return hits


def _mask(value: str) -> str:
    """Report a key without repeating it in full (the report itself is written to disk)."""
    return value if IDENTIFIER_PATTERN.fullmatch(value) else value[:4] + "…"


def _text_table_rows(text: str) -> int:
    """Rows of a pandas-like text table in ``text`` (0 when none is seen).

    pandas pads every line of a DataFrame repr to one width and separates columns by >= 2
    spaces; a block of >= 3 such lines with digits, a ``[N rows x M columns]`` footer or a Series ``dtype:`` footer
    counts as a table.
    """
    footer = ROWS_COLS.search(text)
    if footer:
        return int(footer.group(1))
    lines = text.splitlines()
    if SERIES_FOOTER.search(text):
        return max(len(lines) - 1, 1)
    best = run = 0
    for prev, line in zip([""] + lines, lines):
        tabular = bool(COLUMN_GAP.search(line)) and any(ch.isdigit() for ch in line) and len(line) >= 5
        run = run + 1 if tabular and len(line) == len(prev) and run else (1 if tabular else 0)
        best = max(best, run)
    return best if best >= 3 else 0


class _TableParser(HTMLParser):
    """Rows of cell texts of every ``<table>`` in an HTML string (stdlib only)."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _small_counts(table: list[list[str]], min_cell: int) -> list[str]:
    """Integers in (0, min_cell) under count-like headers of a parsed table."""
    if not table:
        return []
    header, hits = table[0], []
    for j, name in enumerate(header):
        if not COUNT_HEADER.match(name.strip()):
            continue
        for row in table[1:]:
            cell = row[j].replace(",", "").replace(".", "") if j < len(row) else ""
            if cell.isdigit() and 0 < int(cell) < min_cell:
                hits.append(f"{name}={cell}")
    return hits


# --------------------------------------------------------------------------- one output
def _stamp(output, mime: str, text: str) -> dict | None:
    """The output's valid stamp for ``mime`` (digest matches), else ``None``."""
    meta = (output.get("metadata") or {}).get(mime) or {}
    stamp = meta.get("evalkit_safe") if isinstance(meta, dict) else None
    if not isinstance(stamp, dict):
        return None
    return stamp if stamp.get("digest") == hashlib.sha256(text.encode("utf-8")).hexdigest() else {"invalid": True}


def _check_stamp(stamp: dict, min_cell: int) -> list[str]:
    problems = []
    if stamp.get("min_cell") is not None and stamp["min_cell"] < min_cell:
        problems.append(f"table made with min_cell={stamp['min_cell']} < {min_cell}")
    shown = stamp.get("min_count_shown")
    if shown is not None and 0 < shown < min_cell:
        problems.append(f"table shows a count of {shown} (< {min_cell})")
    return problems


def _scan_html(output, text: str, min_cell: int, max_rows: int) -> list[tuple[str, str]]:
    found = [("identifier", h) for h in _identifiers(text)]
    if "<table" not in text.lower():
        return found
    parser = _TableParser()
    parser.feed(DATA_URI.sub("", text))
    rows = max((len(t) - 1 for t in parser.tables), default=0)
    if rows > max_rows:
        found.append(("raw_dump", f"HTML table with {rows} rows (> {max_rows})"))
    stamp = _stamp(output, "text/html", text)
    if stamp is None or stamp.get("invalid"):
        why = "no evalkit_safe stamp" if stamp is None else "stamp digest does not match the HTML"
        found.append(("unsafe_table", f"HTML table with {why}"))
        small = [h for t in parser.tables for h in _small_counts(t, min_cell)]
        if small:
            found.append(("small_cell", f"unstamped count cell(s) below {min_cell}: {', '.join(small[:5])}"))
    else:
        found += [("small_cell", p) for p in _check_stamp(stamp, min_cell)]
    return found


def _scan_plain(output, text: str, min_cell: int, max_rows: int, stream: bool) -> list[tuple[str, str]]:
    found = [("identifier", h) for h in _identifiers(text)]
    rows = _text_table_rows(text)
    stamp = None if stream else _stamp(output, "text/plain", text)
    if rows and (stamp is None or stamp.get("invalid")):
        found.append(("unsafe_table", f"{'printed' if stream else 'text'} table of {rows} rows without a valid stamp"))
    elif stamp and not stamp.get("invalid"):
        found += [("small_cell", p) for p in _check_stamp(stamp, min_cell)]
    if rows > max_rows:
        found.append(("raw_dump", f"text table with {rows} rows (> {max_rows})"))
    return found


def _scan_output(output, min_cell: int, max_stream_lines: int, max_rows: int) -> list[tuple[str, str]]:
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        found = _scan_plain(output, text, min_cell, max_rows, stream=True)
        n = len(text.splitlines())
        if n > max_stream_lines:
            found.append(("raw_dump", f"{output.get('name', 'stream')} output of {n} lines (> {max_stream_lines})"))
        return found
    if kind == "error":
        text = "\n".join([output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])])
        return [("identifier", h) for h in _identifiers(text)]
    found = []
    for mime, data in (output.get("data") or {}).items():
        if not (mime.startswith("text/") or mime.endswith("json")):
            continue  # images and other binary payloads: figures are aggregates
        text = data if isinstance(data, str) else "".join(data) if isinstance(data, list) else str(data)
        if mime == "text/html":
            found += _scan_html(output, text, min_cell, max_rows)
        elif mime == "text/plain":
            found += _scan_plain(output, text, min_cell, max_rows, stream=False)
        else:  # markdown, latex, json: identifiers only
            found += [("identifier", h) for h in _identifiers(text)]
    return found


# --------------------------------------------------------------------------- notebook
def _read(nb) -> nbformat.NotebookNode:
    if isinstance(nb, (str, Path)):
        path = Path(nb)
        if not path.is_file():
            raise EvalkitError(f"notebook {str(path)!r} does not exist.")
        return nbformat.read(path, as_version=4)
    if isinstance(nb, dict):
        return nbformat.from_dict(nb)
    raise EvalkitError(f"scan_notebook needs a path or a notebook, got {type(nb).__name__}.")


def scan_notebook(nb: str | Path | nbformat.NotebookNode, *, min_cell: int = DEFAULT_MIN_CELL,
                  max_stream_lines: int = 40, max_table_rows: int = MAX_ROWS) -> ScanReport:
    """Scan every output of every code cell (rules in the module docstring)."""
    min_cell = check_threshold(min_cell)
    notebook = _read(nb)
    findings, cells = [], 0
    for i, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        cells += 1
        for k, output in enumerate(cell.get("outputs", [])):
            seen = set()
            for kind, detail in _scan_output(output, min_cell, max_stream_lines, max_table_rows):
                if (kind, detail) not in seen:
                    seen.add((kind, detail))
                    findings.append(Finding(cell_index=i, kind=kind, detail=detail, output_index=k))
    return ScanReport(ok=not findings, findings=tuple(findings), min_cell=min_cell, cells_scanned=cells)


def main(argv: list[str] | None = None) -> int:
    """``python -m evalkit.report.scan NOTEBOOK [--min-cell N]``: exit 1 on findings."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m evalkit.report.scan", description=__doc__.splitlines()[0])
    ap.add_argument("notebook")
    ap.add_argument("--min-cell", type=int, default=DEFAULT_MIN_CELL)
    ap.add_argument("--max-stream-lines", type=int, default=40)
    args = ap.parse_args(argv)
    report = scan_notebook(args.notebook, min_cell=args.min_cell, max_stream_lines=args.max_stream_lines)
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
