"""evalkit.compare: several results side by side (issue 16, part 4).

Oracles: each result's own ``tidy()`` (the long table copies it exactly), the grid the
renderings share (each format is parsed back into it), and the robustness table as built
before it read its numbers from the comparison.
"""
from __future__ import annotations

import html.parser
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import evalkit as ek
from evalkit import seal
from evalkit.data.synthetic import staggered_panel
from evalkit.errors import EvalkitError, EvalkitWarning
from evalkit.estimators.combine import lincom
from evalkit.results import Comparison, InferenceInfo, Result, compare
from evalkit.results.comparison import LONG_COLUMNS

STATS = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    d = staggered_panel(n_units=24, n_periods=8, cohorts={0: 0.75, 5: 0.25}, seed=1)
    return d.assign(post=(d["time"] >= 5).astype(int), g=(d["cohort"] > 0).astype(int))


@pytest.fixture(scope="module")
def results(panel) -> dict[str, Result]:
    """One result of every estimator (small panel, few draws)."""
    d, keys = panel, dict(outcome="y", unit="unit", time="time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        tw = ek.twfe(d, **keys, treatment="treat", cluster="unit")
        es = ek.event_study(d, **keys, cohort="cohort", leads=2, lags=2, cluster="unit")
        return {
            "twfe": tw,
            "did2x2": ek.did2x2(d, outcome="y", treatment="g", post="post", cluster="unit"),
            "event_study": es,
            "post_average": ek.post_average(es),
            "sun_abraham": ek.sun_abraham(d, **keys, cohort="cohort", cluster="unit"),
            "cs_simple": ek.aggregate(ek.att_gt(d, **keys, cohort="cohort"), "simple"),
            "sdid": ek.sdid(d, **keys, cohort="cohort", draws=20, seed=1),
            "synth": ek.synth(d, **keys, cohort="cohort", placebo=False, loo=False),
            "conley_taber": ek.conley_taber(d, **keys, treatment="treat", draws=99, seed=1),
            "ferman_pinto": ek.ferman_pinto(d, **keys, treatment="treat", draws=99, seed=1),
            "wild": tw.with_inference("wild", d, seed=1, draws=99, weights="webb"),
        }


def hand_result(**changes) -> Result:
    """A result built by hand: large N, tiny p, a four-digit estimate."""
    table = pd.DataFrame({"term": ["ATT", "x_1"], "estimate": [1234.5678, -0.25], "std_error": [12.5, 0.1],
                          "statistic": [98.8, -2.5], "p_value": [1e-5, 0.0123], "conf_low": [1209.0, -0.45],
                          "conf_high": [1260.1, -0.05]})
    fields = dict(estimator="twfe", estimand="ATT", table=table, vcov=None, alpha=0.05,
                  inference=InferenceInfo(method="cr1", cluster="OMR_ID", n_clusters=1500, df=1499.0),
                  n_obs=123456, outcome="employment_rate",
                  meta={"unit": "OMR_ID", "time": "AAR", "covariates": ["x_1"], "weights": None})
    return Result(**{**fields, **changes})


def snapshot(res: Result) -> str:
    return res.to_json()


# ------------------------------------------------------------------------------ values
def test_values_equal_each_results_tidy_exactly(results):
    cmp = compare(results)
    table = cmp.tidy()
    assert list(table.columns) == list(LONG_COLUMNS)
    assert list(cmp.models["model"]) == list(results)
    for name, res in results.items():
        own = res.tidy().set_index("term")
        rows = table[table["model"] == name].set_index("source_term")
        assert sorted(rows.index) == sorted(own.index)  # every term, in the order of the rows shown
        assert list(rows.index) == [t for t in cmp.terms if t in own.index]
        for col in STATS:
            np.testing.assert_array_equal(rows[col].to_numpy(float), own.loc[rows.index, col].to_numpy(float))
        assert (rows["reference"].to_numpy() == own.loc[rows.index, "reference"].to_numpy()).all()
        assert (rows["n_obs"] == res.n_obs).all() and (rows["estimator"] == res.estimator).all()
        assert (rows["alpha"] == res.alpha).all()
        n_cl = res.inference.n_clusters
        assert rows["n_clusters"].isna().all() if n_cl is None else (rows["n_clusters"] == n_cl).all()


def test_terms_select_rename_and_align(results):
    picks = {k: results[k] for k in ("twfe", "post_average", "conley_taber", "event_study")}
    cmp = compare(picks, terms={"ATT": "Effect", "ATT(post avg)": "Effect", "e=0": "First year"})
    assert cmp.terms == ("Effect", "First year")
    table = cmp.tidy()
    effect = table[table["term"] == "Effect"].set_index("model")
    assert set(effect.index) == {"twfe", "post_average", "conley_taber"}
    assert effect.loc["post_average", "estimate"] == results["post_average"].estimate("ATT(post avg)")
    assert effect.loc["post_average", "source_term"] == "ATT(post avg)"
    wide = cmp.wide()
    assert list(wide.columns) == list(picks) and wide.index[0] == "Effect" and wide.index[2] == "First year"
    assert wide.iloc[0]["event_study"] == "" and wide.iloc[2]["twfe"] == ""  # no such term: blank
    # a list keeps the given order; a single term is a list of one
    assert compare(picks, terms=["e=0", "ATT"]).terms == ("e=0", "ATT")
    assert compare(picks, terms="ATT").terms == ("ATT",)


@pytest.mark.parametrize("name", ["twfe", "did2x2", "event_study", "post_average", "sun_abraham", "cs_simple", "sdid",
                                  "synth", "conley_taber", "ferman_pinto", "wild"])
def test_every_estimator_renders(results, name):
    cmp = compare([results[name]], names=[name])
    for text in (cmp.summary(), cmp._repr_html_(), cmp.to_latex(), cmp.to_markdown(), cmp.to_rtf()):
        assert name in text.replace("\\_", "_")
    data, meta = cmp._repr_mimebundle_()
    assert set(data) == {"text/html", "text/plain"} and seal.META in meta


def test_inference_labels_and_facts(results):
    cmp = compare(results)
    labels = cmp.models.set_index("model")["inference"]
    assert labels["twfe"] == "CR1 (cluster-robust)"
    assert labels["wild"] == "WCR (Webb), 99 draws"
    assert labels["conley_taber"] == "Conley-Taber, 99 draws"
    assert labels["cs_simple"] == "Analytic (influence function)"
    assert labels["sdid"] == "Placebo SE (SDID), 20 draws"
    wide = cmp.wide()
    assert wide.loc["Fixed effects", "twfe"] == "unit, time" and wide.loc["Fixed effects", "synth"] == ""
    assert wide.loc["Clusters", "twfe"] == "24 (unit)" and wide.loc["Observations", "did2x2"] == "192"
    webb = hand_result(inference=InferenceInfo(method="wild", cluster="OMR_ID", n_clusters=30, draws=9999, seed=1),
                       diagnostics={"inference_details": {"ATT": {"B": 9999, "weights": "webb"}}})
    assert compare([webb]).models["inference"][0] == "WCR (Webb), 9,999 draws"
    assert compare([webb], lang="da").models["inference"][0] == "WCR (Webb), 9.999 træk"


def test_no_standard_error_shows_the_interval_and_says_so(results):
    cmp = compare([results["twfe"], results["conley_taber"], results["synth"]], names=["TWFE", "CT", "SC"],
                  terms="ATT")
    wide = cmp.wide()
    ct = results["conley_taber"].tidy().iloc[0]
    assert wide.iloc[1]["CT"] == f"[{ct['conf_low']:.3f}, {ct['conf_high']:.3f}]†"
    assert wide.iloc[1]["TWFE"].startswith("(") and wide.iloc[1]["SC"] == "–"
    notes = " ".join(cmp.summary().splitlines()[-3:])
    assert "† CT: no standard error by design; the 95% confidence interval is shown" in notes
    assert "SC: neither a standard error nor a confidence interval" in notes
    both = compare([results["conley_taber"]], terms="ATT", stat=["se", "ci", "p"]).wide()
    assert list(both.iloc[1:4, 0]) == ["–", f"[{ct['conf_low']:.3f}, {ct['conf_high']:.3f}]",
                                       f"p = {ct['p_value']:.3f}"]


def test_reference_rows_and_p_values(results):
    wide = compare([results["event_study"]], stat=["se", "p"]).wide()
    ref = list(wide.index).index("e=-1")
    assert list(wide.iloc[ref:ref + 3, 0]) == ["0.000", "(ref.)", ""]
    zero = hand_result(table=pd.DataFrame({"term": ["ATT"], "estimate": [0.5], "std_error": [0.1],
                                           "p_value": [0.0], "conf_low": [0.3], "conf_high": [0.7]}),
                       inference=InferenceInfo(method="randomization", cluster="OMR_ID", n_clusters=30, draws=99))
    assert compare([zero], stat="p").wide().iloc[1, 0] == "p < 0.01"  # < 1/(B+1), never "p = 0.000"


# ------------------------------------------------------------------------------ Danish
def test_danish_labels_and_numbers():
    res = hand_result()
    da = compare([res], names=["Model"], stat=["se", "ci", "p"], lang="da").wide()
    en = compare([res], names=["Model"], stat=["se", "ci", "p"]).wide()
    assert list(da["Model"].iloc[:4]) == ["1.234,568", "(12,500)", "[1.209,000; 1.260,100]", "p < 0,001"]
    assert list(en["Model"].iloc[:4]) == ["1,234.568", "(12.500)", "[1,209.000, 1,260.100]", "p < 0.001"]
    assert da.loc["Observationer", "Model"] == "123.456" and en.loc["Observations", "Model"] == "123,456"
    assert da.loc["Klynger", "Model"] == "1.500 (område)" and da.loc["Faste effekter", "Model"] == "område, år"
    assert da.loc["Inferens", "Model"] == "CR1 (klyngerobust)"
    assert da.loc["Udfald", "Model"] == "Beskæftigelsesandel (18-64 år, fuldtidspersoner)"
    assert da.loc["Kontrolvariable", "Model"] == "x_1" and da.iloc[4, 0] == "-0,250"
    assert da.iloc[5, 0] == "(0,100)" and da.iloc[7, 0] == "p = 0,012"
    text = compare([res], lang="da", stat="ci").summary()
    assert "95 %-konfidensintervaller i kantede parenteser." in text
    assert compare([res], digits=1).wide().iloc[0, 0] == "1,234.6"


# ------------------------------------------------------------------------------ formats
class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None


def grid_rows(cmp: Comparison) -> list[list[str]]:
    wide = cmp.wide()
    return [["", *wide.columns]] + [[label, *row] for label, row in zip(wide.index, wide.to_numpy().tolist())]


@pytest.fixture(scope="module")
def awkward(results) -> Comparison:
    """Names and terms full of markup characters."""
    picks = [results["twfe"], results["conley_taber"], results["post_average"]]
    return compare(picks, names=["a_b & c", "50% <x>", "{$#~^\\}"],
                   terms={"ATT": "effect_1 | *", "ATT(post avg)": "effect_1 | *"}, lang="da")


def test_html_parses_back_to_the_grid(awkward):
    parser = _Cells()
    parser.feed(awkward._repr_html_())
    assert parser.rows == grid_rows(awkward)
    assert "<x>" not in awkward._repr_html_()


def _unescaped(text: str, ch: str) -> int:
    return len(re.findall(r"(?<!\\)" + re.escape(ch), text))


def test_latex_structure_and_escaping(awkward):
    tex = awkward.to_latex(caption="Robusthed_1 (5%)", label="tab:rob")
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 1
    assert [tex.count(r) for r in (r"\toprule", r"\midrule", r"\bottomrule")] == [1, 2, 1]
    body = tex.split(r"\toprule")[1].split(r"\bottomrule")[0]
    rows = [r for r in body.split("\n") if r.strip().endswith(r"\\")]
    assert len(rows) == len(grid_rows(awkward))
    ncol = len(re.search(r"\\begin\{tabular\}\{([lc]+)\}", tex).group(1))
    assert ncol == 4 and all(_unescaped(r, "&") == ncol - 1 for r in rows)
    stripped = tex.replace(r"\textbackslash{}", "")
    for ch in "_%#$":
        assert _unescaped(stripped.replace("$-$", "").replace(r"$\times$", ""), ch) == 0, ch
    assert r"a\_b \& c" in tex and r"50\% \textless{}x\textgreater{}" in tex and r"effect\_1" in tex
    assert r"\{\$\#\textasciitilde{}\textasciicircum{}\textbackslash{}\}" in tex
    assert _unescaped(stripped, "{") == _unescaped(stripped, "}")  # balanced groups
    assert r"\caption{Robusthed\_1 (5\%)}" in tex and r"\label{tab:rob}" in tex
    assert "$-$" in tex or "-" not in "".join(r for row in grid_rows(awkward) for r in row)
    bare = awkward.to_latex(table_float=False)
    assert r"\begin{table}" not in bare and bare.startswith(r"\begin{tabular}")


def test_markdown_table_shape(awkward):
    md = awkward.to_markdown()
    lines = [line for line in md.splitlines() if line.startswith("|")]
    rows = grid_rows(awkward)
    assert len(lines) == len(rows) + 1
    assert re.fullmatch(r"\| :--- (\| :---: ){3}\|", lines[1])
    split = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    assert all(len(r) == 4 for r in split)
    unescape = [[re.sub(r"\\(.)", r"\1", c) for c in r] for r in split]
    assert [unescape[0]] + unescape[2:] == [[c.strip() for c in r] for r in rows]
    assert r"effect\_1 \| \*" in md and "\n\nStandardfejl i parentes.\n\n† 50% <x>: ingen" in md


def parse_rtf(source: str) -> list[list[str]]:
    """The table of an RTF document, cell by cell (control words dropped, escapes decoded)."""
    def text(cell: str) -> str:
        cell = re.sub(r"\\u(-?\d+)\?", lambda m: chr(int(m.group(1)) % 65536), cell)
        cell = re.sub(r"\\([a-z]+)(-?\d+)? ?", "", cell)
        return re.sub(r"\\([\\{}])", r"\1", cell).strip()

    rows = re.findall(r"\\trowd(.*?)\\row\b", source, flags=re.S)
    return [[text(c) for c in re.split(r"\\cell(?![a-z])", row.split("\n", 1)[1])[:-1]] for row in rows]


def test_rtf_opens_as_a_table(awkward, tmp_path):
    path = tmp_path / "robustness.rtf"
    assert awkward.to_rtf(path) == path  # written: the path, not the whole source, for a notebook cell
    source = awkward.to_rtf()
    assert path.read_text(encoding="ascii") == source  # 7-bit: Danish letters as \u escapes
    assert source.startswith(r"{\rtf1\ansi") and source.rstrip().endswith("}")
    assert _unescaped(source, "{") == _unescaped(source, "}")
    assert parse_rtf(source) == [[c.strip() for c in r] for r in grid_rows(awkward)]
    assert r"\u230?" in source or "æ" not in "".join(awkward.summary())  # æ written as \u230?


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, words", [
    (lambda r: compare([]), ["results", "empty"]),
    (lambda r: compare(r["twfe"]), ["results", "list", "compare([result])"]),
    (lambda r: compare([r["twfe"], "x"]), ["results[1]", "str", "not an evalkit Result"]),
    (lambda r: compare([r["twfe"], r["did2x2"]], names=["a"]), ["names", "1 entries for 2 results"]),
    (lambda r: compare([r["twfe"], r["did2x2"]], names=["a", "a"]), ["names", "unique", "'a'"]),
    (lambda r: compare([r["twfe"]], names=[""]), ["names", "non-empty"]),
    (lambda r: compare({"a": r["twfe"]}, names=["b"]), ["names", "mapping"]),
    (lambda r: compare([r["twfe"]], terms=["ATX"]), ["term 'ATX'", "terms are ['ATT']", "Did you mean 'ATT'"]),
    (lambda r: compare([r["twfe"]], terms=[]), ["terms", "empty"]),
    (lambda r: compare({"SC": r["synth"]}, terms={"ATT": "a", "gap t=5": "a"}), ["same row", "'SC'"]),
    (lambda r: compare([r["twfe"]], stat="sd"), ["stat='sd'", "'se', 'ci', 'p'"]),
    (lambda r: compare([r["twfe"]], stat=["se", "se"]), ["stat", "repeats"]),
    (lambda r: compare([r["twfe"]], lang="de"), ["lang='de'", "'da', 'en'"]),
    (lambda r: compare([r["twfe"]], digits=-1), ["digits=-1", "0 to 10"]),
    (lambda r: compare([r["twfe"]], digits=True), ["digits=True"]),
])
def test_bad_input_names_the_parameter(results, call, words):
    with pytest.raises(EvalkitError) as err:
        call(results)
    for word in words:
        assert word in str(err.value)


