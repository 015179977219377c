"""Run manifests: what ran, on which data, code and environment, and what came out.

The manifest makes a report run reproducible and auditable (``../shared/reporting.md``,
"Runs, manifests, schedules"). Everything here is a pure function of files and values,
except :func:`write_json`, which writes atomically.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

SCHEMA = "evalkit.run/1"
PACKAGES = ("evalkit", "numpy", "scipy", "pandas", "statsmodels", "linearmodels", "matplotlib", "seaborn",
            "duckdb", "pyarrow", "pandera", "pyreadstat", "papermill", "nbconvert", "ipykernel")
STATUSES = ("running", "ok", "failed", "needs_review")
RESULTS_LINE = "evalkit results file {name} sha256 {digest}"


def results_line(name: str, path: Path) -> str:
    """The ledger line by which the results writer vouches for one file it wrote (checked by
    :func:`evalkit.report.postrun.vet_results`; here so the kernel's results writer needs no
    nbformat)."""
    return RESULTS_LINE.format(name=name, digest=hashlib.sha256(Path(path).read_bytes()).hexdigest())


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value) -> str:
    """Hash of a JSON-serialisable value with sorted keys (e.g. the parameters)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def hash_inputs(data_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``data_dir``, keyed by its relative path."""
    data_dir = Path(data_dir)
    return {p.relative_to(data_dir).as_posix(): sha256_file(p) for p in sorted(data_dir.rglob("*")) if p.is_file()}


def input_path(data_dir: str | Path, value: str | Path) -> Path:
    """A path given in the report parameters (``survey.path``, ``survey.config``): relative to
    ``data_dir``, an absolute one (or ``~/...``) as it is. The one rule of the reader, the manifest
    and the key scan."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(data_dir) / path


def hash_run_inputs(params: dict) -> dict[str, str]:
    """sha256 of every input file of a report run: the files under ``data_dir``, keyed by their relative path
    (:func:`hash_inputs`), and the survey file(s) and configuration of the parameter ``survey``
    (``survey.path``, ``survey.config``; relative to ``data_dir``) that lie outside it, keyed by their
    absolute path.

    Parameters
    ----------
    params : dict
        The run's parameters, with ``data_dir`` and optionally ``survey``.

    Returns
    -------
    dict
        {path: sha256}; a survey path that does not exist is left out (the preflight refuses it).
    """
    data_dir = Path(params["data_dir"]).resolve()
    out = hash_inputs(data_dir)
    survey = params.get("survey") if isinstance(params.get("survey"), dict) else {}
    for key in ("path", "config"):
        value = survey.get(key)
        if not value or not isinstance(value, (str, Path)):
            continue
        path = input_path(data_dir, value).resolve()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
        for f in files:
            if not f.is_relative_to(data_dir):  # inside data_dir: hashed already
                out[f.as_posix()] = sha256_file(f)
    return out


def hash_outputs(run_dir: Path) -> dict[str, str]:
    """sha256 of everything a run wrote, except the manifest itself."""
    return {k: v for k, v in hash_inputs(run_dir).items() if k != "manifest.json"}


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_info(root: Path) -> dict:
    """Commit and dirty flag of the project (``None`` outside a git work tree)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def run_id(git: dict, now: dt.datetime | None = None) -> str:
    """``<UTC time>_<short sha>[-dirty]`` (``nogit`` outside git)."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    sha = (git["commit"] or "nogit")[:7]
    return f"{stamp}_{sha}" + ("-dirty" if git.get("dirty") else "")


def write_json(value: dict, path: Path) -> Path:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=2, sort_keys=False, default=str)
    os.replace(tmp, path)
    return path
