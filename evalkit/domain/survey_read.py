"""Survey files -> one respondent x wave frame in the survey data-contract names, checked.

The files (Parquet, CSV, SAS ``.sas7bdat``/``.xpt``, Stata ``.dta``) are read through the same
DuckDB layer as the registers (:func:`evalkit.domain.register_read._raw_relation`: Parquet and CSV
scanned in place, SAS and Stata streamed in chunks by pyreadstat), the configured columns are
selected and renamed (:class:`~evalkit.domain.survey_config.SurveyConfig`), stacked, and checked
with the pandera schema :func:`survey_schema`. Numbers are converted in pandas (numeric text is read as
numbers, in every numeric column alike), so an error names the column and never shows a respondent's
values. Declared ``missing_codes`` become missing and ``scales`` are enforced. Nothing is dropped
unless ``drop_incomplete=True`` asks for it (and then with a warning giving the count).
"""
from __future__ import annotations

import difflib
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api import types as ptypes

from evalkit.core.aliases import checked
from evalkit.data import io
from evalkit.data.schemas import HERKOMST_LEVELS, validate_frame
from evalkit.domain.register_read import _raw_relation
from evalkit.domain.survey_config import BINARY, SURVEY_VARIABLES, SurveyConfig, load_survey_config
from evalkit.errors import stack_level, ColumnError, EvalkitWarning, ParameterError, ValidationError

__all__ = ["read_survey", "survey_schema", "check_survey_frame"]

#: configuration keys read as numbers; the first three must be whole numbers
_NUMERIC = ("year", "area", "sex", "weight", "age")
_WHOLE = ("year", "area", "sex")
#: background variables a respondent needs (nonrespondents may lack them)
_BACKGROUND = {"weight": "VAEGT", "sex": "KOEN", "age": "ALDER", "origin": "HERKOMST"}
#: a value is shown in a message only when at least this many rows hold it (disclosure control)
_SHOW_MIN = 5


def survey_schema(config: SurveyConfig) -> pa.DataFrameSchema:
    """The pandera schema of a survey frame in canonical names, for the columns ``config`` maps.

    Background variables may be null (a nonrespondent's); :func:`check_survey_frame` requires them
    for respondents (rows with an answer)."""
    num = pa.Check(lambda s: ptypes.is_numeric_dtype(s), error="must be numeric")
    cols = {
        "RESP_ID": pa.Column(nullable=False),
        "AAR": pa.Column(checks=[num, pa.Check.in_range(1900, 2100)], nullable=False),
        "OMR_ID": pa.Column(checks=num, nullable=True),
        "KOEN": pa.Column(checks=pa.Check.isin([1, 2]), nullable=True),
        "ALDER": pa.Column(checks=[num, pa.Check.in_range(0, 120)], nullable=True),
        "VAEGT": pa.Column(checks=[num, pa.Check.gt(0), pa.Check(lambda s: np.isfinite(s), error="must be finite")],
                           nullable=True),
    }
    if config.origin is not None:
        cols["HERKOMST"] = pa.Column(checks=pa.Check.isin(HERKOMST_LEVELS), nullable=True)
    for answer in config.answers:
        cols[answer] = pa.Column(checks=num, nullable=True)
    return pa.DataFrameSchema(cols, strict=False, name="survey")


def _where(config: SurveyConfig, canonical: str) -> str:
    """"column 'X' (configuration key 'k')" for a canonical column."""
    for key, (name, _) in SURVEY_VARIABLES.items():
        if name == canonical and getattr(config, key) is not None:
            return f"column {getattr(config, key)!r} (configuration key {key!r})"
    return f"answer column {canonical!r}"


