"""Both report templates run through papermill on the demo data and render offline HTML."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from evalkit.errors import ParameterError
from evalkit.report.runner import run_report

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return {t: run_report(t, ROOT / "params" / f"outreach_{t}.yaml", root=ROOT, reports_root=out, progress=False)
            for t in ("midterm", "final")}


@pytest.mark.parametrize("template", ["midterm", "final"])
def test_html_is_offline_codeless_and_embeds_figures(runs, template):
    html = runs[template].html.read_text(encoding="utf-8")
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<script src" not in html
    assert "study." not in html and "import evalkit" not in html        # no code cells
    assert html.count("data:image/png;base64") >= 1
    assert re.search(r'<img [^>]*alt="[^"]{20,}"', html)                  # figures carry alt text
    assert "PERSON_ID" not in html


def test_reports_state_estimate_next_to_truth(runs):
    midterm = runs["midterm"].html.read_text(encoding="utf-8")
    final = runs["final"].html.read_text(encoding="utf-8")
    assert "simulated true effect is" in midterm                          # English labels
    assert "simulerede sande effekt er" in final                          # Danish labels
    assert "Kohorteeffekt" in final and "Robusthed" in final
    assert "comparison areas (clusters)" in midterm and "sammenligningsområder (klynger)" in final  # design check
    # the midterm (evaluation year 2019) does not count the 2020 cohort as treated (review of issue 16)
    assert "The design has 20 treated and 55 comparison areas" in midterm
    assert "A further 5 areas start the intervention after 2019" in midterm
    for spec in ("Callaway-Sant'Anna, område", "Sun-Abraham, område", "Imputation (BJS)", "TWFE, område"):
        assert spec in final                                              # estimators side by side
    assert "HonestDiD" in final and "Nedbrudsværdi" in final
    assert "EvalkitWarning" not in final                                  # warnings become notes


def test_truth_inside_interval_in_final(runs):
    nb = nbformat.read(runs["final"].notebook, as_version=4)
    text = "\n".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert text.count("lies inside the interval") + text.count("ligger inden for intervallet") >= 2


def test_unknown_parameter_refused_before_running(tmp_path):
    params = tmp_path / "bad.yaml"
    params.write_text("intervention: poa\nevaluation_yaer: 2020\n")
    with pytest.raises(ParameterError, match="evaluation_year"):
        run_report("final", params, root=ROOT, reports_root=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("template", ["midterm", "final"])
def test_html_title_is_the_report_title(runs, template):
    html = runs[template].html.read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()
    heading = re.search(r'<header class="evalkit-header">\s*<h1>(.*?)</h1>', html, re.S).group(1).strip()
    assert title == heading and title != "Notebook"


def test_final_subgroup_table_employment_by_origin_in_danish(runs):
    """Issue 15: employment among non-western immigrants as a subgroup, truth inside each interval."""
    import io

    import pandas as pd

    html = runs["final"].html.read_text(encoding="utf-8")
    assert "Effekter for undergrupper" in html and "Test for ens effekter: F(1, " in html
    # the joint test is the wild bootstrap whatever the number of treated areas (the F test over-rejects)
    assert "wild bootstrap p" in html and "Den fælles test bruger wild cluster bootstrap" in html
    table = next(t for t in pd.read_html(io.StringIO(html), decimal=",", thousands=".") if "Undergruppe" in t.columns)
    assert list(table["Undergruppe"]) == ["Ikke-vestlige indvandrere og efterkommere", "Øvrige"]
    assert {"Estimat", "Konfidensinterval", "Simuleret sand effekt", "Antal personer (afrundet)"} <= set(table.columns)
    for ci, truth in zip(table["Konfidensinterval"], table["Simuleret sand effekt"]):
        low, high = (float(x.replace(",", ".")) for x in re.findall(r"-?\d+,\d+", ci))   # Danish "[0,0151; 0,0259]"
        assert low <= truth <= high and low > 0
    assert "Spørgeskemaundersøgelse" not in html                   # no survey outcome in these parameters
