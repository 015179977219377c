"""The release gate and the kernel-side renderers, unit by unit (no kernel, no papermill)."""
from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest
from IPython.display import HTML, Markdown
from matplotlib.figure import Figure

from evalkit import seal
from evalkit.errors import ParameterError
from evalkit.privacy import thin_person_rows
from evalkit.report import outputs as rel
from evalkit.report import textcheck
from evalkit.report.disclosure import DisclosureError
from evalkit.report.gate import gate_notebook, placeholder
from evalkit.report.params import validate_params
from evalkit.report.study import without_thin_area_years
from evalkit.results.result import InferenceInfo, Result

KEY = seal._init()["key"]


def _display(obj):
    data, meta = obj._repr_mimebundle_()
    return nbformat.v4.new_output("display_data", data=data, metadata=meta)


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for outputs in cells:
        nb.cells.append(nbformat.v4.new_code_cell("x", outputs=list(outputs)))
    return nb


# ----------------------------------------------------------------------------- the gate
def test_sealed_output_is_released():
    nb = _nb([_display(rel.markdown("## Design"))])
    out, report = gate_notebook(nb, KEY, set())
    assert report.ok and report.released == 1 and out.cells[0].outputs == nb.cells[0].outputs


@pytest.mark.parametrize("tamper", ["content", "added_mime", "other_key", "copied", "no_seal"])
def test_unsealed_or_tampered_output_is_withheld(tamper):
    output = _display(rel.markdown("Effect +1.2 pp"))
    key = KEY
    if tamper == "content":
        output["data"]["text/markdown"] += " ab12cd34ef56ab78"
    elif tamper == "added_mime":
        output["data"]["text/html"] = "<b>row</b>"
    elif tamper == "other_key":
        key = b"another run's key"
    elif tamper == "copied":
        output["data"] = {"text/plain": "CANARY", "text/markdown": "CANARY"}
    else:
        output["metadata"] = {}
    out, report = gate_notebook(_nb([output]), key, set())
    assert not report.ok and report.withheld[0].cell == 1
    shown = str(out.cells[0].outputs)
    assert "CANARY" not in shown and "ab12cd34ef56ab78" not in shown and "row" not in shown


def test_stream_released_only_when_every_line_is_in_the_ledger():
    text = "Estimator  twfe\nATT  0.012\n"
    ledger = {seal.line_mac(KEY, line) for line in text.splitlines()}
    known = nbformat.v4.new_output("stream", name="stdout", text=text)
    mixed = nbformat.v4.new_output("stream", name="stdout", text=text + "row ab12cd34ef56ab78\n")
    _, ok = gate_notebook(_nb([known]), KEY, ledger)
    out, bad = gate_notebook(_nb([mixed]), KEY, ledger)
    assert ok.ok and not bad.ok and bad.withheld[0].kind == "stream stdout"
    assert "ab12" not in str(out.cells[0].outputs)


def test_markdown_raw_cells_and_errors_are_withheld():
    nb = _nb([nbformat.v4.new_output("error", ename="ValueError", evalue="key ab12cd34ef56ab78", traceback=["tb"])])
    nb.cells.append(nbformat.v4.new_markdown_cell("person ab12cd34ef56ab78"))
    nb.cells.append(nbformat.v4.new_raw_cell("raw rows"))
    out, report = gate_notebook(nb, KEY, set())
    assert [(w.cell, w.kind) for w in report.withheld] == [(1, "error ValueError"), (2, "markdown cell"),
                                                          (3, "raw cell")]
    assert "ab12" not in str(out) and "raw rows" not in str(out)


def test_kinds_from_the_analyst_are_sanitised():
    odd = nbformat.v4.new_output("display_data", data={"text/3 persons <b>": "x"})
    _, report = gate_notebook(_nb([odd]), KEY, set())
    assert report.withheld[0].kind == "display_data (other)"
    assert "<" not in placeholder(1, report.withheld[0].kind)["data"]["text/plain"]


# ----------------------------------------------------------------------------- release()
def test_release_seals_prose_with_the_reason():
    sealed = rel.release(Markdown("Beboernes adresse og CPR number vises ikke; budget 1,105,000,000 kr. i 2019."),
                         reason="Context for the reviewer")
    data, meta = sealed._repr_mimebundle_()
    assert seal.verify(data, meta, KEY) == {"kind": "release", "reason": "Context for the reviewer"}


