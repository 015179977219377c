"""Data-aware key scanner: find pseudonymised person keys of the microdata in released text.

This backs evalkit's disclosure control. Statistics Denmark's rules for researcher access
forbid pseudonymised person keys (and CPR/CVR numbers) in anything taken out of the
research machines; :mod:`evalkit.report.disclosure` and :mod:`evalkit.report.gate` enforce
the rest of those rules. A format-based scanner (16 hex characters, ddmmyy-xxxx, the word
"CPR") blocks harmless text: the Danish word "adresse", the phrase "CPR number", a budget
of 1,105,000,000, a data-version hash. This scanner judges content instead: it collects the
keys that really occur in the data (:func:`collect_keys`) and flags only text holding one of
them or a transform of one.

Design
    Keys are normalised to stripped lower-case text (integer-valued floats, as SAS stores
    numeric keys, become integers); keys shorter than ``min_length`` (default 6) are dropped,
    since short numeric keys collide with ordinary numbers. :class:`KeySet` keeps them as
    sorted fixed-width numpy byte arrays (``S<width>``), once as written and once reversed,
    and each lookup is a binary search (``np.searchsorted``). For each hash (MD5, SHA-1,
    SHA-256) it keeps the first 8 bytes (16 hex characters) of the digest of the UTF-8 bytes
    of every key, as written in the data, lower-case and upper-case, as a sorted ``uint64``
    array (hashed in DuckDB). A 16-character hex key costs 2 x 16 + 3 x 2 x 8 = 80 bytes:
    1 million keys take 80 MB, the national population (5.5 million) about 450 MB.

    Text is lower-cased and cut into tokens: maximal runs of ``[a-z0-9]`` and, in addition,
    maximal runs of ``[a-z0-9_-]`` (so keys such as ``ab12-cd34`` match). Hit kinds:

    ``key``               a token (of at least ``min_length`` characters) equals a key;
    ``key prefix``        a token of >= 8 characters is a proper prefix of a key (truncation);
    ``key suffix``        a token of >= 8 characters is a proper suffix of a key;
    ``key inside token``  a key of >= 8 characters is a substring of a longer token
                          (``idab12...``); for each distinct key length a window slides
                          over the tokens longer than it, all windows in one searchsorted;
    ``md5 of key``, ``sha1 of key``, ``sha256 of key``
                          a hex token of 12 up to the digest's length (32, 40, 64) whose
                          first min(16, length) characters start a digest of a key: a full
                          digest, or a prefix of at least 12 characters of one.

    Results are kind names only: the matched text never appears in a result, a ``repr`` or
    an error message, because the results end up in logs that a reviewer reads.

Limitations
    Salted or keyed hashes (HMAC, a secret pepper) and encodings other than hex (base64 of a
    digest) cannot be recognised. A digest token is compared on its first 16 hex characters
    (a chance match has probability about n_keys / 2**64). Keys with characters other than
    letters, digits, ``-`` and ``_`` are never matched as a whole; keys split by markup
    (``ab12<b>cd34</b>``) and keys in compressed files (xlsx, zip, PDF streams) are not seen.
    Prefixes, suffixes and embedded keys shorter than 8 characters are not checked. Chance
    hits are possible for short numeric keys: the scanner reports what the data hold.
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from evalkit.data.io import READSTAT_READERS, SCAN_FUNCTIONS, SUPPORTED, connect
from evalkit.errors import ParameterError
from evalkit.privacy import IDENTIFIERS

IDENTIFIER_COLUMNS: tuple[str, ...] = tuple(IDENTIFIERS)
KINDS = ("key", "key prefix", "key suffix", "key inside token", "md5 of key", "sha1 of key", "sha256 of key",
         "reversed key", "key split by separators", "key in base64")
BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
DIGESTS = {"md5": 32, "sha1": 40, "sha256": 64}  # hash name -> length of its hex digest
MIN_PIECE = 8  # shortest token checked as a key prefix or suffix; shortest key searched inside tokens
MIN_DIGEST = 12  # shortest hex token checked as a digest prefix
DIGEST_HEX = 16  # hex characters of each digest kept (one uint64)
ALNUM = re.compile(r"[a-z0-9]+")
WORD = re.compile(r"[a-z0-9_-]+")
HEX = re.compile(r"[0-9a-f]+")
# the payload stops at the first character outside base64 (JSON may escape "/" as "\/"); whitespace
# ends it too, so text after a data URI is still scanned
DATA_URI = re.compile(r"data:[\w/+.-]+(?:;[\w=.+-]+)*;base64,(?:[A-Za-z0-9+/=]|\\/)*", re.IGNORECASE)
SKIPPED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".tif", ".tiff"})
CHUNKSIZE = 500_000
KEY_TABLE = "_evalkit_keys"


# --------------------------------------------------------------------------- key values
def _as_text(value: object) -> str | None:
    """One key value as stripped text; None for a missing value."""
    if isinstance(value, str):
        return value.strip() or None
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)  # SAS and CSV readers store numeric keys as floats
    return str(value).strip() or None


def _add_values(seen: set[str], values: Iterable[object], min_length: int) -> None:
    """Add the keys among ``values`` (as text, at least ``min_length`` characters) to ``seen``."""
    for value in values:
        text = value.strip() if type(value) is str else _as_text(value)  # fast path for text
        if text is not None and len(text) >= min_length:
            seen.add(text)


def _check_min_length(min_length: object) -> int:
    if isinstance(min_length, bool) or not isinstance(min_length, (int, np.integer)) or min_length < 1:
        raise ParameterError(f"min_length={min_length!r} must be a positive integer (default 6).")
    return int(min_length)


def _sorted_bytes(items: list[bytes]) -> np.ndarray:
    """Sorted distinct byte strings as one fixed-width ``S<width>`` array."""
    if not items:
        return np.empty(0, dtype="S1")
    table = np.sort(np.array(items, dtype=f"S{max(map(len, items))}"))
    return table[np.r_[True, table[1:] != table[:-1]]]


def _normalised(stored: set[str]) -> np.ndarray:
    """Sorted distinct lower-case keys as UTF-8 bytes (``S<width>``)."""
    return _sorted_bytes([s.lower().encode() for s in stored])


def _digest_heads(stored: set[str], threads: int | None = None) -> dict[str, np.ndarray]:
    """Per hash, the sorted first 16 hex characters of the digests of every key, as uint64.

    Each key is hashed as written, lower-case and upper-case. DuckDB's ``md5``/``sha1``/``sha256``
    hash the UTF-8 bytes like :mod:`hashlib`, vectorised and in parallel (about 5 times faster
    than a Python loop over hashlib).
    """
    if not stored:
        return {name: np.empty(0, dtype=np.uint64) for name in DIGESTS}
    heads = ", ".join(f"('0x' || left({name}(f), {DIGEST_HEX}))::UBIGINT AS {name}" for name in DIGESTS)
    con = connect(threads=threads)
    try:
        con.register("_evalkit_stored", pd.DataFrame({"k": pd.Series(list(stored), dtype=object)}))
        result = con.execute(f"WITH forms AS (SELECT unnest(list_distinct([k, lower(k), upper(k)])) AS f "
                             f"FROM _evalkit_stored) SELECT {heads} FROM forms").fetchnumpy()
    finally:
        con.close()
    return {name: np.sort(np.asarray(result[name], dtype=np.uint64)) for name in DIGESTS}


# --------------------------------------------------------------------------- lookups
def _members(table: np.ndarray, queries: list[bytes] | np.ndarray) -> bool:
    """True when any query equals an element of the sorted ``table`` (queries fit its width)."""
    if not len(queries) or not table.size:
        return False
    q = np.asarray(queries, dtype=table.dtype)
    idx = np.minimum(np.searchsorted(table, q), table.size - 1)
    return bool(np.any(table[idx] == q))


def _proper_prefix(table: np.ndarray, queries: list[bytes]) -> bool:
    """True when any query is a proper prefix of an element of the sorted ``table``."""
    queries = [q for q in queries if len(q) < table.itemsize]
    if not queries or not table.size:
        return False
    q = np.array(queries, dtype=table.dtype)
    idx = np.searchsorted(table, q, side="right")  # first element > query: longer keys starting with it
    ok = idx < table.size
    return bool(np.any(np.strings.startswith(table[idx[ok]], q[ok])))


def _windows(tokens: Iterable[bytes], length: int) -> np.ndarray:
    """Every substring of ``length`` characters of the tokens longer than ``length`` (``S<length>``).

    Built with a strided view, so a long token costs ``length`` bytes a window, not a Python object.
    """
    parts = [sliding_window_view(np.frombuffer(t, dtype=np.uint8), length) for t in tokens if len(t) > length]
    if not parts:
        return np.empty(0, dtype=f"S{length}")
    return np.ascontiguousarray(np.concatenate(parts)).view(f"S{length}").ravel()


def _digest_ranges(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive uint64 ranges of digest heads that start with each hex token's first 16 characters."""
    lo, hi = [], []
    for token in tokens:
        head = token[:DIGEST_HEX]
        shift = 4 * (DIGEST_HEX - len(head))
        start = int(head, 16) << shift
        lo.append(start)
        hi.append(start + (1 << shift) - 1)
    return np.array(lo, dtype=np.uint64), np.array(hi, dtype=np.uint64)


