"""Issue 16 leftovers from an outside review (third pass): Danish wording and number conventions, the
parameter header, compare() and plots in Danish, the reports index's language, warnings pointing at the
user's line, and bad environment variables as one-line errors.

Every test checks behaviour: rendered strings, returned frames, emitted warnings or exit codes.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import evalkit as ek  # noqa: E402
from evalkit import progress  # noqa: E402
from evalkit.cli import main  # noqa: E402
from evalkit.data.synthetic import staggered_panel  # noqa: E402
from evalkit.errors import EvalkitWarning, ParameterError  # noqa: E402
from evalkit.inference.advice import COLUMNS, InferenceAdvice  # noqa: E402
from evalkit.report import index as ix  # noqa: E402
from evalkit.report import pdf as pdf_printer  # noqa: E402
from evalkit.report import text as rtext  # noqa: E402
from evalkit.report.param_header import header_parameters  # noqa: E402
from evalkit.results import compare  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ 1. Danish wording in the report
def advice(lang: str = "da") -> InferenceAdvice:
    """An advisor result by hand: CR1 over-rejects (size 4.6 % is fine, but wild is chosen at a
    size-adjusted threshold of 0.00862)."""
    table = pd.DataFrame([
        dict(method="cr1", label="CR1", size=0.046, size_low=0.03, size_high=0.066, threshold=0.05, power=0.8,
             holds_size=True, chosen=False, statistic=2.5, p_value=0.0123456, reject=True, note=""),
        dict(method="wild", label="WCR", size=0.071, size_low=0.05, size_high=0.095, threshold=0.00862,
             power=0.62, holds_size=False, chosen=True, statistic=2.1, p_value=0.00862, reject=True, note=""),
    ], columns=list(COLUMNS))
    return InferenceAdvice(table=table, chosen="wild", size_corrected=False, critical_value=float("nan"),
                           alpha=0.05, level=0.95, effect=0.03, n_placebos=500, enumerated=False, draws=999,
                           seed=1, match_size=True, weighted=True, n_treated=5, n_comparison=40,
                           first_year=2018, lang=lang)


def test_advisor_table_in_danish_uses_danish_percent_signs_and_formatted_thresholds():
    shown = advice().display_table("da")
    cells = " | ".join(shown.astype(str).to_numpy().ravel()) + " | " + " | ".join(shown.columns)
    assert "4,6 %" in cells and "80,0 %" in cells and "62,0 %" in cells
    assert not re.search(r"\d%", cells), cells  # never "4,6%" beside "80 %"
    assert "95 %-interval" in shown.columns and "95%-interval" not in shown.columns
    assert "Afviser når p ≤" in shown.columns and not any("<=" in c for c in shown.columns)
    thresholds = shown["Afviser når p ≤"].tolist()
    assert thresholds == ["0,05", "0,0086"], thresholds  # not the unformatted "0,00862"
    assert "[3,0 %; 6,6 %]" in shown["95 %-interval"].tolist()


def test_advisor_sentence_and_notes_use_the_le_sign():
    da = advice().sentence("da")
    assert "ved p ≤ 0,0086" in da and "<=" not in da
    assert "at p ≤ 0.0086" in advice().sentence("en")
    note = rtext.advisor_table_note(500, 600, False, 0.05, lang="da")
    assert "»Afviser når p ≤«" in note and "<=" not in note and "5 %" in note
    assert "<=" not in rtext.advisor_table_note(500, 600, False, 0.05, lang="en")


def test_english_advisor_table_keeps_english_percent():
    shown = advice("en").display_table("en")
    assert "4.6%" in shown["Measured size"].tolist() and "95% interval" in shown.columns


def test_mde_formula_and_interval_text_use_alpha_and_plus_minus_signs():
    da = rtext.mde_sentence(0.007, "employment_rate", lang="da", alpha=0.05, power=0.8, method="CR1", measured=False)
    assert "α" in da and "alpha" not in da and "×" in da
    for lang in ("da", "en"):
        note = rtext.few_cluster_note(4, "wild", lang=lang, advised=True)
        assert "±" in note and "+-" not in note
        used = rtext.inference_used("Randomiseringsinferens", "randomization", lang=lang)
        assert "±" in used and "+-" not in used


# ------------------------------------------------------------------ the rendered header and footer
def render(tmp_path: Path, parameters: dict, git: dict | None = None) -> str:
    import nbformat

    from evalkit.report.runner import render_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Endelig effektmåling\n\n## Design og data")])
    source = tmp_path / "r.ipynb"
    nbformat.write(nb, source)
    run = {"parameters": parameters, "git": git or {"commit": None, "dirty": False}, "data_sha256": None,
           "run_id": "20260101T000000Z_x", "started_utc": "2026-01-01T00:00:00Z"}
    return render_html(source, tmp_path / "r.html", run=run).read_text(encoding="utf-8")


GOALS = [{"goal": "Flere beboere i beskæftigelse", "target_group": "Beboere 18-64 år", "indicator": "employment_rate",
          "baseline_year": 2014, "baseline_value": 0.322, "target_year": 2024, "target_value": 0.4}]


def _params_block(page: str) -> str:
    return page[page.index("evalkit-params"):page.index("</details>")]


def test_danish_parameter_header_has_danish_names_and_readable_goals(tmp_path):
    params = {"intervention": "fremskudt_beskaeftigelse", "outcome": "employment_rate", "baseline_year": 2014,
              "comparison": "never_treated", "alpha": 0.05, "lang": "da", "data_dir": "data/demo", "seed": 2024,
              "goals": GOALS, "goals_as_of": 0, "subgroup_by": "origin", "budget_dkk": 1500000.0}
    block = _params_block(render(tmp_path, params))
    for shown in ("Signifikansniveau (α)", "0,05", "Indsats", "Fremskudt beskæftigelsesindsats", "Baseline-år",
                  "<td>2014</td>", "Sammenligningsområder", "Aldrig behandlede områder", "Sprog", "dansk",
                  "Mål vurderet i år", "hvert måls målår", "efter herkomst", "1.500.000",
                  "<li>Flere beboere i beskæftigelse: Beskæftigelsesandel (18-64 år, fuldtidspersoner) fra 0,322 "
                  "(2014) til 0,4 (2024); målgruppe: Beboere 18-64 år</li>"):
        assert shown in block, (shown, block)
    for raw in ("{'goal'", "fremskudt_beskaeftigelse", "baseline_year", "never_treated", "data/demo", ">alpha<"):
        assert raw not in block, raw


def test_english_parameter_header_is_readable_too(tmp_path):
    block = _params_block(render(tmp_path, {"alpha": 0.05, "lang": "en", "goals": GOALS, "evaluation_year": 2024}))
    assert "Significance level (α)" in block and "Evaluation year" in block and "<td>2024</td>" in block
    assert "<li>Flere beboere i beskæftigelse: Employment rate (ages 18-64, full-time persons) from 0.322 (2014) " \
           "to 0.4 (2024); target group: Beboere 18-64 år</li>" in block
    assert "{'goal'" not in block


def test_header_parameters_in_danish():
    params = {"alpha": 0.05, "lang": "da", "goals": GOALS, "leads": 4, "goals_as_of": 2020, "advisor_effect": 0.0,
              "data_dir": "/secret/path"}
    raw = header_parameters(params)
    assert raw["Mål"] == ["Flere beboere i beskæftigelse: Beskæftigelsesandel (18-64 år, fuldtidspersoner) fra 0,322 "
                          "(2014) til 0,4 (2024); målgruppe: Beboere 18-64 år"]
    assert raw["Mål vurderet i år"] == "2020" and raw["Effekt for inferensrådgiverens styrke"] == \
        "udfaldets standardeffekt"
    assert raw["Signifikansniveau (α)"] == "0,05" and "/secret/path" not in str(raw)


def test_danish_footer_has_no_english_placeholders(tmp_path):
    page = render(tmp_path, {"lang": "da"})
    footer = page[page.index("evalkit-footer"):]
    assert "n/a" not in footer and "commit ikke tilgængelig" in footer and "data (sha256) ikke tilgængelig" in footer
    dirty = render(tmp_path, {"lang": "da"}, git={"commit": "a" * 40, "dirty": True})
    assert "commit aaaaaaaaaaaa (med lokale ændringer)" in dirty and "(dirty)" not in dirty
    english = render(tmp_path, {"lang": "en"})
    assert "commit n/a" in english


# ------------------------------------------------------------------ 4. compare() and plots in Danish
@pytest.fixture(scope="module")
def fitted():
    d = staggered_panel(n_units=24, n_periods=8, cohorts={0: 0.75, 5: 0.25}, seed=1)
    d = d.assign(post=(d["time"] >= 5).astype(int), g=(d["cohort"] > 0).astype(int))
    keys = dict(outcome="y", unit="unit", time="time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        es = ek.event_study(d, **keys, cohort="cohort", leads=2, lags=2, cluster="unit")
        return {"twfe": ek.twfe(d, **keys, treatment="treat", cluster="unit"), "post": ek.post_average(es),
                "did2x2": ek.did2x2(d, outcome="y", treatment="g", post="post", cluster="unit"),
                "cs": ek.aggregate(ek.att_gt(d, **keys, cohort="cohort"), "simple"),
                "synth": ek.synth(d, **keys, cohort="cohort", placebo=False, loo=False)}


def test_compare_in_danish_has_danish_estimator_names_terms_and_no_blank_controls(fitted):
    wide = compare(list(fitted.values()), lang="da").wide()
    estimators = wide.loc["Estimator"].tolist()
    assert "Event study (kombination)" in estimators and "Callaway-Sant'Anna (simpel)" in estimators
    assert not any("combination" in e or "(simple)" in e for e in estimators)
    controls = wide.loc["Kontrolvariable"].tolist()
    assert controls[:4] == ["ingen"] * 4, controls  # twfe, the combination, did2x2, CS: no covariates
    rows = [str(r) for r in wide.index]
    assert "ATT (gns. efter start)" in rows and "ATT(post avg)" not in rows
    assert any(r.startswith("forskel t=") for r in rows) and not any(r.startswith("gap t=") for r in rows)


def test_compare_in_english_is_unchanged(fitted):
    wide = compare(list(fitted.values()), lang="en").wide()
    assert "Event study (combination)" in wide.loc["Estimator"].tolist()
    assert "ATT(post avg)" in [str(r) for r in wide.index]
    assert wide.loc["Controls"].tolist()[:3] == ["none"] * 3


def test_compare_keeps_the_users_own_row_names_in_danish(fitted):
    wide = compare([fitted["post"]], terms={"ATT(post avg)": "Effekt"}, lang="da").wide()
    assert "Effekt" in wide.index


def test_coefficient_plot_in_danish_names_terms_in_danish(fitted):
    fig = fitted["post"].plot(lang="da")
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["ATT (gns. efter start)"]
    assert [t.get_text() for t in fitted["post"].plot(lang="en").axes[0].get_yticklabels()] == ["ATT(post avg)"]


# ------------------------------------------------------------------ 5. the reports index follows the reports
def _manifest(root: Path, report: str, lang: str | None, status: str = "ok", when: str = "20260101T000000Z") -> None:
    run = root / report / "2026-01" / f"{when}_abc"
    run.mkdir(parents=True)
    (run / "r.html").write_text("<html></html>")
    params = {"lang": lang} if lang else {}
    (run / "manifest.json").write_text(json.dumps({
        "schema": "evalkit.run/1", "report": report, "period": "2026-01", "run_id": run.name, "status": status,
        "started_utc": "2026-01-01T00:00:00Z", "finished_utc": "2026-01-01T00:01:05Z", "parameters": params,
        "parameters_sha256": "f" * 64, "git": {"commit": "e" * 40, "dirty": True}, "html": "r.html",
        "error": {"type": "CellExecutionError", "cell": 7} if status == "failed" else None}))


def test_index_is_danish_when_the_reports_are_danish(tmp_path):
    _manifest(tmp_path, "outreach_final", "da")
    _manifest(tmp_path, "letting_final", "da", status="failed", when="20260102T000000Z")
    page = ix.write_index(tmp_path).read_text(encoding="utf-8")
    assert '<html lang="da">' in page
    for word in ("evalkit-rapportkørsler", "2 kørsler", "Seneste gode kørsel pr. rapport", "Alle kørsler, nyeste først",
                 "<th>Rapport</th>", "<th>Periode</th>", "<th>Kørselstidspunkt</th>", "<th>Parametre</th>",
                 "★ seneste", "lokale ændringer", ">rapport</a>", "fejlet", "CellExecutionError i celle 7"):
        assert word in page, word
    for english in ("report runs", "Latest good run", "All runs", "<th>Report</th>", "★ latest", ">dirty<",
                    ">report</a>", ">failed<", "in cell"):
        assert english not in page, english


def test_index_is_english_for_english_or_mixed_reports_and_follows_an_explicit_lang(tmp_path):
    _manifest(tmp_path, "outreach_final", "da")
    _manifest(tmp_path, "poa_final", "en", when="20260102T000000Z")
    page = ix.write_index(tmp_path).read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "Latest good run per report" in page
    danish = ix.write_index(tmp_path, lang="da").read_text(encoding="utf-8")
    assert "Seneste gode kørsel pr. rapport" in danish
    with pytest.raises(ParameterError, match="lang"):
        ix.render_index(ix.scan_manifests(tmp_path), tmp_path, generated=dt.datetime(2026, 1, 1), lang="de")


# ------------------------------------------------------------------ 6. warnings point at the user's line
def _panel_with_a_missing_outcome():
    d = staggered_panel(n_units=24, n_periods=8, cohorts={0: 0.75, 5: 0.25}, seed=1)
    d.loc[0, "y"] = np.nan
    return d


def test_estimator_warnings_point_at_the_user():
    """Public functions are wrapped (evalkit.core.aliases); a fixed stacklevel named the wrapper's file."""
    d = _panel_with_a_missing_outcome()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ek.twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="unit"); line = __import__("inspect").currentframe().f_lineno  # noqa: E501,E702
    assert w and all(x.filename == __file__ and x.lineno == line for x in w), [(x.filename, x.lineno) for x in w]


