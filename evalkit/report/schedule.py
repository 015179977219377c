"""Recurring report runs: a validated schedule file and one idempotent ``run-due`` command.

A schedule (``reports.yaml``) declares jobs; each job is a report folder name, a template,
a parameter file and a cadence of yearly dates (``MM-DD``). The *period* of a run is the
ISO date of the occurrence it belongs to, e.g. ``2026-12-01``.

A job is **due** when its latest occurrence (the most recent cadence date that is on or
before today, in the schedule's timezone, and on or after ``start``) has no run with
status ``ok`` for that period. Failed / needs-review runs do not count, so the next
``run-due`` retries them. Only the latest occurrence is considered: an occurrence that was
missed while a newer one exists is not back-filled (run it by hand with ``report run``).

:func:`run_due` is what cron, a systemd timer or the Windows Task Scheduler calls. It takes an
exclusive non-blocking lock on ``<reports_root>/.run-due.lock`` (filelock's: ``flock`` on POSIX,
``LockFileEx`` on Windows; :mod:`evalkit.report.portable`); when another ``run-due`` holds it, it raises
:class:`RunDueBusy` without running anything (the CLI should print the message and exit 0:
an overlapping tick is normal, not an error). Running it twice in a row runs a due job once.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from evalkit.errors import EvalkitError, ParameterError, closest
from evalkit.report import portable
from evalkit.report.index import latest_good, run_time, scan_manifests, write_index
from evalkit.report.params import TEMPLATES

SCHEDULE_KEYS = ("timezone", "jobs")
JOB_KEYS = ("name", "template", "params", "cadence", "start", "timeout_minutes", "pdf")
JOB_REQUIRED = ("name", "template", "params", "cadence", "start")
CADENCE_KEYS = ("dates",)
DEFAULT_TIMEOUT_MINUTES = 120
LOCK_NAME = ".run-due.lock"
#: exit codes of ``evalkit report run`` -> outcome status
EXIT_STATUS = {0: "ok", 1: "failed", 2: "bad_parameters", 3: "needs_review"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class RunDueBusy(EvalkitError):
    """Another ``run-due`` holds the lock; nothing was run."""


class JobTimeout(EvalkitError):
    """An executor killed a job's process group after its timeout."""


@dataclass(frozen=True)
class Cadence:
    """Yearly recurring dates as sorted (month, day) pairs."""

    dates: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Job:
    """One scheduled report: ``name`` is the ``<report>`` folder under the reports root."""

    name: str
    template: str
    params: Path  # absolute
    cadence: Cadence
    start: dt.date
    timeout_minutes: float = DEFAULT_TIMEOUT_MINUTES
    timezone: str = "UTC"
    pdf: bool = False  # also print the report to PDF (``report run --pdf``)


@dataclass(frozen=True)
class Schedule:
    path: Path
    timezone: str
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class JobOutcome:
    """What happened to one executed job.

    ``status`` is ok / failed / needs_review / bad_parameters (from the exit code of
    ``report run``), timeout (process group killed) or error (the executor raised).
    """

    job: str
    period: str
    status: str
    returncode: int | None
    seconds: float
    message: str = ""


# ----------------------------------------------------------------------------- parsing

