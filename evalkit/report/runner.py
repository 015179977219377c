"""Run a report template: validate, execute with papermill, gate, render, record.

Each run writes a new, never overwritten folder
``reports/<report>/<period>/<UTC time>_<git sha>[-dirty]/`` with the released HTML (only
sealed outputs, :mod:`evalkit.report.gate`), machine-readable results, ``run.log`` and
``manifest.json``; the executed notebook and the kernel's console go to the restricted
folder beside ``reports/``; ``reports/index.html`` is regenerated after every run
(``docs/disclosure.md``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from evalkit import progress as progress_env
from evalkit import seal
from evalkit.errors import stack_level, ParameterError, check_choice
from evalkit.report import manifest as mf
from evalkit.report import postrun
from evalkit.report.gate import error_type, numbered
from evalkit.report.outputs import DATA_DIR_ENV
from evalkit.report.params import TEMPLATES, load_params, validate_params
from evalkit.report.project import find_project, template_notebook
from evalkit.report.sections_failed import SECTIONS_ENV, SECTIONS_FILE, failed_sections, section_status

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
KERNEL_NAME = "evalkit-python"
TITLE_TAG = "evalkit-title"
EXIT_CODES = {"ok": 0, "failed": 1, "needs_review": 3}
#: the kernel's file (in the restricted folder) of requested sections it could not estimate (JSON lines)


@dataclass(frozen=True)
class ReportRun:
    """Where a run wrote its outputs, and how it ended."""

    template: str
    run_dir: Path
    notebook: Path
    html: Path | None
    status: str
    manifest: dict
    pdf: Path | None = None  # printed from the released HTML with ``pdf=True`` (:mod:`evalkit.report.pdf`)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def project_root(start: Path | None = None) -> Path:
    """The report project at or above ``start`` or the cwd (:func:`evalkit.report.project.find_project`:
    ``notebooks/`` beside ``reports.yaml`` or ``pyproject.toml``), else that folder itself: outside a
    project, relative data paths and ``reports/`` are taken from the working directory and the
    templates come from the installed package."""
    here = Path(start or Path.cwd()).resolve()
    return find_project(here) or here


def _params_project(params) -> Path | None:
    """The report project that holds a parameter file (``evalkit report run --params proj/params/x.yaml`` run
    from outside ``proj``: its relative ``data_dir`` and its ``reports/`` are the project's), or None."""
    if isinstance(params, dict) or not Path(params).is_file():
        return None
    return find_project(Path(params).resolve().parent)


@contextlib.contextmanager
def current_kernel():
    """Point a private kernelspec at *this* interpreter for the run.

    A user-level ``python3`` kernelspec could otherwise silently run the notebook in
    another environment; ``JUPYTER_PATH`` entries take precedence over user specs.
    """
    with tempfile.TemporaryDirectory() as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "evalkit (current env)", "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [tmp, old]))
        try:
            yield KERNEL_NAME
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def _absolute(params: dict, root: Path) -> dict:
    data_dir = Path(params["data_dir"])
    return {**params, "data_dir": str(data_dir if data_dir.is_absolute() else (root / data_dir).resolve())}


def _prepare(template: str, params, root: Path) -> tuple[dict, str]:
    """Validate everything that can be checked before execution; return params and report name."""
    from evalkit.report.preflight import preflight

    check_choice("template", template, TEMPLATES)
    name = Path(params).stem if not isinstance(params, dict) else template
    params = validate_params(params) if isinstance(params, dict) else load_params(params)
    return preflight(_absolute(params, root)), name


_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")


def check_folder_name(what: str, name: str) -> str:
    """A report or period name that is a plain folder name (no path, no code that could be a key)."""
    if not isinstance(name, str) or not _FOLDER.match(name) or len(name) > 64:
        raise ParameterError(f"{what}={name!r} must be a plain folder name of letters, digits, '-', '_' and '.' "
                             "(at most 64 characters, no path).")
    if any(len(t) >= 6 and not t.isdigit() and any(c.isdigit() for c in t) for t in re.split(r"[-_.]", name)):
        raise ParameterError(f"{what}={name!r} holds a code of letters and digits; codes can be person keys, so "
                             "use words and dates.")
    return name


def _source(template: str, notebook: str | Path | None, root: Path) -> Path:
    """The notebook to run: ``notebook`` (an analyst's copy), else the project's ``notebooks/<template>.ipynb``,
    else the template packaged with evalkit."""
    if notebook is not None:
        source = Path(notebook)
    else:
        source = root / "notebooks" / f"{template}.ipynb"
        if not source.exists():
            source = template_notebook(template)
    if not source.is_file() or source.suffix != ".ipynb":
        raise ParameterError(f"notebook={str(source)!r} is not an existing .ipynb file.")
    return source.resolve()


def _error_of(notebook: Path, exc: Exception) -> dict:
    """An execution error as its type and cell number; the message is never kept (it can hold data)."""
    import nbformat

    kind = getattr(exc, "ename", None) or type(exc).__name__
    with contextlib.suppress(Exception):
        nb = nbformat.read(notebook, as_version=4)
        for number, cell in numbered(nb):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    return {"type": error_type(output.get("ename") or kind), "cell": number}
    return {"type": error_type(kind), "cell": None}


def declared_parameters(notebook: Path) -> set[str] | None:
    """The names assigned in the notebook's cell tagged ``parameters`` (None when it has no such cell).

    Read with Python's parser, not papermill's line pattern (which cannot read a line holding a
    second ``=``, e.g. in a comment, and then calls the parameter unknown).
    """
    import ast

    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return set()
            names: set[str] = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AnnAssign) else []
                names.update(t.id for t in targets if isinstance(t, ast.Name))
            return names
    return None


