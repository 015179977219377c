"""Command line: ``evalkit init``, ``evalkit simulate``, ``evalkit report run|run-due|params``,
``evalkit lists compute``.

A user error (a bad argument, a missing or unreadable file, a parameter file with wrong values,
data that cannot be used) never prints a traceback: evalkit writes ONE line to stderr naming the
problem and exits with code 2. Arguments are checked before any long work starts. Warnings are
printed as one line each (``evalkit: warning: ...``).
"""
from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
import warnings
from pathlib import Path

from evalkit._version import __version__
from evalkit.errors import EvalkitError, ParameterError

#: exit code of every user error (argparse's own convention)
USAGE_EXIT = 2
TABLE_SUFFIXES = (".csv", ".parquet")
YEARS = (1900, 2100)
MAX_SEED = 2 ** 63 - 1
#: shown by --help (plain text: the module docstring's reST markup does not belong in a terminal)
DESCRIPTION = ("evalkit: set up a report project, simulate register data, compute the area lists, and run or "
               "schedule the evaluation report templates. Commands: init, simulate, report run | run-due | params, "
               "lists compute.")


class UsageError(Exception):
    """A command-line argument argparse refused; ``prog`` names the (sub)command."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse without the usage block on errors: the error becomes one line (see :func:`main`)."""

    def error(self, message: str):
        raise UsageError(self.prog, f"{message} (see {self.prog} --help)")


# ----------------------------------------------------------------- argument checks
def _init(args: argparse.Namespace) -> int:
    from evalkit.report.project import init_project

    if not args.dir.strip():
        raise ParameterError(f"DIR={args.dir!r}: give a folder name.")
    written = init_project(args.dir)
    where = Path(args.dir)
    print(f"created the report project {where} ({len(written)} files): notebooks/, params/, reports.yaml, data/, "
          "reports/\nnext:\n"
          f"  cd {where}\n"
          "  evalkit simulate --out data/demo --size small\n"
          "  evalkit report run midterm --params params/outreach_midterm.yaml")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from evalkit.data.simulate import is_current, simulate

    _check_seed(args.seed)
    _check_out_dir("--out", args.out)
    if not args.quiet:  # a bad EVALKIT_PROGRESS is one line before any work
        from evalkit.progress import env_mode

        env_mode()
    if args.if_needed and is_current(args.out, seed=args.seed, size=args.size):
        print(f"{args.out} already holds current {args.size} data for seed {args.seed}; nothing to do")
        return 0
    start = time.perf_counter()
    out = simulate(args.out, seed=args.seed, size=args.size, progress=not args.quiet)
    print(f"simulated {args.size} data (seed {args.seed}) in {time.perf_counter() - start:.1f} s: {out}")
    return 0


def _check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"--seed={seed}: write a whole number in 0-{MAX_SEED}.")


