"""Tests of the data-aware key scanner (evalkit.report.keyscan)."""
from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalkit as ek
from evalkit.errors import ParameterError
from evalkit.report.keyscan import (IDENTIFIER_COLUMNS, piece_length, KINDS, KeySet, collect_keys, scan_file, scan_text,
                                    scan_tree)


def _hex(name: str, text: str) -> str:
    return hashlib.new(name, text.encode()).hexdigest()


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory) -> Path:
    return ek.simulate(tmp_path_factory.mktemp("keyscan") / "data", seed=1, size="small", progress=False)


@pytest.fixture(scope="module")
def keys(sim_dir) -> KeySet:
    return collect_keys(sim_dir)


@pytest.fixture(scope="module")
def person_ids(sim_dir) -> np.ndarray:
    return pd.read_parquet(sim_dir / "person_years", columns=["PERSON_ID"])["PERSON_ID"].unique()


@pytest.fixture(scope="module")
def key(person_ids) -> str:
    return str(person_ids[len(person_ids) // 2])


def _decoded(keyset: KeySet) -> set[str]:
    return {k.decode() for k in keyset.keys.tolist()}


# --------------------------------------------------------------------------- collect_keys
def test_collect_keys_finds_every_identifier_of_the_simulated_data(sim_dir, keys, person_ids):
    survey = pd.read_parquet(sim_dir / "tryghed_survey.parquet", columns=["RESP_ID"])["RESP_ID"].unique()
    counterfactual = pd.read_parquet(sim_dir / "truth" / "person_counterfactual.parquet", columns=["PERSON_ID"])
    found = _decoded(keys)
    assert found.issuperset(person_ids)  # every PERSON_ID of the person-year register
    expected = set(person_ids).union(survey, counterfactual["PERSON_ID"].unique())
    assert found == expected  # the simulator writes lower-case keys of 12 and 16 characters
    assert len(keys) == keys.n_keys == len(expected) and keys.lengths == (12, 16)
    assert "PERSON_ID" in IDENTIFIER_COLUMNS and "RESP_ID" in IDENTIFIER_COLUMNS


def test_repr_of_a_key_set_shows_no_key(keys, key):
    assert key not in repr(keys) and str(len(keys)) in repr(keys)


def test_collect_keys_reads_csv_stata_xport_and_nested_parquet(tmp_path):
    import pyreadstat

    (tmp_path / "bef").mkdir()
    pd.DataFrame({"CPR": ["0101801234", "3112991234"], "AAR": ["2016", "2016"]}).to_csv(tmp_path / "bef" / "a.csv",
                                                                                    index=False)
    pyreadstat.write_dta(pd.DataFrame({"pnr": [12345678.0, np.nan], "x": [1.0, 2.0]}), str(tmp_path / "ind.dta"))
    pyreadstat.write_xport(pd.DataFrame({"CVR": ["DK87654321"], "y": [1.0]}), str(tmp_path / "firm.xpt"))
    pd.DataFrame({"person_id": ["AbCdEf-123456", "short"], "cvr_nr": [87654321.0, None]}).to_parquet(
        tmp_path / "p.parquet")
    pd.DataFrame({"OMR_ID": [123456789], "BUDGET": [1_105_000_000]}).to_parquet(tmp_path / "areas.parquet")
    found = collect_keys(tmp_path)
    # leading zeros kept (CSV read as text), float keys as integers, mixed case lower-cased, short keys dropped
    assert _decoded(found) == {"0101801234", "3112991234", "12345678", "dk87654321", "abcdef-123456", "87654321"}
    assert collect_keys(tmp_path, columns="CPR").n_keys == 2
    assert collect_keys(tmp_path, columns=["cpr", "PNR"], min_length=9).n_keys == 2
    assert scan_text("bruger AbCdEf-123456 og 0101801234", found) == ["key"]
    assert scan_text("budget 1105000000 i område 123123123", found) == []
    # a numeric key inside a longer number is reported: the scanner reports what the data hold
    assert scan_text("konto 9123456789", found) == ["key inside token"]


def test_collect_keys_errors_name_the_path_and_never_the_data(tmp_path):
    with pytest.raises(ParameterError, match="no_such_folder"):
        collect_keys(tmp_path / "no_such_folder")
    with pytest.raises(ParameterError, match="holds no data files"):
        collect_keys(tmp_path)
    with pytest.raises(ParameterError, match="min_length"):
        collect_keys(tmp_path, min_length=0)
    (tmp_path / "bad.parquet").write_text("PERSON_ID\nab12cd34ef56ab78\n")
    with pytest.raises(ParameterError, match="bad.parquet") as info:
        collect_keys(tmp_path)
    assert "ab12cd34ef56ab78" not in str(info.value)


# --------------------------------------------------------------------------- transforms are found
TRANSFORMS = {
    "exact": (lambda k: k, "key"),
    "upper case": (lambda k: k.upper(), "key"),
    "10-char prefix": (lambda k: k[:10], "key prefix"),
    "10-char suffix": (lambda k: k[-10:], "key suffix"),
    "md5": (lambda k: _hex("md5", k), "md5 of key"),
    "sha1": (lambda k: _hex("sha1", k), "sha1 of key"),
    "sha256": (lambda k: _hex("sha256", k), "sha256 of key"),
    "sha256 upper-case hex": (lambda k: _hex("sha256", k).upper(), "sha256 of key"),
    "16-char sha256 prefix": (lambda k: _hex("sha256", k)[:16], "sha256 of key"),
    "12-char sha1 prefix": (lambda k: _hex("sha1", k)[:12], "sha1 of key"),
    "sha256 of upper-case key": (lambda k: _hex("sha256", k.upper()), "sha256 of key"),
    "key inside a longer token": (lambda k: "id" + k, "key inside token"),
    "key before a letter": (lambda k: k + "x", "key inside token"),
    "key in a snake_case name": (lambda k: f"person_{k}_2019", "key inside token"),
    "HTML table": (lambda k: f"<table><tr><th>n</th></tr><tr><td>{k}</td><td>12</td></tr></table>", "key"),
    "JSON": (lambda k: json.dumps({"rows": [{"id": k, "n": 7}]}), "key"),
    "log line": (lambda k: f"2024-05-01 12:00:01 INFO dropped person={k} (no address)", "key"),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_of_a_key_is_found(keys, key, name):
    make, kind = TRANSFORMS[name]
    hits = scan_text(make(key), keys)
    assert kind in hits
    assert set(hits) <= set(KINDS) and not any(key in h or key.upper() in h for h in hits)


def test_resp_id_keys_of_twelve_characters_are_found(sim_dir, keys):
    resp = str(pd.read_parquet(sim_dir / "tryghed_survey.parquet", columns=["RESP_ID"])["RESP_ID"].iloc[3])
    assert scan_text(f"respondent {resp}", keys) == ["key"]
    assert "key prefix" in scan_text(resp[:keys.min_piece], keys)


def test_short_pieces_like_html_cell_ids_do_not_match_by_chance(keys):
    """nbconvert gives every cell an 8-hex id; with 600,000 keys some id is the suffix of a key."""
    assert keys.min_piece == piece_length(keys.keys.tolist()) >= 10
    suffix = keys.keys.tolist()[0].decode()[-8:]
    assert scan_text(f'<div class="jp-Cell" id="cell-id={suffix}">', keys) == []
    assert piece_length([b"%016x" % i for i in range(100)]) == 8
    assert piece_length([str(10**9 + i).encode() for i in range(10**5)]) == 11


# --------------------------------------------------------------------------- false positives do not fire
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4).decode()
CLEAN = {
    "adresse": "adresse",
    "CPR number": "The CPR number is never shown; see CPR_NR and PERSON_ID in the data contract.",
    "budget with commas": "Budget: 1,105,000,000 DKK",
    "budget with dots": "Budget: 1.105.000.000 kr.",
    "data-version hash": f"data version {_hex('sha256', 'data-v1')[:16]}",
    "full data hash": f"sha256:{_hex('sha256', 'data-v1')}",
    "years": " ".join(str(y) for y in range(2014, 2025)) + " and 2014-2024, 20142024",
    "Danish prose": ("Beskæftigelsesandelen steg med 3,4 procentpoint (95 %-KI 1,2-5,6) i de 17 områder "
                     "fra 2016 til 2019; 12.345 beboere i alt, heraf 1.105 i Gellerupparken."),
    "English prose": ("The employment share rose by 3.4 percentage points (95% CI 1.2 to 5.6) across 17 "
                      "areas between 2016 and 2019, with 12,345 residents and a budget of DKK 250,000,000."),
    "HTML report": "<html><body><table class='evalkit'><tr><td>K1</td><td>0.123</td></tr></table></body></html>",
}


@pytest.mark.parametrize("name", list(CLEAN))
def test_harmless_text_is_not_flagged(keys, name):
    assert scan_text(CLEAN[name], keys) == []


def test_base64_png_whose_payload_contains_a_key_is_skipped(keys, key):
    payload = PNG[:40] + key + PNG[40:]
    assert keys.find(payload)  # the payload itself holds the key ...
    html = f'<p>Figure 1</p><img alt="K1" src="data:image/png;base64,{payload}"/><p>2016-2019</p>'
    assert scan_text(html, keys) == []  # ... but an embedded image is not text a reviewer reads
    assert scan_text(json.dumps({"src": f"data:image/png;base64,{payload}"}), keys) == []
    assert scan_text(f"data:image/png;base64,{PNG} {key}", keys) == ["key"]  # text after the URI is scanned


# --------------------------------------------------------------------------- files and folders
def test_scan_file_skips_images_and_reads_text(tmp_path, keys, key):
    (tmp_path / "figure.png").write_bytes(b"\x89PNG\r\n" + key.encode())
    (tmp_path / "table.html").write_bytes(f"<td>{key}</td>".encode() + b"\xff\xfe broken utf-8")
    assert scan_file(tmp_path / "figure.png", keys) == []
    assert scan_file(tmp_path / "table.html", keys) == ["key"]


def test_scan_tree_reports_relative_paths_of_files_with_keys_only(tmp_path, keys, key):
    (tmp_path / "tables").mkdir()
    (tmp_path / "index.html").write_text("<h1>Evaluering</h1><p>" + CLEAN["Danish prose"] + "</p>", encoding="utf-8")
    (tmp_path / "tables" / "k1.json").write_text(json.dumps({"note": "dropped", "who": [key[:12]]}))
    (tmp_path / "run.log").write_text(CLEAN["English prose"] + "\n" + CLEAN["data-version hash"])
    (tmp_path / "figure.png").write_bytes(key.encode())
    result = scan_tree(tmp_path, keys)
    assert result == {"tables/k1.json": ["key prefix"]}
    assert key[:8] not in json.dumps(result)
    with pytest.raises(ParameterError, match="missing"):
        scan_tree(tmp_path / "missing", keys)


def test_scan_text_requires_a_key_set():
    with pytest.raises(ParameterError, match="KeySet"):
        scan_text("text", {"ab12cd34ef56ab78"})


def test_short_keys_are_ignored_and_an_empty_key_set_finds_nothing():
    keyset = KeySet.from_values([12, "12345", None, float("nan"), 1234567.0], min_length=6)
    assert _decoded(keyset) == {"1234567"} and len(keyset) == 1
    assert scan_text("12 12345 1234567", keyset) == ["key"]
    assert scan_text("anything 1234567", KeySet.from_values([])) == []


# --------------------------------------------------------------------------- property: random keys and text
WORDS = ("og i af til den det er som på med for ikke at de en et har var kommune område beboere adresse "
         "the and of to in is was for on with residents area budget employment share report table figure "
         "CPR PERSON_ID RESP_ID K1 K2 DKK kr. pct. % (95 CI) 2014 2019 2024 1,105,000,000 3.4 -1.2").split()


def _random_key(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return "".join(rng.choices("0123456789abcdef", k=16))
    if kind == 1:
        return "".join(rng.choices(string.digits, k=10))
    return "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(8, 20)))


def _random_text(rng: random.Random) -> list[str]:
    words = rng.choices(WORDS, k=rng.randint(1, 60))
    return words + [f"{rng.randint(0, 999_999):,}".replace(",", rng.choice(".,")) for _ in range(rng.randint(0, 5))]


def test_random_text_has_no_hit_and_an_inserted_key_is_found():
    rng = random.Random(20240501)
    for _ in range(60):  # each KeySet opens a DuckDB connection (~12 ms) to hash its keys
        keyset = KeySet.from_values([_random_key(rng) for _ in range(rng.randint(1, 50))])
        chosen = rng.choice(sorted(_decoded(keyset)))
        words = _random_text(rng)
        rng.shuffle(words)
        assert scan_text(" ".join(words), keyset) == []
        shown = chosen.upper() if rng.random() < 0.5 else chosen
        words.insert(rng.randint(0, len(words)), rng.choice(["{}", "<td>{}</td>", '"{}",', "({})"]).format(shown))
        hits = scan_text(" ".join(words), keyset)
        assert "key" in hits


@pytest.mark.parametrize("disguise, kind", [
    (lambda k: " ".join(k[i:i + 4] for i in range(0, len(k), 4)), "key split by separators"),
    (lambda k: "-".join(k[i:i + 4] for i in range(0, len(k), 4)), "key split by separators"),
    (lambda k: k[::-1], "reversed key"),
    (lambda k: __import__("base64").b64encode(k.encode()).decode(), "key in base64"),
])
def test_disguised_keys_are_found(keys, key, disguise, kind):
    """Found by a user trying to break the gate: spaced, dashed, reversed and base64 keys."""
    assert scan_text(f"note: {disguise(key)} moved", keys) == [kind]
