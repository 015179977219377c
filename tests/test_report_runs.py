"""Immutable runs with manifests, the index, failure handling, and the HTML as a reviewer sees it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalkit.report.index import latest_good
from evalkit.report.runner import run_report
from tests.chromium import open_offline

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "outreach_midterm.yaml"
MANIFEST_KEYS = {"parameters", "parameters_sha256", "inputs", "data_sha256", "git", "notebook_sha256", "packages",
                 "kernel_python", "started_utc", "finished_utc", "status", "outputs", "disclosure"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    first = run_report("midterm", PARAMS, report="job", period="2026-06-01", reports_root=root, progress=False)
    second = run_report("midterm", PARAMS, report="job", period="2026-06-01", reports_root=root, progress=False)
    bad = tmp_path_factory.mktemp("params") / "bad.yaml"
    text = re.sub(r"(?m)^leads:.*$", "leads: 15", PARAMS.read_text())
    assert "leads: 15" in text
    bad.write_text(text)    # valid value, but no area is observed 15 years early
    failed = run_report("midterm", bad, report="job", period="2026-06-01", reports_root=root, progress=False)
    return root, first, second, failed


def test_each_run_gets_its_own_folder_and_manifest(runs):
    root, first, second, _ = runs
    assert first.run_dir != second.run_dir and first.run_dir.parent == second.run_dir.parent
    assert first.run_dir.relative_to(root).parts[:2] == ("job", "2026-06-01")
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest) and manifest["status"] == "ok"
    assert manifest["disclosure"]["ok"] is True
    assert set(manifest["outputs"]) >= {"midterm.html", "run.log", "results/area_event_study.json"}
    assert not any(name.endswith(".ipynb") for name in manifest["outputs"])   # notebooks stay restricted
    assert manifest["parameters"]["lang"] == "en" and len(manifest["parameters_sha256"]) == 64
    assert any(k.startswith("person_years/") for k in manifest["inputs"])


def test_failed_run_keeps_notebook_and_previous_latest(runs):
    root, _, second, failed = runs
    assert failed.status == "failed" and failed.exit_code == 1 and failed.html is None
    assert failed.manifest["error"] == {"type": "ValidationError", "cell": 6}   # type and cell, never the message
    assert "No treated unit" not in (failed.run_dir / "manifest.json").read_text()
    assert failed.notebook.is_file() and "No treated unit" in failed.notebook.read_text()
    assert failed.run_dir not in failed.notebook.parents                     # the restricted folder
    assert latest_good(root, "job")["run_id"] == second.run_dir.name


def test_index_lists_every_run_newest_first(runs):
    root, first, second, failed = runs
    index = (root / "index.html").read_text()
    positions = [index.rfind(r.run_dir.name) for r in (failed, second, first)]  # main table, after the summary
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_html_offline_in_chromium_with_sections(runs, tmp_path):
    _, first, _, _ = runs
    shot = ROOT / "tests" / "output" / "midterm_screenshot.png"          # kept for a human look
    shot.parent.mkdir(exist_ok=True)
    dom, external = open_offline(first.html, tmp_path, screenshot=shot)
    assert external == []
    assert "[evalkit]" not in dom                                   # console progress stays out of the report
    for section in ("Contents", "Design and data", "Baseline balance", "Pre-trend test", "What was found",
                    "Run parameters", "commit"):
        assert section in dom
    for anchor in re.findall(r'href="#([^"]+)"', dom):              # every ToC link resolves
        assert f'id="{anchor}"' in dom
    assert shot.stat().st_size > 10_000


def test_offline_check_can_fail(tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://example.org/pixel.png" alt="x"></body></html>')
    _, external = open_offline(page, tmp_path)
    assert any("example.org" in u for u in external)


# ---------------------------------------------------------------- the POA demo report (issue 14, part 4)
@pytest.fixture(scope="module")
def poa(tmp_path_factory):
    """The stock POA final report (3 treated areas), rendered once for every check below."""
    import time

    root = tmp_path_factory.mktemp("poa")
    start = time.perf_counter()
    run = run_report("final", ROOT / "params" / "poa_final.yaml", report="poa_final", period="2026-12-01",
                     reports_root=root, progress=False)
    return run, time.perf_counter() - start


def test_poa_report_shows_the_advisors_table_and_uses_its_choice(poa):
    import io

    import pandas as pd

    run, _seconds = poa
    assert run.status == "ok" and run.manifest["disclosure"]["ok"] is True
    html = run.html.read_text(encoding="utf-8")
    tables = pd.read_html(io.StringIO(html))
    advisor = next(t for t in tables if "Measured size" in t.columns)
    assert {"Power", "Holds size", "Chosen"} <= set(advisor.columns) and len(advisor) >= 7   # every method
    chosen = advisor.loc[advisor["Chosen"] == "✓", "Method"].tolist()
    assert len(chosen) == 1
    assert re.search(r"Measured in \d{3} placebo assignments of 3 of the \d+ comparison areas \(start 2018", html)
    assert "the report relies on it" in html or "size-corrected critical value" in html
    few = next(t for t in tables if "Used" in t.columns and "Details" in t.columns)
    used = few.loc[few["Used"] == "✓", "Method"].tolist()
    assert len(used) == 1
    names = {"Randomization inference (t)": "Randomization inference", "CR1, t(G-1)": "CR1 (cluster-robust)",
             "CR2 (Bell-McCaffrey, IK dof)": "CR2 (Bell-McCaffrey, IK dof)", "CR3 (jackknife), t(G-1)": "CR3 (jackknife)",
             "Restricted wild cluster bootstrap, Rademacher": "Restricted wild cluster bootstrap",
             "Restricted wild cluster bootstrap, Webb": "Restricted wild cluster bootstrap, Webb",
             "Unrestricted wild cluster bootstrap, Rademacher": "Unrestricted wild cluster bootstrap"}
    assert used[0] == names.get(chosen[0], "CR2 with size-corrected critical value")
    assert f"relies on {chosen[0]}" in html                                   # the design section says so
    assert f"p-value and interval: {chosen[0]}" in html                       # the headline uses it
    side = next(t for t in tables if "Basis" in t.columns)
    assert "Synthetic DiD" in set(side["Method"]) and side["Method"].str.startswith("Synthetic control").sum() == 3
    alts = re.findall(r'alt="(Area [A-Z]: gap between the treated area[^"]*)"', html)
    assert [a[:6] for a in alts] == ["Area A", "Area B", "Area C"]          # each synthetic-control figure its area
    assert "Minimum detectable effect (MDE) of this design" in html and ", MDE " in html
    assert "weight each area by its mean number of residents" in html


def test_poa_report_shows_the_headline_with_one_inference_everywhere(poa):
    """Break-it review 14: the robustness row and results JSON of the headline use the chosen method and
    say so; the marked few-cluster row shows the advisor's p-value; no p-value prints as 0 or 0.000."""
    import io

    import pandas as pd

    run, _ = poa
    html = run.html.read_text(encoding="utf-8")
    tables = pd.read_html(io.StringIO(html))
    advisor = next(t for t in tables if "Measured size" in t.columns)
    chosen = advisor.loc[advisor["Chosen"] == "✓"].iloc[0]
    average = json.loads((run.run_dir / "results" / "area_event_study_post_average.json").read_text())
    row = average["table"][0]
    robust = next(t for t in tables if "Specification" in t.columns)
    es = robust.loc[robust["Specification"] == "Event study, area, post average"].iloc[0]
    assert es["Inference (p-value and interval)"] == chosen["Method"]           # labelled: the chosen method
    from evalkit.i18n import format_p

    # the headline's p-value, as every p-value in a report table is shown: three decimals (review of issue 16)
    assert str(es["p-value"]) == format_p(row["p_value"], "en", digits=3)
    assert f"p = {row['p_value']:.3f}" in html                                   # ... as the text prints it
    assert average["inference"]["method"] != "cr1"
    assert set(robust["Inference (p-value and interval)"]) - {chosen["Method"]} <= {
        "CR1", "multiplier bootstrap", "BJS (conservative)", "Restricted wild cluster bootstrap"}
    few = next(t for t in tables if "Used" in t.columns and "Details" in t.columns)
    marked = few.loc[few["Used"] == "✓"].iloc[0]
    # the same p-value looks the same in both tables: three decimals, "< 1/(B+1)" floors (evalkit.i18n.format_p)
    assert str(marked["p-value"]) == str(chosen["p-value (data)"])
    assert not [p for p in advisor["p-value (data)"].astype(str) if re.fullmatch(r"\d\.\d{4,}", p)]
    assert pd.notna(marked["Lower"]) and marked["Lower"] != "–" and "the advisor's test" in marked["Details"]
    assert "p = 0.000" not in html
    shown_p = [str(v) for t in tables for c in t.columns if "p-value" in str(c) for v in t[c] if pd.notna(v)]
    assert shown_p and not [v for v in shown_p if v in ("0", "0.0", "0.0000") or "e-" in v]   # "< 0.001" instead
    assert "MDE for the static effect (80% power, alpha 0.05)" in html
    assert "distinct of 500 drawn" in html and "size-adjusted" in html
    assert "the area effect is smaller" not in html and "larger in absolute value" in html
    assert any({"Event time", "Lower", "Upper"} <= set(t.columns) for t in tables)     # labelled headers
    assert not any("Term" in t.columns for t in tables)              # event time names the rows; no "e=-4" column
    assert any({"Method", "Lower bound", "Upper bound"} <= set(t.columns) for t in tables)     # HonestDiD
    assert not any({"conf_low", "event_time", "lb", "Mbar"} & set(map(str, t.columns)) for t in tables)