def _tokens(text: str) -> tuple[set[str], set[str]]:
    """Lower-case alphanumeric runs, and runs that also allow ``-`` and ``_``."""
    lowered = text.lower()
    alnum = set(ALNUM.findall(lowered))
    return alnum, alnum | set(WORD.findall(lowered))


# --------------------------------------------------------------------------- key set
def piece_length(keys: list[bytes], *, rate: float = 1e-6) -> int:
    """Shortest truncated piece worth matching: random tokens of this length match a prefix or
    suffix of one of the keys with probability at most ``rate`` (``n / alphabet**L <= rate``).

    nbconvert gives every HTML cell an 8-hex id; with 600,000 16-hex keys an 8-character
    piece would match one of them about once in 7,000 such tokens (found on the demo report),
    so the length grows with the number of keys: 10 hex characters for 600,000 keys.
    """
    if not keys:
        return MIN_PIECE
    alphabet = set(b"".join(keys[:10_000]))
    size = 10 if alphabet <= set(b"0123456789") else 16 if alphabet <= set(b"0123456789abcdef") else 36
    return max(MIN_PIECE, math.ceil(math.log(len(keys) / rate) / math.log(size)))


@dataclass(frozen=True, eq=False)
class KeySet:
    """Sorted fixed-width numpy byte arrays of normalised keys and their transforms.

    ``keys`` and ``reversed_keys`` hold the lower-case keys (``S<width>``), ``digests`` maps
    md5/sha1/sha256 to the sorted first 8 bytes of each key's digest (``uint64``). The arrays
    are left out of ``repr`` so a key set never prints a key.
    """

    keys: np.ndarray = field(repr=False)
    reversed_keys: np.ndarray = field(repr=False)
    digests: dict[str, np.ndarray] = field(repr=False)
    lengths: tuple[int, ...]
    n_keys: int
    min_length: int = 6
    min_piece: int = MIN_PIECE

    @classmethod
    def from_values(cls, values: Iterable[object], *, min_length: int = 6, threads: int | None = None) -> KeySet:
        """Build a key set from raw key values (text, integers, floats; missing values ignored).

        ``threads``: DuckDB threads for hashing the keys (default: all cores)."""
        min_length = _check_min_length(min_length)
        stored: set[str] = set()
        _add_values(stored, values, min_length)
        keys = _normalised(stored)
        encoded = keys.tolist()
        return cls(keys=keys, reversed_keys=_sorted_bytes([k[::-1] for k in encoded]),
                   digests=_digest_heads(stored, threads),
                   lengths=tuple(sorted({len(k) for k in encoded})), n_keys=len(encoded), min_length=min_length,
                   min_piece=piece_length(encoded))

    def __len__(self) -> int:
        return self.n_keys

    def find(self, text: str, *, min_piece: int | None = None) -> list[str]:
        """Kinds of hits in ``text`` (in the order of ``KINDS``), never the matched text itself.

        ``min_piece``: shortest truncated piece matched (default :attr:`min_piece`, which grows
        with the number of keys; short released texts use 8, half a 16-character key).
        """
        if not self.n_keys or not text:
            return []
        min_piece = min_piece or self.min_piece
        alnum, words = _tokens(text)
        tokens = [t.encode() for t in words]
        pieces = [t for t in tokens if len(t) >= min_piece]
        found = set(self._digest_kinds(alnum))
        if _members(self.keys, [t for t in tokens if len(t) in self.lengths]):  # keys have >= min_length
            found.add("key")
        if _proper_prefix(self.keys, pieces):
            found.add("key prefix")
        if _proper_prefix(self.reversed_keys, [t[::-1] for t in pieces]):
            found.add("key suffix")
        if any(_members(self.keys, _windows(pieces, n)) for n in self.lengths if n >= min_piece):
            found.add("key inside token")
        return [kind for kind in KINDS if kind in found]

    def _digest_kinds(self, tokens: Iterable[str]) -> list[str]:
        """Hash kinds whose digest (or a prefix of >= 12 hex characters of it) is a token."""
        hexes = [t for t in tokens if MIN_DIGEST <= len(t) <= max(DIGESTS.values()) and HEX.fullmatch(t)]
        kinds = []
        for name, n_hex in DIGESTS.items():
            table = self.digests[name]
            candidates = [t for t in hexes if len(t) <= n_hex]
            if not candidates or not table.size:
                continue
            lo, hi = _digest_ranges(candidates)
            if np.any(np.searchsorted(table, hi, side="right") > np.searchsorted(table, lo, side="left")):
                kinds.append(f"{name} of key")
        return kinds


