"""Resampling loops on several cores give the serial answer, bit for bit (issue 13, item 5).

:func:`evalkit.inference.randomization.map_draws` runs the independent draws of
randomization inference, synthetic-control placebos / leave-one-out fits and the synthetic
DiD placebo, bootstrap and jackknife in forked worker processes. Each draw takes its
random numbers from the generator state a serial loop would have reached, so the results
must not depend on the number of workers (``EVALKIT_WORKERS``); these tests compare one
worker with two, exactly. The report's shared work (the counterfactual join done in DuckDB,
lazy imports) is tested here too.
"""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import EvalkitError, EvalkitWarning
from evalkit.estimators.sdid import sdid
from evalkit.estimators.synth import synth
from evalkit.inference import randomization as ri

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


@pytest.fixture(autouse=True)
def always_fork(monkeypatch):
    """Small test problems would run serially (they take less than the fork saves): fork anyway."""
    monkeypatch.setattr(ri, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(ri, "MIN_PARALLEL_SECONDS", 0.0)


def _both(monkeypatch, compute):
    """compute() with one worker and with two."""
    out = []
    for workers in ("1", "2"):
        monkeypatch.setenv(ri.WORKERS_ENV, workers)
        out.append(compute())
    return out


# ------------------------------------------------------------------ the map
@linux_only
def test_map_draws_keeps_the_order_and_the_values():
    values = ri.map_draws(lambda i: np.sqrt(np.arange(i + 1.0)).sum(), 101, workers=2)
    assert values == [np.sqrt(np.arange(i + 1.0)).sum() for i in range(101)]


@linux_only
def test_quick_loops_stay_in_this_process_and_slow_ones_fork(monkeypatch):
    import os
    import time

    monkeypatch.setattr(ri, "PROBE_SECONDS", 0.05)
    monkeypatch.setattr(ri, "MIN_PARALLEL_SECONDS", 0.5)
    monkeypatch.setenv(ri.WORKERS_ENV, "2")
    assert set(ri.map_draws(lambda i: os.getpid(), 500)) == {os.getpid()}  # microseconds each: no fork
    pids = ri.map_draws(lambda i: (time.sleep(0.01), os.getpid())[1], 120)  # 1.2 s serially
    assert pids[0] == os.getpid() and len(set(pids)) > 1  # the probe here, the rest in workers


def test_workers_default_and_cap(monkeypatch):
    monkeypatch.setenv(ri.WORKERS_ENV, "1")
    assert ri.draw_workers(10_000) == 1
    monkeypatch.delenv(ri.WORKERS_ENV)
    assert ri.draw_workers(ri.MIN_PARALLEL - 1) == 1  # too few draws to pay for a fork
    if sys.platform.startswith("linux"):
        assert 1 <= ri.draw_workers(10_000) <= len(__import__("os").sched_getaffinity(0))


@linux_only
def test_map_draws_raises_the_first_failing_items_error_after_its_warnings():
    def fn(i):
        if i in (5, 70):
            warnings.warn(f"item {i}", EvalkitWarning, stacklevel=1)
        if i >= 60:
            raise ValueError(f"item {i} failed")
        return i

    with warnings.catch_warnings(record=True) as caught, pytest.raises(ValueError, match="item 60 failed"):
        warnings.simplefilter("always")
        ri.map_draws(fn, 100, workers=2)
    assert [str(w.message) for w in caught] == ["item 5"]  # item 70 comes after the error, as in a loop


@linux_only
def test_map_draws_reissues_worker_warnings_through_the_callers_filters():
    def fn(i):
        warnings.warn("the same warning", EvalkitWarning, stacklevel=1)
        return i

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        ri.map_draws(fn, 40, workers=2)
    assert not caught
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ri.map_draws(fn, 40, workers=2)
    assert len(caught) == 40 and caught[0].category is EvalkitWarning


# ------------------------------------------------------------------ randomization inference
def _serial_randomization(refit, cohorts, observed, draws, seed, order):
    """The loop randomization_test ran before it went parallel (the reference)."""
    rng = np.random.default_rng(seed)
    null = np.array([refit(ri.permuted_cohorts(cohorts, rng, order)) for _ in range(draws)])
    return ri.p_values(np.asarray(observed, float), null)


@linux_only
@pytest.mark.parametrize("order", [None, "shuffled"])
def test_randomization_test_uses_the_serial_draws(monkeypatch, order):
    rng = np.random.default_rng(1)
    cohorts = np.r_[np.zeros(30, int), np.full(6, 2015), np.full(4, 2018)]
    order = rng.permutation(cohorts.size) if order else None
    weights = rng.normal(size=(3, cohorts.size))

    def refit(assigned):
        return weights @ (assigned > 0) + 1e-3 * (weights @ assigned)

    observed = np.median([refit(ri.permuted_cohorts(cohorts, rng, order)) for _ in range(50)], axis=0)
    p, se, r, _ = _serial_randomization(refit, cohorts, observed, 499, 7, order)
    for workers in ("1", "2"):
        monkeypatch.setenv(ri.WORKERS_ENV, workers)
        res = ri.randomization_test(refit, cohorts, observed, ["a", "b", "c"], draws=499, seed=7, statistic="t",
                                    order=order)
        assert np.array_equal(res.p_value, p) and np.array_equal(res.mc_se, se) and res.draws == r
        assert 0.05 < res.p_value.min() and res.p_value.max() < 1  # informative p-values, not all 1/(R+1) or 1


@linux_only
def test_randomization_test_counts_failed_draws_in_workers(monkeypatch):
    cohorts = np.r_[np.zeros(20, int), np.full(5, 2015)]

    def refit(assigned):
        if assigned[0] > 0:  # some re-assignments cannot be estimated
            raise EvalkitError("not identified")
        return np.array([float(assigned[:5].sum())])

    results = []
    for workers in ("1", "2"):
        monkeypatch.setenv(ri.WORKERS_ENV, workers)
        with pytest.warns(EvalkitWarning, match="could not be estimated"):
            results.append(ri.randomization_test(refit, cohorts, np.array([4030.0]), ["x"], draws=200, seed=3,
                                                 statistic="t"))
    one, two = results
    assert one.n_failed == two.n_failed > 0 and one.draws == two.draws
    assert np.array_equal(one.p_value, two.p_value)


@linux_only
def test_with_inference_randomization_is_identical_on_two_workers(monkeypatch):
    from evalkit.estimators import twfe

    rng = np.random.default_rng(4)
    areas, years = 40, np.arange(2010, 2020)
    cohort = np.r_[np.zeros(30, int), np.full(5, 2014), np.full(5, 2016)]
    df = pd.DataFrame({"area": np.repeat(np.arange(areas), years.size), "year": np.tile(years, areas),
                       "cohort": np.repeat(cohort, years.size)})
    df["treat"] = ((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(int)
    df["y"] = rng.normal(size=len(df)) + 0.3 * df["treat"] + 0.1 * df["area"] % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = twfe(df, outcome="y", unit="area", time="year", treatment="treat", cluster="area")
    one, two = _both(monkeypatch, lambda: res.with_inference("randomization", df, draws=299, seed=11))
    pd.testing.assert_frame_equal(one.tidy(), two.tidy(), check_exact=True)
    assert one.diagnostics["inference_details"] == two.diagnostics["inference_details"]


# ------------------------------------------------------------------ synthetic control and synthetic DiD
def _panel(n_control=24, n_treated=3, seed=0):
    rng = np.random.default_rng(seed)
    times = np.arange(2005, 2019)
    n = n_control + n_treated
    g = np.r_[np.zeros(n_control, int), np.full(n_treated, 2014)]
    f = np.cumsum(rng.normal(size=(times.size, 2)), axis=0)
    y = rng.normal(5, 1, n)[:, None] + (rng.normal(size=(n, 2)) @ f.T) + rng.normal(0, 0.3, (n, times.size))
    d = (g[:, None] > 0) & (times[None, :] >= g[:, None])
    return pd.DataFrame({"area": np.repeat([f"a{i:02d}" for i in range(n)], times.size), "year": np.tile(times, n),
                         "y": (y + d).ravel(), "d": d.ravel().astype(int), "g": np.repeat(g, times.size)})


@linux_only
def test_synth_placebos_and_leave_one_out_are_identical_on_two_workers(monkeypatch):
    import importlib

    cache = importlib.import_module("evalkit.estimators.synth")._PLACEBO_GAPS
    df = _panel(n_treated=1)

    def fit():
        cache.clear()  # fit every placebo (the second call would find them all)
        return synth(df, outcome="y", unit="area", time="year", cohort="g")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        one, two = _both(monkeypatch, fit)
    pd.testing.assert_frame_equal(one.tidy(), two.tidy(), check_exact=True)
    for key in ("placebo_gaps", "placebo_ratios", "loo_att", "weights"):
        assert one.diagnostics[key] == two.diagnostics[key], key


@linux_only
@pytest.mark.parametrize("se", ["placebo", "bootstrap", "jackknife"])
def test_sdid_replicates_are_identical_on_two_workers(monkeypatch, se):
    df = _panel()
    kwargs = {} if se == "jackknife" else {"draws": 40, "seed": 5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        one, two = _both(monkeypatch, lambda: sdid(df, outcome="y", unit="area", time="year", treatment="d", se=se,
                                                   **kwargs))
    pd.testing.assert_frame_equal(one.tidy(), two.tidy(), check_exact=True)


# ------------------------------------------------------------------ report: shared work
def _merge_effects(panel, cf, column):
    """The pandas merge person_effects did before the DuckDB join (the reference)."""
    merged = panel[["PERSON_ID", "AAR", column]].merge(cf, on=["PERSON_ID", "AAR"], how="left", validate="one_to_one")
    return pd.Series((merged[column] - merged[f"{column}_0"]).to_numpy(), index=panel.index, name="effect")


@pytest.fixture()
def truth_dir(tmp_path):
    rng = np.random.default_rng(2)
    ids = np.array([f"{i:016x}" for i in rng.integers(0, 2 ** 62, 400)])
    cf = pd.DataFrame({"PERSON_ID": np.repeat(ids, 5), "AAR": np.tile(np.arange(2014, 2019, dtype=np.int16), 400),
                       "BESK_FTE_0": rng.random(2000).astype(np.float32),
                       "DOMFAELDT_0": rng.integers(0, 2, 2000).astype(np.int8)})
    (tmp_path / "truth").mkdir()
    cf.to_parquet(tmp_path / "truth" / "person_counterfactual.parquet")
    panel = cf.sample(frac=0.7, random_state=1).rename(columns={"BESK_FTE_0": "BESK_FTE", "DOMFAELDT_0": "DOMFAELDT"})
    panel["AAR"] = panel["AAR"].astype("int64")
    panel["BESK_FTE"] = (panel["BESK_FTE"] + 0.25).astype(np.float32)
    return tmp_path, cf, panel.set_index(np.arange(len(panel)) * 3 + 5)


@pytest.mark.parametrize("outcome, column", [("employment_rate", "BESK_FTE"), ("conviction_share", "DOMFAELDT")])
@pytest.mark.parametrize("missing", [False, True])
def test_person_effects_equal_the_pandas_merge(truth_dir, outcome, column, missing):
    from evalkit.report import truth

    folder, cf, panel = truth_dir
    if missing:  # persons the counterfactual file does not hold: NaN, int columns become float
        panel = panel.assign(PERSON_ID=panel["PERSON_ID"].where(np.arange(len(panel)) % 4 > 0, "zz" + panel["PERSON_ID"]))
    expected = _merge_effects(panel, cf, column)
    got = truth.person_effects(folder, panel, outcome)
    pd.testing.assert_series_equal(got, expected, check_exact=True)
    assert got.isna().any() == missing


def test_person_effects_refuse_repeated_keys(truth_dir):
    from evalkit.report import truth

    folder, cf, panel = truth_dir
    with pytest.raises(pd.errors.MergeError, match="left"):
        truth.person_effects(folder, pd.concat([panel, panel.iloc[:1]]), "employment_rate")
    pd.concat([cf, cf.iloc[:1]]).to_parquet(folder / "truth" / "person_counterfactual.parquet")
    first = cf.iloc[:1][["PERSON_ID", "AAR"]].astype({"AAR": "int64"})
    with pytest.raises(pd.errors.MergeError, match="right"):
        truth.person_effects(folder, first.assign(BESK_FTE=np.float32(1)), "employment_rate")


def test_report_kernel_imports_no_runner_stack():
    """The notebook's ``import evalkit.report`` and ``er.Study`` load no papermill/nbformat/nbconvert
    (the runner's), and the runner's module loads no estimator (only the kernel needs them)."""
    code = ("import sys, evalkit.report as er; er.Study; er.install_display_guard; "
            "print(sorted(m for m in ('nbformat', 'nbconvert', 'papermill', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
    code = ("import sys; from evalkit.report.runner import run_report; "
            "print(sorted(m for m in sys.modules if m.startswith(('evalkit.estimators', 'evalkit.report.study'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


def test_collect_keys_with_one_duckdb_thread_is_the_same_key_set(tmp_path):
    """The runner collects the keys with one DuckDB thread while the kernel runs (same key set)."""
    from evalkit.errors import ParameterError
    from evalkit.report.keyscan import collect_keys

    rng = np.random.default_rng(8)
    ids = [f"{i:016x}" for i in rng.integers(0, 2 ** 62, 3000)]
    pd.DataFrame({"PERSON_ID": ids, "AAR": 2020}).to_parquet(tmp_path / "people.parquet")
    pd.DataFrame({"PERSON_ID": ids[:100] + ["  padded-key-1234 "], "x": 1}).to_csv(tmp_path / "more.csv", index=False)
    every, one = collect_keys(tmp_path), collect_keys(tmp_path, threads=1)
    assert len(every) == len(one) == 3001
    assert np.array_equal(every.keys, one.keys) and np.array_equal(every.reversed_keys, one.reversed_keys)
    assert all(np.array_equal(every.digests[h], one.digests[h]) for h in every.digests)
    with pytest.raises(ParameterError, match="threads"):
        collect_keys(tmp_path, threads=0)


def test_synth_placebos_are_shared_between_treated_units_with_the_same_donors(monkeypatch):
    """A report fits each treated area against the same donors: the donors' placebo fits are the
    same fits, done once; every result equals a fit from scratch."""
    import importlib

    synth_module = importlib.import_module("evalkit.estimators.synth")

    df = _panel(n_treated=2)
    first, second = sorted(df.loc[df["g"] > 0, "area"].unique())
    calls = []
    real = synth_module.fit_synth
    monkeypatch.setattr(synth_module, "fit_synth", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setenv(ri.WORKERS_ENV, "1")  # count the fits in this process

    def fit(area):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)
            return synth(df[(df["g"] == 0) | (df["area"] == area)], outcome="y", unit="area", time="year", cohort="g",
                         loo=False)

    synth_module._PLACEBO_GAPS.clear()
    fresh = fit(second)
    synth_module._PLACEBO_GAPS.clear()
    calls.clear()
    fit(first)
    assert len(calls) == 1 + 24  # the treated area and each donor's placebo
    calls.clear()
    shared = fit(second)
    assert len(calls) == 1  # the placebos came from the first call
    pd.testing.assert_frame_equal(shared.tidy(), fresh.tidy(), check_exact=True)
    assert shared.diagnostics["placebo_gaps"] == fresh.diagnostics["placebo_gaps"]


@pytest.mark.parametrize("raw", ["abc", "0", "-2", "1.5"])
def test_invalid_worker_setting_is_named_and_ignored(raw, monkeypatch):
    """Break-it finding: EVALKIT_WORKERS=abc or 0 was ignored without a word."""
    from evalkit.errors import EvalkitWarning
    from evalkit.inference import randomization as r

    monkeypatch.setenv(r.WORKERS_ENV, raw)
    with pytest.warns(EvalkitWarning, match="EVALKIT_WORKERS"):
        assert r.worker_cap(2) == 2
    monkeypatch.setenv(r.WORKERS_ENV, "1")
    assert r.worker_cap(2) == 1


def test_person_effects_without_a_recorded_counterfactual_is_no_truth(truth_dir):
    """Break-it review: a final report for k1_share failed in cell 6 (the file has no UDENFOR_FTE_0)."""
    from evalkit.report import truth

    folder, cf, panel = truth_dir
    assert truth.person_effects(folder, panel.assign(UDENFOR_FTE=0.5), "k1_share") is None
