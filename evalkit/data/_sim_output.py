"""Arrow tables in the exact layout of docs/data_contract.md, and the output directory."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.data import _sim_params as P
from evalkit.data import _sim_rng as R
from evalkit.errors import ParameterError

PERSON_YEAR_SCHEMA = pa.schema([
    ("PERSON_ID", pa.string()), ("AAR", pa.int16()), ("FOED_AAR", pa.int16()),
    ("KOEN", pa.int8()), ("HERKOMST", pa.string()), ("IE_TYPE", pa.int8()),
    ("HFAUDD", pa.string()), ("OMR_ID", pa.int32()), ("REGION", pa.int16()),
    ("BESK_FTE", pa.float32()), ("UDD_FTE", pa.float32()), ("UDENFOR_FTE", pa.float32()),
    ("PERINDKIALT", pa.float64()), ("DOMFAELDT", pa.int8()),
])
SURVEY_SCHEMA = pa.schema([
    ("RESP_ID", pa.string()), ("AAR", pa.int16()), ("OMR_ID", pa.int32()),
    ("KOEN", pa.int8()), ("ALDER", pa.int16()), ("HERKOMST", pa.string()), ("VAEGT", pa.float64()),
    ("TRYG", pa.int8()),
])
_OWNED = ("areas.parquet", "interventions.csv", "tryghed_survey.parquet", "manifest.json")


def decode(codes: np.ndarray, labels: tuple, null_code: int | None = None) -> pa.Array:
    """String array from small integer codes (``null_code`` -> null)."""
    codes = np.asarray(codes, dtype=np.int8)
    mask = None if null_code is None else codes == null_code
    idx = pa.array(np.where(codes == null_code, 0, codes) if mask is not None else codes, mask=mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(list(labels))).cast(pa.string())


def omr_array(omr: np.ndarray) -> pa.Array:
    """OMR_ID with 0 (outside) as null."""
    omr = np.asarray(omr, dtype=np.int32)
    return pa.array(omr, type=pa.int32(), mask=omr == 0)


def person_year_table(seed: int, rec: dict, year: int) -> pa.Table:
    """One year of person-year rows (record dict from the simulation)."""
    n = len(rec["id"])
    cols = [
        R.person_ids(seed, rec["id"]), pa.array(np.full(n, year, dtype=np.int16)),
        pa.array(rec["foed"].astype(np.int16)), pa.array(rec["koen"].astype(np.int8)),
        decode(rec["origin"], P.HERKOMST), pa.array(rec["ie"].astype(np.int8)),
        decode(rec["edu"], P.HFAUDD, P.UNKNOWN_EDU), omr_array(rec["omr"]),
        pa.array(rec["region"].astype(np.int16)), pa.array(rec["besk"].astype(np.float32)),
        pa.array(rec["udd"].astype(np.float32)), pa.array(rec["udenfor"].astype(np.float32)),
        pa.array(rec["income"].astype(np.float64)), pa.array(rec["domf"].astype(np.int8)),
    ]
    return pa.Table.from_arrays(cols, schema=PERSON_YEAR_SCHEMA)


def write_parquet(table: pa.Table, path: Path) -> int:
    """Write one parquet file; returns its row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return table.num_rows


def part_path(out: Path, part: int) -> Path:
    return out / "person_years" / f"part-{part:05d}.parquet"


def _is_simulate_output(out: Path) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("generator", "")).startswith("evalkit.simulate")


def prepare_dir(out) -> Path:
    """Create ``out``, or clear a previous simulate output; refuse other non-empty dirs."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"out={str(out)!r} exists and is not a directory.")
    if out.exists() and any(out.iterdir()):
        if not _is_simulate_output(out):
            raise ParameterError(
                f"out={str(out)!r} is not empty and holds no simulate output (no evalkit manifest.json); "
                "choose an empty or new directory.")
        for sub in ("person_years", "truth"):
            shutil.rmtree(out / sub, ignore_errors=True)
        for name in _OWNED:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
