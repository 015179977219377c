"""Session set-up shared by the tests and the nbval notebook run.

nbval executes ``notebooks/*.ipynb`` with their default parameters, which read the demo
data in ``data/demo``; generate it once (deterministic seed) when it is missing.

Skip policy: a test may skip only when something it needs is not installed (an oracle package,
Chromium, a data file); ``make test`` installs all of it, and under ``CI=true`` (set by
``.ci/run``) every skip, at run time or at collection, is turned into a failure. Local runs list
the skips with their reasons (``-rfEs`` in the pytest options): see ``tests/skip_policy.py``.
"""
from pathlib import Path

# the skip policy (every skip fails under CI=true) for the tests and the nbval notebook items alike
pytest_plugins = ["tests.skip_policy"]

ROOT = Path(__file__).resolve().parent
DEMO = ROOT / "data" / "demo"


def pytest_sessionstart(session):
    import os

    # nbval's kernels inherit this environment: long steps announce themselves on the console, not
    # in a cell's outputs (an interactive kernel's default), which nbval would compare with the stored
    # ones; the tests of evalkit.progress set the variable themselves where they need another mode
    os.environ.setdefault("EVALKIT_PROGRESS", "console")
    from evalkit.data.simulate import is_current, simulate

    if not is_current(DEMO, seed=2024, size="small"):
        simulate(DEMO, seed=2024, size="small", progress=False)