# --------------------------------------------------------------------------- data files
def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)


def _scan_source(path: Path) -> str:
    """DuckDB table function reading ``path``; CSV as text so keys keep their leading zeros."""
    quoted = "'" + str(path).replace("'", "''") + "'"
    if path.suffix.lower() == ".csv":
        return f"read_csv({quoted}, all_varchar = true)"
    return f"{SCAN_FUNCTIONS[path.suffix.lower()]}({quoted})"


def _text_expr(column: str, type_name: str) -> str:
    """SQL turning a key column into stripped text; integer-valued floats as integers (like :func:`_as_text`)."""
    if type_name in ("FLOAT", "DOUBLE") or type_name.startswith("DECIMAL"):
        return (f"CASE WHEN isfinite(CAST({column} AS DOUBLE)) AND {column} = trunc({column}) "
                f"THEN CAST(CAST({column} AS HUGEINT) AS VARCHAR) ELSE CAST({column} AS VARCHAR) END")
    return f"trim(CAST({column} AS VARCHAR))"


def _scan_values(con: duckdb.DuckDBPyConnection, path: Path, wanted: set[str]) -> None:
    """Add the distinct identifier values of a Parquet or CSV file to the key table, all in DuckDB."""
    source = _scan_source(path)
    described = con.execute(f"SELECT * FROM {source} LIMIT 0").description
    for name, type_name in ((d[0], str(d[1])) for d in described if d[0].strip().upper() in wanted):
        column = '"' + name.replace('"', '""') + '"'
        con.execute(f"INSERT INTO {KEY_TABLE} SELECT DISTINCT {_text_expr(column, type_name)} "
                    f"FROM {source} WHERE {column} IS NOT NULL")


