"""Normal draws identical to R's ``set.seed(seed); rnorm(n)`` (Mersenne-Twister, Inversion).

HonestDiD simulates the least-favourable critical value of the ARP hybrid test
with ``set.seed(seed)`` and ``mvtnorm::rmvnorm`` (R >= 3.6 defaults). Using the
same stream makes evalkit reproduce the R package's intervals exactly instead of
up to Monte Carlo noise. The algorithm is R's: 50 LCG scrambling steps of the
seed, 625 LCG draws fill the MT19937 state (the first word is the position,
reset to 624), uniforms are ``genrand_int32 / 2^32`` and a normal is
``qnorm((floor(2^27 u1) + u2) / 2^27)``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import ndtri

_LCG, _MASK, _BIG = 69069, 0xFFFFFFFF, 134217728.0


def _mt_state(seed: int) -> np.ndarray:
    s = int(seed) & _MASK
    for _ in range(50):
        s = (_LCG * s + 1) & _MASK
    words = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (_LCG * s + 1) & _MASK
        words[j] = s
    return words[1:]


def r_rnorm(n: int, seed: int) -> np.ndarray:
    """``set.seed(seed); rnorm(n)`` of R (normal.kind = "Inversion")."""
    return _r_rnorm(int(n), int(seed)).copy()


@lru_cache(maxsize=8)
def _r_rnorm(n: int, seed: int) -> np.ndarray:
    """:func:`r_rnorm`, remembered: every restriction piece of an analysis draws the same stream."""
    gen = np.random.MT19937()
    gen.state = {"bit_generator": "MT19937", "state": {"key": _mt_state(seed), "pos": 624}}
    u = gen.random_raw(2 * n).astype(np.float64) * 2.3283064365386963e-10
    u = np.where(u <= 0.0, 0.5 * 2.328306437080797e-10, u)
    u = np.where(1.0 - u <= 0.0, 1.0 - 0.5 * 2.328306437080797e-10, u)
    return ndtri((np.floor(_BIG * u[0::2]) + u[1::2]) / _BIG)


def r_rmvnorm(n: int, sigma: np.ndarray, seed: int) -> np.ndarray:
    """``set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma)`` (method "eigen")."""
    k = sigma.shape[0]
    vals, vecs = np.linalg.eigh(sigma)
    root = (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T
    return r_rnorm(n * k, seed).reshape(n, k) @ root
