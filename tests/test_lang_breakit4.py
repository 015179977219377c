"""Outside review, fourth pass: percent signs in English, readable column names in compare(), the
Danish few-cluster and HonestDiD tables, one p-value precision per report table, and CLI help.

Every test checks behaviour: rendered strings, returned frames or CLI output.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import evalkit as ek
from evalkit.cli import main
from evalkit.data.synthetic import staggered_panel
from evalkit.diagnostics.honest_did import honest_did
from evalkit.errors import EvalkitWarning
from evalkit.report import few_clusters, tables
from evalkit.report import text as rtext
from evalkit.report.i18n import label
from evalkit.results import InferenceInfo, Result, compare


# ------------------------------------------------------------------ 1. English percent signs
def test_english_percent_signs_have_no_space_danish_ones_do():
    en = rtext.mde_short(-0.0042, "employment_rate", static=True, lang="en")
    da = rtext.mde_short(-0.0042, "employment_rate", static=False, lang="da")
    assert "(80% power, alpha 0.05)" in en and " % " not in en
    assert "(80 % styrke, alfa 0,05)" in da
    note_en = rtext.advisor_table_note(120, 500, False, 0.05, lang="en")
    note_da = rtext.advisor_table_note(120, 500, False, 0.05, lang="da")
    assert "at most 5% of the placebos" in note_en and not re.search(r"\d %", note_en)
    assert "højst 5 % af tilfældene" in note_da


# ------------------------------------------------------------------ 2. compare() labels known columns
def _result(**meta) -> Result:
    table = pd.DataFrame({"term": ["ATT"], "estimate": [0.01], "std_error": [0.005], "statistic": [2.0],
                          "p_value": [0.04], "conf_low": [0.0], "conf_high": [0.02]})
    return Result(estimator="twfe", estimand="ATT", table=table, vcov=None, alpha=0.05,
                  inference=InferenceInfo(method="cr1", cluster=meta.pop("cluster", "OMR_ID"), n_clusters=80,
                                          df=79.0),
                  n_obs=880, outcome="employment_rate",
                  meta={"unit": "OMR_ID", "time": "AAR", "weights": None, **meta})


def test_compare_shows_readable_column_names_in_danish_and_english():
    res = _result(covariates=["employment_rate[2010]", "k1_share", "my_own_x"])
    da = compare([res], names=["M"], lang="da").wide()["M"]
    en = compare([res], names=["M"]).wide()["M"]
    assert da["Klynger"] == "80 (område)" and en["Clusters"] == "80 (area)"
    assert da["Faste effekter"] == "område, år" and en["Fixed effects"] == "area, year"
    assert da["Kontrolvariable"] == ("Beskæftigelsesandel (18-64 år, fuldtidspersoner) [2010], "
                                     "Andel uden for arbejdsmarked og uddannelse (18-64 år), my_own_x")
    assert en["Controls"].startswith("Employment rate (ages 18-64, full-time persons) [2010], ")
    assert en["Controls"].endswith(", my_own_x")                        # a user column stays as given
    text = compare([res], lang="da").summary()
    assert "OMR_ID" not in text and "AAR" not in text
    models = compare([res], lang="da").models                            # the frames keep the column names
    assert models.loc[0, "cluster"] == "OMR_ID" and models.loc[0, "fixed_effects"] == "OMR_ID, AAR"


def test_compare_keeps_unknown_cluster_columns():
    res = _result(cluster="my_cluster")
    assert compare([res], names=["M"], lang="da").wide().loc["Klynger", "M"] == "80 (my_cluster)"


# ------------------------------------------------------------------ 3. Danish few-cluster and HonestDiD tables
@pytest.fixture(scope="module")
def event_study():
    d = staggered_panel(n_units=40, n_periods=10, cohorts={0: 0.6, 6: 0.4}, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return d, ek.event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=3, lags=2,
                                 cluster="unit")


def test_wild_bootstrap_names_are_restrikteret_and_weights_capitalised(event_study):
    assert few_clusters.NAMES["wild"]["da"] == "Restrikteret wild cluster bootstrap"
    assert few_clusters.NAMES["wcu"]["da"] == "Urestrikteret wild cluster bootstrap"
    sentence = rtext.design_sentence(4, 40, False, lang="da", alpha=0.05, cr1_p=0.01, wild_p=0.2,
                                     wild_ci=(-0.01, 0.02), outcome="employment_rate")
    assert "restrikterede wild cluster bootstrap" in sentence and "begrænsede" not in sentence
    d, _ = event_study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = ek.twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="unit")
        wild = res.with_inference("wild", d, seed=1, draws=99)
    detail = few_clusters._detail(wild, "wild", "da")
    assert re.fullmatch(r"B = [\d,]+( \(alle\))?, Rademacher", detail)


@pytest.mark.parametrize("lang", ["da", "en"])
def test_honest_table_names_the_method_and_writes_the_grid_plainly(event_study, lang):
    _, es = event_study
    from evalkit.report.study import honest_table

    honest = honest_did(es, method="relative_magnitudes").tidy()
    # the report's HonestDiD table formats itself (study.honest_table); the generic formatter does not
    shown = tables._estimates_safe(honest_table(honest, lang), digits=4, lang=lang).to_frame()
    methods = set(shown[label("method", lang)])
    assert "c-lf" not in methods and "original" not in methods
    assert {"da": "Hybrid af betinget og mindst gunstig test (C-LF)",
            "en": "Conditional least-favorable hybrid (C-LF)"}[lang] in methods
    grid = [v for v in shown[label("Mbar", lang)].tolist() if isinstance(v, str)]
    assert grid == (["0", "0,5", "1", "1,5", "2"] if lang == "da" else ["0", "0.5", "1", "1.5", "2"])
    assert "0,0000" not in str(tables._estimates_safe(honest_table(honest, lang), digits=4, lang=lang))


# ------------------------------------------------------------------ 4. one p-value precision in report tables
def test_report_tables_show_three_decimal_p_values():
    frame = pd.DataFrame({"Led": ["a", "b", "c", "d"], "Estimat": [0.1, 0.2, 0.3, 0.4],
                          "p-værdi": [0.130812, 0.0004, 0.001, np.nan]})
    shown = str(tables._estimates_safe(frame, digits=4, lang="da"))
    assert "0,131" in shown and "0,1308" not in shown and "< 0,001" in shown and "0,0010" not in shown
    assert "0,1000" in shown                                             # estimates keep the table's digits
    en = tables._estimates_safe(frame.rename(columns={"p-værdi": "p-value"}), digits=4, lang="en").to_frame()
    assert en["p-value"].tolist()[:3] == ["0.131", "< 0.001", "0.001"]


# ------------------------------------------------------------------ 5. CLI help
def _help(capsys, *argv) -> str:
    assert main([*argv, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_cli_help_points_at_what_a_wheel_install_has(capsys):
    run = _help(capsys, "report", "run")
    assert "make chromium" not in run and "apt-get install chromium" in run
    sim = _help(capsys, "simulate")
    assert re.search(r"--size \{small,medium,national\} \S+", sim) and "default small" in sim
    main(["report", "params", "midterm"])
    params = capsys.readouterr().out
    assert "docs/data_contract.md" not in params
    assert "used as the main outcome; one of ['employment_rate'" in params
    assert "baseline year for balance and the cohort panel; from 1990 to 2100" in params
