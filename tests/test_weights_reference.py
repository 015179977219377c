"""External witness of weighted estimation (issue 14, item 3): evalkit vs pyfixest ``feols(weights=)``.

Data: the castle-doctrine state-year panel (Cheng & Hoekstra 2013) with population weights ``popwt``,
as shipped by causaldata; cases and derived columns in :mod:`tests.weights_reference`. Oracle:
pyfixest 0.60 (``aweights`` and ``fweights``; CRV1 by state and hetero), run live when installed
and stored in ``tests/references/pyfixest_weights_castle.json`` with its versions and tolerances.
Tolerance: 1e-8 absolute on the points, 1e-6 relative on the standard errors.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests import weights_reference as W
from tests.reference_data import reference

pytestmark = pytest.mark.filterwarnings("ignore::evalkit.errors.EvalkitWarning")
CASES = {c.name: c for c in W.CASES}


def _ours(case: W.WitnessCase):
    pytest.importorskip("causaldata")
    return case.evalkit(case.data()).table.set_index("term")


def _check(tab, numbers: dict) -> tuple[float, float]:
    """Max |estimate difference| and max relative SE difference; asserts the tolerances."""
    d_est = d_se = 0.0
    for name, term in numbers["terms"].items():
        d_est = max(d_est, abs(tab.loc[term, "estimate"] - numbers["estimate"][name]))
        d_se = max(d_se, abs(tab.loc[term, "std_error"] / numbers["std_error"][name] - 1))
    assert d_est <= W.TOL_ESTIMATE, f"estimates differ by {d_est:.3g}"
    assert d_se <= W.TOL_SE, f"standard errors differ by {d_se:.3g} (relative)"
    return d_est, d_se


@pytest.mark.parametrize("name", list(CASES))
def test_equals_pyfixest_live(name):
    pytest.importorskip("pyfixest")
    case = CASES[name]
    _check(_ours(case), W.pyfixest_numbers(case))


@pytest.mark.parametrize("name", list(CASES))
def test_equals_stored_pyfixest_numbers(name):
    stored = {c["name"]: c for c in reference("pyfixest_weights_castle.json")["cases"]}
    case = stored[name]
    assert case["formula"] == CASES[name].formula and case["weights"] == CASES[name].weights
    _check(_ours(CASES[name]), case)


def test_stored_file_records_its_source():
    ref = reference("pyfixest_weights_castle.json")
    assert ref["packages"]["pyfixest"] and ref["tolerance"] == {"estimate_abs": W.TOL_ESTIMATE,
                                                                 "std_error_rel": W.TOL_SE}
    assert {c["name"] for c in ref["cases"]} == set(CASES)


def test_weighted_bacon_sums_to_the_pyfixest_weighted_twfe():
    """popwt is one value per state, so the weighted Goodman-Bacon decomposition applies; its weighted
    sum equals pyfixest's weighted TWFE coefficient (stored), to 1e-8."""
    pytest.importorskip("causaldata")
    import evalkit as ek

    stored = {c["name"]: c for c in reference("pyfixest_weights_castle.json")["cases"]}["twfe_cluster_state"]
    res = ek.bacon(W.castle(), outcome="l_homicide", unit="sid", time="year", treatment="treat", weights="popwt")
    assert abs(res.estimate("TWFE") - stored["estimate"]["treat"]) <= W.TOL_ESTIMATE


def test_weights_matter_on_castle():
    """The weighted and unweighted TWFE estimates differ (the witness is not a weighting no-op)."""
    pytest.importorskip("causaldata")
    import evalkit as ek

    d = W.castle()
    plain = ek.twfe(d, outcome="l_homicide", unit="sid", time="year", treatment="treat", cluster="sid")
    weighted = CASES["twfe_cluster_state"].evalkit(d)
    assert not np.isclose(plain.estimate("ATT"), weighted.estimate("ATT"), rtol=1e-3)
    assert weighted.meta["weights"] == "popwt" and "Weights    popwt (analytic weights)" in weighted.summary()
