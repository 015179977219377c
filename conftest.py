"""Session set-up shared by the tests and the nbval notebook run.

nbval executes ``notebooks/*.ipynb`` with their default parameters, which read the demo
data in ``data/demo``; generate it once (deterministic seed) when it is missing.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEMO = ROOT / "data" / "demo"


def pytest_sessionstart(session):
    from evalkit.data.simulate import is_current, simulate

    if not is_current(DEMO, seed=2024, size="small"):
        simulate(DEMO, seed=2024, size="small", progress=False)