def check_survey_frame(frame: pd.DataFrame, config: SurveyConfig, *, drop_incomplete: bool = False) -> pd.DataFrame:
    """Schema and key checks of a canonical survey frame; returns it (without incomplete respondent rows when
    ``drop_incomplete``), never modifies the input."""
    validate_frame(frame, survey_schema(config))
    dup = frame.duplicated(["RESP_ID", "AAR"], keep=False)
    if dup.any():
        raise ValidationError(f"survey: (RESP_ID, AAR) must be unique (one row per respondent and wave), "
                              f"but {int(dup.sum())} rows share a key.")
    answered = frame[list(config.answers)].notna().any(axis=1)
    needed = [c for k, c in _BACKGROUND.items() if c in frame.columns and (k != "origin" or config.origin)]
    lacking = frame[needed].isna() & answered.to_numpy()[:, None]
    incomplete = lacking.any(axis=1)
    if not incomplete.any():
        return frame
    if drop_incomplete:
        counts = ", ".join(f"{c} {int(n)}" for c, n in lacking.sum().items() if n)
        warnings.warn(f"{int(incomplete.sum())} respondent rows lack a background variable ({counts}) and are left "
                      "out (drop_incomplete=True); they cannot be calibrated or weighted.", EvalkitWarning, stacklevel=stack_level())
        return frame[~incomplete].reset_index(drop=True)
    col = lacking.sum().idxmax()
    raise ValidationError(f"survey: {_where(config, col)} is missing in {int(lacking[col].sum())} respondent rows "
                          f"(rows with an answer; {int(incomplete.sum())} respondent rows lack some background "
                          "variable). A respondent needs the design weight, sex, age and origin to be calibrated: "
                          "fill them, or pass drop_incomplete=True to leave those rows out (counted in a warning). "
                          "Nonrespondents (every answer missing) may lack them.")


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


def _wanted(config: SurveyConfig) -> list[tuple[str, str, str]]:
    wanted = [(key, getattr(config, key), SURVEY_VARIABLES[key][0]) for key in SURVEY_VARIABLES
              if getattr(config, key) is not None]
    return wanted + [(f"answers[{a!r}]", a, a) for a in config.answers]


def _resolve(name: str, columns: list[str], config: SurveyConfig) -> list[tuple[str, str]]:
    """(actual column, canonical name) of every mapped variable, or a ColumnError naming the key to set."""
    by_lower = {str(c).lower(): c for c in columns}
    wanted = _wanted(config)
    mapped = {column.lower() for _, column, _ in wanted}
    out = []
    for key, column, canonical in wanted:
        actual = by_lower.get(column.lower())
        if actual is None:
            meaning = SURVEY_VARIABLES[key][1] if key in SURVEY_VARIABLES else "an answer"
            # suggest only a close, not otherwise mapped name (RESP_ID is not "like" OMR_ID)
            free = [str(c) for c in columns if str(c).lower() not in mapped]
            match = difflib.get_close_matches(column.lower(), [c.lower() for c in free], n=1, cutoff=0.75)
            hint = f" Did you mean {by_lower[match[0]]!r}?" if match else ""
            null = (" or to null if the survey has none (weight: null with read_survey(require_weights=False))"
                    if key == "weight" else " or to null if the survey has none" if key == "origin" else "")
            raise ColumnError(f"{name}: survey variable {key!r} ({meaning}) not found: no column {column!r}. "
                              f"Set the survey configuration key {key!r} to the column that holds it{null}; "
                              f"columns: {sorted(map(str, columns))}." + hint)
        out.append((actual, canonical))
    return out


