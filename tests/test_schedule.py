"""Schedules: validation, occurrences, due logic, and the idempotent locked run-due."""
from __future__ import annotations

import datetime as dt
import fcntl
import itertools
import json
import os
import time
from pathlib import Path

import pytest
import yaml

from evalkit.errors import EvalkitError, ParameterError
from evalkit.report import schedule as sc

ROOT = Path(__file__).resolve().parents[1]
D = dt.date
_counter = itertools.count()

JOBS = [
    {"name": "outreach_midterm", "template": "midterm", "params": "params/mid.yaml",
     "cadence": {"dates": ["06-01", "12-01"]}, "start": "2026-01-01", "timeout_minutes": 60},
    {"name": "outreach_final", "template": "final", "params": "params/final.yaml",
     "cadence": {"dates": ["12-01"]}, "start": D(2026, 1, 1)},
]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "params").mkdir()
    for name in ("mid.yaml", "final.yaml"):
        (tmp_path / "params" / name).write_text("seed: 1\n")
    return tmp_path


def write_schedule(folder: Path, jobs=None, **top) -> Path:
    path = folder / "reports.yaml"
    path.write_text(yaml.safe_dump({"timezone": "UTC", **top, "jobs": JOBS if jobs is None else jobs}))
    return path


def fake_run(reports_root: Path, job: str, period: str, status: str, started: dt.datetime | None = None) -> Path:
    started = started or dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.timezone.utc) + dt.timedelta(
        seconds=next(_counter))
    run_id = f"{started:%Y%m%dT%H%M%SZ}_abc1234"
    run_dir = reports_root / job / period / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({
        "schema": "evalkit.run/1", "report": job, "period": period, "run_id": run_id, "status": status,
        "started_utc": f"{started:%Y-%m-%dT%H:%M:%SZ}", "html": None, "notebook": None}))
    return run_dir


class FakeExecutor:
    """Records calls and writes a manifest with the given status, like `report run` would."""

    def __init__(self, reports_root: Path, status: str = "ok", returncode: int = 0):
        self.reports_root, self.status, self.returncode, self.calls = reports_root, status, returncode, []

    def __call__(self, job, period):
        self.calls.append((job.name, period))
        if self.status:
            fake_run(self.reports_root, job.name, period, self.status)
        return self.returncode


def job(**overrides) -> sc.Job:
    base = dict(name="j", template="final", params=Path("/dev/null"), cadence=sc.Cadence(((6, 1), (12, 1))),
                start=D(2026, 1, 1))
    return sc.Job(**{**base, **overrides})


# ----------------------------------------------------------------------------- occurrences / due

def test_occurrences_across_year_boundaries():
    cad = {"dates": ["12-01", "06-01"]}
    assert sc.occurrences(cad, D(2025, 12, 15), D(2027, 1, 10)) == [D(2026, 6, 1), D(2026, 12, 1)]
    assert sc.occurrences(cad, "2025-12-01", "2027-06-01") == [D(2025, 12, 1), D(2026, 6, 1), D(2026, 12, 1),
                                                               D(2027, 6, 1)]  # both ends inclusive
    assert sc.occurrences({"dates": ["01-01", "12-31"]}, D(2026, 12, 31), D(2027, 1, 1)) == [D(2026, 12, 31),
                                                                                             D(2027, 1, 1)]
    assert sc.occurrences(cad, D(2027, 1, 1), D(2026, 1, 1)) == []


def test_latest_due():
    j = job()
    assert sc.latest_due(j, D(2027, 1, 15)) == D(2026, 12, 1)  # previous year's December
    assert sc.latest_due(j, D(2027, 6, 1)) == D(2027, 6, 1)  # on the day
    assert sc.latest_due(j, D(2027, 5, 31)) == D(2026, 12, 1)
    assert sc.latest_due(j, D(2026, 5, 31)) is None  # before the first occurrence after start
    assert sc.latest_due(job(start=D(2026, 6, 2)), D(2026, 11, 30)) is None
    assert sc.latest_due(job(start=D(2026, 6, 1)), D(2026, 6, 1)) == D(2026, 6, 1)
    assert sc.latest_due(j, dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.timezone.utc)) == D(2026, 12, 1)


