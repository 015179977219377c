"""In a fresh kernel run by nbclient (as JupyterLab runs one): a plot as the last line is an image, and a
long loop shows progress in the cell's outputs; under the report runner's setting it shows nothing."""
from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from evalkit.progress import ENV
from evalkit.report.runner import current_kernel

SETUP = """
import pandas as pd
from evalkit.results.result import InferenceInfo, Result
table = pd.DataFrame({"term": [f"e{e}" for e in range(-3, 4)], "estimate": 0.01, "std_error": 0.01,
                      "event_time": list(range(-3, 4)), "n_treated": 20})
res = Result("event_study", "ATT", table, None, 0.05, InferenceInfo("cr1"), 100, "employment_rate",
             meta={"unit": "OMR_ID"})
"""
LOOP = """
from evalkit.progress import bar
total = 0
for i in bar(range(50), total=50, description="placebo draws"):
    total += i
"""


def _run(env_value: str | None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("res.plot()"),
                nbformat.v4.new_code_cell(LOOP)]
    old = os.environ.get(ENV)
    if env_value is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = env_value
    try:
        with current_kernel() as kernel:
            NotebookClient(nb, kernel_name=kernel, timeout=120).execute()
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
    return nb


@pytest.mark.parametrize("env_value", [None, "console"])
def test_fresh_kernel(env_value):
    nb = _run(env_value)
    (plot,) = nb.cells[1].outputs
    assert plot.output_type == "execute_result" and "image/png" in plot.data  # no pyplot, no magic
    shown = str(nb.cells[2].outputs)
    if env_value is None:  # interactive: a widget or tqdm's text bar in the cell
        assert "placebo draws" in shown or "application/vnd.jupyter.widget-view+json" in shown
    else:  # the report runner's setting: nothing in the notebook
        assert nb.cells[2].outputs == []
