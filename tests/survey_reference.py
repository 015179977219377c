"""The survey witnesses (issue 15): one fixed survey of :mod:`tests.survey_sim`, calibrated, and the
peer results on it. ``python -m tests.survey_reference`` rewrites
``tests/references/survey_witness.json`` (pyfixest and moderndid run live when installed)."""
from __future__ import annotations

import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from tests import survey_sim as S

PATH = Path(__file__).resolve().parent / "references" / "survey_witness.json"
TOL_POINT_TWFE, TOL_POINT_CS, TOL_SE = 1e-8, 1e-6, 1e-6


def data() -> pd.DataFrame:
    """Respondent rows of a calibrated survey with the outcome y, cohort, D and weights w (staggered:
    half the treated areas start a year later, so ATT(g,t) has two cohorts)."""
    from evalkit.domain.survey_did import survey_outcome, with_cohorts
    from evalkit.domain.survey_weights import calibrate_weights

    pop, cohorts, _ = S.world(seed=3, n_areas=12)
    cohorts = {a: (g + 1 if a % 2 else g) for a, g in cohorts.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate_weights(S.draw(pop, 3), S.margins(pop))
    d = with_cohorts(cal.data, cohorts)
    return d.assign(y=survey_outcome(d, "TRYG"), w=d["CAL_VAEGT"])


def pyfixest_twfe(d: pd.DataFrame) -> dict:
    import pyfixest as pf

    fit = pf.feols("y ~ D | OMR_ID + AAR", data=d, weights="w", vcov={"CRV1": "OMR_ID"})
    return {"estimate": float(fit.coef()["D"]), "std_error": float(fit.se()["D"]), "n_obs": int(fit._N)}


def moderndid_rc(d: pd.DataFrame) -> dict:
    import moderndid

    res = moderndid.att_gt(d.assign(rid=np.arange(len(d))), yname="y", tname="AAR", idname="rid", gname="cohort",
                           weightsname="w", panel=False, clustervars=["OMR_ID"], est_method="dr",
                           control_group="nevertreated", boot=False, cband=False)
    return {f"ATT(g={int(g)},t={int(t)})": {"estimate": float(a), "std_error": float(s)}
            for g, t, a, s in zip(res.groups, res.times, res.att_gt, res.se_gt)}


def main() -> None:
    d = data()
    doc = {"source": "python -m tests.survey_reference (tests/survey_sim.py world(seed=3, n_areas=12), draw seed 3, "
                     "raked to age_band x KOEN x HERKOMST margins by evalkit/svy)",
           "packages": {p: version(p) for p in ("pyfixest", "moderndid", "svy")},
           "n_respondents": len(d), "weights_sum": float(d["w"].sum()),
           "tolerance": {"twfe_point_abs": TOL_POINT_TWFE, "att_gt_point_abs": TOL_POINT_CS},
           "pyfixest_twfe": pyfixest_twfe(d), "moderndid_att_gt_rc": moderndid_rc(d)}
    PATH.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
