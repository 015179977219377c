"""Goodman-Bacon decomposition: exact identity with TWFE, hand-built cases, bad input, plots."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from evalkit.errors import ValidationError
from evalkit.estimators.bacon import bacon, bacon_plot, bacon_table
from evalkit.estimators.twfe import twfe
from evalkit.results import Result

# Note: the bacondecomp vignette numbers for castle (TWFE 0.0818, type weights 0.908/0.060/0.032) are for
# bacondecomp::castle, whose `post` coding differs from causaldata's castle (TWFE 0.0694 here); they are not
# used. The oracle is the exact identity sum(weight * estimate) = TWFE (Goodman-Bacon 2021, Theorem 1).


def _panel(seed=0, groups=(("never", 6), (2003, 4), (2006, 5), (2000, 3)), periods=range(2000, 2010), tau=None):
    rng = np.random.default_rng(seed)
    rows = []
    uid = 0
    for g, n in groups:
        for _ in range(n):
            a = rng.normal()
            for t in periods:
                d = int(g != "never" and t >= g)
                effect = tau if tau is not None else d * (1 + 0.4 * (t - g) if d else 0)
                y = a + 0.3 * (t - 2000) + (effect * d if tau is not None else effect)
                rows.append({"id": uid, "t": t, "d": d, "y": y + (0 if tau is not None else rng.normal(scale=0.5))})
            uid += 1
    return pd.DataFrame(rows)


def test_castle_identity_equals_twfe():
    castle = pytest.importorskip("causaldata.castle").load_pandas().data
    res = bacon(castle, outcome="l_homicide", unit="sid", time="year", treatment="post")
    ref = twfe(castle, outcome="l_homicide", unit="sid", time="year", treatment="post").estimate("ATT")
    assert abs(res.estimate("TWFE") - ref) < 1e-8
    assert abs(res.diagnostics["weight_sum"] - 1) < 1e-12
    assert set(res.diagnostics["by_type"]) == {"Treated vs never treated", "Earlier vs later treated",
                                               "Later vs earlier treated"}


def test_identity_with_always_treated_group():
    df = _panel()
    res = bacon(df, outcome="y", unit="id", time="t", treatment="d")
    ref = twfe(df, outcome="y", unit="id", time="t", treatment="d").estimate("ATT")
    assert abs(res.estimate("TWFE") - ref) < 1e-8
    tab = bacon_table(res)
    assert "Treated vs always treated" in set(tab["type"])
    assert abs(tab["weight"].sum() - 1) < 1e-12 and (tab["weight"] > 0).all()
    assert {"2003 vs never", "2003 vs 2006", "2006 vs 2003", "2006 vs always"} <= set(tab["term"])


def test_constant_effect_every_comparison_equals_it():
    """Hand-built: y = a_i + b_t + 2 D_it without noise -> every 2x2 estimate is exactly 2."""
    res = bacon(_panel(tau=2.0), outcome="y", unit="id", time="t", treatment="d")
    np.testing.assert_allclose(res.tidy()["estimate"], 2.0, atol=1e-12)


def test_hand_computed_2x2():
    """Two groups (treated 2003, never), 4 periods: the one comparison is the DiD of means, weight 1."""
    df = pd.DataFrame({"id": np.repeat([1, 2, 3], 4), "t": np.tile([2001, 2002, 2003, 2004], 3),
                       "y": [1, 2, 5, 7, 0, 1, 1, 2, 2, 2, 3, 3.0]})
    df["d"] = ((df.id == 1) & (df.t >= 2003)).astype(int)
    res = bacon(df, outcome="y", unit="id", time="t", treatment="d")
    expected = (6 - 1.5) - (np.mean([1, 2, 3, 3]) - np.mean([0, 1, 2, 2]))  # (post-pre)_T - (post-pre)_C
    assert res.tidy()["term"].tolist() == ["2003 vs never", "TWFE"]
    assert abs(res.estimate("2003 vs never") - expected) < 1e-12
    assert res.diagnostics["weights"]["2003 vs never"] == pytest.approx(1.0, abs=1e-12)


def test_bad_input():
    df = _panel()
    with pytest.raises(ValidationError, match="balanced"):
        bacon(df.iloc[1:], outcome="y", unit="id", time="t", treatment="d")
    off = df.copy()
    off.loc[(off.id == 7) & (off.t == 2008), "d"] = 0
    with pytest.raises(ValidationError, match="switches off"):
        bacon(off, outcome="y", unit="id", time="t", treatment="d")
    with pytest.raises(ValidationError, match="0/1"):
        bacon(df.assign(d=df.d * 2), outcome="y", unit="id", time="t", treatment="d")
    with pytest.raises(ValidationError, match="treatment='d' is 0 on every row"):
        bacon(df.assign(d=0), outcome="y", unit="id", time="t", treatment="d")


def test_plots_and_roundtrip_no_mutation():
    df = _panel()
    before = df.copy(deep=True)
    res = bacon(df, outcome="y", unit="id", time="t", treatment="d")
    pd.testing.assert_frame_equal(df, before)
    assert isinstance(res.plot(), Figure)
    for lang in ("en", "da"):
        fig = bacon_plot(res, lang=lang)
        assert isinstance(fig, Figure) and len(fig.axes[0].collections) == 4
    back = Result.from_json(res.to_json())
    assert back.diagnostics["weights"] == pytest.approx(dict(res.diagnostics["weights"]))
