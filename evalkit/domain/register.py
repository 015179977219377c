"""Register files as a researcher has them -> one DuckDB view in the data-contract names.

A :class:`RegisterConfig` maps each register variable (a *configuration key* such as
``person_id``) to the column name in the researcher's files (``PNR``). The files may be
several yearly files (``bef2015.parquet``, ``bef2016.sas7bdat``) in Parquet, CSV, SAS
(``.sas7bdat``, ``.xpt``) or Stata; each is read with the readers of
:mod:`evalkit.data.io` (Parquet and CSV scanned in place, SAS and Stata streamed in
chunks) and the selected, renamed columns are stacked in the view ``register``.
The default configuration maps the simulator's names (``docs/data_contract.md``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from evalkit.data import io
from evalkit.errors import ColumnError, ParameterError, closest

#: configuration key -> canonical column (the data contract) and what it holds
VARIABLES = {
    "person_id": ("PERSON_ID", "pseudonymised person key (BEF)"),
    "year": ("AAR", "year; address on 1 January (BEF)"),
    "birth_year": ("FOED_AAR", "birth year (BEF)"),
    "origin": ("HERKOMST", "origin; non-western values in nonwestern_values (BEF)"),
    "education": ("HFAUDD", "highest completed education; basic values in basic_education_values (UDDA)"),
    "area": ("OMR_ID", "boligområde of the address on 1 January; null = outside the areas"),
    "region": ("REGION", "region of the address (5 regions)"),
    "outside_fte": ("UDENFOR_FTE", "full-time fraction outside labour market and education (RAS/AKM)"),
    "education_fte": ("UDD_FTE", "full-time fraction in education (RAS/AKM)"),
    "income": ("PERINDKIALT", "gross income, DKK; null = not a taxpayer (IND)"),
    "convicted": ("DOMFAELDT", "convictions under the penal code, weapons or drugs act in the year; > 0 = convicted (KRAF)"),
}
_NUMERIC = {"year": "INTEGER", "birth_year": "INTEGER", "area": "BIGINT", "region": "INTEGER",
            "outside_fte": "DOUBLE", "education_fte": "DOUBLE", "income": "DOUBLE", "convicted": "DOUBLE"}
_SIDE_FILES = {"interventions.csv", "tryghed_survey.parquet"}
_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@dataclass(frozen=True)
class RegisterConfig:
    """Where the register variables are. Every field is a configuration key.

    Variable keys (``person_id`` ... ``convicted``, see :data:`VARIABLES`) name the
    column in the files (matched case-insensitively). ``year`` may be absent from
    a file whose name holds the year (``bef2016.sas7bdat``). ``files`` are glob
    patterns under the data folder (default: ``person_years/*`` when that folder
    exists, else every readable file but the areas file). ``areas_file`` is an
    optional table with ``area`` and ``region`` columns that fixes each area's region.
    """

    person_id: str = "PERSON_ID"
    year: str = "AAR"
    birth_year: str = "FOED_AAR"
    origin: str = "HERKOMST"
    education: str = "HFAUDD"
    area: str = "OMR_ID"
    region: str = "REGION"
    outside_fte: str = "UDENFOR_FTE"
    education_fte: str = "UDD_FTE"
    income: str = "PERINDKIALT"
    convicted: str = "DOMFAELDT"
    nonwestern_values: tuple = ("ikke_vestlig",)
    basic_education_values: tuple = ("grundskole",)
    unknown_education_values: tuple = ()
    files: tuple = ()
    areas_file: str | None = "areas.parquet"

    @classmethod
    def from_mapping(cls, mapping: dict | None) -> "RegisterConfig":
        """Build from a dict (e.g. parsed YAML); unknown keys raise :class:`ParameterError`."""
        mapping = dict(mapping or {})
        known = [f.name for f in fields(cls)]
        for key in mapping:
            if key not in known:
                raise ParameterError(f"unknown register configuration key {key!r}; valid keys: {known}."
                                     + closest(key, known))
        for key in ("nonwestern_values", "basic_education_values", "unknown_education_values", "files"):
            if key in mapping:
                value = mapping[key]
                mapping[key] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        for key in VARIABLES:
            if key in mapping and not isinstance(mapping[key], str):
                raise ParameterError(f"register configuration key {key!r} must be a column name, got {mapping[key]!r}.")
        return replace(cls(), **mapping)


def load_register_config(config: "RegisterConfig | dict | str | Path | None") -> RegisterConfig:
    """A :class:`RegisterConfig` from itself, a dict, a YAML file, or ``None`` (simulator names)."""
    if config is None or isinstance(config, RegisterConfig):
        return config or RegisterConfig()
    if isinstance(config, dict):
        return RegisterConfig.from_mapping(config)
    path = Path(config)
    if not path.exists():
        raise ParameterError(f"config={str(path)!r} does not exist.")
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"config={str(path)!r} must hold a YAML mapping of key: column name.")
    return RegisterConfig.from_mapping(loaded)


def register_files(source: Path, config: RegisterConfig) -> list[Path]:
    """The register files under ``source`` (a folder) or ``source`` itself (a file)."""
    source = Path(source)
    if not source.exists():
        raise ParameterError(f"data={str(source)!r} does not exist.")
    if source.is_file():
        return [source]
    if config.files:
        found = sorted({p for pattern in config.files for p in source.glob(pattern)})
    elif (source / "person_years").is_dir():
        found = sorted((source / "person_years").iterdir())
    else:
        skip = _SIDE_FILES | {str(config.areas_file)}
        found = sorted(p for p in source.iterdir() if p.name not in skip)
    found = [p for p in found if p.is_file() and p.suffix.lower() in io.SUPPORTED]
    if not found:
        raise ParameterError(f"data={str(source)!r} holds no register files matching "
                             f"{list(config.files) or 'person_years/* or *'} with a suffix in {io.SUPPORTED}.")
    return found


def _raw_relation(con: duckdb.DuckDBPyConnection, path: Path, index: int) -> str:
    """A relation (SQL FROM clause) over one file, read with the evalkit.data.io readers."""
    suffix = path.suffix.lower()
    if suffix in io.SCAN_FUNCTIONS:
        return f"{io.SCAN_FUNCTIONS[suffix]}({io._sql_list([path])})"
    table = f"_register_raw_{index}"
    io._load_readstat(con, table, [path], chunksize=500_000)
    return table


def _select_list(path: Path, columns: list[str], config: RegisterConfig) -> str:
    """``SELECT`` items renaming the file's columns to the canonical names, or a clear error."""
    by_lower = {c.lower(): c for c in columns}
    items = []
    for key, (canonical, meaning) in VARIABLES.items():
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


def open_register(
    source: str | Path, config: RegisterConfig | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
    memory_limit: str | None = None, threads: int | None = None,
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Expose the register files as the DuckDB view ``register`` (canonical names); return (con, name)."""
    config = config or RegisterConfig()
    con = con or io.connect(memory_limit=memory_limit, threads=threads)
    selects = []
    for index, path in enumerate(register_files(Path(source), config)):
        relation = _raw_relation(con, path, index)
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        selects.append(f"SELECT {_select_list(path, columns, config)} FROM {relation}")
    con.execute("CREATE OR REPLACE TEMP VIEW register AS " + "\nUNION ALL BY NAME\n".join(selects))
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
