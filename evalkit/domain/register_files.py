"""Register files -> the DuckDB view ``register`` in the data-contract names.

The files may be several yearly files (``bef2015.parquet``, ``bef2016.sas7bdat``) in Parquet,
CSV, SAS (``.sas7bdat``, ``.xpt``) or Stata; each is read with the readers of
:mod:`evalkit.data.io` (Parquet and CSV scanned in place, SAS and Stata streamed in chunks)
and the selected, renamed columns are stacked. A merged layout (one person-year file with
every variable) becomes the view directly; separate registers (BEF, RAS/AKM, IND, UDDA,
KRAF) are stacked register by register and joined by :mod:`evalkit.domain.register_join`.
"""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from evalkit.data import io
from evalkit.domain.register import VARIABLES, RegisterConfig, needed_keys
from evalkit.errors import ColumnError, ParameterError, closest

_NUMERIC = {"year": "INTEGER", "birth_year": "INTEGER", "area": "BIGINT", "region": "INTEGER",
            "outside_fte": "DOUBLE", "education_fte": "DOUBLE", "income": "DOUBLE", "convicted": "DOUBLE"}
_SIDE_FILES = {"interventions.csv", "tryghed_survey.parquet"}
_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def glob_files(source: Path, patterns: tuple, what: str) -> list[Path]:
    """Readable files under the folder ``source`` matching the glob ``patterns``, or a clear error."""
    found = sorted({p for pattern in patterns for p in source.glob(pattern)})
    found = [p for p in found if p.is_file() and p.suffix.lower() in io.SUPPORTED]
    if not found:
        raise ParameterError(f"data={str(source)!r} holds no register files matching {list(patterns)} "
                             f"({what}) with a suffix in {io.SUPPORTED}.")
    return found


def register_files(source: Path, config: RegisterConfig) -> list[Path]:
    """The register files under ``source`` (a folder) or ``source`` itself (a file), merged layout."""
    source = Path(source)
    if not source.exists():
        raise ParameterError(f"data={str(source)!r} does not exist.")
    if source.is_file():
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


def _raw_relation(con: duckdb.DuckDBPyConnection, path: Path, index: str) -> str:
    """A relation (SQL FROM clause) over one file, read with the evalkit.data.io readers."""
    suffix = path.suffix.lower()
    if suffix in io.SCAN_FUNCTIONS:
        return f"{io.SCAN_FUNCTIONS[suffix]}({io._sql_list([path])})"
    table = f"_register_raw_{index}"
    io._load_readstat(con, table, [path], chunksize=500_000)
    return table


def _select_list(path: Path, columns: list[str], config: RegisterConfig, keys: list[str]) -> str:
    """``SELECT`` items renaming the file's ``keys`` columns to the canonical names, or a clear error."""
    by_lower = {c.lower(): c for c in columns}
    items = []
    for key in keys:
        canonical, meaning = VARIABLES[key]
        wanted = getattr(config, key)
        actual = by_lower.get(wanted.lower())
        if actual is None and key == "year" and _YEAR_IN_NAME.search(path.name):
            items.append(f"CAST({_YEAR_IN_NAME.search(path.name).group(1)} AS INTEGER) AS {canonical}")
            continue
        if actual is None:
            raise ColumnError(
                f"{path.name}: register variable {key!r} ({meaning}) not found: no column {wanted!r}. "
                f"Set the configuration key {key!r} to the column that holds it; columns: {sorted(columns)}."
                + closest(wanted, columns))
        quoted = '"' + actual.replace('"', '""') + '"'
        cast = _NUMERIC.get(key)
        items.append(f"CAST({quoted} AS {cast}) AS {canonical}" if cast else f"{quoted} AS {canonical}")
    return ", ".join(items)


def stacked_sql(con: duckdb.DuckDBPyConnection, paths: list[Path], config: RegisterConfig,
                keys: list[str], tag: str) -> str:
    """SQL stacking the ``keys`` columns of every file in ``paths`` (``UNION ALL BY NAME``)."""
    selects = []
    for index, path in enumerate(paths):
        relation = _raw_relation(con, path, f"{tag}_{index}")
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        selects.append(f"SELECT {_select_list(path, columns, config, keys)} FROM {relation}")
    return "\nUNION ALL BY NAME\n".join(selects)


def open_register(
    source: str | Path, config: RegisterConfig | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
    memory_limit: str | None = None, threads: int | None = None,
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Expose the register files as the DuckDB view ``register`` (canonical names); return (con, name)."""
    config = config or RegisterConfig()
    con = con or io.connect(memory_limit=memory_limit, threads=threads)
    if config.registers:
        from evalkit.domain.register_join import open_joined

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