def _query(source, config: SurveyConfig) -> tuple[pd.DataFrame, list[str]]:
    """The mapped columns under their canonical names (as stored: no casts), and every column of the source."""
    if isinstance(source, pd.DataFrame):
        columns = list(source.columns)
        pairs = _resolve("survey (DataFrame)", columns, config)
        frame = pd.DataFrame({canonical: source[actual].reset_index(drop=True) for actual, canonical in pairs}).copy()
        return frame, [str(c) for c in columns]
    paths = _survey_files(Path(source), config)
    con = io.connect()
    try:
        selects, every = [], set()
        for i, path in enumerate(paths):
            relation = _raw_relation(con, path, f"survey_{i}")
            columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
            every |= set(columns)
            items = ", ".join('"' + a.replace('"', '""') + f'" AS "{c}"' for a, c in _resolve(path.name, columns, config))
            selects.append(f"SELECT {items} FROM {relation}")
        try:
            return con.execute("\nUNION ALL BY NAME\n".join(selects)).df(), sorted(every)
        except duckdb.Error:  # the raw message may quote values (keys): say what, not which
            raise ValidationError(f"survey: the files {[p.name for p in paths]} cannot be stacked: a mapped column "
                                  "has different types in different files (e.g. text in one, numbers in another); "
                                  "give each column one type.") from None
    finally:
        con.close()


def _header_columns(con, path: Path, index: int) -> list[str]:
    """The column names of one survey file without reading its rows: Parquet and CSV through DuckDB
    (``DESCRIBE`` of the scan), SAS and Stata from the file header (pyreadstat's reader of
    :data:`evalkit.data.io.READSTAT_READERS` with ``metadataonly=True``, the reader the DuckDB layer streams with)."""
    suffix = path.suffix.lower()
    if suffix in io.SCAN_FUNCTIONS:
        relation = _raw_relation(con, path, f"survey_{index}")
        return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    import pyreadstat

    try:
        _, meta = getattr(pyreadstat, io.READSTAT_READERS[suffix])(str(path), metadataonly=True)
    except Exception as exc:  # pyreadstat's ReadstatError and friends: an unreadable file, not a column
        raise ValidationError(f"survey file {path.name!r} cannot be read as {suffix} ({type(exc).__name__}); "
                              "check that it is a valid SAS or Stata file.") from None
    return [str(c) for c in meta.column_names]


def _check_columns(source, config: SurveyConfig) -> None:
    """Every mapped column is in every survey file, from the column names only (no rows read:
    :func:`_header_columns`); a :class:`ColumnError` naming the configuration key, the column and the
    file's columns else. Missing files and unsupported suffixes are :class:`ParameterError` s as in
    :func:`read_survey`."""
    paths = _survey_files(Path(source), config)
    con = io.connect()
    try:
        for i, path in enumerate(paths):
            _resolve(path.name, _header_columns(con, path, i), config)
    finally:
        con.close()


def _fmt(value: float):
    return int(value) if float(value).is_integer() else value


