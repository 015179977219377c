"""Test-suite settings for the tests under ``tests/``.

Hypothesis profile "ci" (loaded by default; choose another with HYPOTHESIS_PROFILE=...):
200 examples per property, no deadline (fits on a shared CI machine vary in time),
derandomized so every CI run tests the same examples, and the health checks for slow
tests and large data off (an estimator fit per example is slow by Hypothesis' measure).
Profile "dev": the same with 20 examples, for a quick local run.
"""
import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # every phase but "explain": it re-runs a failing example under line tracing (minutes for one fit)
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
# a quick local run: HYPOTHESIS_PROFILE=dev pytest tests/test_invariance.py
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
