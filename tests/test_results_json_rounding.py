"""results/*.json of a report run: person counts rounded to round_base as the HTML shows them
(docs/disclosure.md section 5), counts below min_cell withheld, counts of areas exact."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from evalkit.report.outputs import published_count, write_results
from evalkit.results.result import InferenceInfo, Result


def _result(unit: str | None, n_treated: list, n_control: list, *, n_obs: int = 892656,
            diagnostics: dict | None = None, meta: dict | None = None) -> Result:
    terms = [f"e={i}" for i in range(len(n_treated))]
    table = pd.DataFrame({"term": terms, "estimate": 0.1, "std_error": 0.01, "n_treated": n_treated,
                          "n_control": n_control})
    vcov = pd.DataFrame(np.eye(len(terms)) * 1e-4, index=terms, columns=terms)
    diagnostics = diagnostics if diagnostics is not None else {
        "n_dropped_missing": 0, "n_units": 68114, "n_never_treated": 64141, "n_periods": 15,
        "n_clusters": 47, "n_treated_clusters": 3, "cohorts": [2018]}
    return Result("event_study", "ATT", table, vcov, 0.05, InferenceInfo("cr1", cluster="OMR_ID", n_clusters=47),
                  n_obs, "employment_rate", diagnostics=diagnostics,
                  meta={"unit": unit, **(meta or {})})


def _written(tmp_path, result, **kw) -> dict:
    (path,) = write_results(tmp_path, {"cohort_event_study": result}, **kw)
    return json.loads(path.read_text(encoding="utf-8"))


def test_person_counts_in_results_json_are_rounded_like_the_html(tmp_path):
    res = _result("PERSON_ID", [3973, 3524, 2], [64314, 64141, 64000], meta={"n_units": 68114})
    d = _written(tmp_path, res, min_cell=5, round_base=5)
    assert d["n_obs"] == 892655  # was 892656
    rows = d["table"]
    assert [r["n_treated"] for r in rows] == [3975, 3525, None]  # the thin row withheld (and its estimate)
    assert [r["n_control"] for r in rows] == [64315, 64140, None]
    assert rows[2]["estimate"] is None
    diag = d["diagnostics"]
    assert diag["n_units"] == 68115 and diag["n_never_treated"] == 64140 and diag["n_dropped_missing"] == 0
    assert d["meta"]["n_units"] == 68115
    # areas and periods are not persons: exact
    assert diag["n_clusters"] == 47 and diag["n_treated_clusters"] == 3 and diag["n_periods"] == 15
    assert d["inference"]["n_clusters"] == 47 and diag["cohorts"] == [2018]
    assert "rounded to a multiple of 5" in diag["counts"]
    # machine-readable: whole numbers stay JSON numbers
    assert all(isinstance(r["n_treated"], int) for r in rows[:2]) and isinstance(d["n_obs"], int)
    # no exact count is left anywhere in the file
    text = json.dumps(d)
    for exact in ("892656", "68114", "64141", "64314", "3973", "3524"):
        assert exact not in text


def test_coarser_round_base_and_unnamed_units_count_as_persons(tmp_path):
    d = _written(tmp_path, _result(None, [3973, 12], [64314, 7], n_obs=1234), min_cell=5, round_base=10)
    assert d["n_obs"] == 1230
    assert [r["n_treated"] for r in d["table"]] == [3970, 10]
    assert [r["n_control"] for r in d["table"]] == [64310, 10]
    assert d["diagnostics"]["n_units"] == 68110


def test_area_results_keep_exact_counts(tmp_path):
    res = _result("OMR_ID", [3, 3], [44, 44], n_obs=705,
                  diagnostics={"n_units": 47, "n_never_treated": 44, "n_clusters": 47})
    d = _written(tmp_path, res, min_cell=5, round_base=5)
    assert d["n_obs"] == 705 and [r["n_treated"] for r in d["table"]] == [3, 3]
    assert d["diagnostics"] == {"n_units": 47, "n_never_treated": 44, "n_clusters": 47}


def test_published_count_follows_the_tables_rule():
    shown = [published_count(n, min_cell=5, round_base=5) for n in (0, 1, 4, 5, 7, 8, 892656, None, np.nan)]
    assert shown == [0, None, None, 5, 5, 10, 892655, None, None]


def test_robustness_table_rounds_person_observations():
    from evalkit.report.robustness import _shown_n_obs

    study = SimpleNamespace(p={"lang": "en", "min_cell": 5, "round_base": 5})
    assert _shown_n_obs(study, _result("PERSON_ID", [3973], [64314])) == "892,655"
    assert _shown_n_obs(study, _result("OMR_ID", [3], [44], n_obs=94)) == "94"
    assert _shown_n_obs(SimpleNamespace(p={"lang": "en"}), _result("PERSON_ID", [3973], [64314])) == "892,656"


def test_a_result_shown_in_a_report_run_rounds_its_person_count(monkeypatch):
    """Review: a Result displayed in a report notebook showed its exact person count in the N line."""
    from evalkit import seal
    from evalkit.privacy import rounded_count, shown_count

    assert shown_count(892656, "PERSON_ID", 5, 5) == "892,655" and shown_count(892656, "PERSON_ID", 5) == "892,656"
    assert shown_count(892656, "OMR_ID", 5, 5) == "892,656"          # areas are not persons
    assert shown_count(3, "PERSON_ID", 5, 5) == "fewer than 5" and rounded_count(6, 5, 5) == 5.0
    monkeypatch.setattr(seal, "in_report_run", lambda: True)
    monkeypatch.setattr(seal, "run_min_cell", lambda: 5)
    monkeypatch.setattr(seal, "run_round_base", lambda: 5)
    import numpy as np
    import pandas as pd

    import evalkit as ek

    rng = np.random.default_rng(0)
    unit, year = np.repeat(np.arange(1003), 2), np.tile([0, 1], 1003)
    d = ((unit < 500) & (year == 1)).astype(int)
    panel = pd.DataFrame({"PERSON_ID": unit, "AAR": year, "D": d, "y": rng.normal(size=unit.size)})
    res = ek.twfe(panel, outcome="y", unit="PERSON_ID", time="AAR", treatment="D")
    header = dict(res._header())
    assert res.n_obs == 2006 and header["N"] == "2,005"