@pytest.mark.parametrize("obj", [pd.DataFrame({"a": [1]}), pd.Series([1]), np.arange(3), [1, 2], {"a": 1}])
def test_release_refuses_tables_and_containers(obj):
    with pytest.raises(DisclosureError, match="tabulate"):
        rel.release(obj, reason="because it is needed")


@pytest.mark.parametrize("text", ["3 persons were convicted", "n = 2", HTML("<table><tr><td>9</td></tr></table>")])
def test_release_refuses_small_numbers_and_tables(text):
    with pytest.raises(DisclosureError):
        rel.release(text, reason="because it is needed")


def test_release_refuses_keys_of_the_run_data(monkeypatch, tmp_path):
    (tmp_path / "people.csv").write_text("PERSON_ID,x\nab12cd34ef56ab78,1\nffee00112233aabb,2\n")
    monkeypatch.setenv(rel.DATA_DIR_ENV, str(tmp_path))
    textcheck._keys.cache_clear()
    try:
        for text in ("moved: AB12CD34EF56AB78", "id ab12cd34ef", "data version 3f2a9c1b7d4e5f60 is fine"):
            if "fine" in text:
                rel.release(text, reason="a version hash is not a key")
            else:
                with pytest.raises(DisclosureError, match="person key"):
                    rel.release(text, reason="because it is needed")
    finally:
        textcheck._keys.cache_clear()


def test_release_needs_a_reason_and_refuses_scatter_plots():
    with pytest.raises(ParameterError, match="reason"):
        rel.release("text", reason="")
    fig = Figure()
    fig.add_subplot().scatter([1, 2], [3, 4])
    with pytest.raises(DisclosureError, match="scatter"):
        rel.release(fig, reason="because it is needed")
    fig = Figure()
    fig.add_subplot().annotate("n=2", (0, 0))
    with pytest.raises(DisclosureError, match="whole number 2"):
        rel.release(fig, reason="because it is needed")


# ----------------------------------------------------------------------------- persons behind estimates
def _result(unit: str, n_treated: list[int]) -> Result:
    table = pd.DataFrame({"term": [f"e{i}" for i in range(len(n_treated))], "estimate": 0.1,
                          "std_error": 0.01, "n_treated": n_treated})
    vcov = pd.DataFrame(np.eye(len(n_treated)) * 1e-4, index=table["term"], columns=table["term"])
    return Result("event_study", "ATT", table, vcov, 0.05, InferenceInfo("cr1"), 100, "y", meta={"unit": unit})


def test_person_level_rows_below_threshold_are_blanked():
    shown, n = rel.person_safe(_result("PERSON_ID", [40, 3, 12]), 5)
    t = shown.tidy()
    assert n == 1 and np.isnan(t.loc[1, "estimate"]) and pd.isna(t.loc[1, "n_treated"])
    assert np.isnan(shown.vcov.loc["e1", "e1"]) and shown.vcov.loc["e0", "e0"] > 0
    assert shown.diagnostics["suppressed_terms"]["n"] == 1


def test_area_level_results_are_untouched():
    result = _result("OMR_ID", [3, 2, 1])
    assert rel.person_safe(result, 5) == (result, 0)
    assert not thin_person_rows(result.tidy(), "OMR_ID", 5).any()


def test_thin_area_years_are_left_out_and_counted():
    panel = pd.DataFrame({"OMR_ID": [1, 1, 2], "AAR": [2014, 2015, 2014], "residents": [1200, 4, 900],
                          "residents_18_64": [700, 3, 2], "employment_rate": [0.4, 0.5, 0.3]})
    kept, n = without_thin_area_years(panel, 5)
    assert n == 2 and kept["residents"].tolist() == [1200] and len(panel) == 3


# ----------------------------------------------------------------------------- free text parameters
@pytest.mark.parametrize("title", ["Area 3 convicted", "person ab12cd34ef56ab78", "<b>x</b>", "x" * 200])
def test_title_allows_words_and_years_only(title):
    with pytest.raises(ParameterError, match="title"):
        validate_params({"title": title})


def test_title_and_goal_names_that_pass():
    assert validate_params({"title": "Midtvejsevaluering 2024: fremskudt indsats (demo)"})["title"].endswith("(demo)")
    goal = {"goal": "Goal 2", "target_group": "residents", "indicator": "employment_rate", "baseline_year": 2014,
            "baseline_value": 0.3, "target_year": 2020, "target_value": 0.35}
    with pytest.raises(ParameterError, match="goals"):
        validate_params({"goals": [goal]})