def _check_keys(raw: Mapping, allowed: Sequence[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ParameterError(f"{where}: unknown key {key!r}; allowed keys are {list(allowed)}."
                                 + closest(str(key), allowed))


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ParameterError(f"{where}: expected a date YYYY-MM-DD, got the date-time {value}.")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ParameterError(f"{where}: expected a date YYYY-MM-DD, got {value!r}.")


def parse_cadence(raw: object, where: str = "cadence") -> Cadence:
    """Validate ``{dates: ["MM-DD", ...]}``; 29 February is refused (it is not yearly)."""
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping like {{dates: ['06-01', '12-01']}}, got {raw!r}.")
    _check_keys(raw, CADENCE_KEYS, where)
    dates = raw.get("dates")
    if not isinstance(dates, list) or not dates:
        raise ParameterError(f"{where}.dates: expected a non-empty list of 'MM-DD' strings, got {dates!r}.")
    parsed = set()
    for i, item in enumerate(dates):
        match = _MONTH_DAY.match(item) if isinstance(item, str) else None
        if match is None:
            raise ParameterError(f"{where}.dates[{i}]: expected 'MM-DD' (e.g. '12-01'), got {item!r}; "
                                 "cadence dates repeat every year, so they carry no year.")
        month, day = int(match[1]), int(match[2])
        try:
            dt.date(2001, month, day)  # a non-leap year: refuses 02-30, 04-31 and 02-29
        except ValueError:
            extra = " (29 February is not yearly; use '02-28' or '03-01')" if (month, day) == (2, 29) else ""
            raise ParameterError(f"{where}.dates[{i}]: {item!r} is not a valid month-day{extra}.") from None
        parsed.add((month, day))
    return Cadence(tuple(sorted(parsed)))


def _parse_timezone(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(f"{where}: expected an IANA timezone name such as 'UTC' or 'Europe/Copenhagen', "
                             f"got {value!r}.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(f"{where}: unknown timezone {value!r}; use an IANA name such as 'UTC' or "
                             "'Europe/Copenhagen'.") from None
    return value


def _parse_job(raw: object, i: int, folder: Path, timezone: str, where: str) -> Job:
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where} jobs[{i}]: expected a mapping with keys {list(JOB_KEYS)}, got {raw!r}.")
    name = raw.get("name")
    label = f"{where} jobs[{i}]" + (f" ({name})" if isinstance(name, str) else "")
    _check_keys(raw, JOB_KEYS, label)
    missing = [k for k in JOB_REQUIRED if k not in raw]
    if missing:
        raise ParameterError(f"{label}: missing required key(s) {missing}.")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"{label}: name {name!r} must be a folder name of letters, digits, '_', '-', '.'.")
    template = raw["template"]
    if template not in TEMPLATES:
        raise ParameterError(f"{label}: template={template!r} is not allowed; choose one of {list(TEMPLATES)}."
                             + closest(str(template), TEMPLATES))
    params = raw["params"]
    if not isinstance(params, str) or not params.strip():
        raise ParameterError(f"{label}: params must be the path of a YAML parameter file, got {params!r}.")
    params_path = (folder / params).resolve()
    if not params_path.is_file():
        raise ParameterError(f"{label}: params file {params!r} does not exist (looked for {params_path}).")
    timeout = raw.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ParameterError(f"{label}: timeout_minutes must be a positive number, got {timeout!r}.")
    pdf = raw.get("pdf", False)
    if not isinstance(pdf, bool):
        raise ParameterError(f"{label}: pdf must be true or false, got {pdf!r}.")
    return Job(pdf=pdf, name=name, template=template, params=params_path,
               cadence=parse_cadence(raw["cadence"], f"{label}: cadence"),
               start=_parse_date(raw["start"], f"{label}: start"), timeout_minutes=timeout, timezone=timezone)


def load_schedule(path: str | Path) -> Schedule:
    """Read and strictly validate a schedule file; params paths are relative to its folder."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ParameterError(f"schedule file {str(path)!r} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"schedule file {str(path)!r} is not valid YAML: {exc}") from None
    where = path.name
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping with keys {list(SCHEDULE_KEYS)}.")
    _check_keys(raw, SCHEDULE_KEYS, where)
    timezone = _parse_timezone(raw.get("timezone", "UTC"), f"{where}: timezone")
    jobs = raw.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise ParameterError(f"{where}: 'jobs' must be a non-empty list of jobs.")
    parsed = tuple(_parse_job(job, i, path.parent, timezone, where) for i, job in enumerate(jobs))
    names = [job.name for job in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ParameterError(f"{where}: job names must be unique (they are report folders); repeated: {duplicates}.")
    return Schedule(path=path, timezone=timezone, jobs=parsed)


# ----------------------------------------------------------------------------- due logic

def occurrences(cadence: Cadence | Mapping, start: dt.date | str, until: dt.date | str) -> list[dt.date]:
    """All cadence dates in ``[start, until]`` (both inclusive), in order."""
    cadence = cadence if isinstance(cadence, Cadence) else parse_cadence(cadence)
    start, until = _parse_date(start, "start"), _parse_date(until, "until")
    return [dt.date(year, month, day) for year in range(start.year, until.year + 1)
            for month, day in cadence.dates if start <= dt.date(year, month, day) <= until]


def today(now: dt.datetime | dt.date | None, timezone: str = "UTC") -> dt.date:
    """The calendar date of ``now`` in ``timezone`` (naive date-times are taken as local to it)."""
    zone = ZoneInfo(timezone)
    if now is None:
        return dt.datetime.now(zone).date()
    if isinstance(now, dt.datetime):
        return (now.astimezone(zone) if now.tzinfo else now).date()
    return now


def latest_due(job: Job, now: dt.datetime | dt.date | None = None) -> dt.date | None:
    """The most recent occurrence on or before ``now`` and on or after ``job.start``, or None."""
    day = today(now, job.timezone)
    # every cadence date recurs yearly, so the latest occurrence lies within the last year
    window_start = max(job.start, dt.date(day.year - 1, 1, 1))
    found = occurrences(job.cadence, window_start, day)
    return found[-1] if found else None


def due_period(job: Job, reports_root: str | Path, now: dt.datetime | dt.date | None = None) -> str | None:
    """The period (ISO date) the job should run for now, or None when nothing is due."""
    occurrence = latest_due(job, now)
    if occurrence is None:
        return None
    period = occurrence.isoformat()
    return None if latest_good(reports_root, job.name, period) is not None else period


def _running_elsewhere(job: Job, period: str, reports_root: Path) -> dict | None:
    """A run of this job/period still marked running and younger than the job's timeout."""
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=job.timeout_minutes)
    for manifest in scan_manifests(reports_root, report=job.name, period=period).manifests:
        started = run_time(manifest)
        if manifest.get("status") == "running" and started is not None and started >= cutoff:
            return manifest
    return None


