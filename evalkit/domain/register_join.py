"""Separate registers joined on person and year, BEF as the population (all in DuckDB).

Statistics Denmark delivers BEF (population and address on 1 January), RAS/AKM (labour
market), IND (income), UDDA (highest completed education) and KRAF (convictions) as separate
registers, often one file per year. Each register is stacked over its files (the year may
come from the file name), checked for one row per (person, year), and LEFT JOINed from the
population register on (person, year): BEF decides who lives where, nobody is dropped.

A person-year of BEF without a row in another register gets, per variable:

* ``income`` null: not a taxpayer (left out of K4), as in IND;
* ``convicted`` 0: not convicted (K2), as KRAF only holds convictions;
* ``education`` null: unknown education (K3 by ``ListRules.unknown_education``);
* ``outside_fte``, ``education_fte`` null: labour-market status unknown. The person is left
  out of K1 (numerator and denominator ``n_18_64``; :func:`evalkit.domain.indicators.area_indicators`
  warns with the count) and, as before, counts as not in education for K4. Counting a missing
  RAS/AKM row as "outside" would push K1 up for people who emigrated or died before November.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import duckdb

from evalkit.domain.register import JOIN_KEYS, VARIABLES, RegisterConfig, RegisterSpec, needed_keys
from evalkit.domain.register_read import glob_files, stacked_sql
from evalkit.errors import stack_level, EvalkitWarning, ParameterError, ValidationError

#: the value a variable takes when the person-year has no row in the register holding it
MISSING_VALUE = {"convicted": "0.0"}


def _register_keys(spec: RegisterSpec) -> list[str]:
    """Join keys first, then the register's variables (each once)."""
    return list(JOIN_KEYS) + [v for v in spec.variables if v not in JOIN_KEYS]


def _check_key_types(con: duckdb.DuckDBPyConnection, config: RegisterConfig) -> None:
    """The person key has one type in every register, or the join would silently match nobody."""
    types = {}
    for spec in config.registers:
        described = {row[0]: row[1] for row in con.execute(f"DESCRIBE register_{spec.name}").fetchall()}
        types[spec.name] = described["PERSON_ID"]
    if len({t == "VARCHAR" for t in types.values()}) > 1:   # text vs number; numbers compare as numbers
        raise ValidationError(
            f"the person key (configuration key person_id) has different types across registers: {types}. "
            "Store it with one type in every register (CSV readers guess types: a numeric-looking key "
            "becomes a number; convert the file to Parquet or SAS with the key as text).")


def _check_sql(config: RegisterConfig) -> str:
    """SQL, one pass over the keys of every register: per register, the person-years it holds more than
    once (and the first such year), its rows without a population person-year, and its rows."""
    names = [config.population_register] + [s.name for s in config.registers if s.name != config.population_register]
    union = " UNION ALL ".join(f"SELECT PERSON_ID, AAR, {i} AS src FROM register_{n}" for i, n in enumerate(names))
    counts = ", ".join(f"count(*) FILTER (src = {i}) AS n{i}" for i in range(len(names)))
    per = ", ".join(f"count(*) FILTER (n{i} > 1), min(AAR) FILTER (n{i} > 1), "
                    f"coalesce(sum(n{i}) FILTER (n0 = 0), 0), sum(n{i})" for i in range(len(names)))
    return f"WITH g AS (SELECT AAR, {counts} FROM ({union}) GROUP BY PERSON_ID, AAR) SELECT {per} FROM g"


def _check_registers(con: duckdb.DuckDBPyConnection, config: RegisterConfig) -> None:
    """One row per (person, year) in each register (no person key shown); rows of a register that match
    no BEF person-year are not used: warned with the count, an error when none match (a key or year
    mismatch rather than a population difference)."""
    pop = config.population_register
    specs = [config.population] + [s for s in config.registers if s.name != pop]
    row = con.execute(_check_sql(config)).fetchone()
    for index, spec in enumerate(specs):
        dups, first_year, unmatched, total = row[4 * index:4 * index + 4]
        where = f"register {spec.name!r} (files {list(spec.files)}, configuration key registers.{spec.name}.files)"
        if dups:
            raise ValidationError(
                f"{where} holds {dups} person-year(s) more than once (first in year {first_year}); (person_id, "
                "year) must be unique within each register, or the join on person and year would duplicate "
                "residents. Aggregate the register to one row per person and year first (KRAF, for one, "
                "holds a row per verdict).")
        if index and total and unmatched == total:
            raise ValidationError(f"no row of {where} matches a person-year of {pop!r}; check that person_id "
                                  "holds the same key and the years line up (a year column, or the year in "
                                  "the file name).")
        if index and unmatched:
            warnings.warn(f"{unmatched} of {total} rows of {where} match no person-year of the population "
                          f"register {pop!r} and are not used.", EvalkitWarning, stacklevel=stack_level())


def _column(config: RegisterConfig, key: str) -> str:
    """The joined view's column for ``key``: from its register, with the missing-row rule."""
    canonical = VARIABLES[key][0]
    spec = config.owner(key)
    source = f"r_{spec.name}.{canonical}"
    if spec.name != config.population_register and key in MISSING_VALUE:
        return f"coalesce({source}, {MISSING_VALUE[key]}) AS {canonical}"
    return f"{source} AS {canonical}"


def joined_sql(config: RegisterConfig) -> str:
    """SQL: BEF LEFT JOIN every other register on (person, year), canonical column names."""
    pop = config.population_register
    joins = [f"LEFT JOIN register_{s.name} AS r_{s.name} ON r_{s.name}.PERSON_ID = r_{pop}.PERSON_ID "
             f"AND r_{s.name}.AAR = r_{pop}.AAR" for s in config.registers if s.name != pop]
    columns = ", ".join(_column(config, key) for key in needed_keys(config))
    return f"SELECT {columns}\nFROM register_{pop} AS r_{pop}\n" + "\n".join(joins)


def open_joined(con: duckdb.DuckDBPyConnection, source: Path,
                config: RegisterConfig) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Views ``register_<name>`` per register and the joined view ``register``; return (con, name)."""
    if not source.is_dir():
        raise ParameterError(f"data={str(source)!r} must be a folder when separate registers are configured "
                             "(configuration key 'registers').")
    for spec in config.registers:
        paths = glob_files(source, spec.files, f"configuration key registers.{spec.name}.files")
        view = f"register_{spec.name}"
        sql = stacked_sql(con, paths, config, _register_keys(spec), spec.name)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
    _check_key_types(con, config)
    _check_registers(con, config)
    con.execute("CREATE OR REPLACE TEMP VIEW register AS " + joined_sql(config))
    return con, "register"
