"""The external witness of weighted estimation: pyfixest on a public panel with population weights.

Data: the castle-doctrine panel of Cheng & Hoekstra (2013, "Does Strengthening Self-Defense Law
Deter Crime or Escalate Violence? Evidence from Expansions to Castle Doctrine", *J. Human Resources*
48(3)), 50 states x 2000-2010, as shipped by the PyPI package ``causaldata`` (MIT; Cunningham,
*Causal Inference: The Mixtape*, ch. 9), with the population weight ``popwt`` (one value per
state). The data's ``post`` is the 0/1 treatment (absorbing: 21 states adopt in 2006-2009); the
first treated year of a state (``cohort``, 0 = never) is its first year with ``post`` = 1.

Each case is one pyfixest 0.60 ``feols`` call and the matching evalkit call. ``python -m
tests.weights_reference`` runs pyfixest and writes ``tests/references/pyfixest_weights_castle.json``
(committed); ``tests/test_weights_reference.py`` compares evalkit with both the live pyfixest
call and the stored numbers.
"""
from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

import evalkit as ek

JSON = Path(__file__).parent / "references" / "pyfixest_weights_castle.json"
LEADS, LAGS = 4, 4
#: tolerances of the witness (issue 14): points absolute, standard errors relative
TOL_ESTIMATE, TOL_SE = 1e-8, 1e-6


def castle() -> pd.DataFrame:
    """The castle panel with ``cohort`` (first treated year, 0 = never), ``treat`` (0/1), ``rel``
    (event time binned into [-LEADS, LAGS], 0 for never-treated: multiplied by ``treated`` in
    ``i()``), ``treated`` (ever treated), ``fw`` (whole frequency weights: popwt / 1e5, rounded up)
    and ``popwt_t`` (popwt grown by 0-12 % a year, by state: a weight that varies over time).
    The stored float32 columns are converted to float64 first."""
    from causaldata import castle as source

    d = source.load_pandas().data[["sid", "year", "l_homicide", "l_police", "unemployrt", "post", "popwt"]]
    d = d.astype({c: "float64" for c in ("l_homicide", "l_police", "unemployrt", "popwt")})  # stored as float32:
    d["sid"] = d["sid"].astype(int)  # both libraries then read the same float64 numbers
    d["year"] = d["year"].astype(int)
    first = d.loc[d["post"] == 1].groupby("sid")["year"].min()
    d["cohort"] = d["sid"].map(first).fillna(0).astype(int)
    d["treated"] = (d["cohort"] > 0).astype(int)
    d["treat"] = d["post"].astype(int)
    d["rel"] = np.where(d["treated"] == 1, np.clip(d["year"] - d["cohort"], -LEADS, LAGS), 0).astype(int)
    d["fw"] = np.ceil(d["popwt"] / 1e5)
    # popwt is one value per state; a weight that also varies over time (state-specific growth) tests
    # the weighted two-way projection where it has no closed form
    d["popwt_t"] = d["popwt"] * (1 + 0.02 * (d["sid"] % 7) * (d["year"] - 2000))
    return d.sort_values(["sid", "year"]).reset_index(drop=True)


def castle_2x2() -> pd.DataFrame:
    """The 13 states first treated in 2007 and the 29 never-treated states; ``after`` = year >= 2007."""
    d = castle()
    d = d.loc[d["cohort"].isin([0, 2007])].reset_index(drop=True)
    return d.assign(after=(d["year"] >= 2007).astype(int))


@dataclass(frozen=True)
class WitnessCase:
    """A pyfixest call (``formula``, ``vcov``, ``weights_type``) and the matching evalkit fit;
    ``terms`` maps pyfixest's coefficient names to evalkit's terms."""

    name: str
    data: Callable[[], pd.DataFrame]
    formula: str
    vcov: object
    weights: str
    weights_type: str
    evalkit: Callable[[pd.DataFrame], ek.Result]
    terms: dict[str, str]


def _es_terms() -> dict[str, str]:
    """pyfixest's names of the ``i(rel, treated, ref=-1)`` coefficients -> evalkit's event-time terms."""
    return {f"rel::{e}:treated": f"e={e}" for e in range(-LEADS, LAGS + 1) if e != -1}


def _twfe(cov=(), inference=None, weights="popwt", kind="analytic"):
    return lambda d: ek.twfe(d, outcome="l_homicide", unit="sid", time="year", treatment="treat",
                             cluster=None if inference == "hc1" else "sid", covariates=list(cov) or None,
                             inference=inference, weights=weights, weights_type=kind)


