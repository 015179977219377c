"""Command line: ``evalkit simulate``, ``evalkit report run|params``, ``evalkit lists compute``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from evalkit.errors import EvalkitError


def _simulate(args: argparse.Namespace) -> int:
    from evalkit.data.simulate import is_current, simulate

    if args.if_needed and is_current(args.out, seed=args.seed, size=args.size):
        print(f"{args.out} already holds current {args.size} data for seed {args.seed}; nothing to do")
        return 0
    start = time.perf_counter()
    out = simulate(args.out, seed=args.seed, size=args.size, progress=not args.quiet)
    print(f"simulated {args.size} data (seed {args.seed}) in {time.perf_counter() - start:.1f} s: {out}")
    return 0


def _report_run(args: argparse.Namespace) -> int:
    from evalkit.report.postrun import log_lines
    from evalkit.report.runner import run_report

    start = time.perf_counter()
    run = run_report(args.template, Path(args.params), report=args.report, period=args.period,
                     reports_root=args.reports_root, progress=not args.quiet, notebook=args.notebook)
    took = f"{time.perf_counter() - start:.1f} s"
    if run.status == "ok":
        print(f"{args.template} report rendered in {took}: {run.html}")
        return run.exit_code
    # the run log's lines: cell numbers and kinds only, never an output's or an error's content
    head = {"needs_review": "NEEDS REVIEW (outputs withheld)", "failed": "FAILED"}[run.status]
    print(f"{args.template} report {head} after {took}; see {run.run_dir / 'run.log'}", file=sys.stderr)
    for line in log_lines(run.manifest)[2:12]:
        print(f"  {line}", file=sys.stderr)
    return run.exit_code


def _report_run_due(args: argparse.Namespace) -> int:
    from evalkit.report.schedule import RunDueBusy, exit_code, run_due

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
    from evalkit.errors import ParameterError

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ParameterError(f"{str(path)!r}: write .csv or .parquet.")


def _list_years(text: str | None) -> list[int] | None:
    from evalkit.errors import ParameterError

    if not text:
        return None
    try:
        years: list[int] = []
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            years.extend(range(int(lo), int(hi or lo) + 1))
        return years
    except ValueError:
        raise ParameterError(f"--list-years={text!r}: write e.g. 2018-2024 or 2019,2021.") from None


def _lists_compute(args: argparse.Namespace) -> int:
    from evalkit.domain import REGIMES, ListRules, area_indicators, compute_lists
    from evalkit.errors import check_choice

    start = time.perf_counter()
    check_choice("regime", args.regime, ["auto", *REGIMES])  # before the register scan
    rules = ListRules(unknown_education=args.unknown_education, hard_years_2018=args.hard_years_2018)
    ind = area_indicators(args.data, config=args.config, memory_limit=args.memory_limit, threads=args.threads)
    res = compute_lists(ind, list_years=_list_years(args.list_years), regime=args.regime, rules=rules,
                        thresholds=args.thresholds)
    out = Path(args.out)
    _write_table(res.history, out)
    for extra, frame in ((args.criteria, res.criteria), (args.status, res.status), (args.indicators, ind.area_years)):
        if extra:
            _write_table(frame, Path(extra))
    print(f"lists {min(res.params['list_years'])}-{max(res.params['list_years'])} in "
          f"{time.perf_counter() - start:.1f} s -> {out}\n{res.counts().to_string()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="write simulated register microdata with known effects")
    sim.add_argument("--out", required=True, help="output folder")
    sim.add_argument("--seed", type=int, default=2024)
    sim.add_argument("--size", choices=["small", "medium", "national"], default="small")
    sim.add_argument("--quiet", action="store_true", help="no progress output")
    sim.add_argument("--if-needed", action="store_true",
                     help="skip when OUT already holds this generator version's data for the same seed and size")
    sim.set_defaults(func=_simulate)
    report = sub.add_parser("report", help="run or document report templates")
    rsub = report.add_subparsers(dest="action", required=True)
    run = rsub.add_parser("run", help="execute a template and render HTML under reports/")
    run.add_argument("template", choices=["midterm", "final"])
    run.add_argument("--params", required=True, help="YAML parameter file")
    run.add_argument("--report", help="report name (run folder); default: the parameter file's name")
    run.add_argument("--period", help="reporting period label (run folder); default: today's UTC date")
    run.add_argument("--reports-root", type=Path, help="where run folders and index.html go; default: reports/")
    run.add_argument("--notebook", type=Path, help="run this copy of the template instead of notebooks/<template>.ipynb")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_report_run)
    due = rsub.add_parser("run-due", help="run the scheduled reports that are due and not yet done")
    due.add_argument("--schedule", default="reports.yaml", help="schedule file (default: reports.yaml)")
    due.add_argument("--reports-root", type=Path, default=None,
                     help="default: reports/ beside the schedule file")
    due.set_defaults(func=_report_run_due)
    doc = rsub.add_parser("params", help="document a template's parameters")
    doc.add_argument("template", choices=["midterm", "final"])
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
                      "(and, optionally, separate registers: see docs/data_contract.md)")
    comp.add_argument("--list-years", help="e.g. 2018-2024 or 2019,2021 (default: all the data allow)")
    comp.add_argument("--thresholds", help="own criteria CSV (default: the packaged one)")
    comp.add_argument("--unknown-education", default="basic", help="K3 from 2018: basic, excluded or not_basic")
    comp.add_argument("--hard-years-2018", type=int, default=5, help="lists as ghetto for hård ghetto, 2018 regime")
    comp.add_argument("--criteria", help="also write criteria with distances to thresholds (.csv/.parquet)")
    comp.add_argument("--status", help="also write the area x list-year status table")
    comp.add_argument("--indicators", help="also write the area x year indicators")
    comp.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 6GB")
    comp.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    comp.set_defaults(func=_lists_compute)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EvalkitError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
