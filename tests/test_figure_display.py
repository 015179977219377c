"""evalkit's figures display in Jupyter as a cell's last line, without pyplot or a magic."""
from __future__ import annotations

import io
import pickle
import subprocess
import sys
import textwrap

import pandas as pd
from IPython.core.formatters import DisplayFormatter
from matplotlib.figure import Figure

from evalkit.estimators import _sdid_plot, _synth_plot
from evalkit.results.figure import NotebookFigure
from evalkit.results.result import InferenceInfo, Result

PNG = b"\x89PNG\r\n\x1a\n"


def _event_study() -> Result:
    table = pd.DataFrame({"term": [f"e{e}" for e in range(-3, 4)], "estimate": 0.01, "std_error": 0.01,
                          "event_time": list(range(-3, 4)), "n_treated": 20})
    return Result("event_study", "ATT", table, None, 0.05, InferenceInfo("cr1"), 100, "employment_rate",
                  meta={"unit": "OMR_ID"})


def test_result_plot_has_a_png_representation_and_stays_a_figure(tmp_path):
    fig = _event_study().plot(lang="da")
    assert isinstance(fig, Figure) and isinstance(fig, NotebookFigure) and len(fig.axes) == 1
    data, _ = DisplayFormatter().format(fig)
    assert data["image/png"].startswith(PNG) and "text/plain" in data
    fig.savefig(tmp_path / "f.svg")
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    again = pickle.loads(pickle.dumps(fig))
    assert isinstance(again, NotebookFigure) and len(again.axes) == 1


def test_estimator_plot_helpers_make_notebook_figures():
    assert isinstance(_synth_plot._axes(None).figure, NotebookFigure)
    assert isinstance(_sdid_plot._axes(None, (6, 4)).figure, NotebookFigure)
    empty = NotebookFigure()
    assert empty._repr_png_() is None  # nothing drawn: no blank image


def test_report_embedding_still_works():
    from evalkit.report.figures import figure_html

    html = figure_html(_event_study().plot(), alt="Event study")
    assert 'alt="Event study"' in html and "data:image/png;base64," in html


def test_fresh_interpreter_without_pyplot_gets_a_png():
    """The issue's case: a fresh shell, pyplot never imported, ``res.plot()`` as the last line."""
    code = textwrap.dedent("""
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        sys.path.insert(0, {tests!r})
        from test_figure_display import _event_study
        fig = _event_study().plot()
        data, _ = InteractiveShell.instance().display_formatter.format(fig)
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        print(sorted(data), data["image/png"][:8] == {png!r})
    """).format(tests=str(__import__("pathlib").Path(__file__).parent), png=PNG)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['image/png', 'text/plain'] True"


def test_png_is_readable_by_matplotlib():
    import matplotlib.image as mpimg

    image = mpimg.imread(io.BytesIO(_event_study().plot()._repr_png_()), format="png")
    assert image.shape[0] > 100 and image.shape[1] > 100


def test_axis_label_names_the_outcome_from_the_label_map():
    """Issue 16: "Estimeret effekt på employment_rate" showed the column name; the label map's Danish or
    English name is shown instead, and a column the map does not know keeps its name."""
    import evalkit as ek
    from evalkit.data.synthetic import staggered_panel

    panel = staggered_panel(seed=1).rename(columns={"y": "employment_rate"})
    res = ek.event_study(panel, outcome="employment_rate", unit="unit", time="time", cohort="cohort", leads=2, lags=2)
    assert res.plot(lang="da").axes[0].get_ylabel() == "Estimeret effekt på beskæftigelsesandel (18-64 år, fuldtidspersoner)"
    assert res.plot(lang="en").axes[0].get_ylabel() == "Estimated effect on employment rate (ages 18-64, full-time persons)"
    other = ek.event_study(staggered_panel(seed=1), outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=2)
    assert other.plot(lang="da").axes[0].get_ylabel() == "Estimeret effekt på y"
