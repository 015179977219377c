"""The command line: simulate, report params, report run (error path)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from evalkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_report_params_documents_everything(capsys):
    assert main(["report", "params", "final"]) == 0
    out = capsys.readouterr().out
    assert "evaluation_year" in out and "min_cell" in out


def test_report_run_unknown_parameter_exits_nonzero(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("langauge: da\n")
    assert main(["report", "run", "midterm", "--params", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown report parameter 'langauge'" in err and "lang" in err


def test_simulate_command(tmp_path):
    out = tmp_path / "sim"
    assert main(["simulate", "--out", str(out), "--seed", "11", "--size", "small", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["size"] == "small"
    assert (out / "interventions.csv").is_file() and (out / "truth" / "truth.json").is_file()


def test_console_script_installed():
    exe = shutil.which("evalkit", path=str(Path(sys.executable).parent))
    assert exe, "the evalkit console script is not installed next to the interpreter"
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert "simulate" in done.stdout and "report" in done.stdout