def _check_out_dir(flag: str, value: str) -> None:
    """An output folder: not an existing file, and not below a file."""
    path = Path(value)
    if not value.strip():
        raise ParameterError(f"{flag}={value!r}: give a folder name.")
    if path.exists() and not path.is_dir():
        raise ParameterError(f"{flag}={value!r} is an existing file; give a folder.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ParameterError(f"{flag}={value!r}: {str(parent)!r} is a file, not a folder.")
            break


def _check_in_file(flag: str, value: str | None, what: str) -> None:
    """An input file that exists and is a file (not a folder)."""
    if value is None:
        return
    path = Path(value)
    if not path.exists():
        raise ParameterError(f"{flag}={value!r} does not exist ({what}).")
    if not path.is_file():
        raise ParameterError(f"{flag}={value!r} is a folder, not a file ({what}).")


def _check_table_out(flag: str, value: str | None) -> None:
    """An output table: .csv or .parquet, not a folder, its folder not a file."""
    if value is None:
        return
    path = Path(value)
    if path.is_dir():
        raise ParameterError(f"{flag}={value!r} is a folder; give a file name ending in .csv or .parquet.")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError(f"{flag}={value!r}: write a .csv or .parquet file.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ParameterError(f"{flag}={value!r}: {str(parent)!r} is a file, not a folder.")
            break


def _report_run(args: argparse.Namespace) -> int:
    from evalkit.report.postrun import log_lines
    from evalkit.report.runner import run_report

    from evalkit.progress import env_mode

    env_mode()  # a bad EVALKIT_PROGRESS is one line now, not a failed notebook later
    if args.pdf:  # before anything runs: a missing browser (or a bad EVALKIT_PDF_TIMEOUT) is found now
        from evalkit.report.pdf import require_chromium, timeout_seconds

        timeout_seconds()
        require_chromium()
    _check_in_file("--params", args.params, "a YAML parameter file")
    _check_in_file("--notebook", None if args.notebook is None else str(args.notebook), "a copy of a template notebook")
    if args.reports_root is not None and args.reports_root.exists() and not args.reports_root.is_dir():
        raise ParameterError(f"--reports-root={str(args.reports_root)!r} is a file; give a folder.")
    start = time.perf_counter()
    run = run_report(args.template, Path(args.params), report=args.report, period=args.period,
                     reports_root=args.reports_root, progress=not args.quiet, notebook=args.notebook,
                     pdf=args.pdf)
    took = f"{time.perf_counter() - start:.1f} s"
    if run.status == "ok":
        print(f"{args.template} report rendered in {took}: {run.html}" + (f"\nPDF: {run.pdf}" if run.pdf else ""))
        if args.pdf and run.pdf is None:
            print(f"evalkit: error: --pdf: the PDF was not printed: {one_line(run.manifest['pdf']['error'])}",
                  file=sys.stderr)
            return 1
        return run.exit_code
    # the run log's lines: cell numbers and kinds only, never an output's or an error's content
    head = {"needs_review": "NEEDS REVIEW (outputs withheld)", "failed": "FAILED"}[run.status]
    print(f"{args.template} report {head} after {took}; see {run.run_dir / 'run.log'}", file=sys.stderr)
    for line in log_lines(run.manifest)[2:12]:
        print(f"  {line}", file=sys.stderr)
    return run.exit_code


def _report_run_due(args: argparse.Namespace) -> int:
    from evalkit.report.schedule import RunDueBusy, exit_code, run_due

    _check_in_file("--schedule", args.schedule, "the schedule file")
    if args.reports_root is not None and args.reports_root.exists() and not args.reports_root.is_dir():
        raise ParameterError(f"--reports-root={str(args.reports_root)!r} is a file; give a folder.")
    try:
        outcomes = run_due(Path(args.schedule), reports_root=args.reports_root)
    except RunDueBusy as busy:  # another run-due holds the lock: not an error for cron
        print(f"evalkit: {busy}")
        return 0
    return exit_code(outcomes)


def _report_params(args: argparse.Namespace) -> int:
    from evalkit.report.params import describe

    print(f"Parameters of the {args.template} template (YAML file of name: value):\n{describe()}")
    return 0


def _write_table(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ParameterError(f"{str(path)!r}: write .csv or .parquet.")


_PART = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")


def _list_years(text: str | None) -> list[int] | None:
    """``2018-2024`` or ``2019,2021`` (or both: ``2013,2018-2020``) -> sorted list years; None when not given."""
    if text is None:
        return None
    hint = "write e.g. 2018-2024 or 2019,2021"
    if not text.strip():
        raise ParameterError(f"--list-years={text!r} is empty; {hint} (or leave it out for every year the data allow).")
    years: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part)
        if not match:
            raise ParameterError(f"--list-years={text!r}: cannot read {part.strip()!r}; {hint}.")
        lo = int(match.group(1))
        hi = int(match.group(2) or lo)
        if hi < lo:
            raise ParameterError(f"--list-years={text!r}: the range {lo}-{hi} runs backwards; write {hi}-{lo}.")
        for year in (lo, hi):
            if not YEARS[0] <= year <= YEARS[1]:
                raise ParameterError(f"--list-years={text!r}: {year} is not a year in {YEARS[0]}-{YEARS[1]}.")
        years.update(range(lo, hi + 1))
    return sorted(years)


def _lists_compute(args: argparse.Namespace) -> int:
    from evalkit.domain import (
        REGIMES,
        ListRules,
        area_indicators,
        compute_lists,
        load_register_config,
        load_thresholds,
    )
    from evalkit.domain.indicators import check_engine_options
    from evalkit.errors import check_choice

    # every argument is checked before the register scan
    start = time.perf_counter()
    check_choice("--regime", args.regime, ["auto", *REGIMES])
    list_years = _list_years(args.list_years)
    if not Path(args.data).exists():
        raise ParameterError(f"--data={args.data!r} does not exist (a register folder or file).")
    _check_table_out("--out", args.out)
    for flag, value in (("--criteria", args.criteria), ("--status", args.status), ("--indicators", args.indicators)):
        _check_table_out(flag, value)
    _check_in_file("--config", args.config, "a YAML register configuration")
    _check_in_file("--thresholds", args.thresholds, "a criteria CSV")
    check_engine_options(args.memory_limit, args.threads)
    rules = ListRules(unknown_education=args.unknown_education, hard_years_2018=args.hard_years_2018)
    config = load_register_config(args.config)
    thresholds = load_thresholds(args.thresholds)
    ind = area_indicators(args.data, config=config, memory_limit=args.memory_limit, threads=args.threads)
    res = compute_lists(ind, list_years=list_years, regime=args.regime, rules=rules, thresholds=thresholds)
    out = Path(args.out)
    _write_table(res.history, out)
    for extra, frame in ((args.criteria, res.criteria), (args.status, res.status), (args.indicators, ind.area_years)):
        if extra:
            _write_table(frame, Path(extra))
    print(f"lists {min(res.params['list_years'])}-{max(res.params['list_years'])} in "
          f"{time.perf_counter() - start:.1f} s -> {out}\n{res.counts().to_string()}")
    return 0


# ----------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evalkit", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create a report project folder: notebooks, example parameters, "
                          "reports.yaml, data/ and reports/",
                          description="Create a report project in DIR (new, or an empty folder): editable copies "
                          "of the report templates (notebooks/), example parameter files (params/), the schedule "
                          "reports.yaml, and data/ and reports/ with a README each.")
    init.add_argument("dir", metavar="DIR", help="the project folder to create")
    init.set_defaults(func=_init)
    sim = sub.add_parser("simulate", help="write simulated register microdata with known effects")
    sim.add_argument("--out", required=True, help="output folder")
    sim.add_argument("--seed", type=int, default=2024, help="whole number >= 0 (default 2024)")
    sim.add_argument("--size", choices=["small", "medium", "national"], default="small",
                     help="comparison population outside the areas: small (40,000 persons, a quick demo), medium "
                          "(400,000) or national (5.5 million, streamed in chunks); default small")
    sim.add_argument("--quiet", action="store_true", help="no progress output")
    sim.add_argument("--if-needed", action="store_true",
                     help="skip when OUT already holds this generator version's data for the same seed and size")
    sim.set_defaults(func=_simulate)
    report = sub.add_parser("report", help="run or document report templates")
    rsub = report.add_subparsers(dest="action", required=True)
    run = rsub.add_parser("run", help="execute a template and render HTML under reports/")
    run.add_argument("template", choices=["midterm", "final"], help="report template: midterm or final")
    run.add_argument("--params", required=True, help="YAML parameter file")
    run.add_argument("--report", help="report name (run folder); default: the parameter file's name")
    run.add_argument("--period", help="reporting period label (run folder); default: today's UTC date")
    run.add_argument("--reports-root", type=Path, help="where run folders and index.html go; default: reports/")
    run.add_argument("--notebook", type=Path, help="run this copy of the template instead of notebooks/<template>.ipynb")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--pdf", action="store_true",
                     help="also print the checked HTML to PDF with headless Chromium or Chrome (install it with the "
                          "system's package manager, e.g. apt-get install chromium; or set EVALKIT_CHROMIUM to "
                          "the browser's path)")
    run.set_defaults(func=_report_run)
    due = rsub.add_parser("run-due", help="run the scheduled reports that are due and not yet done")
    due.add_argument("--schedule", default="reports.yaml", help="schedule file (default: reports.yaml)")
    due.add_argument("--reports-root", type=Path, default=None,
                     help="default: reports/ beside the schedule file")
    due.set_defaults(func=_report_run_due)
    doc = rsub.add_parser("params", help="document a template's parameters")
    doc.add_argument("template", choices=["midterm", "final"], help="report template: midterm or final")
    doc.set_defaults(func=_report_params)
    _add_lists(sub)
    return parser