def _shown(values: pd.Series) -> str:
    """Up to five distinct values that each occur in at least _SHOW_MIN rows (a rarer value could single out a
    respondent, e.g. a key mapped to the wrong variable), else a note that they are not shown."""
    counts = values.value_counts()
    common = [_fmt(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else v
              for v in counts[counts >= _SHOW_MIN].index[:5]]
    rare = int((counts < _SHOW_MIN).sum())
    if not common:
        return f"values not shown: each occurs in fewer than {_SHOW_MIN} rows"
    return f"e.g. {common}" + (f"; {rare} other values not shown (each in fewer than {_SHOW_MIN} rows)" if rare else "")


def _to_number(series: pd.Series, what: str, whole: bool) -> pd.Series:
    if ptypes.is_bool_dtype(series):
        out = series.astype(float)
    elif ptypes.is_numeric_dtype(series):
        out = series.astype(float)
    else:
        text = series.astype(object).where(series.notna(), None)
        text = text.map(lambda v: v.strip() if isinstance(v, str) else v)
        out = pd.to_numeric(text.map(lambda v: float(v) if isinstance(v, bool) else v), errors="coerce").astype(float)
        bad = series.notna() & out.isna()
        if bad.any():
            raise ValidationError(f"survey: {what} cannot be read as a number in {int(bad.sum())} rows "
                                  f"({_shown(series[bad].astype(str))}); it must hold numbers (numeric text such "
                                  "as '3' is read as 3), with empty cells for missing.")
    if not np.isfinite(out.dropna()).all():
        raise ValidationError(f"survey: {what} holds infinite values in {int(np.isinf(out).sum())} rows; "
                              "it must hold finite numbers.")
    if whole:
        frac = out.notna() & (out != np.round(out))
        if frac.any():
            raise ValidationError(f"survey: {what} must hold whole numbers (codes), but {int(frac.sum())} rows do "
                                  "not; recode the column (a wave is a year, an area an integer id).")
    return out


def _outlying(values: pd.Series) -> list[float]:
    """Codes of a categorical answer far from the rest (e.g. 9 next to 1-5, 7 or -1 next to 0/1)."""
    u = np.sort(values.dropna().unique())
    if len(u) < 3 or len(u) > 15:
        return []
    flagged = [v for v in u if v < 0] if u.max() >= 0 and (u >= 0).sum() >= 2 else []
    rest = u[u >= 0] if flagged else u
    if len(rest) >= 3:
        gaps = np.diff(rest)
        i = int(np.argmax(gaps))
        if gaps[i] >= 3 and len(rest) - (i + 1) <= 3 and i + 1 >= 2:
            flagged += list(rest[i + 1:])
    return flagged


def _answers(frame: pd.DataFrame, config: SurveyConfig) -> list[str]:
    notes = []
    for answer in config.answers:
        values = frame[answer]
        codes = config.missing_codes.get(answer)
        if codes:
            hit = values.isin(codes)
            if hit.any():
                notes.append(f"answer {answer!r}: {int(hit.sum())} rows with missing code(s) "
                             f"{[_fmt(c) for c in codes]} read as missing")
                frame[answer] = values = values.where(~hit)
        scale = config.scales.get(answer)
        if scale is not None:
            bad = values.notna() & (~values.isin([0.0, 1.0]) if scale == BINARY
                                    else (values < scale[0]) | (values > scale[1]))
            if bad.any():
                shown = "binary (0 or 1)" if scale == BINARY else str([_fmt(b) for b in scale])
                raise ValidationError(f"survey: answer column {answer!r} holds {_shown(values[bad])} in "
                                      f"{int(bad.sum())} rows, outside its scale {shown} (configuration key "
                                      "'scales'). If these codes mean 'no answer', list them in 'missing_codes'; "
                                      "otherwise correct the scale or the data.")
        else:
            odd = _outlying(values)
            if odd:
                rest = values[values.notna() & ~values.isin(odd)]
                warnings.warn(f"answer {answer!r} has no declared scale and holds {[_fmt(v) for v in odd]} "
                              f"({int(values.isin(odd).sum())} rows) apart from the rest ({_fmt(rest.min())} to "
                              f"{_fmt(rest.max())}): if they mean 'no answer' declare missing_codes: "
                              f"{{{answer}: {[_fmt(v) for v in odd]}}}; declare the valid answers with scales: "
                              f"{{{answer}: [{_fmt(rest.min())}, {_fmt(rest.max())}]}} (or binary). They are used "
                              "as answers as they are.", EvalkitWarning, stacklevel=stack_level())
    return notes


@checked
def read_survey(source, config: SurveyConfig | dict | str | Path | None = None, *,
                require_weights: bool = True, drop_incomplete: bool = False) -> pd.DataFrame:
    """Read a survey (a file, a folder of files, or a DataFrame) into one checked frame.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A survey file (a suffix of ``evalkit.data.io.SUPPORTED``), a folder of such files
        (filtered by the configuration's ``files`` globs), or a DataFrame (read, never
        modified).
    config : SurveyConfig, dict, str or pathlib.Path, optional
        Where the survey variables are: a :class:`SurveyConfig`, a dict of configuration keys,
        or a YAML file; None: the simulator's names (design weight ``VAEGT``, origin
        ``HERKOMST``). Its ``missing_codes`` are read as missing and its ``scales`` enforced.
    require_weights : bool, default True
        The survey must carry a design weight (configuration key ``weight``). False allows a
        survey without one (``weight: null``), which then gets ``VAEGT = 1`` (equal inclusion
        probabilities within each area and wave, e.g. a simple random sample per area;
        calibration to the register margins then supplies the scale); a warning names an
        unread column called VAEGT or HERKOMST.
    drop_incomplete : bool, default False
        Leave out respondent rows (with an answer) that lack the design weight, sex, age or
        origin, with a warning giving the count; False: such rows are an error.
        Nonrespondents (every answer missing) may always lack them.

    Returns
    -------
    pandas.DataFrame
        One row per respondent and wave with the canonical columns ``RESP_ID, AAR, OMR_ID,
        KOEN, ALDER`` (+ ``VAEGT`` design weight, + ``HERKOMST`` when mapped) and the answers
        under their own names as floats (``docs/data_contract.md``, "Surveys").
        ``attrs["answers"]`` lists the answers (:func:`calibrate_weights` calibrates the rows
        with one), ``attrs["notes"]`` what was changed (missing codes, dropped rows) and
        ``attrs["scales"]`` the declared scales (:func:`survey_outcome` checks a cut-off
        against them).

    Raises
    ------
    ParameterError
        A missing path, an unsupported suffix, a folder without matching files, a bad
        configuration, a non-bool ``require_weights`` or ``drop_incomplete``, a misspelled
        keyword, or no design weight when one is required.
    ColumnError
        A mapped column is missing (a close unmapped column is named).
    ValidationError
        Duplicate (RESP_ID, AAR); a mapped column that cannot be read as a number, or a wave,
        area or sex that is not a whole number; an answer outside its declared scale; a
        respondent without a background variable (unless ``drop_incomplete``). Messages name
        the column and counts, never a respondent key.
    """
    config = load_survey_config(config)
    for name, value in (("require_weights", require_weights), ("drop_incomplete", drop_incomplete)):
        if not isinstance(value, bool):
            raise ParameterError(f"{name}={value!r} must be True or False.")
    if config.weight is None and require_weights:
        raise ParameterError("the survey configuration maps no design weight (weight: null): set the survey "
                             "configuration key 'weight' to the design-weight column, or pass "
                             "require_weights=False to assume equal design weights within each area and wave.")
    raw, columns = _query(source, config)
    frame = pd.DataFrame(index=raw.index)
    frame["RESP_ID"] = raw["RESP_ID"]
    for key in _NUMERIC:
        canonical = SURVEY_VARIABLES[key][0]
        if canonical in raw:
            frame[canonical] = _to_number(raw[canonical], _where(config, canonical), key in _WHOLE)
    if "HERKOMST" in raw:
        frame["HERKOMST"] = raw["HERKOMST"]
    for answer in config.answers:
        frame[answer] = _to_number(raw[answer], f"answer column {answer!r}", False)
    unread = {"weight": "VAEGT", "origin": "HERKOMST"}
    for key, name in unread.items():
        hit = [c for c in columns if c.lower() == name.lower()]
        if getattr(config, key) is None and hit:
            warnings.warn(f"the survey has a column {hit[0]!r} that is not read (configuration key {key}: null)"
                          + ("; every row gets VAEGT = 1" if key == "weight" else "")
                          + f". Set {key}: {hit[0]} to use it.", EvalkitWarning, stacklevel=stack_level())
    if config.weight is None:
        frame["VAEGT"] = 1.0
    notes = _answers(frame, config)
    frame = check_survey_frame(frame, config, drop_incomplete=drop_incomplete)
    frame = frame.copy()
    for col in ("AAR", "OMR_ID", "KOEN"):  # whole numbers: integers unless a null forces floats
        if col in frame and len(frame) and frame[col].notna().all():
            frame[col] = frame[col].astype("int64")
    for note in notes:
        warnings.warn(note + ".", EvalkitWarning, stacklevel=stack_level())
    frame.attrs["answers"] = list(config.answers)
    frame.attrs["notes"] = notes
    frame.attrs["scales"] = dict(config.scales)  # survey_outcome checks a cut-off against them
    return frame
