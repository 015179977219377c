"""Danish output and notebook UX found by an outside tester (second round): a Danish note for the
small-cohort warning, decimal commas in every Danish figure, a resampling p-value of 0 shown as
"< 1/(B+1)", ``with_inference`` on an unpickled result, the comparison's RTF export, runnable doc
snippets and progress bars in a terminal without a window size."""
from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalkit as ek
from evalkit.data.synthetic import staggered_panel
from evalkit.errors import EvalkitError, EvalkitWarning, ParameterError

ROOT = Path(__file__).resolve().parents[1]
DECIMAL_POINT = re.compile(r"\d\.\d")


@pytest.fixture(scope="module")
def panel():
    return staggered_panel(seed=1, n_clusters=12)


@pytest.fixture(scope="module")
def tw(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return ek.twfe(panel, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")


def _ticks(fig) -> list[str]:
    fig.canvas.draw()
    texts = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]
    return [t for t in texts if t]


def _legend(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def _assert_danish_ticks(fig, *, decimals: bool = False):
    """No tick label with a decimal point, and every default number axis formatted with the comma
    (:func:`evalkit.results.plot.decimal_comma`), also where this figure's ticks are whole numbers."""
    from matplotlib.ticker import ScalarFormatter

    ticks = _ticks(fig)
    assert ticks and not [t for t in ticks if DECIMAL_POINT.search(t)], ticks
    assert not [a for ax in fig.axes for a in (ax.xaxis, ax.yaxis) if type(a.get_major_formatter()) is ScalarFormatter]
    if decimals:
        assert any("," in t for t in ticks), ticks


# ------------------------------------------------------------------ A. small-cohort note in Danish
def test_small_cohort_warning_is_a_danish_note():
    from evalkit.estimators.staggered.cs import _warn_small_cohorts
    from evalkit.report.study import _estimator_note

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", EvalkitWarning)
        _warn_small_cohorts((np.array([2015, 2016]), np.array([0, 0, 0, 0, 1, 1, 1, 1])), 0)
    message = str(seen[0].message)
    da = _estimator_note(message, "da")
    assert da == ("Små kohorter (færre enheder end antal kovariater + 5; estimater og standardfejl er usikre): "
                  "kohorte 2015: 4 enhed(er), kohorte 2016: 4 enhed(er)")
    assert _estimator_note(message, "en") == message  # English unchanged
    assert _estimator_note("Mean 0.25 of 1,200 areas", "da") == "Mean 0,25 of 1.200 areas"


# ------------------------------------------------------------------ B. decimal commas in Danish figures
def test_goal_chart_has_danish_ticks():
    from evalkit.domain.goals import goal_chart

    table = pd.DataFrame({"goal": ["Beskæftigelse", "Domme"], "target_group": ["18-64 år", "18+ år"],
                          "status": ["achieved", "on_track"], "progress": [1.1, 0.4], "year": [2022, 2022],
                          "target_year": [2022, 2026], "path": [0.5, 0.045], "baseline_value": [0.4, 0.05],
                          "target_value": [0.5, 0.03]})
    _assert_danish_ticks(goal_chart(table, lang="da"), decimals=True)
    assert any("." in t for t in _ticks(goal_chart(table, lang="en")))


def test_honest_did_figure_is_danish(panel):
    es = ek.event_study(panel, outcome="y", unit="unit", time="time", cohort="cohort", leads=3, lags=3,
                        cluster="cluster")
    sens = ek.honest_did(es, method="relative_magnitudes", Mbar=[0, 1, 2, 3, 4, 6, 8])
    fig = sens.plot(lang="da")
    _assert_danish_ticks(fig)
    assert "parallelle forløb" in fig.axes[0].get_title()
    legend = _legend(fig)
    assert not [t for t in legend if DECIMAL_POINT.search(t)], legend
    assert np.isfinite(sens.breakdown) and not float(sens.breakdown).is_integer()
    assert [t for t in legend if t.startswith("Nedbrudsværdi = ") and "," in t], legend
    assert [t for t in _legend(sens.plot(lang="en")) if t.startswith("Breakdown value = ") and "." in t]


def test_synth_and_sdid_figures_have_danish_ticks():
    from tests.test_sdid import simulate as sdid_data
    from tests.test_synth import ARGS, simulate as synth_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sc = ek.synth(synth_data(), treated="T0", placebo=True, **ARGS)
    for kind in ("paths", "gap", "placebo"):
        _assert_danish_ticks(ek.synth_plot(sc, kind=kind, lang="da"))
    sd = ek.sdid(sdid_data(), outcome="y", unit="area", time="year", treatment="d", se=None)
    for kind in ("paths", "weights"):
        _assert_danish_ticks(ek.sdid_plot(sd, kind=kind, lang="da"))


# ------------------------------------------------------------------ C. p = 0 from resampling
def test_summary_shows_a_resampling_p_of_zero_as_a_bound(tw, panel):
    wild = tw.with_inference("wild", panel, seed=1, draws=99)
    assert wild.table["p_value"].iloc[0] == 0  # the table keeps the number
    row = wild.summary().splitlines()[-1]
    assert "< 0.01" in row  # 1/(99+1)
    assert "&lt; 0.01" in wild._repr_html_()
    assert "<" not in tw.summary().splitlines()[-1]  # CR1: no draws, unchanged


# ------------------------------------------------------------------ D. with_inference after unpickling
def test_with_inference_on_an_unpickled_result_in_a_fresh_session(tw, tmp_path):
    path = tmp_path / "tw.pkl"
    path.write_bytes(pickle.dumps(tw))
    code = ("import pickle, sys\nimport evalkit as ek\nfrom evalkit.data.synthetic import staggered_panel\n"
            f"tw = pickle.loads(open({str(path)!r}, 'rb').read())\n"
            "assert 'evalkit.estimators.postfit' not in sys.modules\n"
            "print(tw.with_inference('cr2', staggered_panel(seed=1, n_clusters=12)).inference.method)\n")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "EVALKIT_PROGRESS": "off"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "cr2"


# ------------------------------------------------------------------ E. comparison export
def test_to_rtf_checks_the_path_and_returns_it(tw, tmp_path):
    cmp = ek.compare([tw], names=["TWFE"])
    with pytest.raises(ParameterError, match=r"'\.docx'.*'\.rtf'"):
        cmp.to_rtf(tmp_path / "table.docx")
    assert not (tmp_path / "table.docx").exists()
    with pytest.raises(EvalkitError, match="does not exist") as err:
        cmp.to_rtf(tmp_path / "missing" / "table.rtf")
    assert "\n" not in str(err.value)
    target = tmp_path / "table.RTF"
    assert cmp.to_rtf(target) == target
    assert target.read_text(encoding="ascii") == cmp.to_rtf()
    assert cmp.to_rtf().startswith(r"{\rtf1")


# ------------------------------------------------------------------ F. doc snippets run as written
@pytest.mark.parametrize("page", ["conley_taber_ferman_pinto.md", "disclosure.md"])
def test_doc_snippets_run_as_written(page, monkeypatch):
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / page).read_text(encoding="utf-8"), re.S | re.M)
    assert blocks
    monkeypatch.chdir(ROOT)  # the snippets read data/demo (conftest.py makes it)
    monkeypatch.setenv("EVALKIT_PROGRESS", "off")
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        for block in blocks:
            exec(compile(block, f"docs/{page}", "exec"), namespace)  # noqa: S102


