"""External witness for the synthetic control (evalkit.synth): R Synth 1.1-8.

Source: ``tests/references/synth_texas.json`` and ``synth_prop99.json``, written by
``tests/references/r/synth.R`` with R 4.2.2 and Synth 1.1-8 (Abadie, Diamond & Hainmueller;
CRAN source) at its defaults (``synth(data.prep.obj = dp)``: Nelder-Mead and BFGS from the
equal-weights and the regression start, ``ipop`` inner solver). The JSON holds the exact
``dataprep`` call, the donor weights, V, the pre-period MSPE (``loss.v``), the predictor
values and, for every in-space placebo, the same (see ``tests/references/README.md``).

Cases and data (not committed; each test is skipped when its package is absent):
* Texas prison expansion (Cunningham, *Causal Inference: The Mixtape*, ch. 10): causaldata's
  ``texas``, black male prisoners ``bmprison``, the Mixtape's predictors (poverty and income
  averaged 1985-1993; bmprison 1988 and 1990-92; alcohol 1990; AIDS 1990-91; black 1990-92;
  perc1519 1990). The Mixtape's ``time.optimize.ssr = 1985:1993`` makes 1993 the last
  pre-period year, so evalkit's ``treatment_start`` is 1994.
* Proposition 99 (ADH 2010): synthdid-py's ``california_prop99``, which has cigarette sales
  only, so the predictors are ADH's outcome ones: sales in 1975, 1980 and 1988 and their
  1970-1988 mean. (ADH's income, price, age and beer covariates are not available.)

What is compared, and tolerances (measured differences in the comments):
* Predictor values (dataprep vs evalkit's predictor spec): 1e-10 relative (measured 2e-15).
* Pre-period MSPE: the V search is a non-convex optimisation with local optima, so the
  requirement is that evalkit's loss is no worse than Synth's: loss <= R loss x (1 + 1e-9)
  (Texas: evalkit 1.9687e6, Synth 2.0151e6).
* Donor weights: 1e-2 absolute (R's ipop stops at about 5 significant digits and its
  Nelder-Mead at 500 evaluations, so weights cannot agree to solver precision; Texas
  measured 0.0097 - close to the bound: evalkit's better optimum moves Florida by ~0.01).
* At R's own V, evalkit's exact inner solver (NNLS on the simplex) gives weights within
  5e-3 (measured 1.8e-3) and a loss no worse than R's: this isolates the inner problem and
  the scaling.
* V itself is not compared: the pre-period MSPE is flat in V along directions that leave
  the weights unchanged (Texas: R puts 0.89 on bmprison, evalkit splits poverty/bmprison
  with the same weights to 1e-2).
* Placebo inference: ADH's rank of the treated post/pre RMSPE ratio among the treated unit
  and all placebos, and the p-value = rank / (J + 1), must be equal (Texas 3/51, Prop 99 5/39).
  For two Texas placebos (Arkansas, North Carolina) Synth stops with an ipop error at its
  defaults; synth.R refits them with Sigf.ipop = 3, as the Mixtape's placebo code does.

Prop 99 with outcome predictors only: California's four predictors lie inside the convex
hull of the donors' (the inner loss is 0 at R's V: 4e-7 for ipop, 2e-33 for evalkit), so the
donor weights are NOT unique. ipop returns an interior point, evalkit's NNLS a sparse one;
both fit the predictors exactly but give different pre-period MSPEs (R 9.37, evalkit 12.37
at the same V) and weights (max difference 0.13). R's V search exploits that choice. The
weight and loss comparisons for Prop 99 are therefore expected failures (xfail, strict), and
``test_prop99_weights_not_unique`` pins the reason; the placebo rank and p-value agree.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.estimators import _synth_kernels as K
from evalkit.estimators._synth_data import build_panel
from evalkit.estimators.synth import synth

# SYNTH_REF_DIR: check a fresh run of synth.R before copying its JSON into tests/references
REF_DIR = Path(os.environ.get("SYNTH_REF_DIR", Path(__file__).parent / "references"))
W_TOL = 1e-2
W_TOL_AT_R_V = 5e-3
LOSS_RTOL = 1e-9


def _ref(case):
    return json.loads((REF_DIR / f"synth_{case}.json").read_text())


def _texas():
    causaldata = pytest.importorskip("causaldata")
    t = causaldata.texas.load_pandas().data.copy()
    for c in t.columns:  # float32 in causaldata; R read the float64 values of the same numbers
        if t[c].dtype.kind == "f":
            t[c] = t[c].astype("float64")
    return t


def _prop99():
    try:
        importlib.metadata.version("synthdid-py")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("synthdid-py (oracle extra) is not installed; it ships the Prop 99 panel")
    import synthdid
    return synthdid.load_california_prop99()


TX_PRE = list(range(1985, 1994))
SPECS = {
    "texas": dict(
        load=_texas, unit_key=int,
        args=dict(outcome="bmprison", unit="statefip", time="year", treated=48, treatment_start=1994,
                  predictors={"poverty": TX_PRE, "income": TX_PRE, "bmprison": [1988, 1990, 1991, 1992],
                              "alcohol": [1990], "aidscapita": [1990, 1991], "black": [1990, 1991, 1992],
                              "perc1519": [1990]})),
    "prop99": dict(
        load=_prop99, unit_key=str,
        args=dict(outcome="PacksPerCapita", unit="State", time="Year", treated="California",
                  treatment_start=1989, predictors={"PacksPerCapita": None}, pre_periods=[1975, 1980, 1988])),
}
CASES = list(SPECS)
PROP99_NOT_UNIQUE = pytest.param("prop99", marks=pytest.mark.xfail(
    strict=True, reason="Prop 99 outcome-only predictors: the inner problem fits exactly, so the weights are "
    "not unique and depend on the solver (see the module docstring)"))


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(case):
        if case not in cache:
            spec = SPECS[case]
            data = spec["load"]()
            res = synth(data, **spec["args"], placebo=True, loo=False)
            cache[case] = (data, res, _ref(case))
        return cache[case]
    return get


def _unit_name(ref, rid):
    """evalkit's label (str of the unit id) for an R unit id."""
    return str(rid) if "texas" in ref["case"] else ref["unit_names"][str(rid)]


