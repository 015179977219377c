"""Callaway & Sant'Anna on an UNBALANCED panel against R did itself (allow_unbalanced_panel=TRUE).

Sources of every R number (exact calls stored next to each number, key "call"):

* ``tests/references/did_r_unbalanced.json``: R 4.2.2 (Debian), did 2.1.2 (CRAN source via the
  cran/did mirror, the newest version there), DRDID 1.2.3, BMisc 1.4.6;
* ``tests/references/did_r_2_5_1_unbalanced.json``: the same script with did 2.5.1
  (bcallaway11/did at 71ba8a5; BMisc 1.4.8, DRDID 1.2.3, data.table 1.18.0).

Both written by ``tests/references/r/did_unbalanced.R``: ``att_gt(yname="lemp", tname="year",
idname="countyreal", gname="first.treat", xformla=~lpop, data, panel=TRUE,
allow_unbalanced_panel=TRUE, est_method="dr", bstrap=FALSE, cband=FALSE)`` with never / not-yet
treated controls, unclustered, ``clustervars=c("countyreal","state")`` and ``weightsname="w"``,
plus ``aggte(type = "simple" | "group" | "dynamic", bstrap=FALSE, cband=FALSE)``.

Data (not committed): mpdta from moderndid with 237 of 2,500 unit-years dropped by a seeded
pattern (``tests/references/r/make_unbalanced_mpdta.py``; 2,263 rows, all 500 counties kept,
2-5 years each), state = countyreal // 1000 (29 clusters), w = 0.5 + (countyreal % 10) / 4. The
test rebuilds the frame and checks it is byte for byte the CSV R read (SHA-256 in the JSON).

Tolerances (as the balanced R tests): points relative ``PT_RTOL = 1e-6``, SEs ``SE_RTOL = 1e-4``.
Measured on the stored files (max relative difference over cells / aggregates):
did 2.5.1: points <= 4e-10, SEs <= 6.4e-9 in every setting, clustered and weighted included;
did 2.1.2: the same, except two did 2.1.2 conventions pinned below (the clustered SEs are
compared with cluster sums of did 2.1.2's own influence functions, to <= 6.4e-9).

Conventions of did 2.1.2, pinned (did 2.5.1 agrees with evalkit on both):

* clustervars with bstrap=FALSE is ignored (warning): R's SEs are the unclustered ones.
  evalkit sums the influence function within clusters; this equals sqrt(sum_c S_c^2)/n computed
  from did 2.1.2's own o$inffunc (JSON "clustered") and did 2.5.1's analytic clustered SE.
* aggte(type="group") overall SE: did 2.1.2's weight term ``wif`` indexes the ATT(g,t) cell
  groups (cohorts of the first 3 cells, 2004, 2004, 2004); rebuilding that indexing from
  evalkit's influence functions reproduces R; evalkit (= did 2.5.1) differs from 2.1.2 by ~0.5 %.

Not tested here (csdid is not the reference): csdid 0.4.3 (allow_unbalanced_panel=True, bstrap=False)
gives the same points but SEs 1.2-1.4 % off R unclustered/weighted and up to 21 % clustered on this
panel. Cause: its ``attgt_fnc/drdid_trim.drdid_rc`` subtracts the base-period outcome-regression
estimation effects (``inf_treat_or = inf_treat_or_post - inf_treat_or_pre``, the same for
``inf_cont_or``) where DRDID ``drdid_rc`` adds them (``inf.treat.or.post + inf.treat.or.pre``); the
influence function differs only on base-period control rows, by 2 * linrep_ols_pre @ (M1_pre -
M3_pre). With those two signs flipped csdid matches R did 2.5.1 to <= 6.4e-9 in every setting.
"""
from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from evalkit.estimators.staggered import aggregate, att_gt
from tests.reference_data import mpdta as load_mpdta
from tests.reference_data import reference

REFS = Path(__file__).parent / "references"
_spec = importlib.util.spec_from_file_location("make_unbalanced_mpdta", REFS / "r" / "make_unbalanced_mpdta.py")
GEN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(GEN)

R212 = reference("did_r_unbalanced.json")
R251 = reference("did_r_2_5_1_unbalanced.json")
FILES = {"2.1.2": R212, "2.5.1": R251}
PT_RTOL = 1e-6
SE_RTOL = 1e-4

