"""Schemas of the register microdata (see ``docs/data_contract.md``), checked with pandera.

Large inputs are checked out of core: DuckDB streams record batches through the
pandera schema, and the cross-batch key check ((PERSON_ID, AAR) unique) runs in SQL.
"""
from __future__ import annotations

import duckdb
import pandas as pd
import pandera.pandas as pa
from pandas.api import types as ptypes

from evalkit.errors import ColumnError, ValidationError, closest

HFAUDD_LEVELS = ["grundskole", "gymnasial", "erhvervsfaglig", "videregaaende"]
HERKOMST_LEVELS = ["dansk", "vestlig", "ikke_vestlig"]


def _numeric() -> pa.Check:
    return pa.Check(lambda s: ptypes.is_numeric_dtype(s), error="must be numeric")


def _fraction(name: str) -> pa.Column:
    return pa.Column(checks=[_numeric(), pa.Check.in_range(0.0, 1.0)], nullable=False, title=name)


PERSON_YEARS = pa.DataFrameSchema(
    {
        "PERSON_ID": pa.Column(nullable=False),
        "AAR": pa.Column(checks=[_numeric(), pa.Check.in_range(1900, 2100)], nullable=False),
        "FOED_AAR": pa.Column(checks=[_numeric(), pa.Check.in_range(1880, 2100)], nullable=False),
        "KOEN": pa.Column(checks=pa.Check.isin([1, 2]), nullable=False),
        "HERKOMST": pa.Column(checks=pa.Check.isin(HERKOMST_LEVELS), nullable=False),
        "HFAUDD": pa.Column(checks=pa.Check.isin(HFAUDD_LEVELS), nullable=True),
        "OMR_ID": pa.Column(checks=_numeric(), nullable=True),
        "REGION": pa.Column(checks=pa.Check.isin([1081, 1082, 1083, 1084, 1085]), nullable=False),
        "BESK_FTE": _fraction("BESK_FTE"),
        "UDD_FTE": _fraction("UDD_FTE"),
        "UDENFOR_FTE": _fraction("UDENFOR_FTE"),
        "PERINDKIALT": pa.Column(checks=_numeric(), nullable=True),
        "DOMFAELDT": pa.Column(checks=pa.Check.isin([0, 1]), nullable=False),
    },
    strict=False,
    name="person_years",
)

INTERVENTIONS = pa.DataFrameSchema(
    {
        "OMR_ID": pa.Column(checks=_numeric(), nullable=False),
        "intervention": pa.Column(str, nullable=False),
        "start_year": pa.Column(checks=[_numeric(), pa.Check.in_range(1900, 2100)], nullable=False),
        "end_year": pa.Column(checks=[_numeric(), pa.Check.in_range(1900, 2100)], nullable=False),
        "budget_dkk": pa.Column(checks=_numeric(), nullable=True, required=False),
    },
    strict=False,
    name="interventions",
)


def _describe(exc: pa.errors.SchemaErrors, schema: pa.DataFrameSchema) -> str:
    cases = exc.failure_cases
    lines = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        examples = ", ".join(map(repr, group["failure_case"].drop_duplicates().head(3).tolist()))
        lines.append(f"  column {column!r} fails {check}: {len(group)} rows, e.g. {examples}")
    return f"{schema.name} does not satisfy its schema:\n" + "\n".join(lines[:12])


def require_columns(columns: list[str], required: list[str], what: str) -> None:
    """Raise :class:`ColumnError` naming every missing required column."""
    missing = [c for c in required if c not in columns]
    if missing:
        hint = "".join(closest(m, columns) for m in missing[:1])
        raise ColumnError(
            f"{what} lacks required column(s) {missing}; available: {sorted(columns)}.{hint}"
        )


def validate_frame(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> None:
    """Validate a pandas frame against ``schema``; never modifies ``frame``."""
    require_columns(list(frame.columns), list(schema.columns), schema.name)
    try:
        schema.validate(frame, lazy=True, inplace=False)
    except pa.errors.SchemaErrors as exc:
        raise ValidationError(_describe(exc, schema)) from None


def validate_relation(
    con: duckdb.DuckDBPyConnection, name: str, schema: pa.DataFrameSchema = PERSON_YEARS,
    *, key: tuple[str, ...] = ("PERSON_ID", "AAR"), batch_rows: int = 1_000_000,
) -> int:
    """Validate a DuckDB relation out of core; return its row count.

    Record batches of ``batch_rows`` are streamed through the pandera schema; the
    uniqueness of ``key`` is checked in SQL across the whole relation.
    """
    columns = [row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()]
    require_columns(columns, list(schema.columns), schema.name)
    _check_key(con, name, key)
    wanted = ", ".join(c for c in schema.columns if c in columns)
    relation = con.sql(f"SELECT {wanted} FROM {name}")
    # DuckDB >= 1.4 calls it to_arrow_reader; older releases record_batch
    reader = getattr(relation, "to_arrow_reader", None) or relation.record_batch
    reader = reader(batch_rows)
    n = 0
    for batch in reader:
        validate_frame(batch.to_pandas(), schema)
        n += batch.num_rows
    return n


def _check_key(con: duckdb.DuckDBPyConnection, name: str, key: tuple[str, ...]) -> None:
    cols = ", ".join(key)
    row = con.execute(
        f"SELECT count(*) AS n, any_value(({cols})) FROM "
        f"(SELECT {cols} FROM {name} GROUP BY {cols} HAVING count(*) > 1)"
    ).fetchall()[0]
    if row[0]:
        raise ValidationError(
            f"{name}: ({cols}) must be unique, but {row[0]} key(s) occur more than once, e.g. {row[1]}."
        )