def test_latest_due_uses_schedule_timezone():
    now = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.timezone.utc)  # already 1 December in Copenhagen
    assert sc.latest_due(job(), now) == D(2026, 6, 1)
    assert sc.latest_due(job(timezone="Europe/Copenhagen"), now) == D(2026, 12, 1)


def test_due_until_an_ok_run_exists(tmp_path):
    j, now = job(), D(2026, 12, 5)
    assert sc.due_period(j, tmp_path, now) == "2026-12-01"
    fake_run(tmp_path, "j", "2026-12-01", "failed")
    fake_run(tmp_path, "j", "2026-12-01", "needs_review")
    assert sc.due_period(j, tmp_path, now) == "2026-12-01"  # not done: retried
    fake_run(tmp_path, "j", "2026-06-01", "ok")
    assert sc.due_period(j, tmp_path, now) == "2026-12-01"  # another period does not count
    fake_run(tmp_path, "j", "2026-12-01", "ok")
    assert sc.due_period(j, tmp_path, now) is None
    assert sc.due_period(j, tmp_path, D(2026, 5, 1)) is None  # no occurrence yet


# ----------------------------------------------------------------------------- run_due

def test_run_due_is_idempotent(project):
    reports = project / "reports"
    execute = FakeExecutor(reports)
    lines = []
    first = sc.run_due(write_schedule(project), reports_root=reports, now=D(2026, 12, 3), execute=execute,
                       echo=lines.append)
    assert [(o.job, o.period, o.status, o.returncode) for o in first] == [
        ("outreach_midterm", "2026-12-01", "ok", 0), ("outreach_final", "2026-12-01", "ok", 0)]
    assert all(o.seconds >= 0 for o in first)
    assert any("outreach_final 2026-12-01: ok" in line for line in lines)
    assert (reports / "index.html").is_file()
    second = sc.run_due(project / "reports.yaml", reports_root=reports, now=D(2026, 12, 4), execute=execute,
                        echo=lines.append)
    assert second == [] and len(execute.calls) == 2
    assert "run-due: nothing due" in lines


def test_failed_run_is_retried(project):
    reports = project / "reports"
    path = write_schedule(project, jobs=[JOBS[1]])
    failing = FakeExecutor(reports, status="failed", returncode=1)
    out = sc.run_due(path, reports_root=reports, now=D(2026, 12, 3), execute=failing, echo=lambda s: None)
    assert [(o.status, o.returncode) for o in out] == [("failed", 1)]
    review = FakeExecutor(reports, status="needs_review", returncode=3)
    out = sc.run_due(path, reports_root=reports, now=D(2026, 12, 4), execute=review, echo=lambda s: None)
    assert [o.status for o in out] == ["needs_review"] and sc.exit_code(out) == 3
    ok = FakeExecutor(reports)
    assert [o.status for o in sc.run_due(path, reports_root=reports, now=D(2026, 12, 5), execute=ok,
                                         echo=lambda s: None)] == ["ok"]
    assert sc.run_due(path, reports_root=reports, now=D(2026, 12, 6), execute=ok, echo=lambda s: None) == []


def test_exit_zero_without_ok_manifest_is_not_ok_and_errors_do_not_stop_others(project):
    reports = project / "reports"
    calls = []

    def execute(j, period):
        calls.append(j.name)
        if j.name == "outreach_midterm":
            raise RuntimeError("boom")
        return 0  # but writes no manifest

    out = sc.run_due(write_schedule(project), reports_root=reports, now=D(2026, 12, 3), execute=execute,
                     echo=lambda s: None)
    assert calls == ["outreach_midterm", "outreach_final"]
    assert [(o.status, o.message) for o in out] == [
        ("error", "RuntimeError: boom"), ("failed", "exited 0 but recorded no run with status ok")]
    assert sc.exit_code(out) == 1 and sc.exit_code([]) == 0


