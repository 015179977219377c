"""Run a report template: validate, execute with papermill, scan, render, record.

Each run writes a new, never overwritten folder
``reports/<report>/<period>/<UTC time>_<git sha>[-dirty]/`` with the executed notebook,
the HTML (only when the disclosure scan passes), machine-readable results and
``manifest.json``; ``reports/index.html`` is regenerated after every run.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError, check_choice
from evalkit.report import manifest as mf
from evalkit.report.params import TEMPLATES, load_params, validate_params

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
KERNEL_NAME = "evalkit-python"
TITLE_TAG = "evalkit-title"
EXIT_CODES = {"ok": 0, "failed": 1, "needs_review": 3}


@dataclass(frozen=True)
class ReportRun:
    """Where a run wrote its outputs, and how it ended."""

    template: str
    run_dir: Path
    notebook: Path
    html: Path | None
    status: str
    manifest: dict

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``notebooks/`` (searched upwards from ``start`` or the cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    raise EvalkitError(f"no evalkit project (notebooks/ and pyproject.toml) found above {here}.")


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
    from evalkit.report.study import preflight

    check_choice("template", template, TEMPLATES)
    name = Path(params).stem if not isinstance(params, dict) else template
    params = validate_params(params) if isinstance(params, dict) else load_params(params)
    return preflight(_absolute(params, root)), name


def _execute(source: Path, notebook: Path, params: dict, cwd: Path, progress: bool) -> str | None:
    """Run the notebook; return None on success or the error text (the notebook keeps it)."""
    import papermill as pm

    with current_kernel() as kernel:
        try:
            pm.execute_notebook(source, notebook, parameters=params, kernel_name=kernel, cwd=str(cwd),
                                progress_bar=progress, execution_timeout=3600)
        except pm.PapermillExecutionError as exc:
            return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # kernel death, timeout: still a failed run with a manifest
            return f"{type(exc).__name__}: {exc}"
    return None


def run_report(template: str, params: dict | str | Path, *, report: str | None = None, period: str | None = None,
               root: Path | None = None, reports_root: Path | None = None, progress: bool = True) -> ReportRun:
    """Validate, execute ``notebooks/<template>.ipynb``, scan for disclosure, render and record.

    Parameter and data errors raise before any folder is made. Execution failures and
    disclosure findings give a run with status ``failed`` / ``needs_review`` (no HTML);
    they never replace the latest good report.
    """
    root = project_root(root)
    params, default_name = _prepare(template, params, root)
    report = report or default_name
    period = period or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    reports_root = Path(reports_root or root / "reports").resolve()
    git = mf.git_info(root)
    run_dir = _new_run_dir(reports_root / report / period, mf.run_id(git))
    params = {**params, "results_dir": str(run_dir / "results")}
    record = _start_manifest(template, report, period, run_dir, params, git, root)
    notebook = run_dir / f"{template}.ipynb"
    error = _execute(root / "notebooks" / f"{template}.ipynb", notebook, params, root / "notebooks", progress)
    html, status, disclosure = _finish_notebook(notebook, error, params, record)
    record.update(status=status, error=error, disclosure=disclosure, finished_utc=mf.utc_now(),
                  html=html.name if html else None, outputs=mf.hash_outputs(run_dir))
    mf.write_json(record, run_dir / "manifest.json")
    _refresh_index(reports_root)
    return ReportRun(template=template, run_dir=run_dir, notebook=notebook, html=html, status=status, manifest=record)


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


def _start_manifest(template, report, period, run_dir, params, git, root) -> dict:
    record = {
        "schema": mf.SCHEMA, "report": report, "template": template, "period": period, "run_id": run_dir.name,
        "status": "running", "started_utc": mf.utc_now(), "finished_utc": None,
        "parameters": params, "parameters_sha256": mf.sha256_json({k: v for k, v in params.items() if k != "results_dir"}),
        "inputs": mf.hash_inputs(Path(params["data_dir"])), "git": git,
        "notebook_sha256": mf.sha256_file(root / "notebooks" / f"{template}.ipynb"),
        "packages": mf.package_versions(), "kernel_python": sys.executable,
        "outputs": {}, "disclosure": None, "error": None, "html": None, "notebook": f"{template}.ipynb",
    }
    record["data_sha256"] = mf.sha256_json(record["inputs"])
    mf.write_json(record, run_dir / "manifest.json")
    return record


def _finish_notebook(notebook: Path, error: str | None, params: dict, record: dict):
    """Scan the executed notebook; render HTML only when it ran and passed the scan."""
    from evalkit.report.scan import scan_notebook

    if error is not None or not notebook.is_file():
        return None, "failed", None
    report = scan_notebook(notebook, min_cell=params["min_cell"])
    if not report.ok:
        return None, "needs_review", report.to_dict()
    html = render_html(notebook, notebook.with_suffix(".html"), run=record)
    return html, "ok", report.to_dict()


def _refresh_index(reports_root: Path) -> None:
    from evalkit.report.index import write_index

    write_index(reports_root)


def render_html(notebook: Path, html: Path, *, run: dict | None = None) -> Path:
    """Render an executed notebook to self-contained HTML: no code, no external requests.

    ``run`` (the manifest) supplies the parameter header and the run footer.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    from evalkit.report.toc import table_of_contents

    nb = nbformat.read(notebook, as_version=4)
    run = run or {}
    nb.metadata["evalkit"] = {
        "parameters": {k: v for k, v in run.get("parameters", {}).items() if k not in ("data_dir", "results_dir")},
        "commit": (run.get("git") or {}).get("commit"), "dirty": (run.get("git") or {}).get("dirty"),
        "data_sha256": run.get("data_sha256"), "started_utc": run.get("started_utc"), "run_id": run.get("run_id"),
        "lang": run.get("parameters", {}).get("lang", "en"), "toc": table_of_contents(nb),
    }
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