# R setting name -> evalkit arguments (all: method="dr", covariates=["lpop"], panel=True)
SETTINGS = {
    "dr_never": dict(control_group="never"),
    "dr_notyet": dict(control_group="notyet"),
    "dr_never_cluster_state": dict(control_group="never", cluster="state"),
    "dr_notyet_cluster_state": dict(control_group="notyet", cluster="state"),
    "dr_never_w": dict(control_group="never", weights="w"),
    "dr_notyet_w": dict(control_group="notyet", weights="w"),
    "dr_never_w_cluster_state": dict(control_group="never", weights="w", cluster="state"),
}
CLUSTERED = [k for k, s in SETTINGS.items() if "cluster" in s]
UNCLUSTERED_TWIN = {k: k.replace("_cluster_state", "") for k in CLUSTERED}
KINDS = ["simple", "group", "dynamic"]
LABEL_COL = {"group": "group", "dynamic": "event_time"}


def _arr(x):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


def assert_rel(ours, ref, rtol, what):
    ours, ref = np.atleast_1d(np.asarray(ours, float)), _arr(ref)
    assert ours.shape == ref.shape, (what, ours.shape, ref.shape)
    assert np.array_equal(np.isfinite(ours), np.isfinite(ref)), (what, ours, ref)
    m = np.isfinite(ref)
    rel = np.abs(ours[m] - ref[m]) / np.maximum(np.abs(ref[m]), 1e-300)
    assert np.all(rel <= rtol), (what, float(rel.max(initial=0)), ours, ref)


@pytest.fixture(scope="module")
def data():
    return GEN.unbalanced_mpdta(load_mpdta())


@pytest.fixture(scope="module")
def fits(data):
    out = {}
    for name, kw in SETTINGS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = att_gt(data, outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
                               covariates=["lpop"], method="dr", panel=True, **kw)
    return out


def _cells(res, ref):
    tab = res.table.set_index(["group", "time"])
    keys = list(zip(_arr(ref["group"]).astype(int), _arr(ref["time"]).astype(int)))
    assert len(keys) == len(tab), "evalkit and R estimate different sets of ATT(g,t) cells"
    return tab.loc[keys]


# --------------------------------------------------------------------------- data and provenance
@pytest.mark.parametrize("version", list(FILES))
def test_data_is_what_r_read(data, version):
    """The regenerated frame is byte for byte the CSV R read (SHA-256 stored by the R script)."""
    meta = FILES[version]["meta"]
    assert GEN.sha256(data) == meta["input"]["csv_sha256"]
    assert meta["input"]["rows"] == len(data) == 2263 and meta["input"]["units"] == 500
    assert meta["input"]["clusters"] == data["state"].nunique() == 29
    assert meta["packages"]["did"] == version and meta["packages"]["DRDID"] == "1.2.3"
    assert meta["R_version"].startswith("R version 4.2.2")


def test_panel_is_unbalanced(data, fits):
    """Every county is kept (2-5 of 5 years; 203 of 500 miss some), so R (allow_unbalanced_panel) and evalkit use all 500."""
    per_unit = data.groupby("countyreal").size()
    assert per_unit.min() == 2 and per_unit.max() == 5 and (per_unit < 5).sum() == 203
    for name, res in fits.items():
        assert res.diagnostics["balanced"] is False and res.diagnostics["n_units"] == 500
        for ref in FILES.values():
            r = ref["settings"][name]
            assert r["n"] == 500
            assert "allow_unbalanced_panel = TRUE" in r["call"] and "panel = TRUE" in r["call"]
            assert "bstrap = FALSE" in r["call"] and "xformla = ~lpop" in r["call"]


# --------------------------------------------------------------------------- ATT(g,t)
@pytest.mark.parametrize("version", list(FILES))
@pytest.mark.parametrize("name", list(SETTINGS))
def test_att_gt_points(fits, name, version):
    ref = FILES[version]["settings"][name]
    assert_rel(_cells(fits[name], ref)["estimate"], ref["att"], PT_RTOL, f"{version} {name} att")


@pytest.mark.parametrize("version", list(FILES))
@pytest.mark.parametrize("name", list(SETTINGS))
def test_att_gt_se(fits, name, version):
    """R's own analytic SE; did 2.1.2 with clusters: the cluster sum of its influence functions
    (its own SE there is unclustered, see test_r212_ignores_clusters)."""
    ref = FILES[version]["settings"][name]
    target = ref["clustered"]["derived_cluster_sum_se"] if (version == "2.1.2" and name in CLUSTERED) else ref["se"]
    assert_rel(_cells(fits[name], ref)["std_error"], target, SE_RTOL, f"{version} {name} se")


