"""In a fresh kernel run by nbclient (as JupyterLab runs one): ``ek.event_study(...).plot()`` as the last
line is an image, and a long task (``ek.honest_did(..., progress=True)``) shows progress in the cell's
outputs; under the report runner's setting it shows nothing."""
from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from evalkit.progress import ENV
from evalkit.report.runner import current_kernel

SETUP = """
import evalkit as ek
from evalkit.data.synthetic import staggered_panel
panel = staggered_panel(n_units=60, n_periods=10, seed=1)
"""
# the check: an estimator's plot as a cell's last line, nothing imported from matplotlib
PLOT = 'ek.event_study(panel, outcome="y", unit="unit", time="time", cohort="cohort", leads=3, lags=3).plot()'
# a real long task of the library with its progress switched on (HonestDiD over five Mbar values)
LOOP = """
es = ek.event_study(panel, outcome="y", unit="unit", time="time", cohort="cohort", leads=3, lags=3)
sens = ek.honest_did(es, Mbar=[0, 0.5, 1, 1.5, 2], grid_points=50, progress=True)
"""


def _run(env_value: str | None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(PLOT),
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
        assert "honest_did Mbar" in shown or "application/vnd.jupyter.widget-view+json" in shown
    else:  # the report runner's setting: nothing in the notebook
        assert nb.cells[2].outputs == []
