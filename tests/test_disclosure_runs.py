"""End-to-end disclosure runs: harmless output renders (exit 0), a failing cell leaves no
trace of its message, a library refusal ends ``needs_review``, and thin area-years are kept
out of the stock POA final report's tables (and the sections that need them say so)."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from evalkit.report.params import load_params
from evalkit.report.runner import run_report

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "outreach_midterm.yaml"
DEMO = ROOT / "data" / "demo"

HARMLESS = [
    'er.release("Beboernes adresse ændres ikke af indsatsen, og rapporten viser ingen adresser.", '
    'reason="Prose about addresses for the reviewer")',
    'er.release(Markdown("No CPR number or other identifier is shown in this report."), reason="Statement on data")',
    'er.release("The budget was 1,105,000,000 kr. (1.105.000.000 kr.) over 2015-2024.", reason="Budget context")',
    'er.release(f"Data version {hashlib.sha256(b\'data-v1\').hexdigest()[:16]}.", reason="Data version for audit")',
    'for i in range(23):\n    with step(f"progress step {i}"):\n        pass',
    'print(study.area_es)',
    'display(study.area_es)',
    'study.area_es',
]


def _notebook(path: Path, extra: list[str], template: str = "midterm") -> Path:
    nb = nbformat.read(ROOT / "notebooks" / f"{template}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import hashlib\nfrom IPython.display import Markdown, display\nfrom evalkit.progress import step"))
    nb.cells += [nbformat.v4.new_code_cell(code) for code in extra]
    nbformat.write(nb, path)
    return path


def _visible_text(run) -> str:
    files = [p for p in run.run_dir.rglob("*") if p.is_file()] + [run.run_dir.parents[2] / "index.html"]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


@pytest.fixture(scope="module")
def harmless(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("harmless")
    nb = _notebook(tmp / "harmless.ipynb", HARMLESS)
    return run_report("midterm", PARAMS, notebook=nb, reports_root=tmp / "reports", progress=False)


def test_harmless_output_renders_with_exit_0(harmless):
    assert harmless.status == "ok" and harmless.exit_code == 0, harmless.manifest["disclosure"]
    html = harmless.html.read_text(encoding="utf-8")
    for text in ("adresse", "CPR number", "1,105,000,000", "1.105.000.000", "Data version", "Estimator"):
        assert text in html
    assert "evalkit-withheld" not in html and "progress step" not in html


def test_releases_are_listed_with_their_reasons(harmless):
    reasons = [r["reason"] for r in harmless.manifest["disclosure"]["gate"]["releases"]]
    assert reasons == ["Prose about addresses for the reviewer", "Statement on data", "Budget context",
                       "Data version for audit"]
    assert "Budget context" in (harmless.run_dir / "run.log").read_text()


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("failing")
    key = str(pd.read_parquet(sorted((DEMO / "person_years").glob("*.parquet"))[0])["PERSON_ID"].iloc[0])
    nb = nbformat.read(ROOT / "notebooks" / "midterm.ipynb", as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell(f'raise ValueError("bad row: PERSON_ID {key} CANARYERR")'))
    nbformat.write(nb, tmp / "failing.ipynb")
    run = run_report("midterm", PARAMS, notebook=tmp / "failing.ipynb", reports_root=tmp / "reports", progress=False)
    return run, key


def test_failing_cell_leaves_only_type_and_cell(failing):
    run, key = failing
    assert run.status == "failed" and run.exit_code == 1 and run.html is None
    assert run.manifest["error"] == {"type": "ValueError", "cell": 5}
    text = _visible_text(run)
    assert key not in text and "CANARYERR" not in text and "bad row" not in text
    assert "ValueError in cell 5" in (run.run_dir.parents[2] / "index.html").read_text()
    assert "CANARYERR" in run.notebook.read_text() and run.run_dir not in run.notebook.parents


def test_cli_refuses_a_missing_notebook_in_one_line(capsys):
    from evalkit.cli import main

    code = main(["report", "run", "midterm", "--params", str(PARAMS), "--notebook", "no/such/copy.ipynb"])
    err = capsys.readouterr().err
    assert code == 2 and "notebook" in err and len(err.strip().splitlines()) == 1


def test_library_refusal_ends_needs_review(tmp_path):
    nb = _notebook(tmp_path / "refused.ipynb", [
        'import pandas as pd\nrows = pd.DataFrame({"age": [91, 93], "income": [1.0, 2.0]})',
        'er.safe_table(rows, count_cols=[])',
        'er.release("never reached", reason="never reached either")'])
    run = run_report("midterm", PARAMS, notebook=nb, reports_root=tmp_path / "reports", progress=False)
    assert run.status == "needs_review" and run.exit_code == 3
    assert run.manifest["error"]["type"] == "DisclosureError" and run.html.is_file()
    assert "error DisclosureError" in run.html.read_text()


# ----------------------------------------------------------------------------- thin baseline area-years
def _thin_copy(dest: Path, intervention: str, baseline: int, seed: int = 7) -> Path:
    """The demo data with each treated area reduced to 1-4 residents in the baseline year."""
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns("person_years"))
    iv = pd.read_csv(DEMO / "interventions.csv")
    treated = set(iv.loc[iv["intervention"] == intervention, "OMR_ID"])
    rng = np.random.default_rng(seed)
    keep = {a: int(rng.integers(1, 5)) for a in treated}
    (dest / "person_years").mkdir()
    for part in sorted((DEMO / "person_years").glob("*.parquet")):
        frame = pd.read_parquet(part)
        thin = (frame["AAR"] == baseline) & frame["OMR_ID"].isin(treated)
        rank = frame[thin].groupby("OMR_ID").cumcount()
        drop = rank[rank >= frame.loc[rank.index, "OMR_ID"].map(keep)].index
        frame.drop(index=drop).to_parquet(dest / "person_years" / part.name, index=False)
    return dest


@pytest.fixture(scope="module")
def thin(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("thin")
    data = _thin_copy(tmp / "data", "poa", 2014)
    params = {**load_params(ROOT / "params" / "poa_final.yaml"), "data_dir": str(data)}
    return run_report("final", params, reports_root=tmp / "reports", progress=False), data


def test_thin_baseline_cells_are_suppressed_not_published(thin):
    run, data = thin
    assert run.status == "ok", run.manifest["disclosure"]
    html = run.html.read_text(encoding="utf-8")
    assert "area-years with fewer than 5 residents" in html
    assert "undefined for these data" in html               # the 2x2 design lost its treated baseline
    assert "no treated area is here" in html                # synthetic control needs complete areas
    assert "The inference advisor (measured size and power of each method) did not run: a treated area has a thin" \
        in html                                             # ... and so does the advisor: the design rule decides
    assert "Minimum detectable effect (MDE) of this design" in html
    nb = nbformat.read(Path(run.manifest["restricted"]) / "released.ipynb", as_version=4)
    balance = next(o for c in nb.cells for o in c.get("outputs", [])
                   if "Standardised" in str(o.get("data", {}).get("text/html", "")) or
                   "Std. diff" in str(o.get("data", {}).get("text/html", "")))
    table = pd.read_html(io.StringIO(balance["data"]["text/html"]))[0]
    treated = table.columns[1]
    assert table[treated].isna().all() or (table[treated].astype(str) == "–").all()
