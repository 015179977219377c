"""The final report's few-cluster table and synthetic-control section (evalkit.report.few_clusters)."""
from __future__ import annotations

import numpy as np
import pytest

import evalkit
from evalkit.data.synthetic import staggered_panel
from evalkit.report import few_clusters


def _area_panel(n_treated_share, seed=3):
    df = staggered_panel(n_units=30, n_periods=10, cohorts={0: 1 - n_treated_share, 6: n_treated_share},
                         effect=1.0, seed=seed)
    return df.rename(columns={"unit": "OMR_ID", "time": "AAR", "y": "employment_rate"}).assign(AAR=lambda d: d["AAR"] + 2010)


def test_inference_rows_and_table_mark_the_method_used():
    area = _area_panel(0.1)  # 3 treated areas of 30
    panel = area.assign(cohort=np.where(area["cohort"] > 0, area["cohort"] + 2010, 0))
    panel = panel.assign(treat=((panel["cohort"] > 0) & (panel["AAR"] >= panel["cohort"])).astype(int))
    with pytest.warns(evalkit.EvalkitWarning, match="treated cluster"):
        res = evalkit.twfe(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat",
                           cluster="OMR_ID")
    rows = few_clusters.inference_rows(res, panel, seed=1, draws=99, wild_draws=999, lang="da")
    assert [r["method"] for r in rows] == list(few_clusters.METHODS)
    table = few_clusters.inference_table(rows, used=few_clusters.recommended(False), lang="da")
    assert table.loc[table["Anvendt"] == "✓", "Metode"].tolist() == [few_clusters.NAMES["wild"]["da"]]
    assert "MC-usikkerhed" in table["Detaljer"].iloc[-1]
    assert np.allclose(table["Estimat"], res.estimate("ATT"))


def test_synth_section_only_with_five_or_fewer_treated_areas():
    few = _area_panel(0.1)
    few = few.assign(cohort=np.where(few["cohort"] > 0, few["cohort"] + 2010, 0))
    fits = few_clusters.synth_fits(few, "employment_rate", alpha=0.05)
    assert len(fits) == 3
    table = few_clusters.synth_table(fits, lang="en")
    assert len(table) == 3 and table["Placebo p-value"].between(0, 1).all()
    assert set(table["Inside the donors' convex hull"]) <= {"yes", "no"}
    assert list(few_clusters.synth_table(fits, lang="da").columns)[-1] == "Inden for donorernes konvekse hylster"
    many = _area_panel(0.4)
    assert few_clusters.synth_fits(many.assign(cohort=np.where(many["cohort"] > 0, many["cohort"] + 2010, 0)),
                                   "employment_rate", alpha=0.05) == {}


# ------------------------------------------------------------ the inference advisor in the report (issue 14)
import math

import pandas as pd

from evalkit.errors import ParameterError
from evalkit.estimators.combine import event_terms, post_average
from evalkit.estimators.postfit import randomization_combination
from evalkit.report import advising, text
from evalkit.report.params import validate_params


def _report_panel(share=0.1, seed=3, staggered=False):
    """The report's area panel shape: OMR_ID, AAR, cohort (calendar year), treat, residents, area_weight."""
    cohorts = {0: 1 - share, 6: share / 2, 7: share / 2} if staggered else {0: 1 - share, 6: share}
    df = staggered_panel(n_units=30, n_periods=10, cohorts=cohorts, effect=1.0, seed=seed)
    df = df.rename(columns={"unit": "OMR_ID", "time": "AAR", "y": "employment_rate"})
    df["AAR"] += 2010
    df["cohort"] = np.where(df["cohort"] > 0, df["cohort"] + 2010, 0)
    df["treat"] = ((df["cohort"] > 0) & (df["AAR"] >= df["cohort"])).astype(int)
    df["residents"] = 1000 + 100 * (df["OMR_ID"] % 7) + df["AAR"] - 2010  # varies by year; the weight is its mean
    return advising.with_area_weights(df)


