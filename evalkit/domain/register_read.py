"""Register files -> SQL that stacks their selected, renamed columns (the readers of :mod:`evalkit.data.io`).

The bottom of the register readers: :mod:`evalkit.domain.register_files` (merged layout) and
:mod:`evalkit.domain.register_join` (separate registers) both build on it, and it imports neither.
"""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

from evalkit.data import io
from evalkit.domain.register import VARIABLES, RegisterConfig
from evalkit.errors import ColumnError, ParameterError, closest

_NUMERIC = {"year": "INTEGER", "birth_year": "INTEGER", "area": "BIGINT", "region": "INTEGER",
            "outside_fte": "DOUBLE", "education_fte": "DOUBLE", "income": "DOUBLE", "convicted": "DOUBLE"}
_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def glob_files(source: Path, patterns: tuple, what: str) -> list[Path]:
    """Readable files under the folder ``source`` matching the glob ``patterns``, or a clear error."""
    found = sorted({p for pattern in patterns for p in source.glob(pattern)})
    found = [p for p in found if p.is_file() and p.suffix.lower() in io.SUPPORTED]
    if not found:
        raise ParameterError(f"data={str(source)!r} holds no register files matching {list(patterns)} "
                             f"({what}) with a suffix in {io.SUPPORTED}.")
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
