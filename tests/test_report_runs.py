"""Immutable runs with manifests, the index, failure handling, and the HTML as a reviewer sees it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalkit.report.index import latest_good
from evalkit.report.runner import run_report
from tests.chromium import open_offline

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "outreach_midterm.yaml"
MANIFEST_KEYS = {"parameters", "parameters_sha256", "inputs", "data_sha256", "git", "notebook_sha256", "packages",
                 "kernel_python", "started_utc", "finished_utc", "status", "outputs", "disclosure"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    first = run_report("midterm", PARAMS, report="job", period="2026-06-01", reports_root=root, progress=False)
    second = run_report("midterm", PARAMS, report="job", period="2026-06-01", reports_root=root, progress=False)
    bad = tmp_path_factory.mktemp("params") / "bad.yaml"
    text = re.sub(r"(?m)^leads:.*$", "leads: 15", PARAMS.read_text())
    assert "leads: 15" in text
    bad.write_text(text)    # valid value, but no area is observed 15 years early
    failed = run_report("midterm", bad, report="job", period="2026-06-01", reports_root=root, progress=False)
    return root, first, second, failed


def test_each_run_gets_its_own_folder_and_manifest(runs):
    root, first, second, _ = runs
    assert first.run_dir != second.run_dir and first.run_dir.parent == second.run_dir.parent
    assert first.run_dir.relative_to(root).parts[:2] == ("job", "2026-06-01")
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest) and manifest["status"] == "ok"
    assert manifest["disclosure"]["ok"] is True
    assert set(manifest["outputs"]) >= {"midterm.html", "run.log", "results/area_event_study.json"}
    assert not any(name.endswith(".ipynb") for name in manifest["outputs"])   # notebooks stay restricted
    assert manifest["parameters"]["lang"] == "en" and len(manifest["parameters_sha256"]) == 64
    assert any(k.startswith("person_years/") for k in manifest["inputs"])


def test_failed_run_keeps_notebook_and_previous_latest(runs):
    root, _, second, failed = runs
    assert failed.status == "failed" and failed.exit_code == 1 and failed.html is None
    assert failed.manifest["error"] == {"type": "ValidationError", "cell": 6}   # type and cell, never the message
    assert "No treated unit" not in (failed.run_dir / "manifest.json").read_text()
    assert failed.notebook.is_file() and "No treated unit" in failed.notebook.read_text()
    assert failed.run_dir not in failed.notebook.parents                     # the restricted folder
    assert latest_good(root, "job")["run_id"] == second.run_dir.name


def test_index_lists_every_run_newest_first(runs):
    root, first, second, failed = runs
    index = (root / "index.html").read_text()
    positions = [index.rfind(r.run_dir.name) for r in (failed, second, first)]  # main table, after the summary
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_html_offline_in_chromium_with_sections(runs, tmp_path):
    _, first, _, _ = runs
    shot = ROOT / "tests" / "output" / "midterm_screenshot.png"          # kept for a human look
    shot.parent.mkdir(exist_ok=True)
    dom, external = open_offline(first.html, tmp_path, screenshot=shot)
    assert external == []
    assert "[evalkit]" not in dom                                   # console progress stays out of the report
    for section in ("Contents", "Design and data", "Baseline balance", "Pre-trend test", "What was found",
                    "Run parameters", "commit"):
        assert section in dom
    for anchor in re.findall(r'href="#([^"]+)"', dom):              # every ToC link resolves
        assert f'id="{anchor}"' in dom
    assert shot.stat().st_size > 10_000


def test_offline_check_can_fail(tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://example.org/pixel.png" alt="x"></body></html>')
    _, external = open_offline(page, tmp_path)
    assert any("example.org" in u for u in external)
