"""Issue 12: a user error on the command line never prints a traceback.

Every case below is a bad input a hurried analyst would type. ``evalkit.cli.main`` runs in-process
and must return 2 with exactly one line on stderr that names the problem, before any long work
starts (no run folder, no output file).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import _list_years, main
from evalkit.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path):
    """Small files: a folder, invalid YAML, YAML with a key twice, a plain file, an empty data folder."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "broken.yaml").write_text("lang: [da\n")
    (tmp_path / "twice.yaml").write_text("lang: da\nlang: en\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "latin1.yaml").write_bytes("område: x\n".encode("latin-1"))
    (tmp_path / "thresholds.csv").write_text("x,y\n1,2\n")
    (tmp_path / "unknown_key.yaml").write_text("aera: OMR\n")
    return tmp_path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def assert_one_line(code, err, *fragments):
    assert code == 2, err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


# ----------------------------------------------------------------- argparse errors are one line too
@pytest.mark.parametrize("argv,fragments", [
    ([], ["required: command"]),
    (["bogus"], ["invalid choice: 'bogus'"]),
    (["simulate"], ["required: --out"]),
    (["simulate", "--out", "x", "--seed", "abc"], ["--seed", "invalid int value: 'abc'"]),
    (["simulate", "--out", "x", "--seed", "1e3"], ["--seed", "'1e3'"]),
    (["simulate", "--out", "x", "--size", "huge"], ["--size", "'huge'", "small"]),
    (["simulate", "--out", "x", "--quite"], ["unrecognized arguments: --quite"]),
    (["report"], ["required: action"]),
    (["report", "run", "weekly", "--params", "p.yaml"], ["invalid choice: 'weekly'"]),
    (["report", "run", "midterm"], ["required: --params"]),
    (["report", "params", "weekly"], ["invalid choice: 'weekly'"]),
    (["lists"], ["required: action"]),
    (["lists", "compute", "--out", "h.csv"], ["required: --data"]),
    (["lists", "compute", "--data", "d", "--out", "h.csv", "--hard-years-2018", "x"], ["--hard-years-2018"]),
    (["lists", "compute", "--data", "d", "--out", "h.csv", "--threads", "two"], ["--threads"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and isinstance(v[0], str) and len(v) < 12 else None)
def test_argument_errors_are_one_line(argv, fragments, capsys):
    assert_one_line(*run(argv, capsys), *fragments)


def test_help_still_works(capsys):
    assert main(["--help"]) == 0
    assert "simulate" in capsys.readouterr().out


# ----------------------------------------------------------------- simulate
@pytest.mark.parametrize("argv,fragments", [
    (["--seed", "-5"], ["--seed=-5"]),
    (["--seed", str(2 ** 70)], ["--seed"]),
], ids=["negative", "huge"])
def test_simulate_bad_seed(argv, fragments, capsys, tmp_path):
    assert_one_line(*run(["simulate", "--out", tmp_path / "sim", "--quiet", *argv], capsys), *fragments)
    assert not (tmp_path / "sim").exists()


@pytest.mark.parametrize("out,fragment", [
    ("notes.txt", "is an existing file"),
    ("notes.txt/sim", "is a file, not a folder"),
    ("", "give a folder name"),
], ids=["file", "below-a-file", "empty"])
def test_simulate_bad_out(files, out, fragment, capsys):
    target = files / out if out else ""
    assert_one_line(*run(["simulate", "--out", target, "--quiet"], capsys), "--out", fragment)


# ----------------------------------------------------------------- lists compute
def lists(files, *extra):
    return ["lists", "compute", "--data", files / "data", "--out", files / "out" / "h.csv", *extra]


@pytest.mark.parametrize("extra,fragments", [
    (["--list-years", "2024-2018"], ["--list-years='2024-2018'", "runs backwards", "2018-2024"]),
    (["--list-years", "2018-20x"], ["--list-years='2018-20x'", "cannot read"]),
    (["--list-years", ""], ["--list-years=''", "empty"]),
    (["--list-years", "2018,,2019"], ["--list-years", "cannot read ''"]),
    (["--list-years", "1800-1805"], ["--list-years", "1800 is not a year in 1900-2100"]),
    (["--list-years", "18"], ["--list-years='18'", "cannot read '18'"]),
    (["--regime", "2019"], ["--regime='2019'", "Did you mean '2021'"]),
    (["--unknown-education", "none"], ["unknown_education='none'", "basic"]),
    (["--hard-years-2018", "0"], ["hard_years_2018=0"]),
    (["--threads", "0"], ["threads=0"]),
    (["--threads", "-1"], ["threads=-1"]),
    (["--memory-limit", "lots"], ["memory_limit='lots'", "6GB"]),
    (["--criteria", "crit.txt"], ["--criteria='crit.txt'", ".csv or .parquet"]),
    (["--status", "{folder}"], ["--status=", "is a folder"]),
    (["--config", "{missing}"], ["--config=", "does not exist"]),
    (["--config", "{folder}"], ["--config=", "is a folder"]),
    (["--config", "{broken.yaml}"], ["not valid YAML (line 2"]),
    (["--config", "{twice.yaml}"], ["the key 'lang' is given twice"]),
    (["--config", "{latin1.yaml}"], ["UTF-8"]),
    (["--config", "{unknown_key.yaml}"], ["'aera'", "Did you mean 'area'"]),
    (["--thresholds", "{folder}"], ["--thresholds=", "is a folder"]),
    (["--thresholds", "{thresholds.csv}"], ["thresholds file lacks column(s)"]),
    (["--thresholds", "{missing}"], ["--thresholds=", "does not exist"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("--") else None)
def test_lists_compute_bad_arguments(files, extra, fragments, capsys):
    extra = [files / e[1:-1] if e.startswith("{") else e for e in extra]
    assert_one_line(*run(lists(files, *extra), capsys), *fragments)
    assert not (files / "out").exists()


@pytest.mark.parametrize("data,out,fragments", [
    ("{missing}", "h.csv", ["--data=", "does not exist"]),
    ("{notes.txt}", "h.csv", ["not a register file", "suffix"]),
    ("{folder}", "h.csv", ["holds no register files"]),
    ("{data}", "h.txt", ["--out=", ".csv or .parquet"]),
    ("{data}", "{notes.txt}/h.csv", ["is a file, not a folder"]),
    ("{data}", "{folder}", ["--out=", "is a folder"]),
], ids=["data-missing", "data-txt", "data-empty-folder", "out-txt", "out-below-file", "out-folder"])
def test_lists_compute_bad_paths(files, data, out, fragments, capsys):
    def path(text):
        if not text.startswith("{"):
            return str(files / text)
        end = text.index("}")
        return str(files / text[1:end]) + text[end + 1:]

    assert_one_line(*run(["lists", "compute", "--data", path(data), "--out", path(out)], capsys), *fragments)


def test_list_years_parser_accepts_ranges_and_lists():
    assert _list_years("2018-2020,2023") == [2018, 2019, 2020, 2023]
    assert _list_years(" 2019 , 2021 ") == [2019, 2021]
    assert _list_years(None) is None
    with pytest.raises(ParameterError, match="runs backwards"):
        _list_years("2024-2018")


# ----------------------------------------------------------------- report run, run-due, params
@pytest.mark.parametrize("params,fragments", [
    ("{missing}", ["--params=", "does not exist"]),
    ("{folder}", ["--params=", "is a folder"]),
    ("{broken.yaml}", ["not valid YAML (line 2"]),
    ("{twice.yaml}", ["the key 'lang' is given twice"]),
    ("{latin1.yaml}", ["UTF-8"]),
    ("- a list\n", ["must hold a mapping"]),
    ("langauge: da\n", ["unknown report parameter 'langauge'", "Did you mean 'lang'"]),
    ("lang: no\n", ["'lang' must be str, got bool", "quote"]),
    ("seed: 1e3\n", ["'seed' must be int"]),
    ("alpha: .nan\n", ["'alpha'"]),
    ("lang: de\nalpha: 2\noutcom: x\nseed: -1\n",
     ["4 problems", "'outcom'", "Did you mean 'outcome'", "'lang'='de'", "'alpha'=2.0", "'seed'=-1", "; "]),
    (("goals:\n  - goal: Flere i job\n    target_group: alle\n    indicator: employment_rte\n    baseline_year: 2014\n"
      "    baseline_value: 0.3\n    target_year: 2024\n    target_value: high\n"),
     ["indicator='employment_rte'", "Did you mean 'employment_rate'", "target_value='high'"]),
    ("goals: {goal: x}\n", ["'goals' must be list"]),
    ("goals:\n  - 5\n", ["goals[0] must be a mapping"]),
    ("baseline_year: 2020\nevaluation_year: 2019\n", ["baseline_year=2020 must be before evaluation_year=2019"]),
    ("goals_as_of: 2030\n", ["goals_as_of=2030"]),
    ("advisor_placebos: 50\n", ["'advisor_placebos'=50 lies outside [100, 20000]"]),
    ("advisor_effect: plus one\n", ["'advisor_effect' must be float"]),
], ids=["missing", "folder", "yaml", "key-twice", "latin1", "list", "unknown", "yes-no", "seed-text", "nan",
        "four-problems", "goal-indicator", "goals-dict", "goal-int", "years-order", "goals_as_of", "advisor-placebos",
        "advisor-effect"])
def test_report_run_bad_parameter_file(files, params, fragments, capsys):
    if params.startswith("{"):
        path = files / params[1:-1]
    else:
        path = files / "params.yaml"
        path.write_text(params)
    reports = files / "reports"
    assert_one_line(*run(["report", "run", "midterm", "--params", path, "--reports-root", reports, "--quiet"], capsys),
                    *fragments)
    assert not reports.exists()          # refused before the notebook starts: no run folder


@pytest.mark.parametrize("extra,fragments", [
    (["--notebook", "{missing}"], ["--notebook=", "does not exist"]),
    (["--notebook", "{notes.txt}"], ["not an existing .ipynb"]),
    (["--reports-root", "{notes.txt}"], ["--reports-root=", "is a file"]),
    (["--report", "a/b"], ["report='a/b'", "plain folder name"]),
    (["--period", "2024 Q1"], ["period='2024 Q1'"]),
], ids=["notebook-missing", "notebook-txt", "reports-root-file", "report-path", "period-space"])
def test_report_run_bad_options(files, extra, fragments, capsys):
    extra = [files / e[1:-1] if e.startswith("{") else e for e in extra]
    argv = ["report", "run", "midterm", "--params", ROOT / "params" / "outreach_midterm.yaml", "--quiet", *extra]
    if "--reports-root" not in argv:
        argv += ["--reports-root", files / "reports"]
    assert_one_line(*run(argv, capsys), *fragments)
    assert not (files / "reports").exists()


@pytest.mark.parametrize("schedule,fragments", [
    ("{missing}", ["--schedule=", "does not exist"]),
    ("{folder}", ["--schedule=", "is a folder"]),
    ("{broken.yaml}", ["not valid YAML"]),        # a multi-line YAML message, printed on one line
], ids=["missing", "folder", "yaml"])
def test_report_run_due_bad_schedule(files, schedule, fragments, capsys):
    assert_one_line(*run(["report", "run-due", "--schedule", files / schedule[1:-1]], capsys), *fragments)


def test_console_script_prints_no_traceback(tmp_path):
    exe = shutil.which("evalkit", path=str(Path(sys.executable).parent))
    done = subprocess.run([exe, "lists", "compute", "--data", str(tmp_path), "--out", str(tmp_path / "h.csv"),
                           "--list-years", "2024-2018"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "runs backwards" in done.stderr


# ----------------------------------------------------------------- the entry point itself
def test_os_errors_on_user_paths_are_one_line_and_internal_bugs_are_not_hidden(monkeypatch, capsys):
    import evalkit.cli as cli

    def denied(args):
        raise PermissionError(13, "Permission denied", "/restricted/out")

    monkeypatch.setattr(cli, "_report_params", denied)
    assert_one_line(*run(["report", "params", "final"], capsys), "cannot use '/restricted/out'", "Permission denied")

    def bug(args):
        raise RuntimeError("an evalkit bug")

    monkeypatch.setattr(cli, "_report_params", bug)
    with pytest.raises(RuntimeError):          # not a user error: the traceback stays
        main(["report", "params", "final"])


def test_warnings_are_printed_as_one_line(monkeypatch, capsys):
    import warnings

    import evalkit.cli as cli
    from evalkit.errors import EvalkitWarning

    def warns(args):
        warnings.warn("left out 3 of 10 rows\nwithout an area", EvalkitWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "_report_params", warns)
    assert main(["report", "params", "final"]) == 0
    assert capsys.readouterr().err == "evalkit: warning: left out 3 of 10 rows without an area\n"
