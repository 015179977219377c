"""Report layer: parameters, the Study orchestrator used by the notebook templates, runs.

In a report run only outputs sealed by evalkit reach the HTML (``docs/disclosure.md``):
show tables with :func:`tabulate` / :func:`safe_table`, results and figures through the
library, and anything else through :func:`release` with a reason for the reviewer.

The public names load on first use (PEP 562): the notebook kernel (``import evalkit.report
as er``) never pays for the runner's papermill/nbformat/nbconvert stack, and the command line
never pays for the estimators it does not run.
"""
from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    "count_persons": "evalkit.report.disclosure",
    "safe_table": "evalkit.report.disclosure",
    "tabulate": "evalkit.report.sdc",
    "install_display_guard": "evalkit.report.guard",
    "PARAMS": "evalkit.report.params",
    "describe": "evalkit.report.params",
    "load_params": "evalkit.report.params",
    "validate_params": "evalkit.report.params",
    "release": "evalkit.report.outputs",
    "ReportRun": "evalkit.report.runner",
    "render_html": "evalkit.report.runner",
    "run_report": "evalkit.report.runner",
    "Study": "evalkit.report.study",
}

__all__ = ["PARAMS", "ReportRun", "Study", "count_persons", "describe", "install_display_guard", "load_params",
           "release", "render_html", "run_report", "safe_table", "tabulate", "validate_params"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        try:  # a submodule reached as an attribute (``evalkit.report.study``)
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
