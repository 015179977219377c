"""`run-due` end to end: the real report command, twice in a row, runs the due job once."""
import datetime as dt
from pathlib import Path

from evalkit.report.index import read_manifests
from evalkit.report.schedule import SubprocessExecutor, run_due

ROOT = Path(__file__).resolve().parents[1]


def test_run_due_twice_runs_once(tmp_path):
    schedule = tmp_path / "reports.yaml"
    schedule.write_text(
        "timezone: UTC\njobs:\n"
        f"  - name: outreach_midterm\n    template: midterm\n    params: {ROOT / 'params' / 'outreach_midterm.yaml'}\n"
        "    cadence: {dates: ['06-01', '12-01']}\n    start: 2026-01-01\n    timeout_minutes: 10\n")
    root = tmp_path / "reports"
    now = dt.date(2026, 11, 22)                       # latest occurrence: 2026-06-01
    run = SubprocessExecutor(root, cwd=ROOT)
    first = run_due(schedule, reports_root=root, now=now, execute=run)
    second = run_due(schedule, reports_root=root, now=now, execute=run)
    assert [(o.job, o.period, o.status) for o in first] == [("outreach_midterm", "2026-06-01", "ok")]
    assert second == []
    manifests = read_manifests(root)
    assert len(manifests) == 1 and manifests[0]["status"] == "ok" and manifests[0]["period"] == "2026-06-01"
    assert (root / "index.html").is_file()
