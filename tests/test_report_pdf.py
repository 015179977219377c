"""``report run --pdf``: the checked reviewer HTML printed to PDF by headless Chromium (issue 16 part 5).

One midterm run with ``pdf=True`` (about 15-20 s) is shared by the tests that read its outputs; the
missing browser, a hung or failing browser and the schedule's ``pdf`` key are checked without a run.
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

from evalkit.cli import main
from evalkit.report import pdf as pdf_printer
from evalkit.report import portable
from evalkit.report import schedule as sc
from evalkit.report.runner import run_report
from tests.chromium import chromium

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "outreach_midterm.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    chromium()  # skips locally without Chromium; fails under CI=true
    root = tmp_path_factory.mktemp("reports")
    start = time.perf_counter()
    done = run_report("midterm", PARAMS, report="job", period="2026-06-01", reports_root=root, progress=False,
                      pdf=True)
    return root, done, time.perf_counter() - start


def test_pdf_is_printed_beside_the_html(run):
    _, done, _ = run
    assert done.status == "ok" and done.pdf == done.run_dir / "midterm.pdf"
    data = done.pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    assert pdf_printer.page_count(done.pdf) >= 1
    # the template's print CSS sets A4 pages (595 x 842 pt), not the browser's default Letter
    assert set(re.findall(rb"/MediaBox\s*\[0 0 (\d+)[\d.]* (\d+)", data)) == {(b"594", b"841")}


def test_pdf_is_in_the_manifest_with_how_it_was_checked(run):
    _, done, _ = run
    manifest = json.loads((done.run_dir / "manifest.json").read_text())
    entry = manifest["pdf"]
    assert entry["file"] == "midterm.pdf" and entry["from"] == "midterm.html" and entry["error"] is None
    assert entry["pages"] == pdf_printer.page_count(done.pdf) and "person-key scan" in entry["checks"]
    assert "midterm.pdf" in manifest["outputs"]  # hashed, so later runs' vetting keeps it
    assert "pdf: midterm.pdf (printed from the checked midterm.html)" in (done.run_dir / "run.log").read_text()


def test_pdf_is_linked_from_the_index(run):
    root, done, _ = run
    index = (root / "index.html").read_text()
    href = f'{done.run_dir.relative_to(root).as_posix()}/midterm.pdf'
    assert f'<a href="{href}">PDF</a>' in index


def test_a_later_run_keeps_the_pdf(run):
    """The reports-tree vetting of a later run leaves a PDF its manifest vouches for."""
    from evalkit.report.postrun import vet_reports_tree

    root, done, _ = run
    assert vet_reports_tree(root, root.parent / "restricted-later", current=root / "other") == []
    assert done.pdf.is_file()


def test_pdf_without_chromium_is_one_line_exit_2_before_the_run(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(portable.BROWSER_ENV, raising=False)
    reports = tmp_path / "reports"
    code = main(["report", "run", "midterm", "--params", str(PARAMS), "--reports-root", str(reports), "--pdf"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "--pdf" in err and "make chromium" in err and "apt-get install chromium" in err
    assert not reports.exists()  # nothing ran
    monkeypatch.setenv(portable.BROWSER_ENV, str(tmp_path / "no-such-browser"))
    assert main(["report", "run", "midterm", "--params", str(PARAMS), "--pdf"]) == 2
    assert "EVALKIT_CHROMIUM" in capsys.readouterr().err


def test_windows_looks_for_chrome_and_edge(monkeypatch):
    monkeypatch.delenv(portable.BROWSER_ENV, raising=False)
    monkeypatch.setattr(portable, "WINDOWS", True)
    found = {"msedge": r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"}
    monkeypatch.setattr("shutil.which", lambda name: found.get(name))
    assert portable.find_chromium() == found["msedge"]
    found["chrome"] = r"C:\Program Files\Google\Chrome\Application\chrome.exe"
    assert portable.find_chromium() == found["chrome"]


def _fake_browser(folder: Path, body: str) -> Path:
    script = folder / "fake-chromium"
    script.write_text(f"#!{sys.executable}\nimport os, subprocess, sys, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_hung_browser_is_killed_with_its_helpers(tmp_path):
    pids = tmp_path / "pids"
    sleeper = "[sys.executable, '-c', 'import time; time.sleep(300)']"
    browser = _fake_browser(tmp_path, f"helper = subprocess.Popen({sleeper})\n"
                                      f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{helper.pid}}')\n"
                                      "time.sleep(300)")
    (tmp_path / "r.html").write_text("<html><body>x</body></html>")
    start = time.perf_counter()
    with pytest.raises(pdf_printer.PdfError, match="overran the PDF timeout of 2 s and was killed"):
        pdf_printer.print_pdf(tmp_path / "r.html", tmp_path / "r.pdf", browser=str(browser), timeout=2,
                              kill_grace_seconds=1)
    assert time.perf_counter() - start < 15
    assert not (tmp_path / "r.pdf").exists()
    time.sleep(0.2)
    assert not any(_alive(int(p)) for p in pids.read_text().split())


def test_failing_browser_leaves_no_pdf(tmp_path):
    browser = _fake_browser(tmp_path, "sys.exit(3)")
    (tmp_path / "r.html").write_text("<html></html>")
    with pytest.raises(pdf_printer.PdfError, match="exited with code 3"):
        pdf_printer.print_pdf(tmp_path / "r.html", tmp_path / "r.pdf", browser=str(browser), timeout=30)
    assert not (tmp_path / "r.pdf").exists()


def test_schedule_job_can_ask_for_the_pdf(tmp_path):
    (tmp_path / "mid.yaml").write_text("seed: 1\n")
    job = {"name": "mid", "template": "midterm", "params": "mid.yaml", "cadence": {"dates": ["06-01"]},
           "start": "2026-01-01"}
    path = tmp_path / "reports.yaml"
    path.write_text(yaml.safe_dump({"jobs": [job, {**job, "name": "mid_pdf", "pdf": True}]}))
    plain, with_pdf = sc.load_schedule(path).jobs
    assert not plain.pdf and with_pdf.pdf
    assert "--pdf" not in sc.report_command(plain, "2026-06-01", tmp_path)
    assert sc.report_command(with_pdf, "2026-06-01", tmp_path)[-1] == "--pdf"
    path.write_text(yaml.safe_dump({"jobs": [{**job, "pdf": "yes"}]}))
    with pytest.raises(sc.ParameterError, match="pdf must be true or false"):
        sc.load_schedule(path)
