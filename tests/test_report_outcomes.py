"""Issue 15, part 6: every outcome in the report parameters, the letting-rule report (in-mover
composition) and the survey section in Danish, executed once; pure tables of the new sections.

The POA report's tryghed section is checked in ``test_report_runs.py`` (its ``poa`` fixture) and the
outreach report's subgroup table in ``test_notebooks.py`` (its ``runs`` fixture), so each parameter
file is executed once.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.data.outcomes import OUTCOMES
from evalkit.errors import ParameterError
from evalkit.report.params import validate_params
from evalkit.report.runner import run_report
from evalkit.report.survey_section import response_rates, weight_diagnostics

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def letting(tmp_path_factory):
    """The letting-rule demo report (fleksibel udlejning, Danish labels, tryghed as a secondary outcome)."""
    run = run_report("final", ROOT / "params" / "letting_final.yaml", reports_root=tmp_path_factory.mktemp("r"),
                     progress=False)
    assert run.status == "ok", run.manifest.get("error")
    return run, run.html.read_text(encoding="utf-8")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_letting_report_shows_in_mover_effect_with_truth_inside(letting):
    run, html = letting
    assert run.manifest["disclosure"]["ok"] is True
    text = _text(html)
    main_ = text[text.find("Hovedresultater ¶"):]
    m = re.search(r"tilflytteres andel i job eller uddannelse \(18-64 år\) ([+-]\d+,\d+) pp \(95 % konfidensinterval "
                  r"\[([+-]\d+,\d+) pp; ([+-]\d+,\d+) pp\].*?Den simulerede sande effekt er ([+-]\d+,\d+) pp", main_)
    assert m, main_[:600]                                         # Danish decimal comma (issue 16, part 6)
    est, low, high, truth = (float(g.replace(",", ".")) for g in m.groups())
    assert low <= truth <= high and low < est < high and truth > 0
    assert "ligger inden for intervallet" in main_[:m.end() + 60]
    assert "Kohorteeffekten vises ikke" in text                   # no person-level definition: said, not failed
    assert "kræver en indikator for den enkelte person" in text    # no movers decomposition


def test_danish_report_has_danish_survey_section(letting):
    _, html = letting
    text = _text(html)
    for header in ("Spørgeskemaundersøgelse: effekt med kalibrerede vægte", "Svarprocent", "Sammenligningsområder",
                   "Designeffekt, kalibrerede vægte", "Effektiv størrelse, kalibrerede vægte", "Kalibrerede vægte (TWFE)",
                   "Kun designvægte (TWFE)", "Simuleret sand effekt"):
        assert header in text, header
    assert "Survey outcome" not in text and "Response rate" not in text
    tables = pd.read_html(io.StringIO(html), decimal=",", thousands=".")   # Danish numbers
    effect = next(t for t in tables if "Kalibrerede vægte (TWFE)" in set(t.iloc[:, 0]))
    row = effect.iloc[0]
    lo, hi, truth = (float(row[c]) for c in ("Nedre", "Øvre", "Simuleret sand effekt"))
    assert lo <= truth <= hi and truth == 0.0                      # the letting rule does not move tryghed


def test_new_html_passes_the_disclosure_scanners(letting):
    run, html = letting
    survey = pd.read_parquet(ROOT / "data" / "demo" / "tryghed_survey.parquet", columns=["RESP_ID"])["RESP_ID"]
    sample = set(survey.sample(2000, random_state=1))
    assert not any(key in html for key in sample)                   # no respondent key
    assert run.manifest["disclosure"]["ok"] is True and not run.manifest["disclosure"].get("scan")
    assert "RESP_ID" not in html and "PERSON_ID" not in html
    rates = next(t for t in pd.read_html(io.StringIO(html)) if "Område A" in t.columns)
    values = rates.drop(columns=rates.columns[0]).apply(pd.to_numeric, errors="coerce").to_numpy().ravel()
    assert np.nanmin(values) > 0 and np.nanmax(values) < 100       # rates, never 0 % or 100 % of a few persons


# ------------------------------------------------------------------ parameters: every outcome, one line
@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_outcome_is_a_report_parameter(outcome):
    assert validate_params({"outcome": outcome})["outcome"] == outcome


@pytest.mark.parametrize("given, name", [({"outcome": "tryghed"}, "outcome"), ({"survey_outcome": "trivsel"},
                                         "survey_outcome"), ({"subgroup_by": "income"}, "subgroup_by"),
                                        ({"intervention": "udlejning"}, "intervention")])
def test_bad_parameters_give_one_line_naming_the_allowed_values(given, name):
    with pytest.raises(ParameterError) as err:
        validate_params(given)
    message = str(err.value)
    assert "\n" not in message and f"'{name}'" in message and "choose one of" in message


def test_cli_exits_2_with_one_line_for_a_bad_outcome(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("outcome: in_mover_share\nsurvey_outcome: tryghed\n")
    code = main(["report", "run", "final", "--params", str(bad), "--reports-root", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "'outcome'" in err and "in_emp_edu_share" in err and "Did you mean" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ pure tables of the survey section
def test_response_rates_blank_cells_of_few_respondents_or_nonrespondents():
    rows = []
    for area, n, answered in ((1, 40, 20), (2, 40, 38), (3, 40, 3), (4, 200, 90)):
        rows += [{"OMR_ID": area, "AAR": 2020, "TRYG": 1.0 if i < answered else np.nan} for i in range(n)]
    frame = pd.DataFrame(rows)
    by_area = response_rates(frame, "TRYG", {1, 2, 3}, min_cell=5, by_area=True)
    assert by_area.loc[2020, "A"] == 0.5
    assert np.isnan(by_area.loc[2020, "B"]) and np.isnan(by_area.loc[2020, "C"])   # 2 nonrespondents; 3 respondents
    assert by_area.loc[2020, "comparison"] == 0.45
    pooled = response_rates(frame, "TRYG", {1, 2, 3}, min_cell=5, by_area=False)
    assert list(pooled.columns) == ["treated", "comparison"] and pooled.loc[2020, "treated"] == 61 / 120


def test_weight_diagnostics_sum_effective_sizes_and_round_counts():
    diag = pd.DataFrame({"OMR_ID": [1, 1, 2, 3], "AAR": [2020, 2021, 2020, 2020], "respondents": [52., 48., 61., 3.],
                         "n_eff_design": [52., 48., 61., 3.], "n_eff": [40., 40., 50., 2.],
                         "levels_pooled": [1, 0, 2, 0], "suppressed": [False, False, False, True]})
    out = weight_diagnostics(diag, {1}, min_cell=5, round_base=5).set_index("arm")
    assert out.loc["treated", "respondents"] == 100 and out.loc["treated", "deff"] == pytest.approx(100 / 80)
    assert out.loc["comparison", "respondents"] == 60 and out.loc["comparison", "area_waves"] == 1  # suppressed cell out
    assert out.loc["comparison", "deff_design"] == pytest.approx(1.0)
    assert out.loc["comparison", "n_eff_design"] == 60 and out.loc["treated", "n_eff"] == 80   # rounded too


def test_letting_report_subgroups_of_the_survey_with_truth_inside(letting):
    _, html = letting
    text = _text(html)
    assert "Effekter for undergrupper" in text and "Test for ens effekter: F(1, " in text
    assert "Undergrupper vises ikke for tilflytteres andel" in text        # no per-person definition: said
    table = next(t for t in pd.read_html(io.StringIO(html), decimal=",", thousands=".") if "Undergruppe" in t.columns)
    assert list(table["Undergruppe"]) == ["Ikke-vestlige indvandrere og efterkommere", "Øvrige"]
    for ci, truth in zip(table["Konfidensinterval"], table["Simuleret sand effekt"]):
        low, high = (float(x.replace(",", ".")) for x in re.findall(r"-?\d+,\d+", ci))   # "[-0,0086; 0,0512]"
        assert low <= truth <= high
    assert 'alt="Effekt for hver undergruppe' in html


def test_survey_outcome_without_its_file_is_refused_before_running(tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "demo", data, ignore=shutil.ignore_patterns("person_years", "truth",
                                                                               "tryghed_survey.parquet"))
    (data / "person_years").symlink_to(ROOT / "data" / "demo" / "person_years")
    bad = tmp_path / "p.yaml"
    bad.write_text(f"intervention: poa\noutcome: conviction_share\ndata_dir: {data}\nsurvey_outcome: tryghed\n")
    code = main(["report", "run", "final", "--params", str(bad), "--reports-root", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "tryghed_survey.parquet" in err


# ------------------------------------------------- issue 16 part 6: a Danish report speaks Danish
def _danish_vocabulary() -> set[str]:
    """Every word of every Danish label the library has: the label map (evalkit.i18n), the plot and
    HonestDiD figure labels, the inference method names, compare's labels, the parameter header's names."""
    from evalkit.diagnostics._sensitivity import _LABELS as SENSITIVITY
    from evalkit.i18n import LABELS, SECTIONS
    from evalkit.report.few_clusters import NAMES
    from evalkit.report.param_header import PARAMETER_NAMES
    from evalkit.results.plot import LABELS as PLOT

    texts = [v["da"] for v in (*LABELS.values(), *SECTIONS.values(), *NAMES.values(), *PARAMETER_NAMES.values())]
    texts += list(PLOT["da"].values()) + list(SENSITIVITY["da"].values())
    return {w for t in texts for w in _words(t)}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-zæøåé]{2,}", text.lower())


#: proper names and symbols a Danish report uses as they are
NAMES_AS_THEY_ARE = {"callaway", "sant", "anna", "mbar", "lf", "flci", "sup", "cr", "dkk", "ik", "pp"}


def _headers_and_figure_labels(html: str) -> tuple[list[str], list[list[str]]]:
    import json
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.headers, self.figures, self._th = [], [], None

        def handle_starttag(self, tag, attrs):
            if tag == "th":
                self._th = []
            elif tag == "figure" and dict(attrs).get("data-labels") is not None:
                self.figures.append(json.loads(dict(attrs)["data-labels"]))

        def handle_data(self, data):
            if self._th is not None:
                self._th.append(data)

        def handle_endtag(self, tag):
            if tag == "th" and self._th is not None:
                self.headers.append("".join(self._th).strip())
                self._th = None

    parser = Parser()
    parser.feed(html)
    return parser.headers, parser.figures


def test_danish_report_headers_and_figure_labels_come_from_the_danish_label_map(letting):
    """Issue 16 must-show: in a Danish report every table header and every figure text (title, axis
    labels, legend: the figure's ``data-labels``) is made of words of the library's Danish labels,
    proper names and numbers; parameter names appear only as the parameter table's row names."""
    from evalkit.report.params import PARAMS

    _, html = letting
    headers, figures = _headers_and_figure_labels(html)
    assert len(headers) > 40 and len(figures) >= 4
    vocabulary = _danish_vocabulary() | NAMES_AS_THEY_ARE
    parameters = {p.name for p in PARAMS}
    foreign = {h: [w for w in _words(h) if w not in vocabulary] for h in headers if h not in parameters}
    assert not {h: w for h, w in foreign.items() if w} , foreign
    labels = [t for fig in figures for t in fig]
    foreign = {t: [w for w in _words(t) if w not in vocabulary] for t in labels}
    assert not {t: w for t, w in foreign.items() if w}, foreign


def test_a_survey_that_cannot_be_estimated_says_why_in_the_report_unless_that_shows_data():
    """Break-it finding: the note said "see the run log" and the log had nothing. The reason is now in
    the note itself, when the report-text disclosure check lets it through."""
    from evalkit.errors import ValidationError
    from evalkit.report.survey_section import _shown_reason

    assert _shown_reason(ValidationError("margins: no resident in 2019")) == \
        "ValidationError: margins: no resident in 2019"
    assert "withheld" in _shown_reason(ValidationError("only 3 respondents in the treated areas"))


# ------------------------------------------------------------------ issue 16, part 6: Danish numbers
#: an English decimal ("0.048", "-1.25"); in Danish it can only be whole thousands ("94.305"), see below
EN_DECIMAL = re.compile(r"^[-+]?\d+\.\d+$")
DA_WHOLE = re.compile(r"^-?\d{1,3}(?:\.\d{3})*$")
DA_DECIMAL = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})*,\d+$")
#: a decimal point that cannot be a Danish thousands separator ("0.421", "1.25", "2344.400", "0.0235")
EN_POINT_IN_TEXT = re.compile(r"(?<![\w.,])(?:0\.\d+|\d{4,}\.\d+|\d+\.(?:\d{1,2}|\d{4,}))(?![\w]|[.,]\d)")


