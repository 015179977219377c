"""Separate registers (BEF, RAS/AKM, IND, UDDA, KRAF) joined on person and year give the same
indicators as one merged person-year file; missing registrations, clear errors, and non-western
origin from OPR_LAND and IE_TYPE."""
from __future__ import annotations

import copy

import pandas as pd
import pyreadstat
import pytest
import yaml

from evalkit import RegisterConfig, area_indicators, load_register_config
from evalkit.domain.origin import western_codes
from evalkit.errors import EvalkitWarning, ParameterError, ValidationError
from tests.test_indicators import person

REGISTERS = {
    "bef": {"files": ["bef*"], "variables": ["person_id", "year", "birth_year", "origin", "area", "region"]},
    "ras": {"files": ["ras*.parquet"], "variables": ["outside_fte", "education_fte"]},
    "ind": {"files": ["ind*.csv"], "variables": ["income"]},
    "udda": {"files": ["udda*.parquet"], "variables": ["education"]},
    "kraf": {"files": ["kraf*.csv"], "variables": ["convicted"]},
}
COLUMNS = {"bef": ["PERSON_ID", "FOED_AAR", "HERKOMST", "OMR_ID", "REGION"], "ras": ["PERSON_ID", "UDENFOR_FTE", "UDD_FTE"],
           "ind": ["PERSON_ID", "PERINDKIALT"], "udda": ["PERSON_ID", "HFAUDD"], "kraf": ["PERSON_ID", "DOMFAELDT"]}


@pytest.fixture
def merged() -> pd.DataFrame:
    """Person-years, with the gaps separate registers have: i and j lack RAS, IND, UDDA, KRAF rows."""
    rows = [
        person("a", 2015, 1980, 1, udd="gymnasial", income=400_000),
        person("b", 2015, 1990, 1, besk=0.0, herkomst="ikke_vestlig", income=150_000, dom=1),
        person("c", 2015, 1995, 1, besk=0.0, uddfte=1.0, herkomst="ikke_vestlig", income=80_000),
        person("d", 2015, 1945, 1, besk=0.0, udd=None, income=180_000),
        person("f", 2015, 1975, 1, besk=0.75, herkomst="vestlig", income=200_000),
        person("g", 2015, 1970, 1, besk=0.4, udd=None, herkomst="ikke_vestlig", income=180_000),
        person("i", 2015, 1972, 1, udd=None, income=None, herkomst="ikke_vestlig"),   # only in BEF
        person("e", 2015, 1975, None, udd="videregaaende", income=500_000),
        person("h", 2015, 1960, None, dom=1),
        person("a", 2016, 1980, None, udd="gymnasial", income=410_000),
        person("b", 2016, 1990, 1, besk=0.5, herkomst="ikke_vestlig", income=250_000),
        person("j", 2016, 1985, 1, udd=None, income=None),                              # only in BEF
    ]
    frame = pd.DataFrame(rows)
    frame["OMR_ID"] = frame["OMR_ID"].astype("Int64")
    only_bef = frame["PERSON_ID"].isin(["i", "j"])
    frame.loc[only_bef, ["UDENFOR_FTE", "UDD_FTE", "BESK_FTE"]] = None
    return frame


