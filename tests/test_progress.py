"""Progress: a notebook bar in an interactive kernel, the console elsewhere, nothing in a report run's notebook."""
import io
import sys
import types

import pytest

from evalkit import progress, seal


def test_step_and_bar_write_to_stderr_outside_a_kernel(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    with progress.step("demo step"):
        pass
    assert list(progress.bar(range(3), total=3, description="loop")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "[evalkit] demo step ..." in err and "[evalkit] demo step:" in err and "loop" in err


class _KernelStream(io.StringIO):
    """Stands in for ipykernel's OutStream (a cell's captured stderr)."""


_KernelStream.__module__ = "ipykernel.iostream"


def test_a_script_that_imported_ipykernel_still_shows_progress(monkeypatch, capsys):
    """ipykernel in sys.modules (another library imported it) does not make a script a kernel."""
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    monkeypatch.delenv(progress.ENV, raising=False)
    assert list(progress.bar([1, 2], description="shown")) == [1, 2]
    assert "shown" in capsys.readouterr().err


def test_silenced_inside_a_kernel_without_console(monkeypatch):
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    monkeypatch.setattr(sys, "stderr", _KernelStream())        # a kernel's captured stream without the fd copy
    with progress.step("hidden"):
        pass
    assert list(progress.bar([1, 2], description="x")) == [1, 2]
    assert sys.stderr.getvalue() == ""


# ----------------------------------------------------------------------------- where progress goes (issue 16)
@pytest.fixture
def kernel(monkeypatch):
    """Pretend to be an interactive Jupyter kernel (ipykernel loaded, a shell with a kernel)."""
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    seal._init()
    monkeypatch.setitem(seal._STATE, "report_run", False)

    def cell_stderr() -> io.StringIO:
        """The cell's captured stderr (no console copy); set in the test (pytest resets sys.stderr per phase)."""
        notebook = _KernelStream()
        monkeypatch.setattr(sys, "stderr", notebook)
        return notebook
    return cell_stderr


def test_interactive_kernel_shows_a_notebook_bar(kernel, monkeypatch):
    import tqdm.notebook

    kernel = kernel()
    assert progress.destination() == "notebook"
    monkeypatch.setattr(tqdm.notebook, "IProgress", None)  # no ipywidgets: tqdm.auto's text bar in the cell
    assert list(progress.bar(range(3), total=3, description="placebos")) == [0, 1, 2]
    assert "placebos" in kernel.getvalue() and "3/3" in kernel.getvalue()
    monkeypatch.setattr(tqdm.notebook, "IProgress", object)  # with ipywidgets: the widget bar
    assert progress._notebook_tqdm() is tqdm.notebook.tqdm


def test_report_run_shows_nothing_in_the_notebook(kernel, monkeypatch, capsys):
    kernel = kernel()
    monkeypatch.setitem(seal._STATE, "report_run", True)
    assert progress.destination() == "off"  # no console copy: silenced rather than leaked
    assert list(progress.bar(range(3), description="x")) == [0, 1, 2]
    with progress.step("hidden"):
        progress.logger("simulate")("stage")
    console = io.StringIO()
    monkeypatch.setattr(progress, "_CONSOLE", [console])
    assert progress.destination() == "console"
    list(progress.bar(range(3), total=3, description="draws"))
    progress.logger("simulate")("people")
    assert kernel.getvalue() == "" and capsys.readouterr().out == ""
    assert "draws" in console.getvalue() and "[simulate" in console.getvalue()


# an unknown value is a ParameterError naming the variable (tests/test_lang_breakit3.py), no longer ignored
@pytest.mark.parametrize(("value", "expected"), [("off", "off"), ("console", "off"), ("notebook", "notebook"),
                                                 (" Notebook ", "notebook")])
def test_environment_variable_overrides(kernel, monkeypatch, value, expected):
    kernel()  # the cell's captured stderr, without a console copy
    monkeypatch.setenv(progress.ENV, value)
    assert progress.destination() == expected


def test_the_runner_key_is_not_consumed(monkeypatch):
    monkeypatch.setattr(seal, "_STATE", {})
    monkeypatch.setenv(seal.KEY_ENV, "k")
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert progress.destination() == "console"
    assert seal.known_report_run() and seal.KEY_ENV in __import__("os").environ and seal._STATE == {}


def test_logger_lines_on_the_console_one_status_in_a_notebook(kernel, monkeypatch, capsys):
    import tqdm.notebook

    kernel = kernel()
    monkeypatch.setattr(tqdm.notebook, "IProgress", None)
    log = progress.logger("simulate")
    log("people"), log("registers")
    text = kernel.getvalue()
    assert "registers" in text and "\n" not in text.strip()  # one status line, rewritten (\r), not a list
    assert progress.logger("simulate", enabled=False)("x") is None
    monkeypatch.delitem(sys.modules, "ipykernel")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a script's stderr
    console = progress.logger("simulate")
    monkeypatch.setattr(progress, "_CONSOLE", [])
    console("people")
    assert "] people" in sys.stderr.getvalue()


def test_with_inference_wild_shows_progress(monkeypatch, capsys):
    """Issue 16 review: ``with_inference(..., "wild", progress=True)`` showed nothing."""
    import numpy as np
    import pandas as pd

    import evalkit as ek

    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delenv(progress.ENV, raising=False)
    rng = np.random.default_rng(0)
    unit, year = np.repeat(np.arange(12), 6), np.tile(np.arange(2010, 2016), 12)
    d = ((unit < 4) & (year >= 2013)).astype(int)
    panel = pd.DataFrame({"unit": unit, "year": year, "D": d, "y": 0.5 * d + rng.normal(size=unit.size)})
    res = ek.twfe(panel, outcome="y", unit="unit", time="year", treatment="D", cluster="unit")
    capsys.readouterr()
    res.with_inference("wild", panel, draws=99, seed=1, progress=True)
    assert "wild bootstrap" in capsys.readouterr().err
    res.with_inference("wild", panel, draws=99, seed=1)
    assert "wild bootstrap" not in capsys.readouterr().err


def test_joint_wild_bootstrap_shows_progress(monkeypatch, capsys):
    from evalkit.domain.subgroup_joint import joint_equality_test
    from tests import subgroup_sim as G

    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delenv(progress.ENV, raising=False)
    joint_equality_test(G.cells(1, n_areas=12), ["a", "b"], method="wild", draws=99, seed=1, progress=True)
    assert "joint wild bootstrap" in capsys.readouterr().err


def test_counted_bar_counts_units_not_chunks(monkeypatch, capsys):
    """Issue 16 review: the MDE bar said "9 effect sizes x 200 reps" and counted 0/72 (chunks)."""
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delenv(progress.ENV, raising=False)
    chunks = [range(0, 25), range(25, 50), range(50, 60)]
    assert list(progress.counted(chunks, len, total=60, description="reps")) == chunks
    err = capsys.readouterr().err
    assert "60/60" in err and "3/3" not in err
    assert list(progress.counted(chunks, len, total=60, enabled=False)) == chunks
    assert capsys.readouterr().err == ""


def test_duckdb_draws_no_progress_widget_of_its_own():
    """With ipywidgets installed DuckDB drew its progress bar as a widget into the report notebook
    (the display gate withheld the run, needs_review); every evalkit connection turns it off."""
    from evalkit.data.io import connect

    con = connect()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False
