"""Outside review (break-it round 4) of synth: reproducible placebo p-values by default, an honest
``Result.plot()`` for a synth result, whole axis labels in saved figures, and warnings that show
unit ids as written (17, not np.int64(17))."""
from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import evalkit as ek
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError
from evalkit.estimators.synth import DEFAULT_SEED, synth


def _panel(n_donors=12, n_treated=1, t0=10, t1=4, seed=2, int_ids=True, lift=0.0, effect=2.0):
    rng = np.random.default_rng(seed)
    t = t0 + t1
    f = np.cumsum(rng.normal(size=(t, 2)), axis=0)
    n = n_donors + n_treated
    y = rng.normal(10, 2, n) + f @ rng.normal(size=(n, 2)).T + rng.normal(scale=0.3, size=(t, n))
    y[:, n_donors:] += lift
    y[t0:, n_donors:] += effect
    ids = np.arange(17, 17 + n) if int_ids else np.array([f"u{i}" for i in range(n)])
    cohort = np.r_[np.zeros(n_donors, int), np.full(n_treated, 2000 + t0)]
    return pd.DataFrame({"area": np.repeat(ids, t), "year": np.tile(np.arange(2000, 2000 + t), n),
                         "cohort": np.repeat(cohort, t), "y": y.T.ravel()})


ARGS = dict(outcome="y", unit="area", time="year", cohort="cohort", loo=False)


# ---------------------------------------------------------------- 1. reproducible by default
def test_default_seed_is_fixed_and_recorded():
    assert inspect.signature(synth).parameters["seed"].default == DEFAULT_SEED == 0
    # 4 treated and 12 donors: C(12, 4) = 495 placebo sets > 100 are sampled
    df = _panel(n_donors=12, n_treated=4)
    a = synth(df, max_placebo_sets=100, **ARGS)
    b = synth(df, max_placebo_sets=100, **ARGS)
    assert a.inference.seed == 0 and a.inference.draws == 100
    pd.testing.assert_frame_equal(a.table, b.table)
    explicit = synth(df, max_placebo_sets=100, seed=0, **ARGS)
    pd.testing.assert_frame_equal(a.table, explicit.table)


def test_seed_none_still_draws_fresh_sets():
    df = _panel(n_donors=12, n_treated=4, effect=0.0)
    ps = {tuple(synth(df, max_placebo_sets=60, seed=None, **ARGS).table["p_value"]) for _ in range(8)}
    assert len(ps) > 1
    assert synth(df, max_placebo_sets=60, seed=None, **ARGS).inference.seed is None


SCRIPT = """
import warnings, numpy as np, pandas as pd
warnings.simplefilter("ignore")
import evalkit as ek
rng = np.random.default_rng(4)
n, t = 16, 10
y = rng.normal(size=(t, n)).cumsum(axis=0) + rng.normal(10, 2, n)
cohort = np.r_[np.zeros(12, int), np.full(4, 2007)]
df = pd.DataFrame({"area": np.repeat(np.arange(n), t), "year": np.tile(np.arange(2000, 2000 + t), n),
                   "cohort": np.repeat(cohort, t), "y": y.T.ravel()})
r = ek.synth(df, outcome="y", unit="area", time="year", cohort="cohort", loo=False, max_placebo_sets=50)
print(repr(r.table["p_value"].tolist()))
"""


def test_p_values_are_the_same_in_two_processes():
    out = [subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
           for _ in range(2)]
    assert out[0] == out[1] and out[0].strip()


# ---------------------------------------------------------------- 2. Result.plot of a synth result
def _legend_matches_drawn(ax):
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.get_legend()
    shown = [t.get_text() for t in legend.get_texts()] if legend is not None else []
    assert shown == labels
    for h in handles:  # every legend entry is an artist on the axes with data
        assert h in ax.lines or h in ax.collections or h in ax.containers
        if h in ax.lines and h.get_linestyle() != "None":
            assert len(h.get_xdata()) > 0
    title = legend.get_title().get_text() if legend is not None else ""
    assert "konfidens" not in title and "confidence" not in title  # synth has no intervals
    return labels


@pytest.mark.parametrize("lang", ["da", "en"])
def test_result_plot_of_synth_draws_treated_and_synthetic_paths_with_the_pre_period(lang):
    df = _panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        sy = synth(df, **ARGS)
    fig = sy.plot(lang=lang, title="t")
    ax = fig.axes[0]
    labels = _legend_matches_drawn(ax)
    assert "Før indsatsen" not in labels and "Before treatment" not in labels
    assert ("Syntetisk kontrolgruppe" if lang == "da" else "Synthetic control") in labels
    start = sy.meta["treatment_start"]
    paths = [ln for ln in ax.lines if ln.get_label() in labels and len(ln.get_xdata()) > 2]
    assert len(paths) == 2
    for ln in paths:  # the pre-period fit is drawn, not only post-period gaps
        x = np.asarray(ln.get_xdata(), float)
        assert (x < start).sum() == (df["year"].unique() < start).sum() and (x >= start).any()
    assert ax.get_title() == "t"


