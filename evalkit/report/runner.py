"""Run a report template through papermill and render offline HTML with nbconvert."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError, check_choice
from evalkit.report.params import TEMPLATES, load_params, validate_params

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
KERNEL_NAME = "evalkit-python"


class ReportRunError(EvalkitError):
    """The notebook failed while executing; the executed notebook shows the error."""


@dataclass(frozen=True)
class ReportRun:
    """Where a run wrote its outputs."""

    template: str
    run_dir: Path
    notebook: Path
    html: Path
    parameters: dict


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


def git_label(root: Path) -> str:
    """Short commit hash plus ``-dirty`` when the work tree has changes; ``nogit`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "nogit"
    return sha + ("-dirty" if dirty else "")


def _resolve_paths(params: dict, base: Path) -> dict:
    out = dict(params)
    data_dir = Path(out["data_dir"])
    out["data_dir"] = str(data_dir if data_dir.is_absolute() else (base / data_dir).resolve())
    return out


def render_html(notebook: Path, html: Path) -> Path:
    """Render an executed notebook to self-contained HTML: no code, no external requests."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="evalkit", extra_template_basedirs=[str(TEMPLATE_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


def run_report(template: str, params: dict | str | Path, *, root: Path | None = None,
               out_root: Path | None = None, progress: bool = True) -> ReportRun:
    """Validate parameters, execute ``notebooks/<template>.ipynb`` and render its HTML.

    Each run writes a new folder ``reports/<template>/<UTC time>_<git sha>[-dirty]/``.
    """
    import papermill as pm

    check_choice("template", template, TEMPLATES)
    params = validate_params(params) if isinstance(params, dict) else load_params(params)
    root = project_root(root)
    params = _resolve_paths(params, root)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = (out_root or root / "reports") / template / f"{stamp}_{git_label(root)}"
    run_dir.mkdir(parents=True, exist_ok=False)
    notebook = run_dir / f"{template}.ipynb"
    with current_kernel() as kernel:
        try:
            pm.execute_notebook(root / "notebooks" / f"{template}.ipynb", notebook, parameters=params,
                                kernel_name=kernel, cwd=str(root / "notebooks"),
                                progress_bar=progress, execution_timeout=1800)
        except pm.PapermillExecutionError as exc:
            raise ReportRunError(f"{template} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}. "
                                 f"See the executed notebook {notebook}.") from None
    html = render_html(notebook, run_dir / f"{template}.html")
    return ReportRun(template=template, run_dir=run_dir, notebook=notebook, html=html, parameters=params)