@pytest.fixture(scope="module")
def advised():
    panel = _report_panel()
    return panel, advising.advise(panel, "employment_rate", alpha=0.05, effect=1.0, placebos=120, seed=7, lang="en")


def test_area_weight_is_the_area_mean_of_residents():
    panel = _report_panel()
    means = panel.groupby("OMR_ID")["residents"].mean()
    assert np.allclose(panel["area_weight"], panel["OMR_ID"].map(means))
    assert (panel.groupby("OMR_ID")["area_weight"].nunique() == 1).all()


def test_advise_runs_weighted_and_reads_an_mde_off_the_chosen_method(advised):
    panel, adv = advised
    assert adv.advice is not None and adv.advice.weighted and 100 <= adv.advice.n_placebos <= 120   # distinct sets
    assert adv.advice.table["chosen"].sum() == 1 and adv.left_out == 0
    table = adv.advice.table.set_index("method")
    assert table.loc[adv.method, "holds_size"] or adv.advice.size_corrected
    # the MDE: power at the MDE (same placebos, same seed) is close to the 80% target
    opts = dict(outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat", weights="area_weight",
                alpha=0.05, placebos=120, draws=advising.ADVISOR_DRAWS, seed=7, lang="en")
    assert math.isfinite(adv.mde) and adv.mde > 0
    curve = advising.power_curve(advising.complete_areas(panel), adv.method, effects=[0.9 * adv.mde, 1.1 * adv.mde],
                                 **opts)
    assert curve["power"].iloc[0] <= 0.8 + 0.05 and curve["power"].iloc[1] >= 0.8 - 0.05
    again = advising.advise(panel, "employment_rate", alpha=0.05, effect=1.0, placebos=120, seed=7, lang="en")
    assert again.advice.table.equals(adv.advice.table) and again.mde == adv.mde      # seeded, deterministic


def test_advise_says_why_it_cannot_run():
    staggered = _report_panel(0.2, staggered=True)
    assert advising.advise(staggered, "employment_rate", alpha=0.05, effect=1.0, placebos=100, seed=1,
                           lang="en").reason == "staggered"
    panel = _report_panel()
    treated = panel.loc[panel["cohort"] > 0, "OMR_ID"].iloc[0]
    thin = panel[~((panel["OMR_ID"] == treated) & (panel["AAR"] == 2011))]
    out = advising.advise(thin, "employment_rate", alpha=0.05, effect=1.0, placebos=100, seed=1, lang="en")
    assert out.advice is None and out.reason == "incomplete_treated"
    too_few = panel[(panel["cohort"] > 0) | (panel["OMR_ID"].isin(panel.loc[panel["cohort"] == 0, "OMR_ID"]
                                                                   .unique()[:4]))]
    out = advising.advise(too_few, "employment_rate", alpha=0.05, effect=1.0, placebos=100, seed=1, lang="en")
    assert out.advice is None and "comparison" in out.reason
    for reason in ("staggered", "incomplete_treated", out.reason):
        for lang in ("da", "en"):
            sentence = text.advisor_not_used(reason, 3, False, lang=lang)
            assert ("wild" in sentence) and sentence.endswith(".")


def test_recommended_and_the_table_follow_the_advisor(advised):
    panel, adv = advised
    res = evalkit.twfe(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat",
                       cluster="OMR_ID", weights="area_weight")
    used = few_clusters.recommended(False, adv)
    assert used == ("corrected" if adv.advice.size_corrected else advising.REPORT_METHOD[adv.method][2])
    assert few_clusters.recommended(False, advising.Advised(None, reason="staggered")) == "wild"
    assert few_clusters.recommended(True) == "cr1"
    rows = few_clusters.inference_rows(res, panel, seed=1, draws=99, wild_draws=999, extra="wild_webb", advised=adv)
    assert [r["method"] for r in rows] == [*few_clusters.METHODS, "wild_webb"]
    table = few_clusters.inference_table(rows, used="wild_webb", lang="en")
    assert table.loc[table["Used"] == "✓", "Method"].tolist() == [few_clusters.NAMES["wild_webb"]["en"]]
    assert table["Details"].iloc[-1].endswith(", Webb")


