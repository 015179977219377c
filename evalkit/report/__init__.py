"""Report layer: parameters, the Study orchestrator used by the notebook templates, runs."""
from evalkit.report.guard import install_display_guard
from evalkit.report.params import PARAMS, describe, load_params, validate_params
from evalkit.report.runner import ReportRun, render_html, run_report
from evalkit.report.study import Study

__all__ = ["PARAMS", "ReportRun", "Study", "describe", "install_display_guard", "load_params",
           "render_html", "run_report", "validate_params"]