def test_warnings_from_deep_inside_and_renamed_keywords_point_at_the_user():
    d = _panel_with_a_missing_outcome()
    res = ek.twfe(d.dropna(), outcome="y", unit="unit", time="time", treatment="treat", cluster="unit")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res.with_inference("wild", d.dropna(), B=99, seed=1)  # renamed keyword: a FutureWarning
        ek.event_study(d, outcome="y", unit="unit", time="time", cohort="cohort", leads=2, lags=2)
    assert {x.category for x in w} >= {FutureWarning, EvalkitWarning}
    assert all(x.filename == __file__ for x in w), [(x.filename, x.lineno, str(x.message)[:40]) for x in w]


def test_warning_filters_still_apply():
    d = _panel_with_a_missing_outcome()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvalkitWarning)
        with pytest.raises(EvalkitWarning, match="Dropped"):
            ek.twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="unit")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("ignore", EvalkitWarning)
        ek.twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="unit")
    assert not w


# ------------------------------------------------------------------ 7. bad environment variables
@pytest.mark.parametrize("value", ["loud", "yes", "1"])
def test_bad_progress_variable_is_a_parameter_error(monkeypatch, value):
    monkeypatch.setenv(progress.ENV, value)
    with pytest.raises(ParameterError) as err:
        progress.destination()
    message = str(err.value)
    assert "EVALKIT_PROGRESS" in message and repr(value) in message and "\n" not in message
    for allowed in ("auto", "off", "console", "notebook"):
        assert allowed in message
    assert list(progress.bar([1, 2], enabled=False)) == [1, 2]  # not used: not checked


