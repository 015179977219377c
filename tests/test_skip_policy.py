"""The skip policy (tests/skip_policy.py): under CI=true a skip fails; locally it is listed with its reason."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = '''
import pytest

def test_skips():
    pytest.skip("needs the frobnicator")

@pytest.fixture
def needs_thing():
    pytest.skip("thing missing")

def test_skips_in_a_fixture(needs_thing):
    pass

@pytest.mark.skipif(True, reason="marked skip")
def test_marked():
    pass

@pytest.mark.xfail(strict=True, reason="known gap")
def test_expected_failure():
    assert False

def test_passes():
    pass
'''
COLLECTION = 'import pytest\npytest.importorskip("no_such_module_evalkit")\n\ndef test_never():\n    pass\n'


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_cases.py").write_text(CASES)
    (tmp_path / "test_collection.py").write_text(COLLECTION)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # the policy plugin alone (not the repository's conftest or options), in a folder of its own
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.skip_policy", "-p", "no:cacheprovider",
                           "-rfEs", "--continue-on-collection-errors", "-c", os.devnull, "--rootdir", str(tmp_path),
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


@pytest.mark.parametrize("ci", [None, "false"])
def test_local_runs_list_skips_with_their_reasons(tmp_path, ci):
    done = _pytest(tmp_path, ci)
    assert done.returncode == 0, done.stdout
    tail = done.stdout.strip().splitlines()[-1]
    assert "1 passed" in tail and "4 skipped" in tail and "1 xfailed" in tail, tail
    for reason in ("needs the frobnicator", "thing missing", "marked skip", "no_such_module_evalkit"):
        assert reason in done.stdout


@pytest.mark.parametrize("ci", ["true"])
def test_under_ci_every_skip_fails(tmp_path, ci):
    done = _pytest(tmp_path, ci)
    assert done.returncode == 1, done.stdout
    tail = done.stdout.strip().splitlines()[-1]
    # a skip in the test body fails it; one in set-up (a fixture, a skipif mark) or at collection is an error
    assert "1 failed" in tail and "3 errors" in tail and "1 passed" in tail and "1 xfailed" in tail, tail
    assert "skipped" not in tail
    for reason in ("needs the frobnicator", "thing missing", "marked skip", "no_such_module_evalkit"):
        assert reason in done.stdout
    assert f"skipped under CI={ci}, where every test must run" in done.stdout


def test_ci_run_sets_ci_and_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert "export CI=true" in script and "make test" in script