# ------------------------------------------------------------------------------ invariants
def test_inputs_are_not_changed_and_the_comparison_cannot_change(results):
    before = {k: snapshot(r) for k, r in results.items()}
    cmp = compare(results, stat=["se", "ci", "p"], lang="da")
    cmp.to_latex(), cmp.to_markdown(), cmp.to_rtf(), cmp._repr_html_(), cmp.summary()
    assert {k: snapshot(r) for k, r in results.items()} == before
    first = cmp.table.loc[0, "estimate"]
    for frame in (cmp.table, cmp.tidy()):
        frame.loc[0, "estimate"] = 99.0
    models = cmp.models
    models.loc[0, "n_obs"] = -1
    assert cmp.table.loc[0, "estimate"] == first and cmp.models.loc[0, "n_obs"] == results["twfe"].n_obs
    with pytest.raises(AttributeError):
        cmp.lang = "en"


def test_model_order_and_names_do_not_change_the_numbers(results):
    a, b, c = results["twfe"], results["sdid"], results["conley_taber"]
    one = compare([a, b, c], names=["A", "B", "C"])
    two = compare([c, a, b], names=["C", "A", "B"])
    key = ["model", "term"]
    pd.testing.assert_frame_equal(one.tidy().sort_values(key, ignore_index=True),
                                  two.tidy().sort_values(key, ignore_index=True))
    pd.testing.assert_frame_equal(one.wide()[["A", "B", "C"]], two.wide()[["A", "B", "C"]])
    renamed = compare([a, b, c], names=["x", "y", "z"])
    pd.testing.assert_frame_equal(one.tidy().drop(columns="model"), renamed.tidy().drop(columns="model"))
    assert list(compare([a, b]).models["model"]) == ["(1)", "(2)"]