def _add_lists(sub) -> None:
    lists = sub.add_parser("lists", help="official area indicators and the 1 December lists by regime")
    lsub = lists.add_subparsers(dest="action", required=True)
    comp = lsub.add_parser("compute", help="compute the lists (history: list_year, regime, OMR_ID, category)")
    comp.add_argument("--data", required=True, help="register folder (data-contract layout or yearly files)")
    comp.add_argument("--out", required=True, help="list history, .csv or .parquet")
    comp.add_argument("--regime", default="auto", help="auto (the regime in force each year), 2010, 2013, 2018 or 2021")
    comp.add_argument("--config", help="YAML mapping of register variables to your column names "
                      "(and, optionally, separate registers; see 'Data contract' in the evalkit documentation)")
    comp.add_argument("--list-years", help="e.g. 2018-2024 or 2019,2021 (default: all the data allow)")
    comp.add_argument("--thresholds", help="own criteria CSV (default: the packaged one)")
    comp.add_argument("--unknown-education", default="basic", help="K3 from 2018: basic, excluded or not_basic")
    comp.add_argument("--hard-years-2018", type=int, default=5, help="lists as ghetto for hård ghetto, 2018 regime")
    comp.add_argument("--criteria", help="also write criteria with distances to thresholds (.csv/.parquet)")
    comp.add_argument("--status", help="also write the area x list-year status table")
    comp.add_argument("--indicators", help="also write the area x year indicators")
    comp.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 6GB")
    comp.add_argument("--threads", type=int, default=None, help="DuckDB threads (>= 1)")
    comp.set_defaults(func=_lists_compute)


# ----------------------------------------------------------------- entry point
def one_line(text: object) -> str:
    """``text`` on one line (a message spread over lines, e.g. a YAML error, joined with spaces)."""
    return re.sub(r"\s*\n\s*", " ", str(text)).strip()


def _error(prog: str, message: object) -> int:
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    return USAGE_EXIT


@contextlib.contextmanager
def _one_line_warnings():
    """Warnings as ``evalkit: warning: <message>`` lines (no source line), for this call only."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"evalkit: warning: {one_line(message)}", file=file or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error, else the run's own code)."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _error(exc.prog, exc)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    try:
        with _one_line_warnings():
            return args.func(args)
    except EvalkitError as exc:
        return _error("evalkit", exc)
    except OSError as exc:  # a path the user gave: missing, unreadable, not writable, not a folder
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        return _error("evalkit", f"cannot use{where}: {exc.strerror or exc}.")
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
