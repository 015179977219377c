"""The immutable Result: schema, copies, serialisation, rendering and plots."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from evalkit.data.synthetic import staggered_panel
from evalkit.errors import ParameterError
from evalkit.estimators import did2x2, event_study, twfe
from evalkit.results import TABLE_COLUMNS, Result


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = staggered_panel(n_units=40, n_periods=8, cohorts={0: 0.5, 5: 0.5}, n_clusters=10, seed=9)
    return d.assign(post=(d["time"] >= 5).astype(int), g=(d["cohort"] > 0).astype(int), x=np.sin(d["time"] * d["unit"]))


@pytest.fixture(scope="module")
def results(data) -> dict[str, Result]:
    return {
        "did2x2": did2x2(data, outcome="y", treatment="g", post="post", cluster="cluster"),
        "twfe": twfe(data, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster",
                     covariates=["x"]),
        "event_study": event_study(data, outcome="y", unit="unit", time="time", cohort="cohort", leads=3, lags=2,
                                   cluster="cluster"),
        "twfe_hc1": twfe(data, outcome="y", unit="unit", time="time", treatment="treat", inference="hc1"),
    }


NAMES = ["did2x2", "twfe", "event_study", "twfe_hc1"]


@pytest.mark.parametrize("name", NAMES)
def test_tidy_schema(results, name):
    tab = results[name].tidy()
    assert list(tab.columns) == list(TABLE_COLUMNS)
    assert tab["event_time"].dtype == "Int64" and tab["reference"].dtype == bool
    assert tab["band_low"].isna().all() and tab["band_high"].isna().all()
    est = tab[~tab["reference"]]
    assert (est["conf_low"] < est["estimate"]).all() and (est["estimate"] < est["conf_high"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_frozen(results, name):
    res = results[name]
    with pytest.raises(AttributeError, match="immutable"):
        res.alpha = 0.1
    with pytest.raises(AttributeError, match="immutable"):
        res.table = res.tidy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.inference.method = "hc1"
    with pytest.raises(TypeError):
        res.diagnostics["n_dropped_missing"] = 5
    with pytest.raises(TypeError):
        res.meta["cluster"] = "x"


@pytest.mark.parametrize("name", NAMES)
def test_deeply_immutable(results, name):
    """Issue 12: ``res.table.loc[0, "estimate"] = 99`` persisted, and so did edits of vcov,
    influence and nested diagnostics."""
    res = results[name]
    before = res.to_json()
    table = res.table
    table.loc[0, "estimate"] = 99.0
    res.table.loc[0, "estimate"] = 99.0
    if res.vcov is not None:
        res.vcov.iloc[0, 0] = 99.0
        vc = res.vcov
        vc.iloc[0, 0] = 98.0
    if res.influence is not None:
        res.influence.iloc[0, 0] = 99.0
    for value in res.diagnostics.values():
        if isinstance(value, list) or hasattr(value, "items"):
            with pytest.raises(TypeError):
                if isinstance(value, list):
                    value.append(1)
                else:
                    value["x"] = 1
        if isinstance(value, np.ndarray) and value.size:
            with pytest.raises(ValueError, match="read-only"):
                value.flat[0] = 99
    with pytest.raises(ValueError, match="read-only"):
        res.table["estimate"].to_numpy()[0] = 99.0  # the arrays behind a handed-out frame are read-only
    assert res.to_json() == before and res.estimate(res.table["term"].iloc[0]) != 99.0


@pytest.mark.parametrize("name", NAMES)
def test_pickle_and_deepcopy_round_trip(results, name):
    import copy
    import pickle

    res = results[name]
    for back in (pickle.loads(pickle.dumps(res)), copy.deepcopy(res), copy.copy(res)):
        assert back.to_json() == res.to_json()
        with pytest.raises(TypeError):
            back.diagnostics["x"] = 1


def test_replace_makes_a_new_result(results):
    res = results["twfe"]
    new = res.replace(alpha=0.1, diagnostics={"x": [1, 2]})
    assert new.alpha == 0.1 and res.alpha == 0.05 and new.diagnostics["x"] == [1, 2]
    with pytest.raises(ParameterError, match="alpha"):
        res.replace(alpah=0.1)


def test_tidy_returns_a_copy(results):
    res = results["twfe"]
    before = res.tidy()
    tab = res.tidy()
    tab.loc[0, "estimate"] = 999.0
    tab["extra"] = 1
    pd.testing.assert_frame_equal(res.tidy(), before)


def test_table_passed_in_is_copied(results):
    res = results["did2x2"]
    tab = res.tidy()
    new = res.replace(table=tab)
    tab.loc[0, "estimate"] = -1.0
    assert new.estimate() == res.estimate()


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trip(results, name):
    res = results[name]
    back = Result.from_json(res.to_json())
    pd.testing.assert_frame_equal(back.tidy(), res.tidy())
    pd.testing.assert_frame_equal(back.vcov, res.vcov)
    assert back.inference == res.inference
    for field in ("estimator", "estimand", "alpha", "n_obs", "outcome"):
        assert getattr(back, field) == getattr(res, field)
    assert dict(back.meta) == dict(res.meta)
    assert back.to_dict() == res.to_dict()


def test_estimate_lookup(results):
    res = results["event_study"]
    assert res.estimate("e=-1") == 0.0
    with pytest.raises(ParameterError, match="e=-9"):
        res.estimate("e=-9")


@pytest.mark.parametrize("name", NAMES)
def test_summary_and_html(results, name):
    res = results[name]
    text, html = res.summary(), res._repr_html_()
    for needle in (res.estimator, res.outcome, res.inference.method, "alpha"):
        assert needle in text and needle in html
    for term in res.table["term"]:
        assert term in html and term in text
    assert "<table" in html and "Unnamed" not in html


def test_header_reports_clusters_and_distribution(results):
    assert "10 (cluster)" in results["twfe"].summary() and "t(9)" in results["twfe"].summary()
    assert "normal" in results["twfe_hc1"].summary()


@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_plot_returns_figure(results, name, lang):
    fig = results[name].plot(lang=lang, title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    xlabel = ax.get_xlabel()
    assert ("første" in xlabel or "effekt" in xlabel) if lang == "da" else ("first" in xlabel or "effect" in xlabel)


def test_event_study_plot_with_truth_and_given_axes(results):
    fig = Figure()
    ax = fig.add_subplot()
    out = results["event_study"].plot(ax=ax, lang="da", truth={-1: 0.0, 0: 1.0, 1: 1.0, 2: 1.0})
    assert out is fig
    labels = ax.get_legend_handles_labels()[1]
    assert "simuleret sand effekt" in labels and "Referenceperiode (sat til 0)" in labels


def test_plot_bad_lang(results):
    with pytest.raises(ParameterError, match="lang"):
        results["twfe"].plot(lang="de")


def test_plot_does_not_touch_pyplot(results):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    results["event_study"].plot()
    assert plt.get_fignums() == before


def test_to_json_is_strict_json_and_keeps_infinite_values():
    """Issue 12: to_json wrote the invalid token Infinity."""
    import json

    import numpy as np
    import pandas as pd

    from evalkit.results.result import InferenceInfo, Result

    table = pd.DataFrame({"term": ["ATT"], "estimate": [0.1], "std_error": [0.02], "conf_low": [-np.inf],
                          "conf_high": [np.inf]})
    vcov = pd.DataFrame([[np.inf]], index=["ATT"], columns=["ATT"])
    res = Result("x", "ATT", table, vcov, 0.05, InferenceInfo("cr1"), 10, "y", diagnostics={"bound": np.inf})
    text = res.to_json()
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # no Infinity/NaN tokens
    back = Result.from_json(text)
    assert back.table.loc[0, "conf_low"] == -np.inf and back.table.loc[0, "conf_high"] == np.inf
    assert back.vcov.loc["ATT", "ATT"] == np.inf


def test_plot_without_a_reference_row_has_no_reference_in_its_legend():
    """Issue 16 review: Callaway-Sant'Anna's dynamic aggregate (varying base, no reference row) showed a
    'Reference period' legend entry with no point."""
    import evalkit as ek

    rng = np.random.default_rng(0)
    unit, year = np.repeat(np.arange(60), 6), np.tile(np.arange(2010, 2016), 60)
    g = np.where(np.arange(60) < 20, 2013, np.where(np.arange(60) < 40, 2014, 0))[unit]
    panel = pd.DataFrame({"id": unit, "t": year, "g": g, "y": rng.normal(size=unit.size) + 0.5 * ((g > 0) & (year >= g))})
    agg = ek.aggregate(ek.att_gt(panel, outcome="y", unit="id", time="t", cohort="g"), "dynamic")
    assert not agg.table["reference"].any()
    labels = agg.plot().axes[0].get_legend_handles_labels()[1]
    assert "Before treatment" in labels and not any("Reference" in x for x in labels)


def test_danish_summary_has_danish_words_and_numbers(results):
    """Issue 16 review: Result.summary() had no lang."""
    res = results["event_study"]
    da, en = res.summary(lang="da"), res.summary()
    assert en == str(res) and "Clusters" in en and "Udfald" not in en
    for word in ("Udfald", "Klynger", "Inferens", "Estimat", "Standardfejl", "p-værdi", "Nedre", "Øvre",
                 "95 %-intervaller", "Event study"):
        assert word in da, word
    for english in ("Outcome", "Clusters", "std_error", "conf_low", "intervals)"):
        assert english not in da, english
    est = res.tidy()["estimate"].dropna().iloc[0]
    assert f"{est:.4g}".replace(".", ",") in da and f"{est:.4g}" in en
    with pytest.raises(ParameterError, match="lang"):
        res.summary(lang="de")


def test_danish_summary_labels_the_outcome_and_writes_p_values_as_tables_do(data):
    """Break-it review: raw outcome column and p-values like "4,04e-21" in the Danish summary."""
    panel = data.assign(employment_rate=5 * data["y"])
    res = twfe(panel, outcome="employment_rate", unit="unit", time="time", treatment="treat", cluster="cluster")
    da = res.summary(lang="da")
    assert "Beskæftigelsesandel (18-64 år, fuldtidspersoner) [employment_rate]" in da
    p_shown = da.splitlines()[-1].split()[4:6]
    assert "e-" not in " ".join(p_shown) and ("<" in p_shown or "," in p_shown[0])
    assert "Outcome    employment_rate\n" in res.summary()  # English keeps the column, as before


def test_plot_in_percentage_points_scales_effects_and_truth(results):
    res = results["event_study"]
    tab = res.tidy()
    plain, pp = res.plot(truth={0: 0.01, 1: 0.02}), res.plot(truth={0: 0.01, 1: 0.02}, pp=True, lang="da")
    assert pp.axes[0].get_ylabel().endswith(", procentpoint")
    assert np.allclose(pp.axes[0].get_ylim(), 100 * np.array(plain.axes[0].get_ylim()), rtol=0.2)
    truth_line = [ln for ln in pp.axes[0].get_lines() if ln.get_linestyle() == "--"][0]
    y = np.asarray(truth_line.get_ydata(), float)
    assert np.allclose(sorted(y[~np.isnan(y)]), [1.0, 2.0])
    assert res.tidy().equals(tab)  # the result is not changed
    with pytest.raises(ParameterError, match="pp"):
        res.plot(pp="yes")


def test_percentage_points_refused_or_warned_for_what_is_not_a_share(data):
    """Break-it review: plot(pp=True) multiplied a ratio (income_rel_region) and "y" by 100 without a word."""
    import warnings

    from evalkit.errors import EvalkitWarning

    ratio = twfe(data.assign(income_rel_region=data["y"]), outcome="income_rel_region", unit="unit", time="time",
                 treatment="treat", cluster="cluster")
    with pytest.raises(ParameterError, match="income_rel_region.*not a share"):
        ratio.plot(pp=True)
    big = twfe(data.assign(y=data["y"] * 50), outcome="y", unit="unit", time="time", treatment="treat")
    with pytest.warns(EvalkitWarning, match="beyond"):
        big.plot(pp=True)
    small = twfe(data.assign(y=data["y"] / 100), outcome="y", unit="unit", time="time", treatment="treat")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small.plot(pp=True)