def _columns(html: str) -> dict:
    """(table number, column header) -> the column's shown cells, for every table of the report."""
    out: dict = {}
    for k, table in enumerate(re.findall(r"<table.*?</table>", html, flags=re.S)):
        heads = [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>")[0], re.S)] \
            if "<thead>" in table else []
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("</thead>")[-1], flags=re.S):
            cells = [_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
            names = heads if len(heads) == len(cells) else [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>",
                                                                                                 row, re.S)]
            for i, cell in enumerate(cells):
                out.setdefault((k, names[i] if i < len(names) else i), []).append(cell)
    return out


def test_danish_report_shows_every_number_the_danish_way(letting):
    """lang: da: decimal comma and thousands dot in every table cell and sentence; years stay "2024"."""
    _, html = letting
    columns = _columns(html)
    cells = [c for cells in columns.values() for c in cells]
    assert len(cells) > 300
    for (k, name), shown in columns.items():
        numbers = [c for c in shown if re.fullmatch(r"[-+]?[\d.,]+", c)]
        if all(DA_WHOLE.match(c) for c in numbers):       # whole numbers, thousands grouped by a dot ("94.305")
            continue
        # a count among decimals (the balance table's residents: "2.221" beside the shares' "0,339") is a
        # Danish whole number; an English decimal below one ("0.339") or a p-value of one ("1.000") is not
        english = [c for c in numbers if EN_DECIMAL.match(c)
                   and not (DA_WHOLE.match(c) and not c.startswith(("0", "-0")) and c != "1.000")]
        assert not english, (k, name, english)
    assert sum(bool(DA_DECIMAL.match(c)) for c in cells) > 100                   # "0,0235", "9.710,00"
    assert any(re.fullmatch(r"\d{1,3}\.\d{3}", c) for c in cells)                # residents: "94.305"
    assert "2018" in cells and "2.018" not in cells                              # a cohort year is no amount
    assert any(re.fullmatch(r"< 0,\d+", c) for c in cells) or any(c.startswith("0,") for c in cells)
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>|<table.*?</table>|src=\"data:[^\"]*\"", " ", html, flags=re.S)
    text = _text(body)
    assert not EN_POINT_IN_TEXT.search(text), text[max(0, EN_POINT_IN_TEXT.search(text).start() - 80):][:160]
    assert re.search(r"p [=<] 0,\d+", text)                                      # p-values in sentences