def _readstat_values(con: duckdb.DuckDBPyConnection, path: Path, wanted: set[str]) -> None:
    """Add the identifier values of a SAS or Stata file, streamed in chunks of ``usecols``, to the key table."""
    import pyreadstat

    reader = getattr(pyreadstat, READSTAT_READERS[path.suffix.lower()])
    _frame, meta = reader(str(path), metadataonly=True)
    columns = [c for c in meta.column_names if c.strip().upper() in wanted]
    if not columns:
        return
    for chunk, _meta in pyreadstat.read_file_in_chunks(reader, str(path), chunksize=CHUNKSIZE, usecols=columns):
        for column in columns:
            texts = [t for t in map(_as_text, pd.unique(chunk[column].dropna())) if t is not None]
            con.register("_evalkit_key_chunk", pd.DataFrame({"k": pd.Series(texts, dtype=object)}))
            con.execute(f"INSERT INTO {KEY_TABLE} SELECT DISTINCT CAST(k AS VARCHAR) FROM _evalkit_key_chunk")
            con.unregister("_evalkit_key_chunk")


def _file_values(con: duckdb.DuckDBPyConnection, path: Path, wanted: set[str]) -> None:
    import pyreadstat

    try:
        if path.suffix.lower() in SCAN_FUNCTIONS:
            _scan_values(con, path, wanted)
        else:
            _readstat_values(con, path, wanted)
    except (duckdb.Error, pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError):
        # the reader's message may quote a line of the file (a key): name the file only
        raise ParameterError(f"could not read the identifier columns of {str(path)!r}.") from None


def _check_threads(threads: object) -> None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ParameterError(f"threads={threads!r} must be a positive integer or None (all cores).")


def _wanted(columns: Iterable[str] | str) -> frozenset[str]:
    return frozenset(str(c).strip().upper() for c in ((columns,) if isinstance(columns, str) else columns))


