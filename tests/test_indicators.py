"""Area indicators K1-K4 and NW from register files: hand computations on tiny Parquet extracts,
yearly SAS (XPORT) files with a configuration mapping, and clear errors on bad input."""
from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

from evalkit import RegisterConfig, area_indicators, load_register_config
from evalkit.errors import ColumnError, ParameterError, ValidationError


def person(pid, year, born, area, region=1084, herkomst="dansk", udd="grundskole", besk=1.0, uddfte=0.0,
           income=300_000.0, dom=0):
    return dict(PERSON_ID=pid, AAR=year, FOED_AAR=born, KOEN=1, HERKOMST=herkomst, IE_TYPE=1, HFAUDD=udd,
                OMR_ID=area, REGION=region, BESK_FTE=besk, UDD_FTE=uddfte, UDENFOR_FTE=1.0 - besk - uddfte,
                PERINDKIALT=income, DOMFAELDT=dom)


@pytest.fixture
def tiny() -> pd.DataFrame:
    rows = [  # area 1 in 2015: six residents (ages 2015 - born)
        person("a", 2015, 1980, 1, udd="gymnasial", income=400_000),                            # 35
        person("b", 2015, 1990, 1, besk=0.0, herkomst="ikke_vestlig", income=150_000, dom=1),  # 25, outside
        person("c", 2015, 1995, 1, besk=0.0, uddfte=1.0, herkomst="ikke_vestlig", income=80_000),  # 20, student
        person("d", 2015, 1945, 1, besk=0.0, udd=None, income=180_000),                         # 70
        person("f", 2015, 1975, 1, besk=0.75, herkomst="vestlig", income=200_000),              # 40, 0.25 outside
        person("g", 2015, 1970, 1, besk=0.4, udd=None, herkomst="ikke_vestlig", income=180_000),  # 45, 0.6 outside
        person("e", 2015, 1975, None, udd="videregaaende", income=500_000),                     # outside the areas
        person("h", 2015, 1960, None, dom=1),                                                   # 55, convicted
        person("a", 2016, 1980, None, udd="gymnasial", income=410_000),                         # a moved out
        person("b", 2016, 1990, 1, besk=0.5, herkomst="ikke_vestlig", income=250_000),
    ]
    frame = pd.DataFrame(rows)
    frame["OMR_ID"] = frame["OMR_ID"].astype("Int64")
    return frame


def write(frame: pd.DataFrame, folder, name="person_years.parquet"):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / name)
    return folder


def test_each_indicator_matches_a_hand_computation(tiny, tmp_path):
    before = tiny.copy(deep=True)
    ind = area_indicators(write(tiny, tmp_path / "d"))
    pd.testing.assert_frame_equal(tiny, before)
    row = ind.area_years.set_index(["OMR_ID", "AAR"]).loc[(1, 2015)]
    assert row["residents"] == 6 and row["REGION"] == 1084
    # K1, 18-64: a 0, b 1, c 0 (student), f 0.25, g 0.6; d is 70
    assert row["n_18_64"] == 5 and row["k1_fte"] == pytest.approx(1.85 / 5)
    assert row["k1_headcount"] == pytest.approx(2 / 5)                 # b and g were outside > half the year
    # K2, 18+: all six; b convicted. National: + e, h (h convicted)
    assert row["n_18plus"] == 6 and row["k2"] == pytest.approx(1 / 6)
    nat = ind.national.set_index("AAR").loc[2015]
    assert nat["conviction_share"] == pytest.approx(2 / 8) and nat["n_18plus"] == 8
    # K3, 30-59: a gymnasial, f grundskole, g unknown
    assert row["n_30_59"] == 3 and row["n_30_59_known"] == 2
    assert row["k3_unknown_basic"] == pytest.approx(2 / 3)
    assert row["k3_unknown_excluded"] == pytest.approx(1 / 2)
    assert row["k3_unknown_not_basic"] == pytest.approx(1 / 3)
    # K4: taxpayers 15-64 not in education: a, b, f, g in the area; the region adds e and h
    area_mean = (400 + 150 + 200 + 180) * 1e3 / 4
    region_mean = (400 + 150 + 200 + 180 + 500 + 300) * 1e3 / 6
    assert row["n_taxpayers_15_64"] == 4 and row["income_mean"] == pytest.approx(area_mean)
    assert row["k4"] == pytest.approx(area_mean / region_mean)
    # NW: b, c, g of six (f is western)
    assert row["nw"] == pytest.approx(0.5)
    row16 = ind.area_years.set_index(["OMR_ID", "AAR"]).loc[(1, 2016)]
    assert row16["residents"] == 1 and row16["k1_fte"] == pytest.approx(0.5)


def test_cutoffs_are_parameters(tiny, tmp_path):
    ind = area_indicators(write(tiny, tmp_path / "d"), k1_headcount_cutoff=0.7)
    assert ind.area_years.loc[0, "k1_headcount"] == pytest.approx(1 / 5)   # only b
    with pytest.raises(ParameterError, match="in_education_cutoff"):
        area_indicators(tmp_path / "d", in_education_cutoff=2)