def write_registers(frame: pd.DataFrame, folder, key="PERSON_ID", bef_extra=()):
    """bef2015.xpt + bef2016.parquet (year from the name), ras.parquet, ind2015/2016.csv, udda, kraf.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = {reg: [key if c == "PERSON_ID" else c for c in names] for reg, names in COLUMNS.items()}
    cols["bef"] += list(bef_extra)
    sas = frame.loc[frame["AAR"] == 2015, cols["bef"]].astype({"OMR_ID": float})
    pyreadstat.write_xport(sas, str(folder / "bef2015.xpt"))
    frame.loc[frame["AAR"] == 2016, cols["bef"]].to_parquet(folder / "bef2016.parquet")
    frame.dropna(subset=["UDENFOR_FTE"])[["AAR", *cols["ras"]]].to_parquet(folder / "ras.parquet")
    ind = frame.dropna(subset=["PERINDKIALT"])
    for year in (2015, 2016):
        ind.loc[ind["AAR"] == year, cols["ind"]].to_csv(folder / f"ind{year}.csv", index=False)
    frame.dropna(subset=["HFAUDD"])[["AAR", *cols["udda"]]].to_parquet(folder / "udda.parquet")
    frame.loc[frame["DOMFAELDT"] > 0, ["AAR", *cols["kraf"]]].to_csv(folder / "kraf.csv", index=False)
    return folder


def merged_indicators(frame, tmp_path, config=None):
    folder = tmp_path / "merged"
    folder.mkdir()
    frame.to_parquet(folder / "person_years.parquet")
    with pytest.warns(EvalkitWarning, match="no labour-market status"):
        return area_indicators(folder, config=config)


def test_separate_registers_equal_the_merged_file(merged, tmp_path):
    before = merged.copy(deep=True)
    config = {"registers": copy.deepcopy(REGISTERS)}
    given = copy.deepcopy(config)
    with pytest.warns(EvalkitWarning, match=r"2 area person-years aged 18-64 have no labour-market status"):
        got = area_indicators(write_registers(merged, tmp_path / "reg"), config=config)
    want = merged_indicators(merged, tmp_path)
    pd.testing.assert_frame_equal(got.area_years, want.area_years, check_dtype=False)
    pd.testing.assert_frame_equal(got.national, want.national, check_dtype=False)
    pd.testing.assert_frame_equal(got.regional, want.regional, check_dtype=False)
    pd.testing.assert_frame_equal(merged, before)
    assert config == given


def test_missing_registrations(merged, tmp_path):
    """i (2015) is only in BEF: a resident, not a taxpayer, not convicted, unknown education, outside K1."""
    with pytest.warns(EvalkitWarning):
        ind = area_indicators(write_registers(merged, tmp_path / "reg"), config={"registers": REGISTERS})
    row = ind.area_years.set_index(["OMR_ID", "AAR"]).loc[(1, 2015)]
    assert row["residents"] == 7 and row["n_18plus"] == 7 and row["k2"] == pytest.approx(1 / 7)
    assert row["n_18_64"] == 5                                      # i has no RAS/AKM row: left out of K1
    assert row["n_30_59"] == 4 and row["n_30_59_known"] == 2        # i's education unknown (like g)
    assert row["n_taxpayers_15_64"] == 4                            # i is not a taxpayer
    assert row["nw"] == pytest.approx(4 / 7)


def test_yaml_config_of_the_issue(merged, tmp_path):
    """The YAML layout of issue 6: column names at the top, registers with files and variables."""
    folder = tmp_path / "reg"
    write_registers(merged.rename(columns={"PERSON_ID": "PNR"}), folder, key="PNR")
    text = yaml.safe_dump({"person_id": "PNR", "registers": REGISTERS}, sort_keys=False)
    (tmp_path / "map.yaml").write_text(text, encoding="utf-8")
    config = load_register_config(tmp_path / "map.yaml")
    assert [s.name for s in config.registers] == ["bef", "ras", "ind", "udda", "kraf"]
    assert config.owner("income").files == ("ind*.csv",) and config.owner("year").name == "bef"
    with pytest.warns(EvalkitWarning):
        got = area_indicators(folder, config=tmp_path / "map.yaml").area_years
    assert got["residents"].tolist() == [7, 2]


def test_duplicate_person_year_in_a_register_names_it(merged, tmp_path):
    folder = write_registers(merged, tmp_path / "reg")
    kraf = pd.read_csv(folder / "kraf.csv")
    pd.concat([kraf, kraf.iloc[[0]]]).to_csv(folder / "kraf.csv", index=False)
    with pytest.raises(ValidationError, match=r"register 'kraf' \(files \['kraf\*\.csv'\].*1 person-year\(s\) more "
                                              r"than once \(first in year 2015\)"):
        area_indicators(folder, config={"registers": REGISTERS})


@pytest.mark.parametrize("change, message", [
    (lambda r: r["ras"]["variables"].append("income"),
     r"'income' is assigned to several registers \['ras', 'ind'\].*registers.ras.variables"),
    (lambda r: r.pop("kraf"), r"'convicted' \(.*\) is in no register.*registers.<name>.variables"),
    (lambda r: r["ind"]["variables"].append("incme"), r"registers.ind.variables: unknown .*'incme'.*'income'"),
    (lambda r: r.update(population=r.pop("bef")), r"population_register='bef' is not among"),
    (lambda r: r.update(ind={"files": []}), r"'registers.ind.files' must be a non-empty list"),
])
def test_register_assignment_errors(change, message):
    registers = copy.deepcopy(REGISTERS)
    change(registers)
    with pytest.raises(ParameterError, match=message):
        RegisterConfig.from_mapping({"registers": registers})


def test_files_beside_registers_and_files_not_found(merged, tmp_path):
    with pytest.raises(ParameterError, match="'files' cannot be combined with 'registers'"):
        RegisterConfig.from_mapping({"files": ["*.parquet"], "registers": REGISTERS})
    folder = write_registers(merged, tmp_path / "reg")
    (folder / "kraf.csv").unlink()
    with pytest.raises(ParameterError, match=r"no register files matching \['kraf\*\.csv'\].*registers.kraf.files"):
        area_indicators(folder, config={"registers": REGISTERS})


@pytest.mark.filterwarnings("ignore:.*no labour-market status")
def test_register_rows_outside_the_population(merged, tmp_path):
    """IND rows of persons not in BEF that year are not used (warned); a year that matches nothing is an error."""
    folder = write_registers(merged, tmp_path / "reg")
    extra = pd.DataFrame({"PERSON_ID": ["x", "y"], "PERINDKIALT": [1.0, 2.0]})
    pd.concat([pd.read_csv(folder / "ind2015.csv"), extra]).to_csv(folder / "ind2015.csv", index=False)
    with pytest.warns(EvalkitWarning, match=r"2 of 12 rows of register 'ind' \(files.*are not used"):
        area_indicators(folder, config={"registers": REGISTERS})
    for year in (2015, 2016):
        (folder / f"ind{year}.csv").rename(folder / f"ind{year - 5}.csv")
    with pytest.raises(ValidationError, match="no row of register 'ind'.*matches a person-year of 'bef'"):
        area_indicators(folder, config={"registers": REGISTERS})


def test_person_key_of_different_types_is_an_error(merged, tmp_path):
    frame = merged.assign(PERSON_ID=merged["PERSON_ID"].map({p: str(i) for i, p in enumerate("abcdefghij")}))
    folder = write_registers(frame, tmp_path / "reg")   # csv readers guess the key as a number
    with pytest.raises(ValidationError, match=r"different types across registers.*'ind': 'BIGINT'"):
        area_indicators(folder, config={"registers": REGISTERS})


# --- non-western from OPR_LAND and IE_TYPE -------------------------------------------------------

def origin_frame(cases):
    """One resident of area 1 in 2015 per (IE_TYPE, OPR_LAND) case."""
    rows = [dict(person(f"p{i}", 2015, 1980, 1), IE_TYPE=ie, OPR_LAND=land) for i, (ie, land) in enumerate(cases)]
    frame = pd.DataFrame(rows).drop(columns="HERKOMST")
    frame["OMR_ID"] = frame["OMR_ID"].astype("Int64")
    return frame


def nw_of(frame, tmp_path, **config):
    folder = tmp_path / "d"
    folder.mkdir(exist_ok=True)
    frame.to_parquet(folder / "person_years.parquet")
    return area_indicators(folder, config={"country_of_origin": "OPR_LAND", **config}).area_years.loc[0, "nw"]


@pytest.mark.parametrize("ie_type, land, nonwestern", [
    (1, "TUR", False),     # Danish origin with a foreign country code: never non-western
    (2, "DEU", False),     # EU
    (3, "POL", False),     # EU, descendant
    (2, "NOR", False),     # Nordic
    (2, "USA", False), (2, "CHE", False), (2, "VAT", False),
    (2, "TUR", True),      # Turkey
    (3, "SOM", True),
    (2, " tur", True),     # codes compared trimmed and upper-case
])
def test_nonwestern_at_the_edges(tmp_path, ie_type, land, nonwestern):
    assert nw_of(origin_frame([(ie_type, land)]), tmp_path) == float(nonwestern)


def test_nonwestern_shares_and_unknown_country(tmp_path):
    frame = origin_frame([(1, "DNK"), (2, "TUR"), (3, "IRQ"), (2, "SWE"), (2, None)])
    with pytest.warns(EvalkitWarning, match="1 area person-years are immigrants or descendants.*without a country"):
        assert nw_of(frame, tmp_path) == pytest.approx(2 / 5)


def test_own_numeric_western_list(tmp_path):
    """Statistics Denmark's numeric OPR_LAND codes with the researcher's own list of western codes."""
    codes = tmp_path / "western.csv"
    pd.DataFrame({"code": [5100, 5128, 5390], "name": ["Danmark", "Tyskland", "USA"]}).to_csv(codes, index=False)
    assert western_codes(codes) == (5100, 5128, 5390)
    frame = origin_frame([(2, 5128), (2, 5752), (3, 5390), (1, 5752)])
    assert nw_of(frame, tmp_path, western_countries_file=str(codes)) == pytest.approx(1 / 4)


def test_packaged_western_list():
    codes = western_codes()
    assert {"DNK", "FIN", "ISL", "NOR", "SWE", "DEU", "HRV", "AND", "LIE", "MCO", "SMR", "CHE", "VAT",
            "CAN", "USA", "AUS", "NZL"} <= set(codes)
    assert not {"TUR", "IRQ", "SOM", "PAK", "RUS", "UKR"} & set(codes)
    with pytest.raises(ParameterError, match="western_countries_file='nowhere.csv' does not exist"):
        western_codes("nowhere.csv")


def test_origin_from_country_in_separate_registers(merged, tmp_path):
    """OPR_LAND and IE_TYPE in BEF: the same NW as HERKOMST gave."""
    land = {"dansk": "DNK", "vestlig": "DEU", "ikke_vestlig": "TUR"}
    frame = merged.assign(OPR_LAND=merged["HERKOMST"].map(land), IE_TYPE=(merged["HERKOMST"] != "dansk") + 1)
    registers = copy.deepcopy(REGISTERS)
    registers["bef"]["variables"] = ["person_id", "birth_year", "country_of_origin", "ie_type", "area", "region"]
    folder = write_registers(frame, tmp_path / "reg", bef_extra=["OPR_LAND", "IE_TYPE"])
    with pytest.warns(EvalkitWarning):
        got = area_indicators(folder, config={"registers": registers, "country_of_origin": "OPR_LAND"})
    want = merged_indicators(merged, tmp_path)
    pd.testing.assert_frame_equal(got.area_years, want.area_years, check_dtype=False)


def test_the_documented_configs_load():
    """Both register YAML blocks of docs/data_contract.md (the first two; the survey block follows) build a
    RegisterConfig."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "data_contract.md").read_text(encoding="utf-8")
    full, separate = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)][:2]
    assert RegisterConfig.from_mapping(full).registers == ()
    config = RegisterConfig.from_mapping(separate)
    assert config.owner("country_of_origin").name == "bef" and config.owner("convicted").files == ("kraf*.csv",)