# ----------------------------------------------------------------------------- executing

def report_command(job: Job, period: str, reports_root: Path) -> list[str]:
    """The ``evalkit report run`` command line of one job and period."""
    return [sys.executable, "-m", "evalkit", "report", "run", job.template, "--params", str(job.params),
            "--report", job.name, "--period", period, "--reports-root", str(reports_root), "--quiet",
            *(["--pdf"] if job.pdf else [])]


class SubprocessExecutor:
    """Run a job as a subprocess in its own process group, killing the group on timeout (POSIX and Windows).

    ``command(job, period, reports_root)`` gives the command line (default
    :func:`report_command`); ``cwd`` is the working directory (the project root, from
    which ``report run`` finds ``notebooks/``). Output goes to this process's stdout/stderr.
    Returns the exit code; raises :class:`JobTimeout` after killing a job that overran.
    """

    def __init__(self, reports_root: str | Path, *, cwd: str | Path | None = None,
                 command: Callable[[Job, str, Path], Sequence[str]] = report_command,
                 kill_grace_seconds: float = 10.0):
        self.reports_root = Path(reports_root).resolve()
        self.cwd = cwd
        self.command = command
        self.kill_grace_seconds = kill_grace_seconds

    def __call__(self, job: Job, period: str) -> int:
        argv = [str(a) for a in self.command(job, period, self.reports_root)]
        timeout = job.timeout_minutes * 60
        proc = subprocess.Popen(argv, cwd=self.cwd, **portable.group_kwargs())
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            portable.kill_group(proc, self.kill_grace_seconds)
            raise JobTimeout(f"{job.name} {period}: killed after the timeout of {job.timeout_minutes:g} min "
                             f"({timeout:.0f} s).") from None
        except BaseException:  # Ctrl-C, SIGTERM of run-due: do not leave the report running
            portable.kill_group(proc, self.kill_grace_seconds)
            raise


@contextlib.contextmanager
def run_lock(path: str | Path):
    """Hold an exclusive non-blocking lock on ``path``; raise :class:`RunDueBusy` if taken.

    The file is kept (deleting lock files races); it holds the holder's pid for diagnosis.
    The descriptor is not inherited by children, so a killed job cannot keep the lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        if not portable.try_lock(fd):
            holder = portable.read_holder(fd)
            raise RunDueBusy(f"another run-due is in progress (lock {path} is held"
                             + (f" by pid {holder}" if holder else "") + "); nothing was run.")
        try:
            portable.write_holder(fd, f"{os.getpid()} {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n")
            yield path
        finally:
            portable.unlock(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _sigterm_as_exit():
    """Turn SIGTERM (``timeout``, systemd stop) into SystemExit so running jobs get killed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _status(returncode: int) -> tuple[str, str]:
    if returncode in EXIT_STATUS:
        return EXIT_STATUS[returncode], ""
    if returncode < 0:
        return "failed", f"killed by signal {-returncode}"
    return "failed", f"exit code {returncode}"


