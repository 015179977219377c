"""Leak injection: a hurried analyst adds cells to a copy of the midterm template.

One report run carries every technique below, each in its own cell (or its own markdown/raw
cell), after the template's cells; it must end ``needs_review`` (exit 3), every leak cell
must be withheld by the gate, and no leaked value (a canary string, the person key in any
form, the rows) may appear in anything a reviewer can open: the HTML, the results folder,
the manifest, the run log or the index. Library refusals (``DisclosureError``) are proven
once end to end here and per technique in ``tests/test_sdc.py`` / ``tests/test_release.py``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from evalkit.report.runner import run_report

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "outreach_midterm.yaml"
DEMO = ROOT / "data" / "demo"

SETUP = """
import hashlib, json, logging, os, pprint, sys, warnings
from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from IPython.display import HTML, JSON, SVG, Code, Latex, Markdown, Pretty, display, display_markdown
_files = sorted((Path(data_dir) / "person_years").glob("*.parquet"))
rows = pd.read_parquet(_files[0]).head(2)
k = str(rows["PERSON_ID"].iloc[0])
small = 3
out = Path(results_dir)
"""

# (category, code); every cell carries its canary CANARYnn so the test can search for it
TECHNIQUES = [
    ("markdown display", 'display(Markdown(f"CANARY00 {k}"))'),
    ("markdown display", 'Markdown(f"CANARY01 person {k}")'),
    ("html display", 'display(HTML(rows.to_html() + "CANARY02"))'),
    ("pre block", 'HTML(f"<pre>CANARY03 {rows.to_string()}</pre>")'),
    ("print rows", 'print(rows); print("CANARY04")'),
    ("print dict", 'print(rows.iloc[0].to_dict(), "CANARY05")'),
    ("print csv", 'print(rows.to_csv(), "CANARY06")'),
    ("print list", 'print(list(rows.PERSON_ID), "CANARY07")'),
    ("print array", 'print(rows.to_numpy(), "CANARY08")'),
    ("f-string print", 'print(f"CANARY09 key={k}")'),
    ("stdout write", 'sys.stdout.write(f"CANARY10 {k}\\n")'),
    ("stderr print", 'print(f"CANARY11 {k}", file=sys.stderr)'),
    ("stderr write", 'sys.stderr.write(f"CANARY12 {k}\\n")'),
    ("logging", 'logging.getLogger("analyst").warning(f"CANARY13 {k}")'),
    ("logging root", 'logging.warning(f"CANARY14 {k}")'),
    ("warnings", 'warnings.warn(f"CANARY15 {k}")'),
    ("pprint", 'pprint.pprint({"CANARY16": k})'),
    ("dataframe repr", 'rows.assign(c="CANARY17")'),
    ("styler", 'rows.assign(c="CANARY18").style'),
    ("to_html string", 'rows.assign(c="CANARY19").to_html()'),
    ("dict repr", '{"CANARY20": k}'),
    ("list repr", '["CANARY21", k]'),
    ("array repr", 'np.array(["CANARY22", k])'),
    ("series repr", 'rows.PERSON_ID.astype(str) + "CANARY23"'),
    ("string repr", 'k + " CANARY24"'),
    ("latex", 'display(Latex(f"CANARY25 {k}"))'),
    ("json display", 'display(JSON({"CANARY26": k}))'),
    ("raw mimebundle", 'display({"text/plain": f"CANARY27 {k}"}, raw=True)'),
    ("forged seal", 'display({"text/html": f"<b>CANARY28 {k}</b>", "text/plain": "x"}, raw=True, '
                    'metadata={"evalkit_release": {"kind": "table", "mac": "0" * 64}})'),
    ("copied seal", 'from evalkit.seal import Sealed\n_d, _m = Sealed({"text/plain": "ok"}, kind="x")._repr_mimebundle_()\n'
                    'display({"text/plain": f"CANARY29 {k}"}, raw=True, metadata=_m)'),
    ("altered sealed table", '_d, _m = study.design()._repr_mimebundle_()\n_d["text/html"] += f"CANARY30 {k}"\n'
                             'display(_d, raw=True, metadata=_m)'),
    ("old-style digest stamp", '_h = f"<table><tr><td>CANARY31 {k}</td></tr></table>"\n'
                               'display({"text/html": _h, "text/plain": "t"}, raw=True, metadata={"text/html": '
                               '{"evalkit_safe": {"digest": hashlib.sha256(_h.encode()).hexdigest()}}})'),
    ("pretty", 'display(Pretty(f"CANARY32 {k}"))'),
    ("code display", 'display(Code(f"CANARY33 = {k!r}"))'),
    ("svg text", 'display(SVG(f\'<svg xmlns="http://www.w3.org/2000/svg"><text>CANARY34 {k}</text></svg>\'))'),
    ("scatter of persons", 'fig, ax = plt.subplots()\nax.scatter(rows["FOED_AAR"], rows["PERINDKIALT"])\n'
                           'ax.set_title("CANARY35")'),
    ("annotated small count", 'fig, ax = plt.subplots()\nax.bar(["90+"], [small])\nax.annotate(f"n={small}", (0, small))'),
    ("display figure", 'fig, ax = plt.subplots()\nax.plot([1, 2], [small, small])\ndisplay(fig)\nplt.close(fig)'),
    ("plt.show", 'plt.plot([1, 2], [small, 4])\nplt.title("CANARY38")\nplt.show()'),
    ("hashed key", 'display(Markdown(hashlib.sha256(k.encode()).hexdigest() + " CANARY39"))'),
    ("upper-case key", 'print(k.upper(), "CANARY40")'),
    ("truncated key", 'display(HTML(k[:10] + " CANARY41"))'),
    ("small count text", 'display(Markdown(f"CANARY42 persons aged 90+: {small}"))'),
    ("mean over two persons", 'print("CANARY43", rows["PERINDKIALT"].mean())'),
    ("max and median over few", 'display(HTML(f"CANARY44 max {rows.PERINDKIALT.max()} median {rows.PERINDKIALT.median()}"))'),
    ("display_markdown raw", 'display_markdown(f"CANARY45 {k}", raw=True)'),
    ("display publisher", 'get_ipython().display_pub.publish({"text/plain": f"CANARY46 {k}"})'),
    ("sealed object printed with a key", 'print(study.heading("design"), k, "CANARY47")'),
    ("fd write", 'os.write(1, f"CANARY48 {k}\\n".encode())'),
    ("guard-refused frame", 'display(rows[["PERSON_ID"]].assign(c="CANARY49"))'),
    ("results file csv", 'rows.to_csv(out / "rows.csv")'),
    ("results file text", '(out / "note.txt").write_text(f"CANARY51 {k}")'),
    ("results figure", 'fig, ax = plt.subplots()\nax.scatter(rows["FOED_AAR"], rows["PERINDKIALT"])\n'
                       'fig.savefig(out / "fig.png")\nplt.close(fig)'),
    ("altered results file", '_p = out / "area_event_study.json"\n'
                             '_p.write_text(_p.read_text().replace("{", "{\\"x\\": \\"CANARY53 " + k + "\\", ", 1))'),
    ("symlink into results", 'os.symlink(_files[0], out / "link.parquet")'),
    ("file next to the html", '(out.parent / "extra.html").write_text(f"CANARY56 {k}")'),
    ("results subfolder", '(out / "sub").mkdir()\n(out / "sub" / "k.json").write_text(json.dumps({"CANARY55": k}))'),
]
MARKDOWN_CELLS = [  # (kind, source template); {k} and {rows} are filled with real data by the test
    ("markdown", "CANARY60 the person {k} moved"),
    ("markdown", "| group | persons |\n|---|---|\n| 90+ | 3 |\n\nCANARY61"),
    ("raw", "CANARY62\n{rows}"),
]


def _leak_notebook(path: Path, key: str, rows_csv: str) -> dict[int, str]:
    """The midterm template plus the leak cells; returns {1-based cell number: technique}."""
    nb = nbformat.read(ROOT / "notebooks" / "midterm.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SETUP))
    cells = {}
    for name, code in TECHNIQUES:
        nb.cells.append(nbformat.v4.new_code_cell(code))
        cells[len(nb.cells)] = name
    for kind, text in MARKDOWN_CELLS:
        source = text.format(k=key, rows=rows_csv)
        nb.cells.append(nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_raw_cell(source))
        cells[len(nb.cells)] = f"{kind} cell"
    nbformat.write(nb, path)
    return cells


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    rows = pd.read_parquet(sorted((DEMO / "person_years").glob("*.parquet"))[0]).head(2)
    key = str(rows["PERSON_ID"].iloc[0])
    tmp = tmp_path_factory.mktemp("leaks")
    cells = _leak_notebook(tmp / "leaky.ipynb", key, rows.to_csv())
    run = run_report("midterm", PARAMS, notebook=tmp / "leaky.ipynb", reports_root=tmp / "reports", progress=False)
    return run, cells, key, rows, tmp


def _visible(run, tmp: Path) -> dict[str, str]:
    """Every file a reviewer can open: the run folder (HTML, results, manifest, log) and the index."""
    files = {p: p for p in run.run_dir.rglob("*") if p.is_file()}
    files[tmp / "reports" / "index.html"] = tmp / "reports" / "index.html"
    return {str(p): p.read_bytes().decode("utf-8", errors="replace") for p in files}


def test_techniques_are_many_and_distinct():
    assert len(TECHNIQUES) + len(MARKDOWN_CELLS) >= 50
    assert len({code for _, code in TECHNIQUES}) == len(TECHNIQUES)


def test_leaky_run_needs_review_with_exit_3(leaky):
    run, *_ = leaky
    assert run.status == "needs_review" and run.exit_code == 3
    assert run.html is not None and run.html.is_file()   # the rest of the report is released


def test_every_leak_cell_is_withheld(leaky):
    run, cells, *_ = leaky
    withheld = {w["cell"] for w in run.manifest["disclosure"]["gate"]["withheld"]}
    fd_only = {n for n, name in cells.items() if name == "fd write"}   # may reach the kernel console only
    results = {n for n, name in cells.items() if name.startswith(("results", "altered results", "symlink", "file next"))}
    missing = {cells[n] for n in set(cells) - withheld - fd_only - results}
    assert not missing, f"not withheld: {sorted(missing)}"
    assert run.manifest["disclosure"]["results_withheld"] >= 7


def test_template_cells_are_released(leaky):
    run, cells, *_ = leaky
    template = {w["cell"] for w in run.manifest["disclosure"]["gate"]["withheld"]} - set(cells)
    assert template <= {min(cells) - 1}   # only the setup cell (no output) precedes the leaks


def test_no_leaked_value_reaches_anything_a_reviewer_opens(leaky):
    run, cells, key, rows, tmp = leaky
    forms = {key, key.upper(), key[:10], hashlib.sha256(key.encode()).hexdigest()[:16]}
    forms |= {str(v) for v in rows["PERSON_ID"]}
    visible = _visible(run, tmp)
    for name, text in visible.items():
        assert "CANARY" not in text, name
        for form in forms:
            assert form not in text and form.lower() not in text.lower(), (name, form)
    assert any(n.endswith(".html") for n in visible) and any(n.endswith("manifest.json") for n in visible)


def test_html_names_cell_and_kind_only(leaky):
    run, cells, *_ = leaky
    html = run.html.read_text(encoding="utf-8")
    assert html.count("evalkit-withheld") >= len(TECHNIQUES) - 10
    assert "stream stdout" in html and "markdown cell" in html


def test_restricted_folder_holds_the_notebook_not_the_run_folder(leaky):
    run, *_ = leaky
    assert not list(run.run_dir.rglob("*.ipynb"))
    restricted = Path(run.manifest["restricted"])
    assert (restricted / "midterm.ipynb").is_file() and "CANARY" in (restricted / "midterm.ipynb").read_text()
    index = (run.run_dir.parents[2] / "index.html").read_text()
    assert "restricted" not in index and ".ipynb" not in index


def test_manifest_lists_cells_and_kinds(leaky):
    run, *_ = leaky
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    kinds = {w["kind"] for w in manifest["disclosure"]["gate"]["withheld"]}
    assert {"stream stdout", "stream stderr", "markdown cell", "raw cell"} <= kinds
    assert any(k.startswith("display_data") for k in kinds) and any(k.startswith("execute_result") for k in kinds)