def test_poa_results_carry_the_advice_as_a_diagnostic(poa):
    run, _ = poa
    static = json.loads((run.run_dir / "results" / "area_twfe_static.json").read_text())
    advice = static["diagnostics"]["inference_advice"]
    assert 450 <= advice["n_placebos"] <= 500 and advice["weighted"] is True and advice["seed"] == 2024  # distinct
    assert sum(row["chosen"] for row in advice["table"]) == 1
    assert static["meta"]["weights"] == "area_weight"


def test_poa_results_publish_person_counts_rounded(poa):
    """Reviewer finding: results/*.json held exact person counts (n_obs 892656, n_units 68114,
    n_control 64314) beside the HTML's rounded ones. Person-level results (unit PERSON_ID) now carry
    them rounded to round_base (5), null below min_cell; counts of areas and clusters stay exact."""
    run, _ = poa
    folder = run.run_dir / "results"
    assert run.manifest["disclosure"]["round_base"] == 5
    person = 0
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if not isinstance(data.get("meta"), dict) or data["meta"].get("unit") != "PERSON_ID":
            continue
        person += 1
        assert data["n_obs"] % 5 == 0, path.name
        counts = [r[c] for r in data["table"] for c in ("n_treated", "n_control") if r.get(c) is not None]
        assert all(n % 5 == 0 and n >= 5 for n in counts), (path.name, counts)
        diag = data["diagnostics"]
        assert all(diag[k] % 5 == 0 for k in ("n_units", "n_never_treated") if diag.get(k) is not None), path.name
        assert "rounded to a multiple of 5" in diag["counts"]
        assert data["inference"]["n_clusters"] == 47 and diag.get("n_clusters", 47) == 47     # areas: exact
    assert person >= 4        # cohort event study, its post average, the cohort robustness specifications
    static = json.loads((folder / "area_twfe_static.json").read_text())
    assert static["n_obs"] == 705 and static["diagnostics"]["n_units"] == 47      # area-years and areas: exact
    two = json.loads((folder / "robustness_did_2x2.json").read_text())
    assert two["meta"]["unit"] == "OMR_ID" and two["n_obs"] == 94                 # area-years of the 2x2: exact
    html = run.html.read_text(encoding="utf-8")
    cohort = json.loads((folder / "robustness_twfe_cohort.json").read_text())
    assert f"{cohort['n_obs']:,}" in html         # the robustness table shows the same rounded observations


