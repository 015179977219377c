"""The release gate: after a report run, only outputs evalkit sealed reach the HTML.

An allowlist, not a blocklist (``docs/disclosure.md``). :func:`gate_notebook` walks the
executed notebook and keeps

* display and result outputs whose :mod:`evalkit.seal` HMAC verifies with the run's key
  over exactly the mimetypes they carry;
* stream output (stdout, stderr) only when every line of it is a line evalkit itself wrote
  and noted in the run's ledger (``print(result)``).

Everything else is withheld: unsealed displays (``print``, ``Markdown``/``HTML``, plain
reprs, DataFrames, analyst figures), logging and warnings, errors, and every markdown or raw
cell (the templates have none; prose comes from library calls or :func:`release`). A
withheld output is replaced by a placeholder naming the cell and the kind of output, never
its content, and the run ends ``needs_review``.
"""
from __future__ import annotations

import copy
import html
import re
from dataclasses import dataclass

import nbformat

from evalkit import seal

WITHHELD_CLASS = "evalkit-withheld"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]{0,60}$")
_WORDS = {
    "en": ("Output withheld by the disclosure gate", "cell", "The run needs review."),
    "da": ("Output tilbageholdt af diskretioneringskontrollen", "celle", "Kørslen skal gennemgås."),
}


@dataclass(frozen=True)
class Withheld:
    """One withheld output: notebook cell number (1-based) and kind, never the content."""

    cell: int
    kind: str

    def to_dict(self) -> dict:
        return {"cell": self.cell, "kind": self.kind}


@dataclass(frozen=True)
class GateReport:
    """What the gate released and withheld, and the analyst's release reasons."""

    released: int
    withheld: tuple[Withheld, ...]
    releases: tuple[dict, ...]

    @property
    def ok(self) -> bool:
        return not self.withheld

    def to_dict(self) -> dict:
        return {"ok": self.ok, "released": self.released, "withheld": [w.to_dict() for w in self.withheld],
                "releases": list(self.releases)}


def _text(value) -> str | dict:
    return "".join(value) if isinstance(value, list) else value


def _sealed(output, key: bytes) -> dict | None:
    data = {mime: _text(v) for mime, v in (output.get("data") or {}).items()}
    return seal.verify(data, output.get("metadata"), key)


def _stream_known(output, key: bytes, ledger: set[str]) -> bool:
    lines = [line for line in _text(output.get("text", "")).splitlines() if line.strip()]
    return all(seal.line_mac(key, line) in ledger for line in lines)


def error_type(name: object) -> str:
    """An exception's type for the manifest, index and log: a builtin or evalkit error name, or
    a few known runner errors; anything else (an analyst can name a class after a key) is "Error"."""
    import builtins

    from evalkit import errors

    text = str(name or "")
    known = (isinstance(getattr(builtins, text, None), type) and issubclass(getattr(builtins, text), BaseException)) \
        or isinstance(getattr(errors, text, None), type) or text in _RUNNER_ERRORS
    return text if known else "Error"


_RUNNER_ERRORS = ("DisclosureError", "DeadKernelError", "CellTimeoutError", "PapermillExecutionError",
                  "CellExecutionError", "TimeoutError", "RuntimeError")


def safe_name(text: object, fallback: str = "other") -> str:
    """A type or mimetype name fit for the HTML and the manifest (anything else: ``fallback``)."""
    text = str(text or "")
    return text if _NAME.match(text) else fallback


def _kind(output) -> str:
    """The kind of an output, from names evalkit allows (an analyst can choose mimetypes and
    exception names, so they are checked, never copied blindly)."""
    kind = safe_name(output.get("output_type"), "unknown")
    if kind == "stream":
        return f"stream {safe_name(output.get('name'))}"
    if kind == "error":
        return f"error {error_type(output.get('ename'))}"
    mimes = ", ".join(sorted(safe_name(m) for m in (output.get("data") or {})))
    return f"{kind} ({mimes})"