def test_size_corrected_row_uses_the_advisors_critical_value():
    panel = _report_panel()
    adv = advising.Advised(evalkit.inference_advisor(
        panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat", weights="area_weight",
        methods=["cr1"], corrected_by="cr1", placebos=200, draws=99, seed=3, effect=1.0))
    assert adv.advice.size_corrected and few_clusters.recommended(False, adv) == "corrected"
    res = evalkit.twfe(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat",
                       cluster="OMR_ID", weights="area_weight")
    rows = few_clusters.inference_rows(res, panel, seed=1, draws=99, wild_draws=999, extra="corrected", advised=adv)
    cr2, corrected = rows[1], rows[-1]
    c = adv.advice.critical_value
    assert corrected["conf_high"] - corrected["estimate"] == pytest.approx(c * cr2["std_error"])
    assert corrected["p_value"] == adv.row("cr1_corrected")["p_value"]
    assert "size-corrected" in text.advice_sentence(adv, "employment_rate", lang="en")
    assert "niveaukorrigerede" in text.advice_sentence(adv, "employment_rate", lang="da")


def test_advice_sentence_states_size_and_power(advised):
    _, adv = advised
    row = adv.row(adv.advice.chosen)
    en = text.advice_sentence(adv, "employment_rate", lang="en")
    assert en.startswith(f"Measured in {adv.advice.n_placebos} placebo assignments of 3 of the 27 comparison areas "
                         "(start 2016")
    assert f"{100 * row['size']:.1f}% under no effect (nominal 5%)" in en or "size-corrected" in en
    assert f"{100 * row['power']:.0f}% with an effect of +100.00 pp" in en
    da = text.advice_sentence(adv, "employment_rate", lang="da")
    assert "placebo-tildelinger" in da and "nominelt 5 %" in da
    for lang, mde in (("da", "+0,40 pp"), ("en", "+0.40 pp")):                # Danish decimal comma
        assert "MDE" in text.mde_sentence(0.004, "employment_rate", lang=lang, alpha=0.05, power=0.8, method="x",
                                          measured=True)
        assert mde in text.mde_sentence(0.004, "employment_rate", lang=lang, alpha=0.05, power=0.8,
                                        method="x", measured=False)
        assert "residents" in text.weights_sentence("en") and "beboere" in text.weights_sentence("da")


@pytest.mark.parametrize("method", ["cr1", "cr2", "cr3", "wcr_webb", "wcu", "randomization"])
def test_post_average_inference_under_each_method(advised, method):
    panel, _ = advised
    es = evalkit.event_study(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", cohort="cohort", leads=3,
                             lags=3, cluster="OMR_ID", weights="area_weight")
    avg = post_average(es).tidy().iloc[0]
    out = advising.post_average_inference(method, False, es, panel, seed=1, draws=199)
    assert 0 < out["p_value"] <= 1 and out["conf_low"] < avg["estimate"] < out["conf_high"]
    if method == "cr1":
        assert out["p_value"] == pytest.approx(avg["p_value"]) and out["conf_low"] == pytest.approx(avg["conf_low"])
    if method == "cr2":
        cr2 = post_average(es.with_inference("cr2", panel)).tidy().iloc[0]
        assert out["conf_high"] == pytest.approx(cr2["conf_high"])


def test_size_corrected_post_average_and_its_p_value(advised):
    panel, _ = advised
    es = evalkit.event_study(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", cohort="cohort", leads=3,
                             lags=3, cluster="OMR_ID", weights="area_weight")
    out = advising.post_average_inference("cr2", True, es, panel, seed=1, critical_value=4.0)
    cr2 = post_average(es.with_inference("cr2", panel)).tidy().iloc[0]
    assert out["conf_high"] - cr2["estimate"] == pytest.approx(4.0 * cr2["std_error"])
    assert advising.corrected_p(4.0, 4.0, 0.05) == pytest.approx(0.05)
    assert advising.corrected_p(5.0, 4.0, 0.05) < 0.05 < advising.corrected_p(3.0, 4.0, 0.05)