def _r_weights(ref, fit):
    return {_unit_name(ref, k): v for k, v in fit["weights"].items()}


def _panel_for(case, data, treated_label=None):
    spec = SPECS[case]
    args = dict(spec["args"])
    a = {k: args[k] for k in ("outcome", "unit", "time", "treatment_start", "predictors")}
    return build_panel(data, **a, treated=args["treated"] if treated_label is None else treated_label,
                       pre_periods=args.get("pre_periods"))


@pytest.mark.parametrize("case", CASES)
def test_predictors_match_dataprep(case, fitted):
    data, res, ref = fitted(case)
    ev = res.diagnostics["predictor_balance"]
    x1_r = list(ref["main"]["X1"].values())
    x1_e = [b["treated"] for b in ev.values()]
    np.testing.assert_allclose(x1_e, x1_r, rtol=1e-10)
    xs_e = [b["synthetic"] for b in ev.values()]
    assert len(xs_e) == len(ref["main"]["X0_w"])


@pytest.mark.parametrize("case", ["texas", PROP99_NOT_UNIQUE])
def test_pre_period_loss_no_worse_than_synth(case, fitted):
    _, res, ref = fitted(case)
    loss = res.diagnostics["pre_rmspe"] ** 2
    assert loss <= ref["main"]["loss_v"] * (1 + LOSS_RTOL), (loss, ref["main"]["loss_v"])