# ------------------------------------------------------------------ G. progress where someone watches
def test_bar_shows_in_a_terminal_without_a_window_size(monkeypatch):
    from evalkit import progress

    master, slave = os.openpty()  # a new pty reports 0 x 0, like `script -qc ... /dev/null`
    try:
        assert os.get_terminal_size(slave) == (0, 0)
        stream = open(slave, "w", closefd=False, encoding="utf-8")  # noqa: SIM115
        monkeypatch.setattr(progress, "_CONSOLE", [stream])
        monkeypatch.setenv(progress.ENV, "console")
        list(progress.bar(range(3), total=3, description="pty test"))
        stream.flush()
        shown = os.read(master, 65536).decode("utf-8", "replace")
    finally:
        os.close(master)
        os.close(slave)
    assert "[evalkit] pty test" in shown and "3/3" in shown, repr(shown)


def test_bar_in_a_file_is_one_line(monkeypatch, tmp_path):
    from evalkit import progress

    with open(tmp_path / "log.txt", "w", encoding="utf-8") as stream:
        monkeypatch.setattr(progress, "_CONSOLE", [stream])
        monkeypatch.setenv(progress.ENV, "console")
        list(progress.bar(range(200), total=200, description="file test"))
    text = (tmp_path / "log.txt").read_bytes().decode("utf-8")
    assert text.count("\n") == 1 and text.count("\r") <= 3 and "200/200" in text, repr(text)


def test_papermill_bar_only_where_someone_watches(monkeypatch):
    from evalkit import progress

    class Pipe:
        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stderr", Pipe())
    assert progress.interactive() is False
    Pipe.isatty = lambda self: True
    assert progress.interactive() is True
    source = (ROOT / "evalkit" / "report" / "runner.py").read_text(encoding="utf-8")
    assert "progress_bar=progress and progress_env.interactive()" in source


def test_goal_chart_names_the_dotted_line_only_when_one_is_drawn():
    """Issue 16 review: at the target year no 'expected by now' line is drawn, yet the label named it."""
    from evalkit.domain.goals import goal_chart

    table = pd.DataFrame({"goal": ["Beskæftigelse"], "target_group": ["18-64 år"], "status": ["achieved"],
                          "progress": [1.1], "year": [2026], "target_year": [2026], "path": [0.5],
                          "baseline_value": [0.4], "target_value": [0.5]})
    final = goal_chart(table, lang="da").axes[0]
    assert "prikket" not in final.get_xlabel() and not [ln for ln in final.get_lines() if ln.get_linestyle() == ":"]
    midterm = goal_chart(table.assign(year=2022), lang="en").axes[0]
    assert "dotted: expected by now" in midterm.get_xlabel()
    assert [ln for ln in midterm.get_lines() if ln.get_linestyle() == ":"]