def test_randomization_combination_of_one_term_is_the_per_term_test(advised):
    panel, _ = advised
    res = evalkit.twfe(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat",
                       cluster="OMR_ID", weights="area_weight")
    per_term = res.with_inference("randomization", panel, seed=5, draws=199).tidy().iloc[0]["p_value"]
    combined = randomization_combination(res, panel, {"ATT": 1.0}, seed=5, draws=199)
    assert combined.p_value[0] == per_term and combined.null.shape == (199, 1)
    es = evalkit.event_study(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", cohort="cohort", leads=3,
                             lags=3, cluster="OMR_ID", weights="area_weight")
    with pytest.raises(ParameterError, match="weights must name"):
        randomization_combination(es, panel, {"nope": 1.0})
    terms = event_terms(es, post=True)
    assert randomization_combination(es, panel, {t: 1 / len(terms) for t in terms}, seed=5, draws=99).draws == 99


def test_randomization_interval_and_bloom_mde():
    null = np.arange(1, 101, dtype=float)        # |t*| = 1..100: the 95% quantile ("higher") is 96
    low, high = advising.randomization_interval(2.0, 4.0, null, 0.05)
    assert (low, high) == pytest.approx((2.0 - 96 * 0.5, 2.0 + 96 * 0.5))
    assert all(math.isnan(v) for v in advising.randomization_interval(2.0, 0.0, null, 0.05))
    from scipy import stats
    assert advising.bloom_mde(0.01, 30, alpha=0.05) == pytest.approx((stats.t.ppf(0.975, 30) + stats.t.ppf(0.8, 30))
                                                                      * 0.01)
    assert advising.bloom_mde(0.01, 30, alpha=0.05, sign=-0.2) < 0
    assert math.isnan(advising.bloom_mde(float("nan"), 30, alpha=0.05))


def test_sdid_and_synthetic_controls_beside_the_choice():
    panel = _report_panel()
    fit = few_clusters.sdid_fit(panel, "employment_rate", alpha=0.05, seed=1, draws=20)
    assert fit is not None and 0 <= fit.table.set_index("term").loc["ATT", "p_value"] <= 1
    fits = few_clusters.synth_fits(panel, "employment_rate", alpha=0.05)
    chosen = {"label": "Randomization inference (t)", "static": (1.0, 0.01), "average": (1.1, 0.02)}
    table = few_clusters.few_treated_pvalues(chosen, fit, fits, lang="en")
    assert len(table) == 2 + 1 + 3 and table["p-value"].between(0, 1).all()
    assert table["Method"].iloc[2] == "Synthetic DiD" and table["Method"].iloc[-1] == "Synthetic control, area C"
    assert list(few_clusters.few_treated_pvalues(chosen, None, {}, lang="da").columns) == few_clusters.PVALUE_COLS["da"]
    assert few_clusters.sdid_fit(_report_panel(0.4), "employment_rate", alpha=0.05, seed=1) is None  # > 5 treated


@pytest.mark.parametrize("given, match", [
    ({"advisor_placebos": 10}, "'advisor_placebos'=10 lies outside"),
    ({"advisor_placebos": 500.0}, "'advisor_placebos' must be int"),
    ({"advisor_effect": "big"}, "'advisor_effect' must be float"),
    ({"advisor_effect": 2.0}, "'advisor_effect'=2.0 lies outside"),
])
def test_advisor_parameters_are_validated(given, match):
    with pytest.raises(ParameterError, match=match):
        validate_params(given)


def test_advisor_parameter_defaults():
    p = validate_params({})
    assert p["advisor_placebos"] == 500 and p["advisor_effect"] == 0.0
    assert advising.power_effect("conviction_share", 0.0) == advising.DEFAULT_EFFECTS["conviction_share"]
    assert advising.power_effect("employment_rate", 0.02) == 0.02


