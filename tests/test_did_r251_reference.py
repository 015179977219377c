"""Callaway & Sant'Anna on mpdta against R did 2.5.1, the release the issue names ("did 2.5").

Source: ``tests/references/did_r_2_5_1_mpdta.json``, written by ``tests/references/r/did_mpdta.R``
(the same script as the 2.1.2 file) with R 4.2.2, did 2.5.1 (bcallaway11/did at 71ba8a5,
2026-07-30), BMisc 1.4.8 and DRDID 1.2.3 (see tests/references/README.md for why not 1.3.0).
Data: mpdta from moderndid, cluster rule ``state = countyreal // 1000`` (29 unequal clusters).

Tolerances as in tests/test_did_r_reference.py (issue 4): points and W 1e-6 relative, SEs 1e-4.

What 2.5.1 settles that 2.1.2 could only pin as a convention:
* clustered standard errors without the bootstrap (2.5's "first-class clustered inference",
  influence function SUMMED within clusters, Callaway & Sant'Anna 2021 Remark 10): evalkit's
  clustered ATT(g,t), aggregation and pre-test numbers equal R's directly, with unequal clusters;
* the overall "group" aggregation SE (2.5.1 fixed the weight-term indexing): equal directly.
One convention remains (pinned in test_did_r_reference.py): with anticipation, R's pre-test
still takes every g > t cell, including the anticipation window; evalkit leaves that window out.
"""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.estimators.staggered import aggregate
from tests.reference_data import reference
from tests.test_did_r_reference import (KINDS, NO_ANTICIPATION, PT_RTOL, SE_RTOL, SETTINGS, _cells, assert_rel,
                                        check_aggte, fits, mpdta)  # noqa: F401 (fixtures)

REF = reference("did_r_2_5_1_mpdta.json")
R = REF["settings"]
CL = "dr_never_lpop_cluster_state"
ALL = [*SETTINGS, CL]


def test_reference_file_provenance():
    assert REF["meta"]["packages"]["did"] == "2.5.1"
    assert REF["meta"]["R_version"].startswith("R version 4.2.2")
    assert "clustervars = c(\"countyreal\", \"state\")" in R[CL]["call"] and "bstrap = FALSE" in R[CL]["call"]
    assert not R[CL]["warnings"]  # 2.5.1 honours clustervars without the bootstrap


@pytest.mark.parametrize("name", ALL)
def test_att_gt_and_se_match_r251(fits, name):  # noqa: F811
    """ATT(g,t) to PT_RTOL and analytic SEs to SE_RTOL, clustered ones included (JSON att/se)."""
    cells = _cells(fits[name], R[name])
    assert_rel(cells["estimate"], R[name]["att"], PT_RTOL, f"{name} att")
    assert_rel(cells["std_error"], R[name]["se"], SE_RTOL, f"{name} se")


@pytest.mark.parametrize("name", [*NO_ANTICIPATION, CL])
def test_pretest_matches_r251(fits, name):  # noqa: F811
    """W to PT_RTOL; with clusters R's W uses the clustered covariance as evalkit's does."""
    pt, ref = fits[name].diagnostics["pretest"], R[name]
    assert_rel(pt["W"], ref["W"], PT_RTOL, f"{name} W")
    assert pt["df"] == ref["W_df_derived"]
    assert round(pt["p_value"], 5) == ref["Wpval"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ALL)
def test_aggte_matches_r251(fits, name, kind):  # noqa: F811
    """aggte(fit, type=kind, bstrap=FALSE): every estimate to PT_RTOL and every SE to SE_RTOL,
    the group overall SE and the clustered SEs included."""
    check_aggte(aggregate(fits[name], kind), R[name]["aggte"][kind], f"{name} {kind}")


def test_anticipation_pretest_cells_still_differ(fits):  # noqa: F811
    """did 2.5.1 keeps 2.1.2's pre-test cell set under anticipation (5 cells, W = 6.842); evalkit
    leaves out the anticipation window (see test_pretest_anticipation_convention)."""
    ref = R["dr_never_lpop_antic1"]
    assert ref["W_df_derived"] == 5
    assert fits["dr_never_lpop_antic1"].diagnostics["pretest"]["df"] == 3
    assert np.isclose(ref["W"], reference("did_r_2_1_2_mpdta.json")["settings"]["dr_never_lpop_antic1"]["W"],
                      rtol=1e-12)