def _run_job(job: Job, period: str, execute: Callable[[Job, str], int], reports_root: Path) -> JobOutcome:
    start = time.monotonic()
    returncode: int | None = None
    try:
        returncode = execute(job, period)
        status, message = _status(returncode)
    except JobTimeout as exc:
        status, message = "timeout", str(exc)
    except Exception as exc:  # one broken job must not stop the others; it is reported and retried
        status, message = "error", f"{type(exc).__name__}: {exc}"
    if status == "ok" and latest_good(reports_root, job.name, period) is None:
        status, message = "failed", "exited 0 but recorded no run with status ok"
    return JobOutcome(job.name, period, status, returncode, round(time.monotonic() - start, 3), message)


def _project_dir(folder: Path) -> Path:
    """The report project (:func:`evalkit.report.project.find_project`) at or above ``folder``, else ``folder``."""
    from evalkit.report.project import find_project

    return find_project(folder) or folder


def run_due(schedule_path: str | Path, *, reports_root: str | Path | None = None,
            now: dt.datetime | dt.date | None = None, execute: Callable[[Job, str], int] | None = None,
            lock_path: str | Path | None = None, echo: Callable[[str], None] | None = None) -> list[JobOutcome]:
    """Run every due job of the schedule once, one after another; return their outcomes.

    ``reports_root`` defaults to ``reports/`` next to the schedule file.
    ``execute(job, period) -> exit code`` runs one job (default: :class:`SubprocessExecutor`
    running ``evalkit report run`` in the project folder at or above the schedule file). Jobs that are not due,
    or whose period is being run by another process right now, are skipped (and not in the
    result). The index is regenerated after each job. Raises :class:`RunDueBusy` when another
    run-due holds the lock and :class:`ParameterError` for an invalid schedule.
    """
    echo = echo or functools.partial(print, flush=True)
    schedule = load_schedule(schedule_path)
    root = Path(reports_root or schedule.path.parent / "reports").resolve()
    execute = execute or SubprocessExecutor(root, cwd=_project_dir(schedule.path.parent))
    outcomes: list[JobOutcome] = []
    with run_lock(lock_path or root / LOCK_NAME), _sigterm_as_exit():
        for job in schedule.jobs:
            occurrence = latest_due(job, now)
            if occurrence is None:
                echo(f"run-due: {job.name}: no occurrence yet (starts {job.start.isoformat()})")
                continue
            period = occurrence.isoformat()
            good = latest_good(root, job.name, period)
            if good is not None:
                echo(f"run-due: {job.name} {period}: done (ok run {good.get('run_id')})")
                continue
            running = _running_elsewhere(job, period, root)
            if running is not None:
                echo(f"run-due: {job.name} {period}: skipped, run {running.get('run_id')} is still running")
                continue
            echo(f"run-due: {job.name} {period}: running template {job.template} "
                 f"(timeout {job.timeout_minutes:g} min)")
            outcome = _run_job(job, period, execute, root)
            outcomes.append(outcome)
            detail = f"; {outcome.message}" if outcome.message else ""
            echo(f"run-due: {job.name} {period}: {outcome.status} in {outcome.seconds:.1f} s "
                 f"(exit {outcome.returncode}){detail}")
            try:
                write_index(root)
            except OSError as exc:
                echo(f"run-due: could not write the index: {exc}")
    if not outcomes:
        echo("run-due: nothing due")
    return outcomes


def exit_code(outcomes: Sequence[JobOutcome]) -> int:
    """CLI exit code for ``run-due``: 0 all ok or nothing due, 3 worst is needs_review, 1 otherwise."""
    statuses = {o.status for o in outcomes}
    if statuses <= {"ok"}:
        return 0
    return 3 if statuses <= {"ok", "needs_review"} else 1