@pytest.mark.parametrize("case", ["texas", PROP99_NOT_UNIQUE])
def test_donor_weights_match_synth(case, fitted):
    _, res, ref = fitted(case)
    w_r = _r_weights(ref, ref["main"])
    w_e = res.diagnostics["weights"]
    assert set(w_r) == set(w_e)
    diff = max(abs(w_e[k] - w_r[k]) for k in w_r)
    assert diff <= W_TOL, diff


@pytest.mark.parametrize("case", ["texas"])
def test_inner_problem_at_synth_v(case, fitted):
    data, res, ref = fitted(case)
    panel = _panel_for(case, data)
    i, d = panel.treated[0], list(panel.donors)
    x1s, x0s = K.scale_predictors(panel.x[:, i], panel.x[:, d])
    v = np.array(list(ref["main"]["V"].values()))
    w = K.simplex_weights(x1s, x0s, v / v.sum())
    z1, z0 = panel.y[panel.pre, i], panel.y[panel.pre][:, d]
    loss = float(np.mean((z1 - z0 @ w) ** 2))
    assert loss <= ref["main"]["loss_v"] * (1 + LOSS_RTOL)
    w_r = _r_weights(ref, ref["main"])
    names = [str(panel.units[j]) for j in d]
    diff = max(abs(w[k] - w_r[n]) for k, n in enumerate(names))
    assert diff <= W_TOL_AT_R_V, diff


@pytest.mark.parametrize("case", CASES)
def test_placebo_rank_and_p_value_match_synth(case, fitted):
    _, res, ref = fitted(case)
    d = res.diagnostics
    ratios = np.array(list(d["placebo_ratios"].values()))
    rank = 1 + int(np.sum(ratios >= d["rmspe_ratio"]))
    assert ref["n_placebos"] == len(ratios)
    assert rank == ref["rank"]
    assert d["placebo_p_value"] == pytest.approx(ref["p_value"], abs=1e-12)


def test_reference_provenance():
    for case in CASES:
        ref = _ref(case)
        assert ref["synth_version"] == "1.1.8"
        assert ref["r_version"].startswith("R version 4.2.2")
        assert "dataprep(" in ref["call_dataprep"]


@pytest.mark.xfail(strict=True, reason="known gap: evalkit's V search (Nelder-Mead from Synth's two starts) "
                   "ends at a worse local optimum than Synth's Nelder-Mead/BFGS for some placebo fits "
                   "(Texas: 18 of 50, up to 4.4x the pre-period MSPE); the treated fits and the placebo "
                   "ranks agree")
def test_every_placebo_loss_no_worse_than_synth(fitted):
    _, res, ref = fitted("texas")
    d = res.diagnostics
    pre = np.array(d["paths"]["time"]) < SPECS["texas"]["args"]["treatment_start"]
    units = d["placebo_gaps"]["units"]
    worse = []
    for p in ref["placebos"]:
        name = _unit_name(ref, p["treated"])
        g = np.array(d["placebo_gaps"]["gaps"][units.index(name)])
        if np.mean(g[pre] ** 2) > p["loss_v"] * (1 + LOSS_RTOL):
            worse.append(name)
    assert not worse, worse


def test_prop99_weights_not_unique(fitted):
    """Both solvers fit California's predictors exactly at R's V: the inner minimiser is a set."""
    data, _, ref = fitted("prop99")
    panel = _panel_for("prop99", data)
    i, d = panel.treated[0], list(panel.donors)
    x1s, x0s = K.scale_predictors(panel.x[:, i], panel.x[:, d])
    v = np.array(list(ref["main"]["V"].values()))
    v = v / v.sum()
    w = K.simplex_weights(x1s, x0s, v)
    assert float(np.sum(v * (x1s - x0s @ w) ** 2)) < 1e-20
    assert ref["main"]["loss_w"] < 1e-6
    names = [str(panel.units[j]) for j in d]
    w_r = _r_weights(ref, ref["main"])
    assert max(abs(w[k] - w_r[n]) for k, n in enumerate(names)) > 0.05   # two different exact fits