def test_report_run_blanks_thin_person_rows(monkeypatch):
    table = pd.DataFrame({"term": ["ATT", "e=0"], "estimate": [0.1, 0.2], "std_error": [0.05, 0.1],
                          "conf_low": [0.0, 0.0], "conf_high": [0.2, 0.4], "n_treated": [40, 3]})
    res = hand_result(table=table, n_obs=4, meta={"unit": "PERSON_ID"},
                      inference=InferenceInfo(method="cr1", cluster="OMR_ID", n_clusters=30, df=29.0))
    monkeypatch.setattr(seal, "in_report_run", lambda: True)
    monkeypatch.setattr(seal, "run_min_cell", lambda: 5)
    cmp = compare([res], names=["M"])
    wide = cmp.wide()
    assert list(wide["M"].iloc[:4]) == ["0.100", "(0.050)", "", ""]
    assert wide.loc["Observations", "M"] == "fewer than 5" and wide.loc["Clusters", "M"] == "30 (area)"
    assert "fewer than 5 persons" in cmp.summary()
    assert cmp.tidy()["estimate"].tolist() == [0.1, 0.2]  # the value keeps the numbers; the display hides them


# ------------------------------------------------------------------------------ robustness table
def _old_robustness_table(study) -> pd.DataFrame:
    """The robustness table as built before it used compare (commit 2a477c6), the oracle."""
    from evalkit.report.i18n import label
    from evalkit.report.robustness import SPEC_NAMES, _ci_text, inference_name

    lang, rows = study.p["lang"], []
    undefined = {"da": "ikke defineret for disse data", "en": "undefined for these data"}[lang]
    for key, (result, true) in study.robustness_specs.items():
        row = result.tidy().iloc[0] if result is not None else pd.Series(dtype="float64")
        rows.append({label("specification", lang): SPEC_NAMES[key][lang], label("estimate", lang): row.get("estimate"),
                     label("std_error", lang): row.get("std_error"),
                     label("ci", lang): _ci_text(row, study.effect_bounds) if result else undefined,
                     label("p_value", lang): row.get("p_value"),
                     label("inference", lang): inference_name(study, key, result),
                     label("n_obs", lang): f"{result.n_obs:,}" if result else "–", label("truth", lang): true})
    table = pd.DataFrame(rows)
    if table[label("truth", lang)].isna().all():
        table = table.drop(columns=label("truth", lang))
    return table


@pytest.mark.parametrize("lang, truth", [("en", np.nan), ("da", 0.4)])
def test_robustness_table_is_unchanged(results, lang, truth):
    from evalkit.report.robustness import robustness_table

    cs = results["cs_simple"]
    specs = {"es_area": (results["post_average"], truth), "cs_area": (lincom(cs, {"ATT": 1.0}, term="ATT",
                                                                              estimand=cs.estimand), truth),
             "twfe_area": (results["twfe"], np.nan), "did_2x2": (None, np.nan),
             "twfe_cohort": (hand_result(), truth)}
    study = SimpleNamespace(p={"lang": lang}, robustness_specs=specs, effect_bounds=(-0.3, 0.5),
                            _used_label=lambda: "WCR")
    pd.testing.assert_frame_equal(robustness_table(study), _old_robustness_table(study))
    none = SimpleNamespace(p={"lang": lang}, robustness_specs={"did_2x2": (None, np.nan)}, effect_bounds=None)
    pd.testing.assert_frame_equal(robustness_table(none), _old_robustness_table(none))