def test_poa_report_stays_fast(poa):
    _, seconds = poa
    assert seconds < 90          # issue 13 budget is 30 s on 2 idle cores; generous here for a shared test machine


# ---------------------------------------------------------------- the survey section (issue 15, part 6)
def _ci(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in re.findall(r"-?\d+\.\d+", str(text)))
    return low, high


def test_poa_report_shows_tryghed_effect_with_truth_inside_its_interval(poa):
    import io

    import pandas as pd

    run, _ = poa
    assert run.status == "ok" and run.manifest["disclosure"]["ok"] is True
    html = run.html.read_text(encoding="utf-8")
    assert "Survey outcome: effect with calibrated weights" in html and "Response rate" in html
    tables = pd.read_html(io.StringIO(html))
    effect = next(t for t in tables if "Calibrated weights (TWFE)" in set(t.iloc[:, 0])).set_index("Weights")
    row = effect.loc["Calibrated weights (TWFE)"]
    assert row["Lower"] <= row["Simulated true effect"] <= row["Upper"] and row["Lower"] > 0   # POA raises tryghed
    assert row["Method"] == effect.loc["Design weights only (TWFE)", "Method"]
    assert f"p-value and interval: {row['Method']}" in html       # the inference the register outcome uses
    weights = next(t for t in tables if "Design effect, calibrated weights" in t.columns)
    assert (weights["Design effect, calibrated weights"].between(1.0, 2.0)).all()
    assert (weights["Effective size, calibrated weights"] < weights["Respondents (rounded)"]).all()
    assert (weights["Respondents (rounded)"] % 5 == 0).all()       # rounded to round_base
    rates = next(t for t in tables if "Area A" in t.columns)
    assert list(rates.columns) == ["Year", "Area A", "Area B", "Area C", "Comparison areas"]   # no area named
    assert rates.drop(columns="Year").stack().between(20, 80).all()


