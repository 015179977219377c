"""Movers vs stayers: the parts add up exactly; selective out-moving shows up with the simulated sign."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.data.panels import open_microdata
from evalkit.domain.movers import decompose_change, decomposition_parts
from evalkit.errors import ColumnError, ParameterError

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def random_person_years(seed: int, n: int = 3000, n_areas: int = 6) -> pd.DataFrame:
    """Persons observed in two years, moving between areas, outside (null) and out of the data."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2015, 2016):
        present = rng.random(n) < 0.9
        area = rng.integers(1, n_areas + 1, n).astype(float)
        area[rng.random(n) < 0.2] = np.nan
        ids = np.flatnonzero(present)
        rows.append(pd.DataFrame({
            "PERSON_ID": [f"p{i:06d}" for i in ids], "AAR": year, "FOED_AAR": 1950 + (np.arange(n)[ids] % 70),
            "OMR_ID": pd.array(area[ids], dtype="Int64"), "HERKOMST": rng.choice(["dansk", "ikke_vestlig"], len(ids)),
            "BESK_FTE": rng.random(len(ids)), "UDENFOR_FTE": rng.random(len(ids)),
            "DOMFAELDT": (rng.random(len(ids)) < 0.05).astype("int8")}))
    return pd.concat(rows, ignore_index=True)


def direct_means(frame, year, lo=18, hi=64):
    sub = frame[(frame["AAR"] == year) & frame["OMR_ID"].notna() & (year - frame["FOED_AAR"]).between(lo, hi)]
    return sub.groupby("OMR_ID")["BESK_FTE"].mean()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parts_sum_exactly_to_the_total_on_random_data(seed):
    frame = random_person_years(seed)
    before = frame.copy(deep=True)
    dec = decompose_change(open_microdata(frame, validate=False), "employment_rate", 2015, 2016).tidy()
    parts = dec["stayers_change"] + dec["in_movers_contribution"] + dec["out_movers_contribution"]
    assert np.max(np.abs(parts - dec["total_change"])) < 1e-12
    # the total is the change of the area means computed independently, with pandas
    total = (direct_means(frame, 2016) - direct_means(frame, 2015)).to_numpy()
    assert np.max(np.abs(dec["total_change"].to_numpy() - total)) < 1e-12
    assert (dec["n_stayers"] + dec["n_out"] == dec["n0"]).all() and (dec["n_stayers"] + dec["n_in"] == dec["n1"]).all()
    assert np.allclose(dec["share_stayers0"] + dec["share_out0"], 1.0)
    pd.testing.assert_frame_equal(frame, before)  # the caller's data is untouched


def test_pooled_groups_sum_exactly_and_keep_every_area():
    frame = random_person_years(7)
    groups = pd.DataFrame({"OMR_ID": range(1, 7), "group": ["a", "a", "a", "b", "b", "b"]})
    dec = decompose_change(open_microdata(frame, validate=False), "employment_rate", 2015, 2016, groups=groups).tidy()
    assert dec["group"].tolist() == ["a", "b"]
    parts = dec[["stayers_change", "in_movers_contribution", "out_movers_contribution"]].sum(axis=1)
    assert np.max(np.abs(parts - dec["total_change"])) < 1e-12


def test_hand_computed_identity():
    # stayers 0.2 -> 0.4 (4 of 5 in t0, 4 of 6 in t1), one out-mover at 1.0, two in-movers at 0.1
    counts = pd.DataFrame({"group": [1], "year0": [2015], "year1": [2016], "n0": [5], "n1": [6], "n_stayers": [4],
                           "n_in": [2], "n_out": [1], "n_in_aged": [0], "n_out_aged": [0],
                           "value0": [(4 * 0.2 + 1.0) / 5], "value1": [(4 * 0.4 + 2 * 0.1) / 6],
                           "mean_stayers0": [0.2], "mean_stayers1": [0.4], "mean_in1": [0.1], "mean_out0": [1.0]})
    row = decomposition_parts(counts).iloc[0]
    assert row["stayers_change"] == pytest.approx(0.2)
    assert row["in_movers_contribution"] == pytest.approx(2 / 6 * (0.1 - 0.4))
    assert row["out_movers_contribution"] == pytest.approx(-1 / 5 * (1.0 - 0.2))
    assert row["total_change"] == pytest.approx(0.3 - 0.36)


def test_group_without_stayers_is_kept_with_missing_parts():
    counts = pd.DataFrame({"group": [1], "year0": [2015], "year1": [2016], "n0": [3], "n1": [2], "n_stayers": [0],
                           "n_in": [2], "n_out": [3], "n_in_aged": [0], "n_out_aged": [0], "value0": [0.3],
                           "value1": [0.5], "mean_stayers0": [np.nan], "mean_stayers1": [np.nan],
                           "mean_in1": [0.5], "mean_out0": [0.3]})
    row = decomposition_parts(counts).iloc[0]
    assert row["total_change"] == pytest.approx(0.2) and np.isnan(row["stayers_change"])


def test_selective_out_moving_has_the_simulated_sign():
    """The simulator makes employed residents move out more often (``out_move_prob``): in a one-year
    decomposition the out-movers were more employed than the stayers, so their contribution is negative."""
    md = open_microdata(DEMO)
    dec = decompose_change(md, "employment_rate", 2014, 2015).tidy()
    assert (dec["mean_out0"] > dec["mean_stayers0"]).mean() > 0.8
    assert (dec["out_movers_contribution"] < 0).mean() > 0.8
    pooled = decompose_change(md, "employment_rate", 2014, 2015,
                              groups=pd.DataFrame({"OMR_ID": dec["group"], "group": "all"})).tidy().iloc[0]
    assert pooled["out_movers_contribution"] < 0
    # the decomposition's total equals the area panel's own indicator change
    panel = md.area_panel().pivot(index="OMR_ID", columns="AAR", values="employment_rate")
    assert np.allclose(dec.set_index("group")["total_change"], panel[2015] - panel[2014], atol=1e-6)


def test_bad_input_names_the_parameter():
    md = open_microdata(random_person_years(1), validate=False)
    with pytest.raises(ParameterError, match="indicator"):
        decompose_change(md, "employment", 2015, 2016)
    with pytest.raises(ParameterError, match="year1=2030 is outside the data years 2015-2016"):
        decompose_change(md, "employment_rate", 2015, 2030)
    with pytest.raises(ParameterError, match="year0"):
        decompose_change(md, "employment_rate", 2016, 2016)
    with pytest.raises(ColumnError, match="'group'"):
        decompose_change(md, "employment_rate", 2015, 2016, groups=pd.DataFrame({"OMR_ID": [1], "grp": ["a"]}))