def test_result_plot_of_synth_with_truth_draws_the_gap_and_the_truth():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        sy = synth(_panel(), **ARGS)
    ax = sy.plot(truth={0: 2.0, 1: 2.0, 2: 2.0, 3: 2.0}).axes[0]
    labels = _legend_matches_drawn(ax)
    assert "simulated truth" in labels
    truth = next(ln for ln in ax.lines if ln.get_label() == "simulated truth")
    assert list(truth.get_xdata()) == [2010, 2011, 2012, 2013]
    with pytest.raises(ParameterError, match="lang"):
        sy.plot(lang="de")


def test_table_plot_legend_lists_only_what_is_drawn():
    """A table with post rows only and no intervals (as synth's) gets no "before treatment" entry and
    no confidence-interval title."""
    from evalkit.results.plot import plot_result

    table = pd.DataFrame({"term": ["gap t=1", "gap t=2"], "estimate": [1.0, 2.0], "conf_low": np.nan,
                          "conf_high": np.nan, "event_time": [0.0, 1.0], "reference": False,
                          "band_low": np.nan, "band_high": np.nan})
    ax = plot_result(table, lang="da").axes[0]
    labels = _legend_matches_drawn(ax)
    assert labels == ["Efter indsatsen"]


# ---------------------------------------------------------------- 3. long axis labels fit a saved figure
def _inside(fig, text):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    bb = text.get_window_extent(fig.canvas.get_renderer())
    box = fig.bbox
    return bb.x0 >= box.x0 - 0.5 and bb.y0 >= box.y0 - 0.5 and bb.x1 <= box.x1 + 0.5 and bb.y1 <= box.y1 + 0.5


def test_long_danish_y_label_lies_inside_the_saved_figure(tmp_path):
    from evalkit.data.synthetic import staggered_panel

    panel = staggered_panel(seed=1).rename(columns={"y": "employment_rate"})
    es = ek.event_study(panel, outcome="employment_rate", unit="unit", time="time", cohort="cohort", leads=2, lags=2)
    fig = es.plot(lang="da")
    label = fig.axes[0].yaxis.label
    assert fig.axes[0].get_ylabel() == "Estimeret effekt på beskæftigelsesandel (18-64 år, fuldtidspersoner)"
    assert _inside(fig, label)
    fig.savefig(tmp_path / "x.png")
    assert _inside(fig, label)


def test_long_synth_gap_label_lies_inside_the_figure():
    df = _panel().rename(columns={"y": "employment_rate"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        sy = synth(df, **{**ARGS, "outcome": "employment_rate"})
    fig = ek.synth_plot(sy, kind="gap", lang="da")
    assert "beskæftigelsesandel" in fig.axes[0].get_ylabel()
    assert _inside(fig, fig.axes[0].yaxis.label)


# ---------------------------------------------------------------- 4. no numpy reprs in messages
def test_outside_hull_warning_names_the_unit_without_numpy_repr():
    df = _panel(lift=60.0)
    treated = int(df.loc[df["cohort"] > 0, "area"].iloc[0])
    assert isinstance(df["area"].to_numpy()[0], np.integer)
    with pytest.warns(EvalkitWarning, match="convex hull") as rec:
        synth(df, placebo=False, **ARGS)
    msg = next(str(w.message) for w in rec if "convex hull" in str(w.message))
    assert "np." not in msg and f"Treated unit {treated} lies" in msg


def test_string_unit_ids_keep_their_quotes():
    df = _panel(lift=60.0, int_ids=False)
    with pytest.warns(EvalkitWarning, match="convex hull") as rec:
        synth(df, placebo=False, **ARGS)
    assert "Treated unit 'u12' lies" in next(str(w.message) for w in rec if "convex hull" in str(w.message))


def test_error_messages_have_no_numpy_repr():
    df = _panel()
    with pytest.raises(ParameterError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        synth(df, outcome="y", unit="area", time="year", treated=[np.int64(999)], treatment_start=np.int64(2010),
              loo=False)
    assert "np." not in str(info.value) and "999" in str(info.value)
    neg = df.assign(cohort=np.where(df["area"] == df["area"].iloc[0], -3, df["cohort"]))
    with pytest.raises(ValidationError) as info:
        synth(neg, **ARGS)
    assert "np." not in str(info.value) and "-3" in str(info.value)
