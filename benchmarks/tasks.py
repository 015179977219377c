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


# ---------------------------------------------------------------- evalkit
def evalkit_cs_dr_cov(df):
    import evalkit

    res = evalkit.att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", covariates=COVARIATES,
                         method="dr", cluster="area")
    return evalkit.aggregate(res, "simple").tidy()["estimate"].iloc[0]


def evalkit_cs_nocov(df):
    import evalkit

    res = evalkit.att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", method="dr", cluster="area")
    return evalkit.aggregate(res, "simple").tidy()["estimate"].iloc[0]


def evalkit_cs_dr_cov_boot(df):
    import evalkit

    res = evalkit.att_gt(df, outcome="y", unit="unit", time="time", cohort="cohort", covariates=COVARIATES,
                         method="dr", cluster="area", bootstrap=True, n_boot=999, seed=1)
    return evalkit.aggregate(res, "simple").tidy()["estimate"].iloc[0]


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


def _post_mean(tab: pd.DataFrame) -> float:
    post = tab[(tab["event_time"] >= 0) & ~tab["reference"]]
    return float(post["estimate"].mean())


# ---------------------------------------------------------------- peers
def _csdid(df, xformla):
    import contextlib
    import io

    from csdid.att_gt import ATTgt

    with contextlib.redirect_stdout(io.StringIO()):  # csdid prints its tables
        fit = ATTgt(yname="y", tname="time", idname="unit", gname="cohort", data=df, xformla=xformla,
                    clustervar="area", allow_unbalanced_panel=True).fit(est_method="dr", bstrap=False)
        fit.aggte("simple", bstrap=False)
    return float(fit.atte["overall_att"])


def csdid_cs_dr_cov(df):
    return _csdid(df, "y ~ x1 + x2")


def csdid_cs_nocov(df):
    return _csdid(df, None)


def moderndid_cs_dr_cov(df):
    import moderndid

    res = moderndid.att_gt(df, yname="y", tname="time", idname="unit", gname="cohort", xformla="~ x1 + x2",
                           clustervars=["area"], est_method="dr", allow_unbalanced_panel=True, boot=False)
    return float(moderndid.aggte(res, type="simple").overall_att)


def differences_cs_dr_cov(df):
    from differences import ATTgt

    data = df.assign(cohort=df["cohort"].where(df["cohort"] > 0)).set_index(["unit", "time"])
    att = ATTgt(data=data, cohort_column="cohort")
    att.fit("y ~ x1 + x2", est_method="dr", cluster_var=["area"], progress_bar=False)
    return float(np.asarray(att.aggregate("simple")).ravel()[0])


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


# modules each library's tasks import, loaded before the clock starts
LIBRARY_MODULES = {
    "evalkit": ["evalkit"],
    "csdid": ["csdid.att_gt"],
    "moderndid": ["moderndid"],
    "differences": ["differences"],
    "pyfixest": ["pyfixest"],
}

# name -> (estimator family, library, function); families are compared with evalkit's entry
TASKS = {
    "cs_dr_cov/evalkit": ("cs_dr_cov", "evalkit", evalkit_cs_dr_cov),
    "cs_dr_cov/csdid": ("cs_dr_cov", "csdid", csdid_cs_dr_cov),
    "cs_dr_cov/moderndid": ("cs_dr_cov", "moderndid", moderndid_cs_dr_cov),
    "cs_dr_cov/differences": ("cs_dr_cov", "differences", differences_cs_dr_cov),
    "cs_dr_cov_boot999/evalkit": ("cs_dr_cov_boot999", "evalkit", evalkit_cs_dr_cov_boot),
    "cs_nocov/evalkit": ("cs_nocov", "evalkit", evalkit_cs_nocov),
    "cs_nocov/csdid": ("cs_nocov", "csdid", csdid_cs_nocov),
    "twfe/evalkit": ("twfe", "evalkit", evalkit_twfe),
    "twfe/pyfixest": ("twfe", "pyfixest", pyfixest_twfe),
    "sun_abraham/evalkit": ("sun_abraham", "evalkit", evalkit_sun_abraham),
    "sun_abraham/pyfixest": ("sun_abraham", "pyfixest", pyfixest_sun_abraham),
    "imputation/evalkit": ("imputation", "evalkit", evalkit_imputation),
    "imputation/pyfixest_did2s": ("imputation", "pyfixest", pyfixest_did2s),
}