def _collect(inputs: Iterable[tuple[Path, frozenset[str]]], min_length: int, threads: int | None) -> KeySet:
    """The distinct keys of the ``wanted`` columns of every (file, wanted) input, gathered in DuckDB."""
    con = connect(threads=threads)
    try:
        con.execute(f"CREATE TEMP TABLE {KEY_TABLE} (k VARCHAR)")
        for path, wanted in inputs:
            _file_values(con, path, set(wanted))
        found = con.execute(f"SELECT DISTINCT k FROM {KEY_TABLE} WHERE length(k) >= ?", [min_length]).fetchnumpy()["k"]
    finally:
        con.close()
    return KeySet.from_values(np.asarray(found).tolist(), min_length=min_length, threads=threads)


def _folder_files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise ParameterError(f"{what}={str(folder)!r} is not an existing folder.")
    files = _data_files(folder)
    if not files:
        raise ParameterError(f"{what}={str(folder)!r} holds no data files ending in {SUPPORTED}.")
    return files


def collect_keys(data_dir: str | Path, *, columns: Iterable[str] = IDENTIFIER_COLUMNS,
                 min_length: int = 6, threads: int | None = None) -> KeySet:
    """Distinct values of every identifier column in every data file under ``data_dir``.

    Column names match ``columns`` case-insensitively. Files are Parquet, CSV, SAS
    (``.sas7bdat``, ``.xpt``) or Stata (``.dta``) anywhere under ``data_dir`` (``person_years/``
    and other subfolders included); files without an identifier column contribute nothing.
    Each file's distinct values are gathered in a DuckDB table (which spills to disk), so
    only the distinct keys ever reach Python. A folder without data files is an error: a
    wrong path must not give an empty key set that passes every text. ``threads``: DuckDB
    threads (default: all cores; the report runner collects with one while the kernel runs).
    A report run also reads inputs outside ``data_dir`` and renamed key columns: for its
    keys use :func:`collect_run_keys`.
    """
    min_length = _check_min_length(min_length)
    _check_threads(threads)
    wanted = _wanted(columns)
    files = _folder_files(Path(data_dir), "data_dir")
    return _collect(((path, wanted) for path in files), min_length, threads)


# --------------------------------------------------------------------------- a report run's inputs
def _register_id(register: object) -> str:
    """The person-key column of the register configuration (RegisterConfig, mapping, YAML path or None)."""
    from evalkit.domain.register import load_register_config

    return load_register_config(register).person_id


def _survey_input(params: dict) -> tuple[Path, str] | None:
    """(survey file or folder, its respondent-key column) of the ``survey`` parameter, or None when the
    run reads no survey outside the standard one (``tryghed_survey.parquet`` under ``data_dir``).

    Resolved as the report's reader does (:func:`evalkit.report.survey_section.survey_source`, not
    imported here: it imports this module): ``survey.path`` and ``survey.config`` relative to
    ``data_dir``, the respondent key from ``survey.config`` updated by ``survey.columns``."""
    from evalkit.domain.register import read_yaml
    from evalkit.report.manifest import input_path

    given = params.get("survey") if isinstance(params.get("survey"), dict) else {}
    if not params.get("survey_outcome") or not given.get("path"):
        return None
    data_dir = Path(params["data_dir"])
    path = input_path(data_dir, given["path"])
    if not path.exists() or (path.is_file() and path.suffix.lower() not in SUPPORTED):
        raise ParameterError(f"parameter survey.path={given['path']!r} is not a survey file with a suffix in "
                             f"{SUPPORTED} or a folder of them (looked for {str(path)!r}).")
    mapping = {}
    if given.get("config"):
        loaded = read_yaml(input_path(data_dir, given["config"]), "parameter survey.config")
        mapping.update(loaded if isinstance(loaded, dict) else {})
    mapping.update(given.get("columns") or {})
    return path, str(mapping.get("respondent_id") or "RESP_ID")


