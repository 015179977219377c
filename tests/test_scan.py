"""The post-run disclosure scanner: every kind of leak injected into a notebook is caught,
a clean notebook passes, and a real executed report is scanned."""
import base64
import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from evalkit.errors import EvalkitError, ParameterError
from evalkit.report.disclosure import safe_html, safe_table
from evalkit.report.scan import ScanReport, main, scan_notebook

ROOT = Path(__file__).resolve().parents[1]
rng = np.random.default_rng(3)


def _keys(n):
    return ["".join(rng.choice(list("0123456789abcdef"), 16)) for _ in range(n)]


def _display(obj, output_type="display_data"):
    """The output IPython would record for ``obj`` (data + metadata of its mimebundle or repr)."""
    from IPython.core.interactiveshell import InteractiveShell

    data, meta = InteractiveShell.instance().display_formatter.format(obj)
    extra = {"execution_count": 1} if output_type == "execute_result" else {}
    return new_output(output_type, data=data, metadata=meta, **extra)


def _nb(*outputs_per_cell, markdown=None):
    cells = [new_markdown_cell(markdown or "# Report")]
    cells += [new_code_cell("x", outputs=list(outs)) for outs in outputs_per_cell]
    return new_notebook(cells=cells)


def _kinds(report: ScanReport) -> set:
    return {f.kind for f in report.findings}


def _safe():
    counts = pd.DataFrame({"area": ["a", "b", "c"], "men": [120, 2, 60], "women": [90, 70, 3]})
    return safe_table(counts, count_cols=["men", "women"], margins=True)


def _figure_png() -> str:
    from matplotlib.figure import Figure

    import io
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([2019, 2024], [0.3, 0.5])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()


# ------------------------------------------------------------------ clean notebook
def test_clean_notebook_passes():
    png = _figure_png()
    est = safe_table(pd.DataFrame({"term": ["e0"], "estimate": [0.0251], "std_error": [0.01]}), count_cols=[])
    figure_html = safe_html(f'<figure><img src="data:image/png;base64,{png}" alt="trend"></figure>')
    nb = _nb([_display(_safe(), "execute_result")],
             [_display(est)],
             [new_output("display_data", data={"image/png": png, "text/plain": "<Figure size 200x200>"})],
             [new_output("display_data", data={"text/html": f'<figure><img src="data:image/png;base64,{png}"></figure>',
                                               "text/plain": "<IPython.core.display.HTML object>"})],
             [_display(figure_html)],
             [new_output("display_data", data={"text/markdown": "The effect is +2.51 pp (95 % CI 0.4 to 4.6) "
                                                                 "in 2024, p = 0.018; 1234 residents.",
                                               "text/plain": "<IPython.core.display.Markdown object>"})],
             [new_output("stream", name="stdout", text="Loaded 12 areas, years 2015-2024.\n")],
             markdown="Numbers 2024, +2.51 pp")
    report = scan_notebook(nb)
    assert report.ok, str(report)
    assert report.findings == () and report.cells_scanned == 7
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True


# ------------------------------------------------------------------ injected leaks
def test_identifier_column_in_dataframe_html():
    micro = pd.DataFrame({"PERSON_ID": _keys(3), "AAR": [2020] * 3, "employed": [1, 0, 1]})
    report = scan_notebook(_nb([_display(micro, "execute_result")]))
    assert not report.ok
    assert {"identifier", "unsafe_table"} <= _kinds(report)
    assert all(f.cell_index == 1 and f.output_index == 0 for f in report.findings)
    # the report names the kind of leak without repeating the key
    assert not any(k in json.dumps(report.to_dict()) for k in micro["PERSON_ID"])


def test_raw_rows_dataframe_repr():
    raw = pd.DataFrame({"AAR": rng.integers(2015, 2024, 200), "income": rng.normal(3e5, 5e4, 200).round()})
    report = scan_notebook(_nb([_display(raw, "execute_result")]))
    assert {"raw_dump", "unsafe_table"} <= _kinds(report)
    text_only = new_output("execute_result", data={"text/plain": repr(raw)}, execution_count=1)
    report = scan_notebook(_nb([text_only]))
    assert {"raw_dump", "unsafe_table"} <= _kinds(report)
    assert any("200 rows" in f.detail for f in report.findings)


def test_small_cell_in_stamped_table():
    # a table made with the floor (3) passes safe_table but not a scan at 5
    shown_two = safe_table(pd.DataFrame({"area": ["a", "b"], "persons": [3, 40]}), count_cols=["persons"],
                           min_cell=3, round_to=None)
    report = scan_notebook(_nb([_display(shown_two)]), min_cell=5)
    assert _kinds(report) == {"small_cell"}
    assert any("min_cell=3" in f.detail for f in report.findings)
    assert any("count of 3" in f.detail for f in report.findings)
    # a forged stamp claiming min_count_shown 2
    out = _display(safe_table(pd.DataFrame({"persons": [20, 40]}), count_cols=["persons"]))
    out.metadata["text/html"]["evalkit_safe"]["min_count_shown"] = 2
    assert "small_cell" in _kinds(scan_notebook(_nb([out])))


def test_small_cell_in_unstamped_table():
    html = pd.DataFrame({"area": ["a", "b"], "persons": [2, 40]}).to_html(index=False)
    out = new_output("display_data", data={"text/html": html, "text/plain": "<IPython.core.display.HTML object>"})
    report = scan_notebook(_nb([out]))
    assert _kinds(report) == {"unsafe_table", "small_cell"}
    assert any("persons=2" in f.detail for f in report.findings)