# --------------------------------------------------------------------------- aggte
@pytest.mark.parametrize("version", list(FILES))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(SETTINGS))
def test_aggte(fits, name, kind, version):
    """aggte(fit, type=kind, bstrap=FALSE, cband=FALSE): overall and per-label estimates to
    PT_RTOL, SEs to SE_RTOL. did 2.1.2: clustered SEs from its influence functions; the group
    overall SE is pinned in test_r212_group_overall_wif_indexing."""
    ref = FILES[version]["settings"][name]["aggte"][kind]
    tab = aggregate(fits[name], kind).table
    what = f"{version} {name} {kind}"
    clustered_212 = version == "2.1.2" and name in CLUSTERED
    assert_rel(tab["estimate"].iloc[-1], ref["overall_att"], PT_RTOL, f"{what} overall")
    if not (version == "2.1.2" and kind == "group"):
        target = ref["clustered"]["overall"]["derived_cluster_sum_se"] if clustered_212 else ref["overall_se"]
        assert_rel(tab["std_error"].iloc[-1], target, SE_RTOL, f"{what} overall se")
    if kind != "simple":
        body = tab.iloc[:-1]
        assert list(body[LABEL_COL[kind]]) == [int(e) for e in ref["egt"]]
        assert_rel(body["estimate"], ref["att_egt"], PT_RTOL, f"{what} components")
        target = ref["clustered"]["components"]["derived_cluster_sum_se"] if clustered_212 else ref["se_egt"]
        assert_rel(body["std_error"], target, SE_RTOL, f"{what} component se")


# --------------------------------------------------------------------------- did 2.1.2 conventions
@pytest.mark.parametrize("name", CLUSTERED)
def test_r212_ignores_clusters(name):
    """did 2.1.2 warns and returns the unclustered SEs when clustervars is given with bstrap=FALSE
    (att_gt and aggte); did 2.5.1 clusters (its SEs differ from its unclustered ones)."""
    r, twin = R212["settings"][name], R212["settings"][UNCLUSTERED_TWIN[name]]
    assert any("NOT accounting for clustering" in w for w in np.atleast_1d(r["warnings"]))
    assert r["se"] == twin["se"]
    for kind in KINDS:
        assert r["aggte"][kind]["overall_se"] == twin["aggte"][kind]["overall_se"]
    r5, twin5 = R251["settings"][name], R251["settings"][UNCLUSTERED_TWIN[name]]
    assert not r5["warnings"] and np.nanmax(np.abs(_arr(r5["se"]) / _arr(twin5["se"]) - 1)) > 0.3


@pytest.mark.parametrize("name", CLUSTERED)
def test_r212_cluster_sum_equals_r251(name):
    """The cluster sum of did 2.1.2's influence functions is did 2.5.1's analytic clustered SE."""
    assert_rel(_arr(R212["settings"][name]["clustered"]["derived_cluster_sum_se"]), R251["settings"][name]["se"],
               SE_RTOL, f"{name} 2.1.2 derived vs 2.5.1")


@pytest.mark.parametrize("name", [k for k in SETTINGS if k not in CLUSTERED])
def test_r212_group_overall_wif_indexing(fits, name):
    """did 2.1.2 compute.aggte.R (type="group"): wif(keepers=1:length(glist), ..., group=group)
    uses the cohorts of the first length(glist) ATT(g,t) cells. Rebuilt from evalkit's influence
    functions it reproduces R 2.1.2 to SE_RTOL; evalkit's own SE is did 2.5.1's (test_aggte) and
    differs from 2.1.2 by more than 0.1 %."""
    res = fits[name]
    agg = aggregate(res, "group")
    inf, tab = agg.influence, agg.table.iloc[:-1]
    glist, att_g = tab["group"].astype(int).to_numpy(), tab["estimate"].to_numpy()
    cohort, w = inf[".cohort"].to_numpy(), inf[".weight"].to_numpy()
    pg = np.array([np.mean(w * (cohort == g)) for g in glist])
    psi = inf[[f"ATT(g={g})" for g in glist]].to_numpy() @ (pg / pg.sum())
    cell_groups = res.table["group"].to_numpy()[: glist.size]

    def overall_se(labels):
        num = np.column_stack([w * (cohort == labels[k]) - pg[k] for k in range(glist.size)])
        wif = num / pg.sum() - num.sum(axis=1)[:, None] * (pg / pg.sum() ** 2)[None, :]
        f = psi + wif @ att_g
        return math.sqrt(np.mean(f**2) / f.size)

    r_se = R212["settings"][name]["aggte"]["group"]["overall_se"]
    assert_rel(overall_se(cell_groups), r_se, SE_RTOL, f"{name} group overall se, 2.1.2 indexing")
    ours = agg.table["std_error"].iloc[-1]
    assert_rel(ours, overall_se(glist), 1e-12, "evalkit group overall se = cohort-indexed wif")
    assert abs(ours / r_se - 1) > 1e-3