# --- register layouts -------------------------------------------------------------------------

SAS_NAMES = {"PERSON_ID": "PNR", "FOED_AAR": "FOEDAAR", "HERKOMST": "OPRIND", "HFAUDD": "UDDNIV",
             "OMR_ID": "OMR", "REGION": "REGION", "UDENFOR_FTE": "UDENFOR", "UDD_FTE": "UDDFTE",
             "PERINDKIALT": "PERINDK", "DOMFAELDT": "DOMF"}
SAS_CONFIG = {"person_id": "PNR", "birth_year": "FOEDAAR", "origin": "oprind", "education": "UDDNIV",
              "area": "OMR", "outside_fte": "UDENFOR", "education_fte": "UDDFTE", "income": "PERINDK",
              "convicted": "DOMF", "nonwestern_values": ["ikke_vestlig"], "files": ["bef*"]}


def test_yearly_sas_and_parquet_files_with_a_config(tiny, tmp_path):
    """bef2015.xpt (SAS transport) and bef2016.parquet, researcher names, year taken from the file name."""
    folder = tmp_path / "reg"
    folder.mkdir()
    renamed = tiny.rename(columns=SAS_NAMES).drop(columns=["AAR", "KOEN", "IE_TYPE", "BESK_FTE"])
    sas = renamed.loc[tiny["AAR"] == 2015].copy()
    sas["OMR"] = sas["OMR"].astype(float)
    pyreadstat.write_xport(sas, str(folder / "bef2015.xpt"))
    renamed.loc[tiny["AAR"] == 2016].to_parquet(folder / "bef2016.parquet")
    got = area_indicators(folder, config=SAS_CONFIG).area_years
    want = area_indicators(write(tiny, tmp_path / "d")).area_years
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_yaml_config_file(tiny, tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("person_id: PNR\nconvicted: DOMF\nfiles: ['*.parquet']\n", encoding="utf-8")
    config = load_register_config(path)
    assert config.person_id == "PNR" and config.files == ("*.parquet",) and config.year == "AAR"
    data = write(tiny.rename(columns={"PERSON_ID": "PNR", "DOMFAELDT": "DOMF"}), tmp_path / "d")
    assert area_indicators(data, config=path).area_years.loc[0, "k2"] == pytest.approx(1 / 6)


def test_missing_register_variable_names_the_config_key(tiny, tmp_path):
    data = write(tiny.rename(columns={"DOMFAELDT": "KRAF_DOM"}), tmp_path / "d")
    with pytest.raises(ColumnError, match=r"'convicted'.*configuration key 'convicted'"):
        area_indicators(data)
    no_year = write(tiny.drop(columns="AAR"), tmp_path / "e", name="extract.parquet")
    with pytest.raises(ColumnError, match="configuration key 'year'"):
        area_indicators(no_year)


def test_unknown_config_key(tmp_path):
    with pytest.raises(ParameterError, match="unknown register configuration key 'person_di'.*'person_id'"):
        RegisterConfig.from_mapping({"person_di": "PNR"})


def test_area_without_a_region(tiny, tmp_path):
    bad = tiny.copy()
    bad["REGION"] = bad["REGION"].astype("Int64")
    bad.loc[bad["PERSON_ID"] == "b", "REGION"] = pd.NA
    with pytest.raises(ValidationError, match=r"area\(s\) \[1\] without a region"):
        area_indicators(write(bad, tmp_path / "d"))
    folder = write(tiny, tmp_path / "e")
    pd.DataFrame({"OMR_ID": [2], "REGION": [1081]}).to_parquet(folder / "areas.parquet")
    with pytest.raises(ValidationError, match="has no REGION in the areas table"):
        area_indicators(folder)


def test_areas_table_fixes_the_region(tiny, tmp_path):
    folder = write(tiny, tmp_path / "d")
    pd.DataFrame({"OMR_ID": [1], "REGION": [1084]}).to_parquet(folder / "areas.parquet")
    assert area_indicators(folder).area_years["REGION"].tolist() == [1084, 1084]


def test_duplicate_person_years_are_an_error(tiny, tmp_path):
    twice = pd.concat([tiny, tiny.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValidationError, match="more than once"):
        area_indicators(write(twice, tmp_path / "d"))


def test_small_scale_benchmark_register(tmp_path):
    """The scale benchmark's generator at 20k persons: every area-year built, shares in [0, 1]."""
    from benchmarks.indicators_scale import generate

    rows = generate(tmp_path, 20_000, 3, seed=1, n_areas=20)
    ind = area_indicators(tmp_path, threads=2, memory_limit="1GB")
    assert rows == 60_000 and len(ind.area_years) == 60 and ind.years == (2010, 2011, 2012)
    shares = ind.area_years[["k1_fte", "k2", "k3_unknown_basic", "nw"]]
    assert ((shares >= 0) & (shares <= 1)).all().all()