def test_release_accepts_a_result_plot_with_small_tick_labels():
    table = pd.DataFrame({"term": [f"e{e}" for e in range(-3, 4)], "estimate": 0.01, "std_error": 0.01,
                          "event_time": list(range(-3, 4)), "n_treated": 20})
    result = Result("event_study", "ATT", table, None, 0.05, InferenceInfo("cr1"), 100, "y", meta={"unit": "OMR_ID"})
    sealed = rel.release(result.plot(), reason="The event study as a figure")
    assert sealed.kind == "release" and "data:image/png;base64" in sealed.data["text/html"]


def test_study_parameters_and_data_cannot_be_reassigned():
    from pathlib import Path

    from evalkit.report.study import Study

    study = Study.load("midterm", data_dir=str(Path(__file__).resolve().parents[1] / "data" / "demo"))
    with pytest.raises(TypeError):
        study.p["min_cell"] = 3
    for name in ("area", "p", "cohort_es", "balance"):
        with pytest.raises(AttributeError, match="computed"):
            setattr(study, name, None)


def test_tables_sealed_below_the_run_threshold_are_withheld():
    from evalkit.report.disclosure import count_persons, safe_table

    micro = pd.DataFrame({"PERSON_ID": [f"p{i}" for i in range(40)], "g": ["a"] * 36 + ["b"] * 4})
    table = safe_table(count_persons(micro, "g"), count_cols=["persons"], min_cell=3)
    _, low = gate_notebook(_nb([_display(table)]), KEY, set(), min_cell=5)
    _, same = gate_notebook(_nb([_display(table)]), KEY, set(), min_cell=3)
    assert not low.ok and same.ok


@pytest.mark.parametrize("text", ["3personer", "4persons", "3.0 persons", "2,0 personer", "-3 cases", "³", "①",
                                  "2014-3", "page 2", "(3)", "n=2"])
def test_small_whole_numbers_in_any_form_are_refused(text):
    with pytest.raises(DisclosureError, match="whole number"):
        rel.check_text(text, what="text", min_cell=5)


@pytest.mark.parametrize("text", ["Budgettet var 1 105 000 000 kr.", "1.105.000.000 kr.", "effect 0.35 pp or 1.5 pp",
                                  "2015-2024", "k1_share", "the 12 areas", "data version 3f2a9c1b7d4e5f60"])
def test_amounts_decimals_years_and_codes_pass(text):
    assert rel.check_text(text, what="text", min_cell=5) == text


def test_in_a_report_run_table_text_and_thresholds_are_checked(monkeypatch, tmp_path):
    from evalkit.report.sdc import tabulate

    micro = pd.DataFrame({"PERSON_ID": [f"ab12cd34ef56ab{i:02d}" for i in range(40)],
                          "g": ["a"] * 20 + ["b"] * 20, "x": np.arange(40.0)})
    micro.to_csv(tmp_path / "people.csv", index=False)
    seal._init()
    monkeypatch.setitem(seal._STATE, "report_run", True)
    monkeypatch.setenv(rel.DATA_DIR_ENV, str(tmp_path))
    textcheck._keys.cache_clear()
    try:
        assert tabulate(micro, "g", note="Counts of residents by group").kind == "counts"
        with pytest.raises(DisclosureError, match="whole number 3"):
            tabulate(micro, "g", note="In group a 3 persons were convicted")
        with pytest.raises(DisclosureError, match="person key"):
            tabulate(micro.assign(g="moved: " + " ".join(["ab12", "cd34", "ef56", "ab07"])), "g")
        with pytest.raises(DisclosureError, match="below this report run's threshold"):
            tabulate(micro, "g", min_cell=3)
    finally:
        textcheck._keys.cache_clear()


def test_printed_safe_table_lines_are_in_the_ledger(tmp_path, monkeypatch):
    from evalkit.report.disclosure import count_persons, safe_table

    micro = pd.DataFrame({"PERSON_ID": [f"p{i}" for i in range(40)], "g": ["a"] * 20 + ["b"] * 20})
    table = safe_table(count_persons(micro, "g"), count_cols=["persons"])
    monkeypatch.setitem(seal._STATE, "ledger", str(tmp_path / "ledger.txt"))
    printed = str(table)
    ledger = set((tmp_path / "ledger.txt").read_text().split())
    stream = nbformat.v4.new_output("stream", name="stdout", text=printed + "\n")
    assert gate_notebook(_nb([stream]), KEY, ledger)[1].ok and "persons" in printed