def run_inputs(params: dict, *, register: object = None) -> list[tuple[Path, frozenset[str]]]:
    """Every data file a report run reads, each with the key columns to collect from it.

    Parameters
    ----------
    params : dict
        The run's parameters: ``data_dir`` and, when ``survey_outcome`` is set, ``survey``
        (a ``survey.path`` outside ``data_dir`` included).
    register : RegisterConfig, dict, str, pathlib.Path or None
        The register column configuration (:func:`evalkit.load_register_config`); its
        ``person_id`` column is a key column of the files under ``data_dir``. None: the
        standard names (report runs have no register configuration parameter yet).

    Returns
    -------
    list of (pathlib.Path, frozenset of str)
        Each file with the upper-case names of its key columns: the standard identifier names
        (:data:`IDENTIFIER_COLUMNS`), the register's person key and, for the survey file(s), the
        survey configuration's respondent key.

    Raises
    ------
    ParameterError
        ``data_dir`` is not a folder of data files, ``survey.path`` is not a survey file or a
        folder of them, or ``survey.config`` or ``register`` cannot be read.
    """
    data_dir = Path(params["data_dir"])
    register_id = _register_id(register)
    base = _wanted((*IDENTIFIER_COLUMNS, register_id))
    inputs = {path.resolve(): base for path in _folder_files(data_dir, "data_dir")}
    survey = _survey_input(params)
    if survey is not None:
        path, respondent = survey
        files = [path] if path.is_file() else _folder_files(path, "survey.path")
        for f in files:
            inputs[f.resolve()] = inputs.get(f.resolve(), base) | _wanted((*IDENTIFIER_COLUMNS, respondent))
    return sorted(inputs.items())


def collect_run_keys(params: dict, *, register: object = None, min_length: int = 6,
                     threads: int | None = None) -> KeySet:
    """The person keys of every input a report run reads (:func:`run_inputs`): the files under
    ``data_dir`` and the survey file(s), from the standard identifier columns and the key columns
    as the run's column configuration names them (the survey's respondent key, the register's
    person key). ``min_length``, ``threads``: as :func:`collect_keys`."""
    min_length = _check_min_length(min_length)
    _check_threads(threads)
    return _collect(run_inputs(params, register=register), min_length, threads)


# --------------------------------------------------------------------------- scanning
def _check_keys(keys: object) -> None:
    if not isinstance(keys, KeySet):
        raise ParameterError(f"keys must be a KeySet (see collect_keys), not {type(keys).__name__}.")


def scan_text(text: str, keys: KeySet, *, min_piece: int | None = None) -> list[str]:
    """Hit kinds in ``text`` after removing base64 ``data:`` URIs (embedded images) and decoding
    HTML character references, including keys written backwards, split by spaces or punctuation
    ("ab12 cd34-ef56"), or base64-encoded. ``min_piece``: see :meth:`KeySet.find`."""
    _check_keys(keys)
    text = html.unescape(DATA_URI.sub(" ", text))
    return keys.find(text, min_piece=min_piece) or _disguised(text, keys)


def _disguised(text: str, keys: KeySet) -> list[str]:
    """Kinds of keys hidden by reversal, separators or base64 (scan_text's second pass)."""
    if not keys.n_keys:
        return []
    lowered = text.lower()
    kinds = []
    if _members(keys.reversed_keys, [t.encode() for t in set(WORD.findall(lowered)) if len(t) in keys.lengths]):
        kinds.append("reversed key")
    compact = b"#" + re.sub(r"[^a-z0-9]", "", lowered).encode() + b"#"  # windows need a longer token
    if any(_members(keys.keys, _windows([compact], n)) for n in keys.lengths if n >= keys.min_piece):
        kinds.append("key split by separators")
    if any(keys.find(_decoded(t)) for t in BASE64.findall(text)):
        kinds.append("key in base64")
    return kinds


def _decoded(token: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(token + "=" * (-len(token) % 4), validate=False).decode("utf-8", errors="ignore")
    except (binascii.Error, ValueError):
        return ""


def scan_file(path: Path, keys: KeySet) -> list[str]:
    """Hit kinds in a file read as UTF-8 text (undecodable bytes replaced); images are skipped."""
    path = Path(path)
    if path.suffix.lower() in SKIPPED_SUFFIXES:
        return []
    return scan_text(path.read_text(encoding="utf-8", errors="replace"), keys)


def scan_tree(folder: Path, keys: KeySet) -> dict[str, list[str]]:
    """Relative posix path -> hit kinds for every file under ``folder`` with hits."""
    folder = Path(folder)
    _check_keys(keys)
    if not folder.is_dir():
        raise ParameterError(f"folder={str(folder)!r} is not an existing folder.")
    hits = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        kinds = scan_file(path, keys)
        if kinds:
            hits[path.relative_to(folder).as_posix()] = kinds
    return hits
