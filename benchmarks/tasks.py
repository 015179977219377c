"""Benchmark tasks: one function per (library, estimator), each on the same panel.

Each task takes the panel (columns unit, time, area, cohort, treat, x1, x2, y) and returns the
headline estimate, so the run can also report how far the libraries agree. Cohort 0 means never
treated; libraries that want another coding get it converted here, outside the timed part when
the conversion is not part of their normal use.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

COVARIATES = ["x1", "x2"]


# ---------------------------------------------------------------- Callaway-Sant'Anna, every shape
# The CS tasks take the matrix cell ``spec``: {"shape": balanced|unbalanced|rcs, "covariates": bool,
# "control": never|notyet}. Repeated cross-sections are estimated with panel=False by every library.

def _cs_args(spec) -> tuple[list[str] | None, bool]:
    return (COVARIATES if spec.get("covariates", True) else None), spec.get("shape") != "rcs"


def evalkit_cs(df, spec):
    import evalkit

    covs, panel = _cs_args(spec)
    res = evalkit.att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", covariates=covs,
                         method="dr", cluster="area", control_group=spec.get("control", "never"), panel=panel)
    return evalkit.aggregate(res, "simple").tidy()["estimate"].iloc[0]


def evalkit_cs_boot(df, spec):
    import evalkit

    covs, panel = _cs_args(spec)
    res = evalkit.att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", covariates=covs,
                         method="dr", cluster="area", control_group=spec.get("control", "never"), panel=panel,
                         bootstrap=True, draws=999, seed=1)
    return evalkit.aggregate(res, "simple").tidy()["estimate"].iloc[0]


def csdid_cs(df, spec):
    import contextlib
    import io

    from csdid.att_gt import ATTgt

    covs, panel = _cs_args(spec)
    control = "notyettreated" if spec.get("control") == "notyet" else "nevertreated"
    with contextlib.redirect_stdout(io.StringIO()):  # csdid prints its tables
        fit = ATTgt(yname="y", tname="time", idname="unit", gname="cohort", data=df,
                    xformla="y ~ x1 + x2" if covs else None, clustervar="area", control_group=control,
                    panel=panel, allow_unbalanced_panel=spec.get("shape") == "unbalanced"
                    ).fit(est_method="dr", bstrap=False)
        fit.aggte("simple", bstrap=False)
    return float(fit.atte["overall_att"])


def moderndid_cs(df, spec):
    import moderndid

    covs, panel = _cs_args(spec)
    control = "notyettreated" if spec.get("control") == "notyet" else "nevertreated"
    res = moderndid.att_gt(df, yname="y", tname="time", idname="unit", gname="cohort",
                           xformla="~ x1 + x2" if covs else None, clustervars=["area"], est_method="dr",
                           control_group=control, panel=panel,
                           allow_unbalanced_panel=spec.get("shape") == "unbalanced", boot=False)
    return float(moderndid.aggte(res, type="simple").overall_att)


def differences_cs(df, spec):
    from differences import ATTgt

    covs, panel = _cs_args(spec)
    data = df.assign(cohort=df["cohort"].where(df["cohort"] > 0)).set_index(["unit", "time"])
    att = ATTgt(data=data, cohort_column="cohort")
    control = "not_yet_treated" if spec.get("control") == "notyet" else "never_treated"
    att.fit("y ~ x1 + x2" if covs else "y", est_method="dr", control_group=control, cluster_var=["area"],
            as_repeated_cross_section=not panel, progress_bar=False)
    return float(np.asarray(att.aggregate("simple")).ravel()[0])


# ---------------------------------------------------------------- evalkit, other designs
def evalkit_twfe(df):
    import evalkit

    return evalkit.twfe(df, outcome="y", unit="unit", time="time", treatment="treat", cluster="area").estimate("ATT")


def evalkit_sun_abraham(df):
    import evalkit

    res = evalkit.sun_abraham(df, outcome="y", unit="unit", time="time", cohort="cohort", cluster="area")
    return _post_mean(res.tidy())


def evalkit_imputation(df):
    import evalkit

    res = evalkit.did_imputation(df, outcome="y", unit="unit", time="time", cohort="cohort", cluster="area")
    tab = res.tidy()
    return float(tab.loc[tab["event_time"].isna(), "estimate"].iloc[0]) if tab["event_time"].isna().any() \
        else float(tab["estimate"].iloc[0])


def evalkit_wild_twfe(df):
    import evalkit

    res = evalkit.twfe(df, outcome="y", unit="unit", time="time", treatment="treat", cluster="area",
                       inference="wild", inference_options={"draws": 9999, "seed": 1})
    return float(res.table["p_value"].iloc[0])  # the headline compared across libraries is the p-value


def evalkit_event_study20(df):
    import evalkit

    res = evalkit.event_study(df, outcome="y", unit="unit", time="time", cohort="cohort", cluster="area",
                              leads=10, lags=10)
    return _post_mean(res.tidy())


def synth_panel(df) -> pd.DataFrame:
    """Area x year means of the first 151 areas: unit 0 is 'treated' from 2017, 150 donors."""
    agg = df[df["area"] <= 150].groupby(["area", "time"], as_index=False)["y"].mean()
    return agg.assign(y=agg["y"] + np.where((agg["area"] == 0) & (agg["time"] >= 2017), 0.3, 0.0))


SYNTH_START, SYNTH_PRE = 2017, list(range(2010, 2017))


def evalkit_synth(df, placebo=False):
    import evalkit

    agg = synth_panel(df)
    agg = agg.assign(cohort=np.where(agg["area"] == 0, SYNTH_START, 0))
    res = evalkit.synth(agg, outcome="y", unit="area", time="time", cohort="cohort",
                        predictors={"y": SYNTH_PRE}, pre_periods=SYNTH_PRE, placebo=placebo, loo=False)
    return res.estimate("ATT") if not placebo else res.diagnostics["placebo_p_value"]


def evalkit_synth_placebo(df):
    return evalkit_synth(df, placebo=True)


def _post_mean(tab: pd.DataFrame) -> float:
    post = tab[(tab["event_time"] >= 0) & ~tab["reference"]]
    return float(post["estimate"].mean())


# ---------------------------------------------------------------- peers
def pyfixest_twfe(df):
    import pyfixest as pf

    return float(pf.feols("y ~ treat | unit + time", data=df, vcov={"CRV1": "area"}).coef()["treat"])


def pyfixest_sun_abraham(df):
    import pyfixest as pf

    fit = pf.event_study(df, yname="y", idname="unit", tname="time", gname="cohort", cluster="area",
                         estimator="saturated")
    try:  # pyfixest's aggregation fails on some unbalanced panels; the fit above is what is timed
        agg = fit.aggregate(agg="period")
    except (KeyError, ValueError):
        return float("nan")
    return float(agg.loc[[i for i in agg.index if _period(i) >= 0], "Estimate"].mean())


def _period(label) -> float:
    """Relative period from a pyfixest aggregate label such as 'period::3' or 3."""
    try:
        return float(str(label).split("::")[-1].strip("[]. "))
    except ValueError:
        return float("nan")


def pyfixest_did2s(df):
    import pyfixest as pf

    fit = pf.did2s(df, yname="y", first_stage="~ 0 | unit + time", second_stage="~ treat", treatment="treat",
                   cluster="area")
    return float(fit.coef()["treat"])


def pyfixest_wild_twfe(df):
    import pyfixest as pf

    fit = pf.feols("y ~ treat | unit + time", data=df, vcov={"CRV1": "area"})
    return float(fit.wildboottest(param="treat", reps=9999, seed=1)["Pr(>|t|)"])


def pyfixest_event_study20(df):
    import pyfixest as pf

    rel = np.where(df["cohort"] > 0, np.clip(df["time"] - df["cohort"], -10, 10), -1)
    fit = pf.feols("y ~ i(rel, ref=-1) | unit + time", data=df.assign(rel=rel), vcov={"CRV1": "area"})
    coef = fit.coef()
    return float(np.mean([b for name, b in coef.items() if _period(name) >= 0]))


def pysyncon_synth(df):
    from pysyncon import Dataprep, Synth

    agg = synth_panel(df)
    prep = Dataprep(foo=agg, predictors=["y"], predictors_op="mean", dependent="y", unit_variable="area",
                    time_variable="time", treatment_identifier=0,
                    controls_identifier=[a for a in agg["area"].unique() if a != 0],
                    time_predictors_prior=SYNTH_PRE, time_optimize_ssr=SYNTH_PRE,
                    special_predictors=[("y", [t], "mean") for t in SYNTH_PRE])
    synth = Synth()
    synth.fit(dataprep=prep)
    post = [t for t in sorted(agg["time"].unique()) if t >= SYNTH_START]
    return float(synth.att(time_period=post)["att"])


# modules each library's tasks import, loaded before the clock starts
LIBRARY_MODULES = {
    # the estimator modules load lazily on first use: imported before the clock starts, as the peers'
    "evalkit": ["evalkit", "evalkit.estimators", "evalkit.diagnostics", "evalkit.inference"],
    "csdid": ["csdid.att_gt"],
    "moderndid": ["moderndid"],
    "differences": ["differences"],
    "pyfixest": ["pyfixest"],
    "pysyncon": ["pysyncon"],
}

# name -> (estimator family, library, function); families are compared with evalkit's entry.
# CS tasks run over the matrix (MATRIX_FAMILIES: function(df, spec)); the others on the default
# cell (unbalanced panel, integer ids) and take the data frame only.
MATRIX_FAMILIES = {"cs_dr", "cs_dr_boot999"}
TASKS = {
    "cs_dr/evalkit": ("cs_dr", "evalkit", evalkit_cs),
    "cs_dr/csdid": ("cs_dr", "csdid", csdid_cs),
    "cs_dr/moderndid": ("cs_dr", "moderndid", moderndid_cs),
    "cs_dr/differences": ("cs_dr", "differences", differences_cs),
    "cs_dr_boot999/evalkit": ("cs_dr_boot999", "evalkit", evalkit_cs_boot),
    "twfe/evalkit": ("twfe", "evalkit", evalkit_twfe),
    "twfe/pyfixest": ("twfe", "pyfixest", pyfixest_twfe),
    "sun_abraham/evalkit": ("sun_abraham", "evalkit", evalkit_sun_abraham),
    "sun_abraham/pyfixest": ("sun_abraham", "pyfixest", pyfixest_sun_abraham),
    "imputation/evalkit": ("imputation", "evalkit", evalkit_imputation),
    "imputation/pyfixest_did2s": ("imputation", "pyfixest", pyfixest_did2s),
    "wild_twfe/evalkit": ("wild_twfe", "evalkit", evalkit_wild_twfe),
    "wild_twfe/pyfixest": ("wild_twfe", "pyfixest", pyfixest_wild_twfe),
    "event_study20/evalkit": ("event_study20", "evalkit", evalkit_event_study20),
    "event_study20/pyfixest": ("event_study20", "pyfixest", pyfixest_event_study20),
    "synth/evalkit": ("synth", "evalkit", evalkit_synth),
    "synth/pysyncon": ("synth", "pysyncon", pysyncon_synth),
    "synth_placebo150/evalkit": ("synth_placebo150", "evalkit", evalkit_synth_placebo),
}
