"""The built package runs reports anywhere (issue 16, part 1): sdist -> wheel with ``python -m build``,
installed in a new virtual environment outside the repository (no access to the checkout), then,
in an empty folder, ``evalkit init proj && cd proj && evalkit simulate --out data/demo --size small
&& evalkit report run midterm --params params/outreach_midterm.yaml``, and the other commands
(``--version``, ``report params``, ``lists compute``, ``report run-due``) in that project.

The environment is a clean venv (no system or test-venv packages), filled by this venv's pip
(``pip --python``) with the wheel and its dependencies from the package index, so it proves that the
wheel, not the checkout, carries the templates. Each step's time is printed (``pytest -s``): about
80 s in all on a quiet machine (build 7 s, install 13 s without byte-compiling, simulate 18 s,
report 24 s), twice that under load.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: top-level folders of the checkout a build does not need (data, reports, tests, the venv, git, old builds)
SKIP_TOP = {".git", ".venv", "build", "dist", "data", "reports", "restricted", "tests", "benchmarks", "docs",
            ".pytest_cache", ".hypothesis"}
SKIP_ANY = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")

TEMPLATES = ["notebooks/midterm.ipynb", "notebooks/final.ipynb", "params/outreach_midterm.yaml",
             "params/outreach_final.yaml", "params/poa_final.yaml", "reports.yaml"]
NOISE = ("Passed unknown parameter", "Unable to parse line", "does not declare the parameter", "Traceback")

pytestmark = pytest.mark.slow


def _ignore(folder: str, names: list[str]) -> set[str]:
    skip = set(SKIP_ANY(folder, names))
    return skip | (SKIP_TOP & set(names)) if Path(folder).resolve() == ROOT else skip


def _run(argv, *, cwd: Path, env: dict, timings: dict, step: str, timeout: float = 900) -> str:
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    timings[step] = round(time.perf_counter() - start, 1)
    assert done.returncode == 0, f"{step} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def test_wheel_in_a_clean_venv_inits_simulates_and_renders(tmp_path):
    timings: dict[str, float] = {}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    src, dist = tmp_path / "src", tmp_path / "dist"
    start = time.perf_counter()
    shutil.copytree(ROOT, src, ignore=_ignore)
    timings["copy sources"] = round(time.perf_counter() - start, 1)

    # sdist, then the wheel built from the sdist: MANIFEST.in and setup.py's template copy both count
    _run([sys.executable, "-m", "build", "--outdir", dist, src], cwd=tmp_path, env=env, timings=timings,
         step="build sdist+wheel")
    wheel = next(dist.glob("evalkit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in TEMPLATES:
        assert f"evalkit/report/project/templates/{rel}" in names, rel
    assert "evalkit/report/project/skeleton/data/README.md" in names
    assert "evalkit/report/templates/evalkit/index.html.j2" in names
    packaged = {n.split("/")[1] for n in names if n.startswith("evalkit/") and n.endswith(".py")}
    assert {p.name for p in (ROOT / "evalkit").iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()} \
        <= packaged

    # a clean venv: the base interpreter, no system or test-venv packages
    env_dir = tmp_path / "venv"
    start = time.perf_counter()
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)  # installed into by this venv's pip (--python)
    timings["venv"] = round(time.perf_counter() - start, 1)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    # --no-compile: the check is about what the wheel holds, not about byte-compiling 100 packages
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile", wheel],
         cwd=tmp_path, env=env, timings=timings, step="pip install wheel")
    env = {**env, "PATH": os.pathsep.join([str(bindir), env.get("PATH", "")]), "VIRTUAL_ENV": str(env_dir)}
    evalkit = shutil.which("evalkit", path=str(bindir))
    assert evalkit, "the wheel installed no evalkit command"

    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run([python, "-c", "import evalkit, evalkit.report.project as p; print(evalkit.__file__); "
                  "print(p.template_root())"], cwd=empty, env=env, timings=timings, step="import").split()
    assert all(Path(w).is_relative_to(env_dir) for w in where), where  # the wheel's files, not the checkout's

    out = _run([evalkit, "init", "proj"], cwd=empty, env=env, timings=timings, step="evalkit init")
    proj = empty / "proj"
    assert "created the report project" in out and (proj / "reports.yaml").is_file()
    assert (proj / "data" / "README.md").is_file() and (proj / "reports" / "README.md").is_file()
    out += _run([evalkit, "simulate", "--out", "data/demo", "--size", "small", "--quiet"], cwd=proj, env=env,
                timings=timings, step="evalkit simulate")
    out += _run([evalkit, "report", "run", "midterm", "--params", "params/outreach_midterm.yaml", "--quiet", "--pdf"],
                cwd=proj, env=env, timings=timings, step="evalkit report run midterm --pdf")
    # the other commands, from the wheel in the project folder
    out += _run([evalkit, "--version"], cwd=proj, env=env, timings=timings, step="evalkit --version")
    assert "evalkit " in out
    out += _run([evalkit, "report", "params", "final"], cwd=proj, env=env, timings=timings, step="report params")
    out += _run([evalkit, "lists", "compute", "--data", "data/demo", "--out", "lists.csv"], cwd=proj, env=env,
                timings=timings, step="lists compute")
    assert (proj / "lists.csv").stat().st_size > 100
    (proj / "later.yaml").write_text((proj / "reports.yaml").read_text().replace("2026-01-01", "2099-01-01"))
    due = _run([evalkit, "report", "run-due", "--schedule", "later.yaml"], cwd=proj, env=env, timings=timings,
               step="report run-due")
    assert "nothing due" in due
    htmls = list((proj / "reports" / "outreach_midterm").glob("*/*/midterm.html"))
    assert len(htmls) == 1 and htmls[0].stat().st_size > 10_000
    manifest = json.loads((htmls[0].parent / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["packages"]["evalkit"]
    pdf = htmls[0].parent / "midterm.pdf"  # issue 16 must-show: the PDF from the wheel, too
    assert pdf.read_bytes()[:4] == b"%PDF" and manifest["pdf"]["file"] == "midterm.pdf"
    assert (proj / "reports" / "index.html").is_file()
    assert not any(noise in out for noise in NOISE), out
    start = time.perf_counter()
    shutil.rmtree(env_dir, ignore_errors=True)  # ~1 GB of packages; the rest of tmp_path is small
    timings["remove venv"] = round(time.perf_counter() - start, 1)
    print("timings (s):", json.dumps(timings), "total", round(sum(timings.values()), 1))