def test_poa_results_hold_the_survey_and_subgroup_numbers_shown(poa):
    """Issue 15 review: the survey effect and the subgroup tables are in results/ (disclosure-checked: no
    respondent rows, respondent counts rounded), and equal to what the report shows."""
    import io

    import pandas as pd

    run, _ = poa
    folder = run.run_dir / "results"
    html = run.html.read_text(encoding="utf-8")
    tables = pd.read_html(io.StringIO(html))
    effect = next(t for t in tables if "Calibrated weights (TWFE)" in set(t.iloc[:, 0])).set_index("Weights")
    for name, row in (("survey_twfe_calibrated", "Calibrated weights (TWFE)"),
                      ("survey_twfe_design", "Design weights only (TWFE)")):
        data = json.loads((folder / f"{name}.json").read_text())
        att = next(r for r in data["table"] if r["term"] == "ATT")
        assert att["estimate"] == pytest.approx(effect.loc[row, "Estimate"], abs=5e-5)
        assert att["conf_low"] == pytest.approx(effect.loc[row, "Lower"], abs=5e-5)
        assert data["diagnostics"]["se_basis"] in ("respondents", "area-year cells")
        assert data["n_obs"] % 5 == 0 and "sum_weights" not in data["diagnostics"]
        assert data["diagnostics"]["report_inference_label"] == effect.loc[row, "Method"]
    for source in ("register", "survey"):   # subgroups of both outcomes (issue 15: register and survey)
        data = json.loads((folder / f"subgroups_{source}.json").read_text())
        assert data["by"] == "origin" and len(data["table"]) == 2
        assert all(r["n"] is None or (r["n"] % 5 == 0 and r["n"] >= 5) for r in data["table"])
        # few treated areas: the joint test is the seeded wild bootstrap, said so in the table's caption
        assert data["joint_test"]["method"] == "wild" and data["joint_test"]["draws"] == 9999
        assert data["joint_test"]["seed"] is not None
        assert data["inference"] in ("cr1", "cr2", "cr3", "wild_restricted", "wild_restricted_webb")
    assert sum("Subgroup" in t.columns for t in tables) == 2     # the register and the survey table
    assert html.count("Test of equal effects: F(1, ") == 2 and html.count("wild bootstrap p") == 2
