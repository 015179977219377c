"""Run index: reading manifests, the latest good run, and the static index.html."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from evalkit.errors import EvalkitWarning
from evalkit.report import index as ix


def make_run(root: Path, report: str, period: str, stamp: str, status: str, *, sha: str = "661a212",
             dirty: bool = False, template: str = "final", **extra) -> Path:
    """Write a fake run folder like the runner does (manifest, notebook, HTML when ok)."""
    run_id = f"{stamp}_{sha}{'-dirty' if dirty else ''}"
    run_dir = root / report / period / run_id
    run_dir.mkdir(parents=True)
    started = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"
    (run_dir / f"{template}.ipynb").write_text("{}")
    html = None
    if status == "ok":
        html = f"{template}.html"
        (run_dir / html).write_text("<html></html>")
    manifest = {"schema": "evalkit.run/1", "report": report, "template": template, "period": period,
                "run_id": run_id, "status": status, "started_utc": started, "finished_utc": None,
                "parameters": {"seed": 1}, "parameters_sha256": "ab" * 32,
                "git": {"commit": sha + "0" * 33, "dirty": dirty}, "error": None,
                "html": html, "notebook": f"{template}.ipynb", **extra}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "reports"
    make_run(r, "outreach_final", "2026-12-01", "20261201T010000Z", "ok")
    make_run(r, "outreach_final", "2026-12-01", "20261202T010000Z", "failed", error={"type": "KeyError", "cell": 3})
    make_run(r, "outreach_midterm", "2026-06-01", "20260601T010000Z", "ok", template="midterm")
    make_run(r, "outreach_midterm", "2026-12-01", "20261201T020000Z", "needs_review", template="midterm",
             dirty=True)
    make_run(r, "poa_final", "2026-12-01", "20261203T010000Z", "running")
    return r


def test_read_manifests_newest_first_with_folder(root):
    runs = ix.read_manifests(root)
    assert [m["run_id"][:16] for m in runs] == ["20261203T010000Z", "20261202T010000Z", "20261201T020000Z",
                                               "20261201T010000Z", "20260601T010000Z"]
    assert runs[0]["_dir"] == "poa_final/2026-12-01/20261203T010000Z_661a212"


def test_corrupt_manifests_are_reported_not_fatal(root):
    bad = root / "broken" / "2026-12-01" / "20261204T000000Z_abc"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{not json")
    listy = root / "listy" / "2026-12-01" / "20261204T000000Z_abc"
    listy.mkdir(parents=True)
    (listy / "manifest.json").write_text("[1, 2]")
    with pytest.warns(EvalkitWarning) as caught:
        runs = ix.read_manifests(root)
    assert any("broken/2026-12-01" in str(w.message) for w in caught)
    assert any("listy/2026-12-01" in str(w.message) and "ValueError" in str(w.message) for w in caught)
    assert len(runs) == 5
    scan = ix.scan_manifests(root)
    assert sorted(p.path.split("/")[0] for p in scan.problems) == ["broken", "listy"]
    with pytest.warns(EvalkitWarning):
        page = ix.write_index(root).read_text()
    assert "Unreadable manifests" in page and "broken/2026-12-01" in page


def test_missing_root_and_old_layout_are_empty(tmp_path):
    assert ix.read_manifests(tmp_path / "nowhere") == []
    (tmp_path / "final" / "20261122T010137Z_49b5cc3-dirty").mkdir(parents=True)  # pre-manifest layout
    assert ix.read_manifests(tmp_path) == []
    assert ix.latest_good(tmp_path, "final") is None


def test_latest_good_skips_newer_failed_runs(root):
    good = ix.latest_good(root, "outreach_final")
    assert good["run_id"].startswith("20261201T010000Z") and good["status"] == "ok"
    assert ix.latest_good(root, "outreach_final", "2026-12-01")["run_id"] == good["run_id"]
    assert ix.latest_good(root, "outreach_midterm", "2026-12-01") is None  # only needs_review
    assert ix.latest_good(root, "poa_final") is None  # only running
    assert ix.latest_good(root, "unknown") is None


def test_latest_good_prefers_latest_period_over_rerun_of_old_period(root):
    make_run(root, "outreach_midterm", "2026-12-01", "20261205T000000Z", "ok", template="midterm")
    make_run(root, "outreach_midterm", "2026-06-01", "20261206T000000Z", "ok", template="midterm")  # correction
    latest = ix.latest_good(root, "outreach_midterm")
    assert latest["period"] == "2026-12-01"
    assert ix.latest_good(root, "outreach_midterm", "2026-06-01")["run_id"].startswith("20261206")


def test_write_index_content(root):
    path = ix.write_index(root)
    assert path == root / "index.html"
    page = path.read_text()
    for label in ("badge s-ok", "badge s-failed", "badge s-needs_review", "badge s-running", "needs review"):
        assert label in page
    # HTML link only for ok runs (and needs_review runs whose released HTML exists); manifests for all;
    # executed notebooks live in the restricted folder and are never linked
    assert page.count('final.html"') == 2  # the ok run: summary table + run table
    assert ".ipynb" not in page
    assert "20261202T010000Z_661a212/final.html" not in page
    assert page.count("manifest.json") >= 5
    assert "★ latest" in page and page.count('class="latest"') == 2  # outreach_final, outreach_midterm
    assert "dirty" in page and "<code>661a212</code>" in page
    assert "abababababab</code>" in page  # short parameters hash
    assert "KeyError in cell 3" in page  # error type and cell shown for the failed run, never a message
    # newest first
    page = page[page.index("All runs"):]
    assert page.index("20261203T010000Z") < page.index("20261202T010000Z") < page.index("20260601T010000Z")


def test_index_is_self_contained_and_print_friendly(root):
    page = ix.write_index(root).read_text().lower()
    for external in ("http://", "https://", "<script", "<link", "@import", "url(", "//cdn"):
        assert external not in page
    assert "@media print" in page and '<meta charset="utf-8">' in page


def test_index_escapes_manifest_text(tmp_path):
    make_run(tmp_path, "r", "2026-12-01", "20261201T000000Z", "failed", error={"type": "<script>alert(1)</script>"})
    make_run(tmp_path, "r", "2026-12-01", "20261202T000000Z", "failed", error="old message with a row: 91 years")
    page = ix.write_index(tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "91 years" not in page  # a message (old manifests) is never shown, only "error"


def test_ok_run_with_missing_html_is_not_linked(tmp_path):
    run = make_run(tmp_path, "r", "2026-12-01", "20261201T000000Z", "ok")
    (run / "final.html").unlink()
    page = ix.write_index(tmp_path).read_text()
    assert "report missing" in page and "final.html\"" not in page


def test_write_index_is_atomic(root, monkeypatch):
    path = ix.write_index(root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    before = path.read_text()
    real_replace = os.replace
    make_run(root, "new", "2026-12-01", "20261209T000000Z", "ok")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ix.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        ix.write_index(root)
    assert path.read_text() == before  # the old index survives a failed write
    assert [p.name for p in root.iterdir() if p.name.startswith(".index.html")] == []  # no temp files left
    monkeypatch.setattr(ix.os, "replace", real_replace)
    assert "new/2026-12-01" in ix.write_index(root).read_text()
