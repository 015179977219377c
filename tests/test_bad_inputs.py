"""The bad-input catalogue (tests/bad_inputs): every case must end in a clear error or a correct answer.

One test per case. A case fails when its input escapes as a raw (non-evalkit) exception, gives
NaN / inf / wrong numbers or accepts bad input without an error or warning (silent), changes
the caller's data (mutated), refuses a valid input, or raises an evalkit error that does not
name the offending parameter or column. ``python -m tests.bad_inputs`` prints the same cases
as a table per entry point.
"""
from __future__ import annotations

import pytest

from tests.bad_inputs.catalogue import CASES
from tests.bad_inputs.engine import PASSING, run_case


def _param(case):
    marks = [pytest.mark.xfail(reason=f"waits on item ({case.depends}) of issue 12", strict=False)] \
        if case.depends else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case):
    outcome = run_case(case)
    assert outcome.cls in PASSING, f"{case.id} (expect {case.expect}): {outcome.cls}: {outcome.detail}"


def test_catalogue_is_large_and_covers_every_entry_point():
    entries = {c.entry for c in CASES}
    assert len(CASES) >= 250
    assert {"did2x2", "twfe", "event_study", "att_gt", "aggregate", "sun_abraham", "bacon", "did_imputation",
            "synth", "sdid", "Result.with_inference", "wild_cluster_bootstrap", "cr2_vcov", "cr3_vcov",
            "honest_did", "post_average", "pretrend_test", "wald_test", "lincom", "Result methods"} <= entries
    assert {c.expect for c in CASES} == {"error", "ok"}
