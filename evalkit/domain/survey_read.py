"""Survey files -> one respondent x wave frame in the survey data-contract names, checked.

The files (Parquet, CSV, SAS ``.sas7bdat``/``.xpt``, Stata ``.dta``) are read through the same
DuckDB layer as the registers (:func:`evalkit.domain.register_read._raw_relation`: Parquet and CSV
scanned in place, SAS and Stata streamed in chunks by pyreadstat), the configured columns are
selected and renamed (:class:`~evalkit.domain.survey_config.SurveyConfig`), stacked, and checked
with the pandera schema :func:`survey_schema`. Nothing is dropped: the caller decides (and is told).
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api import types as ptypes

from evalkit.data import io
from evalkit.data.schemas import HERKOMST_LEVELS, validate_frame
from evalkit.domain.register_read import _raw_relation
from evalkit.domain.survey_config import SURVEY_VARIABLES, SurveyConfig, load_survey_config
from evalkit.errors import ColumnError, ParameterError, ValidationError, closest

__all__ = ["read_survey", "survey_schema", "check_survey_frame"]

_CASTS = {"year": "INTEGER", "area": "BIGINT", "weight": "DOUBLE", "sex": "INTEGER", "age": "DOUBLE"}


def _numeric() -> pa.Check:
    return pa.Check(lambda s: ptypes.is_numeric_dtype(s), error="must be numeric")


def survey_schema(config: SurveyConfig) -> pa.DataFrameSchema:
    """The pandera schema of a survey frame in canonical names, for the columns ``config`` maps."""
    cols = {
        "RESP_ID": pa.Column(nullable=False),
        "AAR": pa.Column(checks=[_numeric(), pa.Check.in_range(1900, 2100)], nullable=False),
        "OMR_ID": pa.Column(checks=_numeric(), nullable=True),
        "KOEN": pa.Column(checks=pa.Check.isin([1, 2]), nullable=False),
        "ALDER": pa.Column(checks=[_numeric(), pa.Check.in_range(0, 120)], nullable=False),
    }
    if config.weight is not None:
        cols["VAEGT"] = pa.Column(checks=[_numeric(), pa.Check.gt(0), pa.Check(lambda s: np.isfinite(s),
                                  error="must be finite")], nullable=False)
    if config.origin is not None:
        cols["HERKOMST"] = pa.Column(checks=pa.Check.isin(HERKOMST_LEVELS), nullable=False)
    for answer in config.answers:
        cols[answer] = pa.Column(checks=_numeric(), nullable=True)
    return pa.DataFrameSchema(cols, strict=False, name="survey")


def check_survey_frame(frame: pd.DataFrame, config: SurveyConfig) -> None:
    """Schema and key checks of a canonical survey frame; never modifies it."""
    validate_frame(frame, survey_schema(config))
    dup = frame.duplicated(["RESP_ID", "AAR"], keep=False)
    if dup.any():
        raise ValidationError(f"survey: (RESP_ID, AAR) must be unique (one row per respondent and wave), "
                              f"but {int(dup.sum())} rows share a key.")


def _survey_files(source: Path, config: SurveyConfig) -> list[Path]:
    if not source.exists():
        raise ParameterError(f"survey={str(source)!r} does not exist.")
    if source.is_file():
        if source.suffix.lower() not in io.SUPPORTED:
            raise ParameterError(f"survey={str(source)!r}: the suffix must be one of {io.SUPPORTED}.")
        return [source]
    patterns = config.files or ("*",)
    found = sorted({p for pat in patterns for p in source.glob(pat)
                    if p.is_file() and p.suffix.lower() in io.SUPPORTED})
    if not found:
        raise ParameterError(f"survey={str(source)!r} holds no files matching {list(patterns)} "
                             f"(configuration key 'files') with a suffix in {io.SUPPORTED}.")
    return found


def _select(name: str, columns: list[str], config: SurveyConfig) -> str:
    by_lower = {c.lower(): c for c in columns}
    wanted = [(key, getattr(config, key), SURVEY_VARIABLES[key][0]) for key in SURVEY_VARIABLES]
    wanted += [(f"answers[{a!r}]", a, a) for a in config.answers]
    items = []
    for key, column, canonical in wanted:
        if column is None:
            continue
        actual = by_lower.get(column.lower())
        if actual is None:
            meaning = SURVEY_VARIABLES[key][1] if key in SURVEY_VARIABLES else "an answer"
            raise ColumnError(f"{name}: survey variable {key!r} ({meaning}) not found: no column {column!r}. "
                              f"Set the survey configuration key to the column that holds it; columns: "
                              f"{sorted(columns)}." + closest(column, columns))
        quoted = '"' + actual.replace('"', '""') + '"'
        cast = _CASTS.get(key)
        items.append(f"CAST({quoted} AS {cast}) AS \"{canonical}\"" if cast else f"{quoted} AS \"{canonical}\"")
    return ", ".join(items)


def _query(con: duckdb.DuckDBPyConnection, source, config: SurveyConfig) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        con.register("_survey_frame", source)
        relations = [("survey (DataFrame)", "_survey_frame")]
    else:
        paths = _survey_files(Path(source), config)
        relations = [(p.name, _raw_relation(con, p, f"survey_{i}")) for i, p in enumerate(paths)]
    selects = []
    for name, relation in relations:
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        selects.append(f"SELECT {_select(name, columns, config)} FROM {relation}")
    try:
        return con.execute("\nUNION ALL BY NAME\n".join(selects)).df()
    except duckdb.Error as exc:  # text in a numeric column: the data, not evalkit
        raise ValidationError(f"survey: a mapped column cannot be read as a number ({exc}).") from None


def read_survey(source, config: SurveyConfig | dict | str | Path | None = None, *,
                require_weights: bool = True) -> pd.DataFrame:
    """Read a survey (a file, a folder of files, or a DataFrame) into one checked frame.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A survey file (a suffix of ``evalkit.data.io.SUPPORTED``), a folder of such files
        (filtered by the configuration's ``files`` globs), or a DataFrame (read, never
        modified).
    config : SurveyConfig, dict, str or pathlib.Path, optional
        Where the survey variables are: a :class:`SurveyConfig`, a dict of configuration keys,
        or a YAML file; None: the simulator's names.
    require_weights : bool, default True
        The survey must carry a design weight (configuration key ``weight``). False allows a
        survey without one, which then gets ``VAEGT = 1`` (equal inclusion probabilities
        within each area and wave, e.g. a simple random sample per area; calibration to the
        register margins then supplies the scale).

    Returns
    -------
    pandas.DataFrame
        One row per respondent and wave with the canonical columns ``RESP_ID, AAR, OMR_ID,
        KOEN, ALDER`` (+ ``VAEGT`` design weight, + ``HERKOMST`` when mapped) and the answers
        under their own names (``docs/data_contract.md``, "Surveys").

    Raises
    ------
    ParameterError
        A missing path, an unsupported suffix, a folder without matching files, a bad
        configuration, a non-bool ``require_weights``, or no design weight when one is
        required.
    ColumnError
        A mapped column is missing (the closest is named).
    ValidationError
        Duplicate (RESP_ID, AAR), or a mapped column that cannot be read as a number.
    """
    config = load_survey_config(config)
    if not isinstance(require_weights, bool):
        raise ParameterError(f"require_weights={require_weights!r} must be True or False.")
    if config.weight is None and require_weights:
        raise ParameterError("the survey has no design weight: set the survey configuration key 'weight' to "
                             "the design-weight column, or pass require_weights=False to assume equal design "
                             "weights within each area and wave.")
    con = io.connect()
    try:
        frame = _query(con, source, config)
    finally:
        con.close()
    if config.weight is None:
        frame["VAEGT"] = 1.0
    check_survey_frame(frame, config)
    return frame