CASES = [
    WitnessCase("twfe_cluster_state", castle, "l_homicide ~ treat | sid + year", {"CRV1": "sid"}, "popwt",
                "aweights", _twfe(), {"treat": "ATT"}),
    WitnessCase("twfe_covariates_cluster_state", castle, "l_homicide ~ treat + l_police + unemployrt | sid + year",
                {"CRV1": "sid"}, "popwt", "aweights", _twfe(("l_police", "unemployrt")),
                {"treat": "ATT", "l_police": "l_police", "unemployrt": "unemployrt"}),
    WitnessCase("twfe_timevarying_weights_cluster_state", castle, "l_homicide ~ treat + unemployrt | sid + year",
                {"CRV1": "sid"}, "popwt_t", "aweights", _twfe(("unemployrt",), weights="popwt_t"),
                {"treat": "ATT", "unemployrt": "unemployrt"}),
    WitnessCase("twfe_hetero", castle, "l_homicide ~ treat | sid + year", "hetero", "popwt", "aweights",
                _twfe(inference="hc1"), {"treat": "ATT"}),
    WitnessCase("twfe_fweights_cluster_state", castle, "l_homicide ~ treat | sid + year", {"CRV1": "sid"}, "fw",
                "fweights", _twfe(weights="fw", kind="frequency"), {"treat": "ATT"}),
    WitnessCase("twfe_fweights_hetero", castle, "l_homicide ~ treat | sid + year", "hetero", "fw", "fweights",
                _twfe(inference="hc1", weights="fw", kind="frequency"), {"treat": "ATT"}),
    WitnessCase("event_study_cluster_state", castle, "l_homicide ~ i(rel, treated, ref=-1) | sid + year",
                {"CRV1": "sid"}, "popwt", "aweights",
                lambda d: ek.event_study(d, outcome="l_homicide", unit="sid", time="year", cohort="cohort",
                                         cluster="sid", leads=LEADS, lags=LAGS, weights="popwt"), _es_terms()),
    WitnessCase("did2x2_cluster_state", castle_2x2, "l_homicide ~ treated * after", {"CRV1": "sid"}, "popwt",
                "aweights", lambda d: ek.did2x2(d, outcome="l_homicide", treatment="treated", post="after",
                                                cluster="sid", weights="popwt"), {"treated:after": "ATT"}),
    WitnessCase("did2x2_hetero", castle_2x2, "l_homicide ~ treated * after", "hetero", "popwt", "aweights",
                lambda d: ek.did2x2(d, outcome="l_homicide", treatment="treated", post="after", inference="hc1",
                                    weights="popwt"), {"treated:after": "ATT"}),
]


def pyfixest_numbers(case: WitnessCase) -> dict:
    """pyfixest's estimates and standard errors of ``case`` (fixed effects solved to 1e-14)."""
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(case.formula, data=case.data(), vcov=case.vcov, weights=case.weights,
                       weights_type=case.weights_type, fixef_tol=1e-14, fixef_maxiter=100_000)
    coef, se = fit.coef(), fit.se()
    return {"terms": {name: term for name, term in case.terms.items()},
            "estimate": {name: float(coef[name]) for name in case.terms},
            "std_error": {name: float(se[name]) for name in case.terms},
            "nobs": int(fit._N), "n_rows": len(case.data())}


def write(path: Path = JSON) -> dict:
    from importlib.metadata import version

    import pyfixest as pf

    out = {
        "source": "pyfixest feols(..., weights=, weights_type=, vcov=) on the castle-doctrine panel",
        "script": "python -m tests.weights_reference (tests/weights_reference.py)",
        "date": date.today().isoformat(),
        "packages": {"pyfixest": pf.__version__, "causaldata": version("causaldata"),
                     "numpy": np.__version__, "pandas": pd.__version__},
        "data": "Cheng & Hoekstra (2013) castle-doctrine panel as shipped by causaldata (MIT), "
                "causaldata.castle.load_pandas().data; see tests/weights_reference.py for the derived columns",
        "tolerance": {"estimate_abs": TOL_ESTIMATE, "std_error_rel": TOL_SE},
        "cases": [{"name": c.name, "formula": c.formula, "vcov": c.vcov, "weights": c.weights,
                   "weights_type": c.weights_type, **pyfixest_numbers(c)} for c in CASES],
    }
    path.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":  # python -m tests.weights_reference [path]
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else JSON)