def placeholder(cell: int, kind: str, lang: str = "en") -> nbformat.NotebookNode:
    """The output shown instead of a withheld one: the cell and the kind, nothing else."""
    title, word, review = _WORDS.get(lang, _WORDS["en"])
    text = f"{title}: {word} {cell}, {kind}. {review}"
    return nbformat.v4.new_output("display_data", data={
        "text/html": f"<div class='{WITHHELD_CLASS}'>{html.escape(text)}</div>", "text/plain": text})


def _gate_output(output, key: bytes, ledger: set[str], min_cell: int) -> dict | None:
    """The seal's fields (or {} for a known stream) when the output may be released, else None.

    A table sealed with a threshold below the run's ``min_cell`` is not released either.
    """
    kind = output.get("output_type")
    if kind == "stream":
        return {} if _stream_known(output, key, ledger) else None
    if kind not in ("display_data", "execute_result"):
        return None
    fields = _sealed(output, key)
    threshold = (fields or {}).get("min_cell")
    if isinstance(threshold, int) and threshold < min_cell:
        return None
    return fields


PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def numbered(nb: nbformat.NotebookNode):
    """``(number, cell)`` with the cell's 1-based number in the notebook the analyst wrote:
    cells papermill inserted (injected parameters, error banners) get ``None``."""
    number = 0
    for cell in nb.cells:
        if PAPERMILL_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            yield None, cell
        else:
            number += 1
            yield number, cell


KEPT_TAGS = {"evalkit-title"}


def _plain_cell(cell, position: int):
    """The cell with only what the renderer needs: a fixed id and evalkit's own tag; notebook
    and cell metadata, ids and tags are the analyst's free text and never reach the HTML."""
    tags = [t for t in cell.get("metadata", {}).get("tags", []) if t in KEPT_TAGS]
    cell.metadata = nbformat.from_dict({"tags": tags} if tags else {})
    cell.id = f"cell-{position}"
    if cell.cell_type == "code":
        cell.source = ""  # the HTML never shows code; the restricted notebook keeps it
    return cell


def gate_notebook(nb: nbformat.NotebookNode, key: bytes, ledger: set[str], *, lang: str = "en", min_cell: int = 5):
    """A copy of ``nb`` holding only released outputs (placeholders for the rest), and the report.

    Papermill's error banners are dropped; its injected-parameters cell has no outputs.
    """
    out = copy.deepcopy(nb)
    withheld, releases, released, cells = [], [], 0, []
    for number, cell in numbered(out):
        if number is None and cell.cell_type == "markdown":
            continue
        cell = _plain_cell(cell, len(cells) + 1)
        cells.append(cell)
        if cell.cell_type in ("markdown", "raw"):
            if cell.source.strip():
                withheld.append(Withheld(number, f"{cell.cell_type} cell"))
                cells[-1] = nbformat.v4.new_code_cell(
                    source="", outputs=[placeholder(number, f"{cell.cell_type} cell", lang)])
            continue
        kept = []
        for output in cell.get("outputs", []):
            fields = _gate_output(output, key, ledger, min_cell)
            if fields is None:
                withheld.append(Withheld(number, _kind(output)))
                kept.append(placeholder(number, _kind(output), lang))
                continue
            released += 1
            if fields.get("kind") == "release":
                releases.append({"cell": number, "reason": fields.get("reason", "")})
            kept.append(output)
        cell.outputs = kept
    out.cells = cells
    out.metadata = nbformat.from_dict({k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata})
    return out, GateReport(released=released, withheld=tuple(withheld), releases=tuple(releases))


def read_ledger(path) -> set[str]:
    """The line MACs the kernel noted (empty when the file does not exist)."""
    try:
        with open(path, encoding="ascii") as fh:
            return {line.strip() for line in fh if line.strip()}
    except FileNotFoundError:
        return set()