def check_notebook_parameters(source: Path, params: dict) -> None:
    """Warn (one line) when the notebook to run does not declare every report parameter in its
    parameters cell: papermill still injects them after that cell, but an older copy of a template
    may not use them. The stock templates declare exactly :data:`~evalkit.report.params.PARAMS`
    (a test checks it), so their runs are quiet."""
    import warnings

    from evalkit.errors import EvalkitWarning

    declared = declared_parameters(source)
    if declared is None:
        warnings.warn(f"{source.name} has no cell tagged 'parameters'; the report parameters are injected at its "
                      "top.", EvalkitWarning, stacklevel=stack_level())
        return
    missing = sorted(set(params) - declared)
    if missing:
        warnings.warn(f"{source.name} does not declare the parameter(s) {', '.join(missing)} in its parameters cell; "
                      "they are injected after it (compare your copy with the packaged template).",
                      EvalkitWarning, stacklevel=stack_level())


class _PapermillParameterNoise:
    """Drops papermill's own parameter-parsing warnings ("Passed unknown parameter", "Unable to parse
    line"): evalkit validates the parameters (:mod:`evalkit.report.params`) and compares them with the
    notebook's parameters cell itself (:func:`check_notebook_parameters`)."""

    def filter(self, record) -> bool:
        message = str(record.msg)
        return not message.startswith(("Passed unknown parameter", "Unable to parse line"))


@contextlib.contextmanager
def _quiet_papermill_parameters():
    import logging

    noise = _PapermillParameterNoise()
    loggers = [logging.getLogger(name) for name in ("papermill", "papermill.translators")]
    for logger in loggers:
        logger.addFilter(noise)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(noise)


def _execute(source: Path, notebook: Path, params: dict, cwd: Path, progress: bool, env: dict,
             console: Path) -> dict | None:
    """Run the notebook in a kernel that holds the run's key; None on success, else the error."""
    import papermill as pm

    with current_kernel() as kernel, kernel_environment(env), kernel_console(console), _quiet_papermill_parameters():
        try:
            pm.execute_notebook(source, notebook, parameters=params, kernel_name=kernel, cwd=str(cwd),
                                progress_bar=progress and progress_env.interactive(), execution_timeout=3600,
                                log_output=False)
        except Exception as exc:  # cell errors, kernel death, timeout: a failed run with a manifest
            return _error_of(notebook, exc)
    return None


