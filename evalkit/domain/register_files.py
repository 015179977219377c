"""Register files -> the DuckDB view ``register`` in the data-contract names.

The files may be several yearly files (``bef2015.parquet``, ``bef2016.sas7bdat``) in Parquet,
CSV, SAS (``.sas7bdat``, ``.xpt``) or Stata; each is read with the readers of
:mod:`evalkit.data.io` (Parquet and CSV scanned in place, SAS and Stata streamed in chunks)
and the selected, renamed columns are stacked. A merged layout (one person-year file with
every variable) becomes the view directly; separate registers (BEF, RAS/AKM, IND, UDDA,
KRAF) are stacked register by register and joined by :mod:`evalkit.domain.register_join`.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from evalkit.data import io
from evalkit.domain.register import VARIABLES, RegisterConfig, needed_keys
from evalkit.domain.register_join import open_joined
from evalkit.domain.register_read import glob_files, stacked_sql
from evalkit.errors import ColumnError, ParameterError

__all__ = ["glob_files", "open_register", "read_areas", "register_files", "stacked_sql"]

_SIDE_FILES = {"interventions.csv", "tryghed_survey.parquet"}


def register_files(source: Path, config: RegisterConfig) -> list[Path]:
    """The register files under ``source`` (a folder) or ``source`` itself (a file), merged layout."""
    source = Path(source)
    if not source.exists():
        raise ParameterError(f"data={str(source)!r} does not exist.")
    if source.is_file():
        if source.suffix.lower() not in io.SUPPORTED:
            raise ParameterError(f"data={str(source)!r} is not a register file: its suffix must be one of "
                                 f"{io.SUPPORTED} (or give the folder that holds the files).")
        return [source]
    if config.files:
        return glob_files(source, config.files, "configuration key 'files'")
    if (source / "person_years").is_dir():
        return glob_files(source, ("person_years/*",), "default person_years/*")
    skip = _SIDE_FILES | {str(config.areas_file)}
    found = sorted(p for p in source.iterdir() if p.name not in skip and p.suffix.lower() in io.SUPPORTED)
    if not found:
        raise ParameterError(f"data={str(source)!r} holds no register files matching person_years/* or * "
                             f"with a suffix in {io.SUPPORTED}.")
    return found


def open_register(
    source: str | Path, config: RegisterConfig | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
    memory_limit: str | None = None, threads: int | None = None,
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Expose the register files as the DuckDB view ``register`` (canonical names); return (con, name)."""
    config = config or RegisterConfig()
    con = con or io.connect(memory_limit=memory_limit, threads=threads)
    if config.registers:
        return open_joined(con, Path(source), config)
    sql = stacked_sql(con, register_files(Path(source), config), config, needed_keys(config), "merged")
    con.execute("CREATE OR REPLACE TEMP VIEW register AS " + sql)
    return con, "register"


def read_areas(source: str | Path, config: RegisterConfig):
    """The areas table (``OMR_ID``, ``REGION``) when ``config.areas_file`` exists, else ``None``."""
    if not config.areas_file:
        return None
    base = Path(source) if Path(source).is_dir() else Path(source).parent
    path = Path(config.areas_file) if Path(config.areas_file).is_absolute() else base / config.areas_file
    if not path.exists():
        return None
    frame = io.read_table(path)
    by_lower = {str(c).lower(): c for c in frame.columns}
    picked = {}
    for key in ("area", "region"):
        actual = by_lower.get(getattr(config, key).lower())
        if actual is None:
            raise ColumnError(f"{path.name}: no column {getattr(config, key)!r} for configuration key {key!r}; "
                              f"columns: {sorted(map(str, frame.columns))}.")
        picked[VARIABLES[key][0]] = frame[actual]
    return pd.DataFrame(picked)