def test_tampered_stamp_is_an_unsafe_table():
    out = _display(_safe())
    assert "<td>120</td>" in out.data["text/html"]
    out.data["text/html"] = out.data["text/html"].replace("<td>120</td>", "<td>2</td>")
    report = scan_notebook(_nb([out]))
    assert any(f.kind == "unsafe_table" and "digest" in f.detail for f in report.findings)


def test_printed_microdata():
    micro = pd.DataFrame({"PERSON_ID": _keys(8), "AAR": [2020] * 8, "income": range(8)})
    printed = new_output("stream", name="stdout", text=micro.to_string() + "\n")
    report = scan_notebook(_nb([printed]))
    assert {"identifier", "unsafe_table"} <= _kinds(report)
    # keys alone, without the column name, and a CPR-like number
    keys_only = new_output("stream", name="stdout", text=f"first mover: {_keys(1)[0]}\n")
    assert _kinds(scan_notebook(_nb([keys_only]))) == {"identifier"}
    cpr = new_output("stream", name="stderr", text="lookup failed for 010190-1234\n")
    assert _kinds(scan_notebook(_nb([cpr]))) == {"identifier"}


def test_aggregate_printed_table_is_unsafe_too():
    agg = pd.DataFrame({"cohort": [2019, 2020, 2021], "persons": [120, 340, 560]})
    report = scan_notebook(_nb([new_output("stream", name="stdout", text=agg.to_string())]))
    assert _kinds(report) == {"unsafe_table"}


def test_long_stream_dump():
    text = "".join(f"step {i}: ok\n" for i in range(100))
    report = scan_notebook(_nb([new_output("stream", name="stdout", text=text)]))
    assert _kinds(report) == {"raw_dump"}
    assert scan_notebook(_nb([new_output("stream", name="stdout", text=text)]), max_stream_lines=200).ok


def test_identifiers_in_markdown_and_errors():
    md = new_output("display_data", data={"text/markdown": "Grouped by `CVR` within each area."})
    err = new_output("error", ename="KeyError", evalue="'PERSON_ID'",
                     traceback=["\x1b[0;31mKeyError\x1b[0m: 'PERSON_ID'"])
    report = scan_notebook(_nb([md], [err]))
    assert [(f.cell_index, f.kind) for f in report.findings] == [(1, "identifier"), (2, "identifier")]


def test_base64_and_numbers_do_not_trigger_keys():
    # hex-looking runs inside base64 or long decimals are not keys
    blob = base64.b64encode(bytes(range(256)) * 4).decode()
    out = new_output("display_data", data={"image/png": blob, "text/html": f"<img src='data:image/png;base64,{blob}'>",
                                           "text/plain": "0.1234567890123456 and 1234567890123456 and deadbeefcafebabe"})
    assert scan_notebook(_nb([out])).ok


def test_inputs_validated():
    with pytest.raises(ParameterError):
        scan_notebook(_nb(), min_cell=2)
    with pytest.raises(EvalkitError, match="does not exist"):
        scan_notebook("/nonexistent/x.ipynb")


def test_reads_from_disk_and_cli(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    nbformat.write(_nb([_display(_safe())]), path)
    assert scan_notebook(path).ok and scan_notebook(str(path)).ok
    assert main([str(path)]) == 0
    nbformat.write(_nb([new_output("stream", name="stdout", text="PERSON_ID\n")]), path)
    assert main([str(path)]) == 1 and "identifier" in capsys.readouterr().out


# ------------------------------------------------------------------ real kernels
def _execute(nb, tmp_path, cwd):
    papermill = pytest.importorskip("papermill")
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(out), cwd=str(cwd), kernel_name="python3", progress_bar=False)
    return out


def test_stamp_survives_a_real_kernel(tmp_path):
    """The stamp travels through the kernel, papermill and nbformat with a matching digest."""
    code = ("import pandas as pd\nfrom evalkit.report.disclosure import safe_table\n"
            "safe_table(pd.DataFrame({'area': ['a', 'b'], 'persons': [2, 40], 'women': [30, 9]}), "
            "count_cols=['persons', 'women'], margins=True)")
    leak = "pd.DataFrame({'PERSON_ID': ['a3f9c2e17b6d0845'], 'x': [1]})"
    out = _execute(new_notebook(cells=[new_code_cell(code), new_code_cell(leak)]), tmp_path, ROOT)
    report = scan_notebook(out)
    assert {f.cell_index for f in report.findings} == {1}
    assert {"identifier", "unsafe_table"} <= _kinds(report)


# The Study methods whose output is still an unstamped IPython.display.HTML table.
UNSTAMPED_STUDY_TABLES = ("study.design()", "study.balance()", "study.event_study_table(", "study.robustness()")


@pytest.mark.slow
def test_real_midterm_report(tmp_path):
    """Scan an executed midterm report: no identifiers, raw dumps or small cells; table
    outputs are either stamped or come from the Study methods not yet wired to safe_table."""
    out = _execute(nbformat.read(ROOT / "notebooks" / "midterm.ipynb", as_version=4), tmp_path, ROOT / "notebooks")
    nb = nbformat.read(out, as_version=4)
    report = scan_notebook(nb)
    assert _kinds(report) <= {"unsafe_table"}, str(report)
    for f in report.findings:
        assert any(call in nb.cells[f.cell_index].source for call in UNSTAMPED_STUDY_TABLES), str(f)
