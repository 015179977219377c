"""The command line: simulate, report params, report run (error path)."""
from __future__ import annotations

import json
import re
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


def test_version(capsys):
    import evalkit

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"evalkit {evalkit.__version__}"
    done = subprocess.run([sys.executable, "-m", "evalkit", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"evalkit {evalkit.__version__}"


def _help(argv: list[str], capsys) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def test_help_has_no_rest_markup(capsys):
    commands = [[], ["simulate"], ["report"], ["report", "run"], ["report", "run-due"], ["report", "params"],
                ["lists"], ["lists", "compute"]]
    for argv in commands:
        text = _help(argv, capsys)
        assert "usage: evalkit" in text
        assert not re.search(r"``|`[^`]+`|:(func|class|mod|meth):", text), (argv, text)


def test_errors_are_one_line_exit_2_without_traceback():
    for argv in (["--no-such-flag"], ["simulate", "--out", "x", "--size", "huge"], ["report", "run", "midterm",
                                                                                      "--params", "missing.yaml"]):
        done = subprocess.run([sys.executable, "-m", "evalkit", *argv], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 2, (argv, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("evalkit") and "error:" in lines[0], (argv, done.stderr)
        assert "Traceback" not in done.stderr