pytestmark = pytest.mark.filterwarnings("ignore:Only 3 treated cluster")  # the report says so in words


@pytest.mark.parametrize("estimator", ["event_study", "twfe"])
def test_randomization_combination_table_path_equals_rebuilding_the_design(estimator):
    """The (cohort, period) table of regressors gives the statistics of rebuilding the design per draw."""
    panel = _report_panel(0.2, staggered=True).sample(frac=1.0, random_state=2)   # rows in any order
    keys = dict(outcome="employment_rate", unit="OMR_ID", time="AAR", cluster="OMR_ID", weights="area_weight")
    if estimator == "twfe":
        res, weights = evalkit.twfe(panel, treatment="treat", **keys), {"ATT": 1.0}
    else:
        res = evalkit.event_study(panel, cohort="cohort", leads=3, lags=3, **keys)
        terms = event_terms(res, post=True)
        weights = {t: 1 / len(terms) for t in terms}
    fast = randomization_combination(res, panel, weights, seed=4, draws=49)
    slow = randomization_combination(res, panel, weights, seed=4, draws=49, _lookup=False)
    assert np.allclose(fast.null, slow.null, rtol=1e-10, atol=1e-12) and fast.p_value[0] == slow.p_value[0]


# ------------------------------------------------------------ break-it review 14
def test_marked_row_carries_the_advisors_p_value_and_an_interval(advised):
    panel, adv = advised
    res = evalkit.twfe(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat",
                       cluster="OMR_ID", weights="area_weight")
    rows = few_clusters.inference_rows(res, panel, seed=1, draws=99, wild_draws=999, advised=adv)
    for used in ("randomization", "cr2"):
        out = few_clusters.with_advisor_p(rows, used, adv, res, panel, seed=1, lang="en")
        marked = next(r for r in out if r["method"] == used)
        assert marked["p_value"] == float(adv.row(adv.advice.chosen)["p_value"])   # the advisor's number
        assert "the advisor's test" in marked["detail"] and f"R = {adv.advice.draws}" in marked["detail"] \
            or f"{adv.advice.draws} draws" in marked["detail"]
        assert math.isfinite(marked["conf_low"]) and marked["conf_low"] < marked["estimate"] < marked["conf_high"]
        others = [r for r in out if r["method"] != used]
        assert others == [r for r in rows if r["method"] != used]                  # the other rows unchanged


def test_advisor_display_table_writes_small_p_values_as_bounds(advised):
    _, adv = advised
    shown = adv.advice.display_table("en")["p-value (data)"]
    assert not any(v in ("0", "0.0000") or "e-" in v for v in shown)
    assert all(v == "" or v.startswith("<") or float(v) >= 0.001 for v in shown if v)
    da = adv.advice.display_table("da")
    assert not any("." in v for v in da[da.columns[-1]] if v)                       # decimal comma


def test_advisor_effect_against_the_desired_direction_is_flagged():
    assert advising.against_desired("conviction_share", 0.005)
    assert not advising.against_desired("conviction_share", -0.005)
    assert not advising.against_desired("conviction_share", 0.0)            # 0 = the outcome's default
    assert advising.against_desired("employment_rate", -0.01) and not advising.against_desired("employment_rate", 0.01)


def test_synthetic_control_letters_follow_every_treated_area():
    """An area skipped by the synthetic control (not observed every year) keeps its letter: the tables
    name areas as the survey tables do (evalkit.i18n.area_letter over all treated areas in id order)."""
    from evalkit.i18n import area_letter

    assert few_clusters._letters({3: None, 7: None}, [7, 1, 3]) == ["B", "C"]
    assert few_clusters._letters({3: None, 7: None}, None) == ["A", "B"]
    assert [area_letter(i) for i in (0, 25, 26)] == ["A", "Z", "A26"]
