"""Keyed (counter-based) random numbers for the simulator.

Every draw is a pure function of ``(seed, person id, year, stream)``: a splitmix64
hash on ``uint64`` numpy arrays. Two simulated worlds that share a person, year and
stream therefore share the draw (common random numbers), and the result never
depends on the order in which persons are processed or on chunk sizes.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.special import ndtri

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / float(1 << 53)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)

# stream ids (one per kind of draw)
S_STUDY, S_EMP, S_FULL, S_PARTEDU, S_WAGE, S_CONV, S_MOVE, S_DEATH = 1, 2, 3, 4, 5, 6, 7, 8
S_SEX, S_ORIGIN, S_IE, S_EDU, S_ALPHA, S_AGE, S_REGION, S_BIRTH = 11, 12, 13, 14, 15, 16, 17, 18
S_PID, S_SURVEY = 21, 22


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser; a bijection on uint64 (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _C1
    z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def _key(seed: int, year: int, stream: int) -> np.uint64:
    """Scalar key of (seed, year, stream), itself hashed."""
    raw = (int(seed) * 0x100000001B3 + int(year) * 0x10001 + int(stream) * 0x9E37) & _M64
    with np.errstate(over="ignore"):
        return _mix(np.array([raw], dtype=np.uint64))[0]


def hash64(seed: int, ids: np.ndarray, year: int, stream: int) -> np.ndarray:
    """uint64 hash of each id for (seed, year, stream); bijective in ``ids``."""
    ids = np.asarray(ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(_mix(ids ^ _key(seed, year, stream)))


def uniform(seed: int, ids: np.ndarray, year: int, stream: int) -> np.ndarray:
    """Uniform(0, 1) draws, strictly inside the interval."""
    h = hash64(seed, ids, year, stream)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * _INV53


def normal(seed: int, ids: np.ndarray, year: int, stream: int) -> np.ndarray:
    """Standard normal draws (inverse CDF of the keyed uniform)."""
    return ndtri(uniform(seed, ids, year, stream))


def categorical(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Category index for uniforms ``u`` and per-row (n, k) or shared (k,) probabilities."""
    cum = np.cumsum(np.asarray(probs, dtype=np.float64), axis=-1)
    if cum.ndim == 1:
        return np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(cum) - 1)
    cum = cum / cum[:, -1:]
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def hex_strings(h: np.ndarray, width: int = 16) -> pa.Array:
    """Arrow string array of the lowest ``4 * width`` bits of ``h`` as lower-case hex."""
    h = np.asarray(h, dtype=np.uint64)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = ((h[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    data = _HEX[nibbles].tobytes()
    offsets = (np.arange(len(h) + 1, dtype=np.int32) * width).tobytes()
    return pa.StringArray.from_buffers(len(h), pa.py_buffer(offsets), pa.py_buffer(data))


def person_ids(seed: int, ids: np.ndarray) -> pa.Array:
    """16-hex pseudonyms; unique because the keyed hash is a bijection."""
    return hex_strings(hash64(seed, ids, 0, S_PID), 16)