@pytest.mark.parametrize("value", ["OFF", " off ", ""])
def test_good_progress_values_are_read(monkeypatch, value):
    monkeypatch.setenv(progress.ENV, value)
    assert progress.env_mode() == (value.strip().lower() or "auto")


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf", "nan", "10s"])
def test_bad_pdf_timeout_is_a_parameter_error(monkeypatch, value):
    monkeypatch.setenv(pdf_printer.TIMEOUT_ENV, value)
    with pytest.raises(ParameterError) as err:
        pdf_printer.timeout_seconds()
    message = str(err.value)
    assert "EVALKIT_PDF_TIMEOUT" in message and "greater than 0" in message and "\n" not in message


def test_good_pdf_timeouts(monkeypatch):
    monkeypatch.setenv(pdf_printer.TIMEOUT_ENV, " 30 ")
    assert pdf_printer.timeout_seconds() == 30.0
    monkeypatch.setenv(pdf_printer.TIMEOUT_ENV, "")
    assert pdf_printer.timeout_seconds() == pdf_printer.DEFAULT_TIMEOUT
    monkeypatch.delenv(pdf_printer.TIMEOUT_ENV)
    assert pdf_printer.timeout_seconds() == pdf_printer.DEFAULT_TIMEOUT


def _one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_cli_stops_on_bad_environment_variables_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(progress.ENV, "loud")
    _one_line(main(["simulate", "--out", str(tmp_path / "sim"), "--size", "small"]), capsys.readouterr().err,
              "EVALKIT_PROGRESS='loud'", "auto, off, console, notebook")
    assert not (tmp_path / "sim").exists()
    _one_line(main(["report", "run", "midterm", "--params", "params/outreach_midterm.yaml", "--reports-root",
                    str(tmp_path / "r")]), capsys.readouterr().err, "EVALKIT_PROGRESS")
    monkeypatch.delenv(progress.ENV)
    monkeypatch.setenv(pdf_printer.TIMEOUT_ENV, "soon")
    _one_line(main(["report", "run", "midterm", "--params", "params/outreach_midterm.yaml", "--pdf",
                    "--reports-root", str(tmp_path / "r")]), capsys.readouterr().err, "EVALKIT_PDF_TIMEOUT='soon'")
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ 2. grouped thousands in the few-cluster table
def test_few_cluster_details_group_thousands_in_both_languages():
    from evalkit.report.few_clusters import inference_rows, inference_table
    from evalkit.report.tables import _estimates_safe

    d = staggered_panel(n_units=24, n_periods=8, cohorts={0: 0.75, 5: 0.25}, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = ek.twfe(d, outcome="y", unit="unit", time="time", treatment="treat", cluster="unit")
        rows = inference_rows(res, d, seed=1, draws=1500, wild_draws=2000, lang="en")
    details = {r["method"]: r.get("detail", "") for r in rows}
    assert details["wild"].startswith("B = 2,000") and details["randomization"].startswith("R = 1,500"), details
    danish = _estimates_safe(inference_table(rows, used="cr1", lang="da"), digits=4, lang="da").text
    assert "B = 2.000" in danish and "R = 1.500" in danish and "2,000" not in danish
