"""Report layer: parameters, the Study orchestrator used by the notebook templates, runs.

In a report run only outputs sealed by evalkit reach the HTML (``docs/disclosure.md``):
show tables with :func:`tabulate` / :func:`safe_table`, results and figures through the
library, and anything else through :func:`release` with a reason for the reviewer.
"""
from evalkit.report.disclosure import count_persons, safe_table
from evalkit.report.sdc import tabulate
from evalkit.report.guard import install_display_guard
from evalkit.report.params import PARAMS, describe, load_params, validate_params
from evalkit.report.outputs import release
from evalkit.report.runner import ReportRun, render_html, run_report
from evalkit.report.study import Study

__all__ = ["PARAMS", "ReportRun", "Study", "count_persons", "describe", "install_display_guard", "load_params",
           "release", "render_html", "run_report", "safe_table", "tabulate", "validate_params"]