def run_report(template: str, params: dict | str | Path, *, report: str | None = None, period: str | None = None,
               root: Path | None = None, reports_root: Path | None = None, progress: bool = True,
               notebook: str | Path | None = None, restricted_root: Path | None = None,
               pdf: bool = False) -> ReportRun:
    """Validate, execute the template (or an analyst's copy, ``notebook``), gate, render and record.

    Parameter and data errors raise before any folder is made. Only outputs evalkit sealed
    reach the HTML (:mod:`evalkit.report.gate`); anything else is withheld and the run ends
    ``needs_review``. The executed notebook and the kernel's console go to the restricted
    folder (default ``<reports_root>/../restricted``), never beside the HTML. Failed runs
    keep no HTML; they never replace the latest good report.

    ``pdf=True`` also prints the released HTML to ``<template>.pdf`` with headless Chromium once
    that HTML has passed every check (:mod:`evalkit.report.pdf`); a missing browser is a
    :class:`ParameterError` before anything runs. A PDF the browser could not print leaves the
    run's status as it is and is recorded in the manifest's ``pdf`` entry (``error``).

    ``progress=True`` shows papermill's cell-by-cell bar only where someone watches (stderr a
    terminal, or a notebook: :func:`evalkit.progress.interactive`), never in a log file.
    """
    from evalkit.report import pdf as pdf_printer

    browser = pdf_printer.require_chromium() if pdf else None
    root = project_root(root) if root else (_params_project(params) or project_root())
    params, default_name = _prepare(template, params, root)
    source = _source(template, notebook, root)
    check_notebook_parameters(source, params)
    report = check_folder_name("report", report or default_name)
    period = check_folder_name("period", period or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"))
    reports_root = Path(reports_root or root / "reports").resolve()
    restricted_root = Path(restricted_root or reports_root.parent / "restricted").resolve()
    if restricted_root == reports_root or restricted_root.is_relative_to(reports_root):
        raise ParameterError(f"restricted_root={str(restricted_root)!r} lies inside reports_root; the restricted "
                             "folder must be outside what reviewers can open.")
    git = mf.git_info(root)
    run_dir = _new_run_dir(reports_root / report / period, mf.run_id(git))
    private = restricted_root / run_dir.relative_to(reports_root)
    private.mkdir(parents=True, exist_ok=True)
    params = {**params, "results_dir": str(run_dir / "results")}
    record = _start_manifest(template, report, period, run_dir, params, git, source)
    key = secrets.token_hex(32)
    env = {seal.KEY_ENV: key, seal.LEDGER_ENV: str(private / "ledger.txt"), seal.MIN_CELL_ENV: str(params["min_cell"]),
           seal.ROUND_BASE_ENV: str(params["round_base"]),
           DATA_DIR_ENV: params["data_dir"], SECTIONS_ENV: str(private / SECTIONS_FILE),
           # progress bars never into the notebook (and so never into the HTML): the restricted console log
           progress_env.ENV: "off" if os.environ.get(progress_env.ENV, "").strip().lower() == "off" else "console"}
    executed = private / f"{template}.ipynb"
    # the data's person keys (for the scans after the run) are collected while the kernel runs: the
    # runner only waits on the kernel then (one DuckDB thread at a lower priority: the kernel first)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evalkit-keys") as pool:
        keys = pool.submit(_background_keys, params)
        # the kernel starts in the notebook's folder, or in the project for a packaged template (never site-packages)
        cwd = source.parent if source.is_relative_to(root) or notebook is not None else root
        error = _execute(source, executed, params, cwd, progress, env, private / "kernel-console.log")
        keys = keys.result()
    outcome = postrun.finish(executed, run_dir, private, key=key.encode(), error=error, params=params, record=record,
                             render=render_html, reports_root=reports_root, keys=keys)
    printed = _print_pdf(outcome.html, browser) if pdf else None
    failed = failed_sections(private / SECTIONS_FILE)
    record.update(status=section_status(outcome.status, failed), sections_failed=failed, error=error, disclosure=outcome.disclosure, finished_utc=mf.utc_now(),
                  html=outcome.html.name if outcome.html else None, restricted=str(private),
                  pdf=printed[1] if printed else None)
    postrun.write_log(run_dir, record)
    _log_sections(run_dir, failed)
    record["outputs"] = mf.hash_outputs(run_dir)
    postrun.write_manifest(record, run_dir, private, outcome.keys)
    _refresh_index(reports_root, outcome.keys, private)
    pdf_path = printed[0] if printed else None
    return ReportRun(template=template, run_dir=run_dir, notebook=executed, html=outcome.html,
                     status=record["status"], manifest=record,
                     pdf=pdf_path if pdf_path is not None and pdf_path.is_file() else None)


def _log_sections(run_dir: Path, failed: list) -> None:
    """One line per failed section at the end of ``run.log``."""
    if failed:
        with open(run_dir / "run.log", "a", encoding="utf-8") as fh:
            fh.writelines(f"section not estimated: {f['section']}: {f['reason']}\n" for f in failed)


def _print_pdf(html: Path | None, browser: str | None) -> tuple[Path | None, dict]:
    """Print the released, checked HTML to PDF beside it; the manifest's ``pdf`` entry says how."""
    import time

    from evalkit.report import pdf as pdf_printer

    if html is None or not html.is_file():
        return None, {"file": None, "from": None, "checks": pdf_printer.CHECKS,
                      "error": "no released HTML to print (the run failed or its HTML was withheld)"}
    target = html.with_suffix(".pdf")
    start = time.perf_counter()
    try:
        pdf_printer.print_pdf(html, target, browser=browser)
    except (pdf_printer.PdfError, OSError) as exc:  # the run's HTML stands; the manifest says why there is no PDF
        error = str(exc) if isinstance(exc, pdf_printer.PdfError) else f"cannot write the PDF: {exc.strerror or exc}"
        return None, {"file": None, "from": html.name, "checks": pdf_printer.CHECKS, "error": error}
    return target, {"file": target.name, "from": html.name, "checks": pdf_printer.CHECKS,
                    "pages": pdf_printer.page_count(target), "seconds": round(time.perf_counter() - start, 1),
                    "error": None}


def _background_keys(params: dict):
    """The run's person keys, collected beside the kernel: one DuckDB thread (the kernel's DuckDB
    queries keep the other cores), and on Linux, where the nice value is per thread, a nice value
    10 above the runner's (it ranks the thread below the kernel where the scheduler compares them;
    with autogrouping the kernel, in its own session, is a group of its own and shares fairly)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
    return postrun.run_keys(params, threads=1)


@contextlib.contextmanager
def kernel_environment(values: dict):
    """Set environment variables for the kernel about to start, and restore them afterwards."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def kernel_console(path: Path):
    """Send the kernel's own stdout/stderr (file descriptors 1 and 2, which a kernel inherits)
    to a restricted file; the runner's progress bar keeps the original terminal."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    old_stderr = sys.stderr
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        for fd in (1, 2):
            os.dup2(target, fd)
        sys.stderr = terminal
        yield
    finally:
        sys.stderr = old_stderr
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
        os.close(target)
        terminal.close()


def _new_run_dir(parent: Path, name: str) -> Path:
    """Create a fresh run folder; never reuse one (a second run in the same second gets -2)."""
    parent.mkdir(parents=True, exist_ok=True)
    suffix = 1
    while True:
        candidate = parent / (name if suffix == 1 else f"{name}-{suffix}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            suffix += 1


def _start_manifest(template, report, period, run_dir, params, git, source: Path) -> dict:
    record = {
        "schema": mf.SCHEMA, "report": report, "template": template, "period": period, "run_id": run_dir.name,
        "status": "running", "started_utc": mf.utc_now(), "finished_utc": None,
        "parameters": params, "parameters_sha256": mf.sha256_json({k: v for k, v in params.items() if k != "results_dir"}),
        "inputs": mf.hash_run_inputs(params), "git": git,  # survey files outside data_dir too
        "notebook_sha256": mf.sha256_file(source), "packages": mf.package_versions(), "kernel_python": sys.executable,
        "outputs": {}, "disclosure": None, "error": None, "html": None,
    }
    record["data_sha256"] = mf.sha256_json(record["inputs"])
    mf.write_json(record, run_dir / "manifest.json")
    return record


def _refresh_index(reports_root: Path, keys, private: Path) -> None:
    from evalkit.report.index import write_index

    postrun.scan_or_quarantine(write_index(reports_root), reports_root, private, keys)


def render_html(notebook: Path, html: Path, *, run: dict | None = None) -> Path:
    """Render an executed notebook to self-contained HTML: no code, no external requests.

    ``run`` (the manifest) supplies the parameter header and the run footer.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    from evalkit.report.param_header import header_parameters
    from evalkit.report.toc import table_of_contents

    nb = nbformat.read(notebook, as_version=4)
    run = run or {}
    nb.metadata["evalkit"] = {
        "parameters": header_parameters(run.get("parameters", {})),
        "commit": (run.get("git") or {}).get("commit"), "dirty": (run.get("git") or {}).get("dirty"),
        "data_sha256": run.get("data_sha256"), "started_utc": run.get("started_utc"), "run_id": run.get("run_id"),
        "lang": run.get("parameters", {}).get("lang", "en"), "toc": table_of_contents(nb),
    }
    titles = [entry["text"] for entry in nb.metadata["evalkit"]["toc"] if entry.get("level") == 1]
    if titles:  # the browser tab and bookmarks show the report's title (nbconvert's default: "Notebook")
        nb.metadata["title"] = titles[0]
    exporter = HTMLExporter(template_name="evalkit", extra_template_basedirs=[str(TEMPLATE_DIR)])
    # the title cell is drawn by the template's header, above the table of contents
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={TITLE_TAG}), enabled=True)
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")
    return html