def test_recent_running_run_is_skipped_stale_one_is_not(project):
    reports = project / "reports"
    path = write_schedule(project, jobs=[JOBS[1]])
    now = dt.datetime.now(dt.timezone.utc)
    fake_run(reports, "outreach_final", "2026-12-01", "running", started=now - dt.timedelta(hours=5))  # stale
    fake_run(reports, "outreach_final", "2026-12-01", "running", started=now - dt.timedelta(minutes=5))
    execute = FakeExecutor(reports)
    lines = []
    assert sc.run_due(path, reports_root=reports, now=D(2026, 12, 3), execute=execute, echo=lines.append) == []
    assert any("still running" in line for line in lines) and execute.calls == []


def test_lock_prevents_overlap(project):
    reports = project / "reports"
    reports.mkdir()
    execute = FakeExecutor(reports)
    with open(reports / sc.LOCK_NAME, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(sc.RunDueBusy, match="another run-due is in progress"):
            sc.run_due(write_schedule(project), reports_root=reports, now=D(2026, 12, 3), execute=execute,
                       echo=lambda s: None)
    assert execute.calls == []
    assert issubclass(sc.RunDueBusy, EvalkitError)
    # released: the next call runs
    assert len(sc.run_due(project / "reports.yaml", reports_root=reports, now=D(2026, 12, 3), execute=execute,
                          echo=lambda s: None)) == 2


def test_custom_lock_path(project, tmp_path):
    lock = tmp_path / "locks" / "evalkit.lock"
    with sc.run_lock(lock):
        with pytest.raises(sc.RunDueBusy, match=str(os.getpid())):
            sc.run_due(write_schedule(project), reports_root=project / "reports", now=D(2026, 12, 3),
                       execute=FakeExecutor(project / "reports"), lock_path=lock, echo=lambda s: None)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_timeout_kills_the_process_group(project):
    reports = project / "reports"
    pidfile = project / "grandchild.pid"
    # a hung job whose child also hangs: the whole process group must go
    command = lambda j, period, root: ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"]  # noqa: E731
    execute = sc.SubprocessExecutor(reports, command=command, kill_grace_seconds=1)
    jobs = [{**JOBS[1], "timeout_minutes": 0.02}]  # 1.2 s
    start = time.monotonic()
    out = sc.run_due(write_schedule(project, jobs=jobs), reports_root=reports, now=D(2026, 12, 3),
                     execute=execute, echo=lambda s: None)
    assert time.monotonic() - start < 15
    assert [(o.status, o.returncode) for o in out] == [("timeout", None)]
    assert "killed after the timeout" in out[0].message
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_subprocess_executor_returns_exit_code(project):
    execute = sc.SubprocessExecutor(project, command=lambda j, p, r: ["sh", "-c", "exit 3"])
    assert execute(job(), "2026-12-01") == 3


def test_default_command_runs_report_run(project):
    j = sc.load_schedule(write_schedule(project)).jobs[0]
    argv = sc.report_command(j, "2026-12-01", Path("/srv/reports"))
    assert argv[1:6] == ["-m", "evalkit", "report", "run", "midterm"]
    assert argv[argv.index("--params") + 1] == str(project / "params" / "mid.yaml")
    assert argv[argv.index("--report") + 1] == "outreach_midterm"
    assert argv[argv.index("--period") + 1] == "2026-12-01"
    assert argv[argv.index("--reports-root") + 1] == "/srv/reports" and argv[-1] == "--quiet"


# ----------------------------------------------------------------------------- validation

def test_load_schedule(project):
    s = sc.load_schedule(write_schedule(project))
    mid, final = s.jobs
    assert mid.params == project / "params" / "mid.yaml" and mid.params.is_absolute()
    assert mid.cadence.dates == ((6, 1), (12, 1)) and mid.start == D(2026, 1, 1) and mid.timeout_minutes == 60
    assert final.start == D(2026, 1, 1) and final.timeout_minutes == sc.DEFAULT_TIMEOUT_MINUTES


def test_example_schedule_is_valid():
    s = sc.load_schedule(ROOT / "reports.yaml")
    assert [j.name for j in s.jobs] == ["outreach_midterm", "outreach_final", "poa_final", "letting_final"]
    assert s.jobs[0].start == D(2026, 1, 1)  # YAML date, not string


def _bad(job_changes=None, drop=None, top=None):
    jobs = [dict(j) for j in JOBS]
    jobs[1].update(job_changes or {})
    if drop:
        del jobs[1][drop]
    return jobs, top or {}


@pytest.mark.parametrize("jobs, top, message", [
    (*_bad(top={"job": []}), r"unknown key 'job'.*Did you mean 'jobs'"),
    (*_bad({"cadense": {"dates": ["12-01"]}}), r"jobs\[1\] \(outreach_final\): unknown key 'cadense'.*"
                                                r"Did you mean 'cadence'"),
    (*_bad({"timeout_minuts": 5}), r"unknown key 'timeout_minuts'.*Did you mean 'timeout_minutes'"),
    (*_bad({"template": "finale"}), r"template='finale' is not allowed.*Did you mean 'final'"),
    (*_bad({"params": "params/nope.yaml"}), r"params file 'params/nope.yaml' does not exist"),
    (*_bad({"cadence": {"dates": ["13-01"]}}), r"cadence.dates\[0\]: '13-01' is not a valid month-day"),
    (*_bad({"cadence": {"dates": ["02-29"]}}), r"29 February is not yearly"),
    (*_bad({"cadence": {"dates": ["2026-12-01"]}}), r"cadence.dates\[0\]: expected 'MM-DD'"),
    (*_bad({"cadence": {"dates": []}}), r"cadence.dates: expected a non-empty list"),
    (*_bad({"cadence": {"date": ["12-01"]}}), r"cadence: unknown key 'date'.*Did you mean 'dates'"),
    (*_bad({"start": "2026-13-01"}), r"start: expected a date YYYY-MM-DD, got '2026-13-01'"),
    (*_bad({"timeout_minutes": 0}), r"timeout_minutes must be a positive number"),
    (*_bad({"name": "outreach_midterm"}), r"job names must be unique.*outreach_midterm"),
    (*_bad({"name": "../evil"}), r"name '../evil' must be a folder name"),
    (*_bad(drop="start"), r"missing required key\(s\) \['start'\]"),
    (*_bad(top={"timezone": "Europe/Copenhagn"}), r"unknown timezone 'Europe/Copenhagn'"),
    ([], {}, r"'jobs' must be a non-empty list"),
])
def test_schedule_validation_errors(project, jobs, top, message):
    with pytest.raises(ParameterError, match=message):
        sc.load_schedule(write_schedule(project, jobs=jobs, **top))


def test_unreadable_schedules(project):
    with pytest.raises(ParameterError, match="does not exist"):
        sc.load_schedule(project / "missing.yaml")
    bad = project / "bad.yaml"
    bad.write_text("jobs: [\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        sc.load_schedule(bad)


def test_sigterm_of_run_due_kills_the_running_job(project):
    """`timeout` / systemd stop send SIGTERM to run-due; the job's own process group must die too."""
    import signal
    import subprocess
    import sys

    pidfile = project / "grandchild.pid"
    script = f"""
import datetime as dt
from evalkit.report import schedule as sc
cmd = lambda j, p, r: ["sh", "-c", "sleep 60 & echo $! > {pidfile}; wait"]
sc.run_due({str(write_schedule(project, jobs=[JOBS[1]]))!r}, reports_root={str(project / 'reports')!r},
           now=dt.date(2026, 12, 3), execute=sc.SubprocessExecutor("r", command=cmd, kill_grace_seconds=1))
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not (pidfile.is_file() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_reports_root_defaults_next_to_schedule(project):
    execute = FakeExecutor(project / "reports")
    out = sc.run_due(write_schedule(project), now=D(2026, 12, 3), execute=execute, echo=lambda s: None)
    assert len(out) == 2 and (project / "reports" / "index.html").is_file()
    assert (project / "reports" / sc.LOCK_NAME).is_file()
