"""Readers: register microdata from Parquet, CSV, SAS or Stata into DuckDB.

Everything is exposed as a DuckDB view so panels are built out of core: Parquet
and CSV are scanned in place; SAS (``.sas7bdat``, ``.xpt``) and Stata (``.dta``)
files are streamed through :mod:`pyreadstat` in chunks into a DuckDB table.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from evalkit.errors import ParameterError

READSTAT_READERS = {".sas7bdat": "read_sas7bdat", ".xpt": "read_xport", ".dta": "read_dta"}
SCAN_FUNCTIONS = {".parquet": "read_parquet", ".csv": "read_csv_auto"}
SUPPORTED = sorted([*READSTAT_READERS, *SCAN_FUNCTIONS])


def connect(memory_limit: str | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB connection (spills to disk when data exceed memory) without DuckDB's
    own progress bar: in a Jupyter kernel with ipywidgets installed DuckDB draws a widget into the
    notebook, which a report run must not show (evalkit's long work reports through evalkit.progress)."""
    con = duckdb.connect()
    try:  # DuckDB refuses the setting in some kernels (without ipywidgets); then it draws no widget either
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _files(source: Path, param: str = "source") -> list[Path]:
    """Resolve a directory (data-contract layout or a folder of files) to files; errors name ``param``."""
    if source.is_dir():
        nested = source / "person_years"
        folder = nested if nested.is_dir() else source
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED)
        if not files:
            raise ParameterError(
                f"{param}={str(source)!r} holds no microdata files; expected a person_years/ folder "
                f"or files ending in {SUPPORTED}."
            )
        return files
    if not source.exists():
        raise ParameterError(f"{param}={str(source)!r} does not exist.")
    if source.suffix.lower() not in SUPPORTED:
        raise ParameterError(
            f"{param}={str(source)!r} has an unsupported format {source.suffix!r}; use one of {SUPPORTED}."
        )
    return [source]


def _sql_list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def _load_readstat(con: duckdb.DuckDBPyConnection, name: str, files: list[Path], chunksize: int) -> None:
    """Stream SAS/Stata files chunk by chunk into the DuckDB table ``name``."""
    import pyreadstat

    created = False
    for path in files:
        reader = getattr(pyreadstat, READSTAT_READERS[path.suffix.lower()])
        for chunk, _meta in pyreadstat.read_file_in_chunks(reader, str(path), chunksize=chunksize):
            chunk = _blank_to_null(chunk)
            con.register("_evalkit_chunk", chunk)
            verb = f"INSERT INTO {name} SELECT *" if created else f"CREATE OR REPLACE TABLE {name} AS SELECT *"
            con.execute(f"{verb} FROM _evalkit_chunk")
            con.unregister("_evalkit_chunk")
            created = True


def _blank_to_null(chunk: pd.DataFrame) -> pd.DataFrame:
    """SAS and Stata store a missing string as ''; make it a proper null."""
    for col in chunk.columns:
        if not pd.api.types.is_numeric_dtype(chunk[col]):
            chunk[col] = chunk[col].mask(chunk[col] == "")
    return chunk


def register_microdata(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | pd.DataFrame,
    *,
    name: str = "person_years",
    chunksize: int = 500_000,
    param: str = "source",
) -> str:
    """Expose ``source`` as the DuckDB relation ``name`` and return the name.

    ``source`` may be a pandas DataFrame, a file (Parquet, CSV, SAS, Stata), a folder of
    such files, or a data directory in the layout of ``docs/data_contract.md``.
    Files of one format only; the caller's DataFrame is never modified. ``param`` is the name
    error messages give ``source`` (the caller's parameter, e.g. ``data_dir``).
    """
    if isinstance(source, pd.DataFrame):
        con.register(name, source)
        return name
    files = _files(Path(source), param)
    suffixes = {f.suffix.lower() for f in files}
    if len(suffixes) > 1:
        raise ParameterError(f"{param}={str(source)!r} mixes file formats {sorted(suffixes)}; keep one format per "
                             "folder.")
    suffix = suffixes.pop()
    if suffix in SCAN_FUNCTIONS:
        scan = SCAN_FUNCTIONS[suffix]
        extra = ", union_by_name = true" if suffix == ".parquet" else ""
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {scan}({_sql_list(files)}{extra})")
    else:
        _load_readstat(con, name, files, chunksize)
    return name


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a small side table (areas, interventions) from Parquet, CSV, SAS or Stata."""
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"{str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in READSTAT_READERS:
        import pyreadstat

        frame, _meta = getattr(pyreadstat, READSTAT_READERS[suffix])(str(path))
        return frame
    raise ParameterError(f"{str(path)!r} has an unsupported format; use one of {SUPPORTED}.")
