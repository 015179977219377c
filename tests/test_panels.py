"""Panel builder: indicators equal hand computations on a tiny register extract."""
from __future__ import annotations

import pandas as pd
import pytest

from evalkit.data.panels import build_area_panel, build_cohort_panel, open_microdata
from evalkit.errors import ColumnError, ParameterError, ValidationError


def person(pid, year, born, area, region=1084, herkomst="dansk", udd="grundskole",
           besk=1.0, uddfte=0.0, income=300_000.0, dom=0, koen=1):
    return dict(PERSON_ID=pid, AAR=year, FOED_AAR=born, KOEN=koen, HERKOMST=herkomst, IE_TYPE=1,
                HFAUDD=udd, OMR_ID=area, REGION=region, BESK_FTE=besk, UDD_FTE=uddfte,
                UDENFOR_FTE=1.0 - besk - uddfte, PERINDKIALT=income, DOMFAELDT=dom)


@pytest.fixture
def tiny() -> pd.DataFrame:
    rows = [
        # area 1, year 2015: four residents
        person("a", 2015, 1980, 1, besk=1.0, income=400_000, udd="gymnasial"),          # 35, employed
        person("b", 2015, 1990, 1, besk=0.0, income=150_000, herkomst="ikke_vestlig", dom=1),  # 25, outside
        person("c", 2015, 1995, 1, besk=0.0, uddfte=1.0, income=80_000, herkomst="ikke_vestlig"),  # 20, student
        person("d", 2015, 1945, 1, besk=0.0, income=180_000, udd=None),                 # 70, pensioner
        # outside the areas, same region
        person("e", 2015, 1975, None, besk=1.0, income=500_000, udd="videregaaende"),  # 40
        # 2016: "a" moved out of area 1, "b" stays and works half time
        person("a", 2016, 1980, None, besk=1.0, income=410_000, udd="gymnasial"),
        person("b", 2016, 1990, 1, besk=0.5, income=250_000, herkomst="ikke_vestlig"),
        person("e", 2016, 1975, None, besk=1.0, income=500_000, udd="videregaaende"),
    ]
    frame = pd.DataFrame(rows)
    frame["OMR_ID"] = frame["OMR_ID"].astype("Int64")
    return frame


def test_area_indicators_match_hand_computation(tiny):
    before = tiny.copy(deep=True)
    panel = build_area_panel(tiny).set_index(["OMR_ID", "AAR"])
    pd.testing.assert_frame_equal(tiny, before)
    row = panel.loc[(1, 2015)]
    assert row["residents"] == 4
    assert row["employment_rate"] == pytest.approx(1 / 3)      # a, b, c are 18-64; a employed
    assert row["k1_share"] == pytest.approx(1 / 3)             # b outside (FTE 1)
    assert row["conviction_share"] == pytest.approx(1 / 4)     # b convicted; all four are 18+
    assert row["basic_edu_share"] == pytest.approx(0.0)        # only a is 30-59 (gymnasial)
    assert row["nonwestern_share"] == pytest.approx(0.5)
    # income: taxpayers 15-64 not in education: a (400k), b (150k) in area; region adds e (500k)
    assert row["income_rel_region"] == pytest.approx(275_000 / ((400_000 + 150_000 + 500_000) / 3))
    row16 = panel.loc[(1, 2016)]
    assert row16["residents"] == 1 and row16["employment_rate"] == pytest.approx(0.5)
    assert row16["k1_share"] == pytest.approx(0.5)


def test_unknown_education_rule(tiny):
    tiny = tiny.copy()
    tiny.loc[tiny["PERSON_ID"] == "a", "HFAUDD"] = None  # only 30-59 resident: unknown education
    excl = build_area_panel(tiny).set_index(["OMR_ID", "AAR"]).loc[(1, 2015), "basic_edu_share"]
    basic = build_area_panel(tiny, unknown_education="basic").set_index(["OMR_ID", "AAR"]).loc[(1, 2015), "basic_edu_share"]
    assert pd.isna(excl) and basic == pytest.approx(1.0)
    with pytest.raises(ParameterError, match="unknown_education"):
        build_area_panel(tiny, unknown_education="maybe")


def test_cohort_follows_movers(tiny):
    panel = build_cohort_panel(tiny, baseline_year=2015)
    # baseline residents aged 18-64 in 2015: a, b, c; a is followed after moving out
    assert sorted(panel["PERSON_ID"].unique()) == ["a", "b", "c"]
    a16 = panel[(panel["PERSON_ID"] == "a") & (panel["AAR"] == 2016)].iloc[0]
    assert a16["OMR_ID_BASE"] == 1 and pd.isna(a16["OMR_ID"]) and not a16["stayer"]
    b16 = panel[(panel["PERSON_ID"] == "b") & (panel["AAR"] == 2016)].iloc[0]
    assert b16["stayer"]
    with pytest.raises(ParameterError, match="baseline_year"):
        build_cohort_panel(tiny, baseline_year=2030)


def test_schema_errors_name_the_problem(tiny):
    with pytest.raises(ColumnError, match="BESK_FTE"):
        build_area_panel(tiny.drop(columns="BESK_FTE"))
    dup = pd.concat([tiny, tiny.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValidationError, match=r"\(PERSON_ID, AAR\) must be unique"):
        build_area_panel(dup)
    bad = tiny.copy()
    bad.loc[0, "BESK_FTE"] = 1.5
    with pytest.raises(ValidationError, match="BESK_FTE"):
        build_area_panel(bad)
    bad = tiny.copy()
    bad.loc[0, "HERKOMST"] = "mars"
    with pytest.raises(ValidationError, match="HERKOMST"):
        build_area_panel(bad)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "dta", "xpt"])
def test_readers_agree(tiny, tmp_path, fmt):
    import pyreadstat

    frame = tiny.assign(OMR_ID=tiny["OMR_ID"].astype("float64"))
    path = tmp_path / f"py.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "dta":
        pyreadstat.write_dta(frame, str(path))
    else:
        pyreadstat.write_xport(frame, str(path))
    expected = build_area_panel(tiny)
    got = build_area_panel(path)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_open_microdata_reports_rows_and_years(tiny):
    md = open_microdata(tiny)
    assert md.n_rows == len(tiny) and md.years == (2015, 2016)
    with pytest.raises(ParameterError, match="does not exist"):
        open_microdata("/nonexistent/folder/x.parquet")
