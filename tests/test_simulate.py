"""Tests of the register-microdata simulator and its recorded truth (evalkit.data.simulate)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evalkit.data import _sim_rng as R
from evalkit.data._sim_outside import outside_chunk, write_outside
from evalkit.data.simulate import simulate, simulate_sized
from evalkit.data.truth import area_truth, cohort_truth, load_truth
from evalkit.errors import EvalkitError, ParameterError

SEED = 2024
OUTREACH, POA = "fremskudt_beskaeftigelse", "poa"


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    return simulate(tmp_path_factory.mktemp("sim") / "small", seed=SEED, size="small", progress=False)


@pytest.fixture(scope="session")
def con(sim_dir):
    c = duckdb.connect()
    c.execute(f"CREATE VIEW py AS SELECT *, AAR - FOED_AAR AS age FROM read_parquet('{sim_dir}/person_years/*.parquet')")
    c.execute("CREATE VIEW comparison AS SELECT * FROM py WHERE PERSON_ID NOT IN "
              "(SELECT PERSON_ID FROM py WHERE OMR_ID IS NOT NULL)")
    c.execute(f"CREATE VIEW iv AS SELECT * FROM read_csv_auto('{sim_dir}/interventions.csv')")
    c.execute(f"CREATE VIEW eff AS SELECT * FROM read_parquet('{sim_dir}/truth/area_effects.parquet')")
    yield c
    c.close()


def one(con, sql):
    return con.execute(sql).fetchone()


def one_col(con, sql) -> list:
    return [r[0] for r in con.execute(sql).fetchall()]


def read_all(directory: Path) -> dict:
    """Every data file read back: parquet as arrow tables, small ones also as DataFrames."""
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.suffix == ".parquet":
            table = pq.read_table(p)
            out[p.relative_to(directory).as_posix()] = table.to_pandas() if table.num_rows < 200_000 else table
        elif p.suffix == ".csv":
            out[p.relative_to(directory).as_posix()] = pd.read_csv(p)
    return out


# --- layout, schema, keys ---------------------------------------------------------------

def test_layout_and_manifest(sim_dir):
    manifest = json.loads((sim_dir / "manifest.json").read_text())
    assert manifest["seed"] == SEED and manifest["size"] == "small" and manifest["n_areas"] == 80
    assert manifest["years"] == [2010, 2024] and manifest["generator"].startswith("evalkit.simulate")
    for rel, rows in manifest["files"].items():
        path = sim_dir / rel
        n = len(pd.read_csv(path)) if rel.endswith(".csv") else pq.ParquetFile(path).metadata.num_rows
        assert n == rows, rel
    py_rows = sum(r for f, r in manifest["files"].items() if f.startswith("person_years/"))
    assert manifest["n_person_years"] == py_rows
    assert (sim_dir / "truth" / "truth.json").is_file()


def test_person_year_schema(sim_dir):
    schema = pq.read_schema(sim_dir / "person_years" / "part-00000.parquet")
    expected = {"PERSON_ID": pa.string(), "AAR": pa.int16(), "FOED_AAR": pa.int16(), "KOEN": pa.int8(),
                "HERKOMST": pa.string(), "IE_TYPE": pa.int8(), "HFAUDD": pa.string(), "OMR_ID": pa.int32(),
                "REGION": pa.int16(), "BESK_FTE": pa.float32(), "UDD_FTE": pa.float32(),
                "UDENFOR_FTE": pa.float32(), "PERINDKIALT": pa.float64(), "DOMFAELDT": pa.int8()}
    assert dict(zip(schema.names, schema.types)) == expected
    assert schema.names == list(expected)


def test_other_schemas(sim_dir):
    areas = pq.read_schema(sim_dir / "areas.parquet")
    assert dict(zip(areas.names, areas.types)) == {
        "OMR_ID": pa.int32(), "OMR_NAVN": pa.string(), "REGION": pa.int16(), "KOMMUNE": pa.int16()}
    survey = pq.read_schema(sim_dir / "tryghed_survey.parquet")
    assert dict(zip(survey.names, survey.types)) == {
        "RESP_ID": pa.string(), "AAR": pa.int16(), "OMR_ID": pa.int32(), "KOEN": pa.int8(),
        "ALDER": pa.int16(), "HERKOMST": pa.string(), "VAEGT": pa.float64(), "TRYG": pa.int8()}
    iv = pd.read_csv(sim_dir / "interventions.csv")
    assert list(iv.columns) == ["OMR_ID", "intervention", "start_year", "end_year", "budget_dkk"]
    cf = pq.read_schema(sim_dir / "truth" / "person_counterfactual.parquet")
    assert cf.names == ["PERSON_ID", "AAR", "OMR_ID_0", "BESK_FTE_0", "DOMFAELDT_0"]


def test_values_and_keys(con):
    assert one(con, "SELECT max(abs(BESK_FTE + UDD_FTE + UDENFOR_FTE - 1)) FROM py")[0] == 0
    assert one(con, "SELECT min(least(BESK_FTE, UDD_FTE, UDENFOR_FTE)), max(greatest(BESK_FTE, UDD_FTE, UDENFOR_FTE)) FROM py") == (0, 1)
    n, n_keys = one(con, "SELECT count(*), count(DISTINCT (PERSON_ID, AAR)) FROM py")
    assert n == n_keys
    assert one(con, "SELECT min(AAR), max(AAR) FROM py") == (2010, 2024)
    ids = [r[0] for r in con.execute("SELECT PERSON_ID FROM py USING SAMPLE 2000 ROWS").fetchall()]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert set(r[0] for r in con.execute("SELECT DISTINCT HERKOMST FROM py").fetchall()) == {"dansk", "vestlig", "ikke_vestlig"}
    assert one(con, "SELECT count(*) FROM py WHERE HERKOMST = 'dansk' AND IE_TYPE <> 1")[0] == 0
    assert one(con, "SELECT count(*) FROM py WHERE HERKOMST <> 'dansk' AND IE_TYPE = 1")[0] == 0
    unknown = one(con, "SELECT avg((HFAUDD IS NULL)::INT) FROM py WHERE IE_TYPE = 2 AND AAR = 2015")[0]
    assert 0.08 <= unknown <= 0.17
    assert one(con, "SELECT count(*) FROM py WHERE age < 16 AND UDD_FTE <> 1")[0] == 0
    assert one(con, "SELECT count(*) FROM py WHERE age < 18 AND DOMFAELDT <> 0")[0] == 0


# --- magnitudes -------------------------------------------------------------------------

def test_areas_and_sizes(con, sim_dir):
    areas = pd.read_parquet(sim_dir / "areas.parquet")
    assert len(areas) == 80 and set(areas["REGION"]) == {1081, 1082, 1083, 1084, 1085}
    assert areas["REGION"].value_counts().idxmax() == 1084
    lo, med, hi = one(con, "SELECT min(n), median(n), max(n) FROM (SELECT OMR_ID, AAR, count(*) n "
                           "FROM py WHERE OMR_ID IS NOT NULL GROUP BY ALL)")
    assert 1000 <= lo and hi <= 9500 and hi > 8000 and 1500 <= med <= 2600
    # region of an area's residents is the area's region
    bad = one(con, f"SELECT count(*) FROM py JOIN read_parquet('{sim_dir}/areas.parquet') a USING (OMR_ID) "
                   "WHERE py.REGION <> a.REGION")[0]
    assert bad == 0


def test_out_moves_are_selective(con):
    shares = con.execute("""
        SELECT a.AAR, avg((b.OMR_ID IS DISTINCT FROM a.OMR_ID)::INT) AS out_share,
               avg(CASE WHEN a.BESK_FTE > 0 THEN (b.OMR_ID IS DISTINCT FROM a.OMR_ID)::INT END) AS emp,
               avg(CASE WHEN a.BESK_FTE = 0 THEN (b.OMR_ID IS DISTINCT FROM a.OMR_ID)::INT END) AS nonemp
        FROM py a JOIN py b ON a.PERSON_ID = b.PERSON_ID AND b.AAR = a.AAR + 1
        WHERE a.OMR_ID IS NOT NULL GROUP BY 1""").df()
    assert shares["out_share"].between(0.10, 0.15).all()
    assert (shares["emp"] > shares["nonemp"] + 0.03).all()
    # movers are followed: they stay in the data outside the areas, in the same region
    moved = one(con, """SELECT count(*), sum((b.OMR_ID IS NULL)::INT), sum((a.REGION = b.REGION)::INT)
        FROM py a JOIN py b ON a.PERSON_ID = b.PERSON_ID AND b.AAR = a.AAR + 1
        WHERE a.OMR_ID IS NOT NULL AND b.OMR_ID IS DISTINCT FROM a.OMR_ID""")
    assert moved[0] > 10_000 and moved[0] == moved[1] == moved[2]


def test_employment_k1_conviction_composition(con):
    area = one(con, """SELECT
        avg(CASE WHEN age BETWEEN 18 AND 64 AND HERKOMST = 'dansk' THEN (BESK_FTE > 0)::INT END),
        avg(CASE WHEN age BETWEEN 18 AND 64 AND HERKOMST = 'ikke_vestlig' THEN (BESK_FTE > 0)::INT END),
        avg(CASE WHEN age BETWEEN 18 AND 64 THEN UDENFOR_FTE END),
        avg(CASE WHEN age >= 18 THEN DOMFAELDT END), avg((HERKOMST = 'ikke_vestlig')::INT)
        FROM py WHERE OMR_ID IS NOT NULL AND AAR = 2015""")
    comp = one(con, """SELECT avg(CASE WHEN age BETWEEN 16 AND 64 THEN (BESK_FTE > 0)::INT END),
        avg(CASE WHEN age >= 18 THEN DOMFAELDT END), avg((HERKOMST = 'ikke_vestlig')::INT)
        FROM comparison WHERE AAR = 2015""")
    emp_dk, emp_nw, k1, conv, nw = area
    assert 0.38 <= emp_dk <= 0.50 and 0.29 <= emp_nw <= 0.41 and emp_nw < emp_dk
    assert 0.40 <= k1 <= 0.53
    assert 0.015 <= conv <= 0.04 and comp[1] < 0.015 and comp[1] < conv / 2
    assert 0.3 <= nw <= 0.7 and comp[2] < 0.15
    assert 0.68 <= comp[0] <= 0.80
    per_area = con.execute("SELECT avg((HERKOMST = 'ikke_vestlig')::INT) s FROM py "
                           "WHERE OMR_ID IS NOT NULL AND AAR = 2015 GROUP BY OMR_ID").df()["s"]
    assert per_area.min() < 0.3 and per_area.max() > 0.65


def test_income_higher_outside_and_for_employed(con):
    area, comp = (one(con, f"SELECT avg(PERINDKIALT) FROM {t} WHERE age BETWEEN 25 AND 64 AND AAR = 2015"
                           + (" AND OMR_ID IS NOT NULL" if t == "py" else ""))[0] for t in ("py", "comparison"))
    assert 100_000 < area < comp < 500_000
    emp, non = one(con, "SELECT avg(CASE WHEN BESK_FTE = 1 THEN PERINDKIALT END), "
                        "avg(CASE WHEN UDENFOR_FTE = 1 THEN PERINDKIALT END) FROM py WHERE age BETWEEN 25 AND 64")
    assert emp > 1.5 * non


def test_interventions(sim_dir):
    iv = pd.read_csv(sim_dir / "interventions.csv")
    out, poa = iv[iv["intervention"] == OUTREACH], iv[iv["intervention"] == POA]
    assert len(out) == 25 and out["OMR_ID"].is_unique and out["start_year"].between(2015, 2020).all()
    assert out["start_year"].nunique() >= 4 and out["start_year"].value_counts().max() <= 6
    assert len(poa) == 3 and (poa["start_year"] == 2018).all()
    assert not set(poa["OMR_ID"]) & set(out["OMR_ID"])
    assert (iv["end_year"] == 2024).all()
    per_year = iv["budget_dkk"] / (iv["end_year"] - iv["start_year"] + 1)
    assert per_year[iv["intervention"] == OUTREACH].between(2e6, 6e6).all()


def test_survey(sim_dir):
    s = pd.read_parquet(sim_dir / "tryghed_survey.parquet")
    area = s[s["OMR_ID"].notna()]
    counts = area.groupby(["AAR", "OMR_ID"]).size()
    assert len(counts) == 80 * 15 and counts.eq(200).all()          # sampled persons, nonrespondents included
    assert s[s["OMR_ID"].isna()].groupby("AAR").size().eq(1000).all()
    assert area["ALDER"].min() >= 15 and s["RESP_ID"].str.fullmatch(r"[0-9a-f]{12}").all()
    assert 0.62 <= area["TRYG"].mean() <= 0.76 and 0.83 <= s.loc[s["OMR_ID"].isna(), "TRYG"].mean() <= 0.91
    # generator 1.3: selective nonresponse (young and non-western residents answer less often), design weights
    rate = area["TRYG"].notna().groupby(area["HERKOMST"]).mean()
    assert 0.35 <= area["TRYG"].notna().mean() <= 0.55 and rate["ikke_vestlig"] < rate["dansk"] - 0.1
    assert set(s["HERKOMST"]) == {"dansk", "vestlig", "ikke_vestlig"} and (s["VAEGT"] >= 1).all()


# --- truth ------------------------------------------------------------------------------

def test_area_truth_employment(con, sim_dir):
    eff = con.execute("""SELECT e.*, iv.start_year FROM eff e LEFT JOIN
        (SELECT * FROM iv WHERE intervention = 'fremskudt_beskaeftigelse') iv USING (OMR_ID)
        WHERE outcome = 'employment_rate'""").df()
    treated = eff[eff["start_year"].notna()]
    late = treated[treated["AAR"] - treated["start_year"] >= 2]
    assert 0.015 <= late["effect"].mean() <= 0.045
    assert (treated.loc[treated["AAR"] < treated["start_year"], "effect"] == 0).all()
    # areas without any intervention (since generator 1.2 the letting-rule areas, outside the
    # outreach list, have employment effects of their own: the rule lets in people in work)
    untreated = ~eff["OMR_ID"].isin(one_col(con, "SELECT OMR_ID FROM iv"))
    assert (eff.loc[untreated, "effect"] == 0).all()
    assert (eff.loc[eff["start_year"].isna() & ~untreated, "effect"] >= 0).all()
    by_e = area_truth(sim_dir, OUTREACH, "employment_rate").set_index("event_time")
    doc = load_truth(sim_dir)["mean_area_effect_by_event_time"][OUTREACH]["employment_rate"]
    for e in (0, 1, 2, 3):
        assert by_e.loc[e, "effect"] == pytest.approx(doc[str(e)], abs=1e-6)
    assert by_e.loc[0, "effect"] < by_e.loc[2, "effect"]
    assert by_e.loc[2, "n_areas"] == 25


def test_poa_truth(con, sim_dir):
    conv = area_truth(sim_dir, POA, "conviction_share").set_index("event_time")
    assert (conv.loc[conv.index < 0, "effect"] == 0).all() and (conv.loc[conv.index >= 0, "effect"] < 0).all()
    tryg = area_truth(sim_dir, POA, "tryghed_prob").set_index("event_time")
    assert tryg.loc[0, "effect"] == pytest.approx(0.08) and tryg.loc[3, "effect"] == pytest.approx(0.16)
    # untreated areas: exactly zero; outreach areas: convictions move only through sorting
    # income relative to the region is the exception: the region's mean includes the treated areas'
    # residents, so an intervention moves the indicator of untreated areas too (a true spillover)
    untreated = one(con, "SELECT max(abs(effect)) FROM eff WHERE OMR_ID NOT IN (SELECT OMR_ID FROM iv) "
                         "AND outcome <> 'income_rel_region'")[0]
    assert untreated == 0
    tryg_out = one(con, """SELECT max(abs(effect)) FROM eff WHERE outcome = 'tryghed_prob'
                          AND OMR_ID NOT IN (SELECT OMR_ID FROM iv WHERE intervention = 'poa')""")[0]
    assert tryg_out == 0
    params = load_truth(sim_dir)["parameters"]
    assert params[POA]["conviction_probability_multiplier"] == 0.7
    assert params[OUTREACH]["delta_by_event_time"]["2"] == pytest.approx(0.037)


def test_person_counterfactual_and_cohort_truth(con, sim_dir):
    cf = f"read_parquet('{sim_dir}/truth/person_counterfactual.parquet')"
    n, n_keys, n_match = one(con, f"SELECT count(*), count(DISTINCT (cf.PERSON_ID, cf.AAR)), count(py.PERSON_ID) "
                                  f"FROM {cf} cf LEFT JOIN py USING (PERSON_ID, AAR)")
    assert n == n_keys == n_match and n > 1_000_000
    diff = one(con, f"SELECT sum((py.BESK_FTE <> cf.BESK_FTE_0)::INT), "
                    f"sum((py.OMR_ID IS DISTINCT FROM cf.OMR_ID_0)::INT) FROM {cf} cf JOIN py USING (PERSON_ID, AAR) "
                    "WHERE py.AAR < 2015")
    assert diff == (0, 0)
    coh = cohort_truth(sim_dir, 2014, OUTREACH, "employment_rate").set_index("event_time")
    assert (coh.loc[coh.index < 0, "effect"] == 0).all()
    assert 0.003 < coh.loc[coh.index >= 2, "effect"].mean() < 0.045
    by_year = cohort_truth(sim_dir, 2014, OUTREACH, "employment_rate", by="AAR")
    assert list(by_year["AAR"]) == list(range(2010, 2025))


def test_truth_reader_errors(sim_dir, tmp_path):
    with pytest.raises(ParameterError, match="intervention"):
        area_truth(sim_dir, "helhedsplan", "employment_rate")
    with pytest.raises(ParameterError, match="employment_rate"):
        cohort_truth(sim_dir, 2014, OUTREACH, "tryghed_prob")
    with pytest.raises(ParameterError):
        cohort_truth(sim_dir, 2014, OUTREACH, "employment_rate", age_range=(64, 18))
    with pytest.raises(ParameterError, match="truth.json"):
        load_truth(tmp_path)


# --- determinism, parameters, streaming -------------------------------------------------

def test_same_seed_same_data(sim_dir, tmp_path):
    again = simulate(tmp_path / "again", seed=SEED, size="small", progress=False)
    a, b = read_all(sim_dir), read_all(again)
    assert a.keys() == b.keys() and len(a) >= 20
    for name in a:
        if isinstance(a[name], pa.Table):
            assert a[name].schema == b[name].schema and a[name].equals(b[name]), name
        else:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    assert load_truth(sim_dir) == load_truth(again)


def test_other_seed_differs_and_overwrite_with_parts(sim_dir, tmp_path):
    out = tmp_path / "other"  # looks like a previous simulate output, with a stale part file
    (out / "person_years").mkdir(parents=True)
    (out / "manifest.json").write_text((sim_dir / "manifest.json").read_text())
    (out / "person_years" / "part-00099.parquet").write_bytes(b"stale")
    simulate_sized(out, seed=7, size="small", chunk_persons=400, progress=False, n_outside=1000)
    manifest = json.loads((out / "manifest.json").read_text())
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.parquet")} | {"interventions.csv"}
    assert on_disk == set(manifest["files"])  # stale part files of the first run are gone
    outside_parts = sorted(out.glob("person_years/part-*.parquet"))[15:]
    assert len(outside_parts) == 3
    a = pd.read_parquet(sim_dir / "person_years" / "part-00000.parquet")
    b = pd.read_parquet(out / "person_years" / "part-00000.parquet")
    assert not a["PERSON_ID"].isin(b["PERSON_ID"]).any()
    assert not pd.read_csv(sim_dir / "interventions.csv").equals(pd.read_csv(out / "interventions.csv"))


def test_outside_streaming_in_parts(tmp_path):
    written = write_outside(tmp_path, SEED, 1000, 300, 0, lambda s: None)
    parts = sorted((tmp_path / "person_years").glob("part-*.parquet"))
    assert len(parts) == 4 == len(written)
    chunked = pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()
    whole = outside_chunk(SEED, 0, 1000).to_pandas()
    key = ["AAR", "PERSON_ID"]
    pd.testing.assert_frame_equal(chunked.sort_values(key, ignore_index=True),
                                  whole.sort_values(key, ignore_index=True), check_exact=True)
    assert chunked["OMR_ID"].isna().all() and chunked["PERSON_ID"].nunique() == 1000
    # the born-later persons enter at age 0 in their birth year
    first = chunked.groupby("PERSON_ID")["AAR"].min()
    born = chunked.groupby("PERSON_ID")["FOED_AAR"].first()
    assert ((first == 2010) | (first == born)).all() and (born > 2010).any()


def test_bad_parameters(tmp_path):
    with pytest.raises(ParameterError, match="small"):
        simulate(tmp_path / "x", size="huge", progress=False)
    with pytest.raises(ParameterError):
        simulate(tmp_path / "x", chunk_persons=0, progress=False)
    with pytest.raises(ParameterError):
        simulate(tmp_path / "x", seed=-1, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(EvalkitError, match="not empty"):
        simulate(foreign, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_keyed_rng_common_random_numbers():
    ids = np.arange(100_000, dtype=np.uint64)
    u = R.uniform(1, ids, 2015, R.S_EMP)
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert np.array_equal(R.uniform(1, ids[::-1], 2015, R.S_EMP), u[::-1])  # order-free
    assert not np.array_equal(R.uniform(1, ids, 2016, R.S_EMP), u)
    assert not np.array_equal(R.uniform(2, ids, 2015, R.S_EMP), u)
    z = R.normal(1, ids, 2015, R.S_ALPHA)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    pid = R.person_ids(1, ids).to_pylist()
    assert len(set(pid)) == len(pid) and all(len(p) == 16 for p in pid[:10])
