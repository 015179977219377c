"""Large zero-filled arrays with few page faults.

A new n x k influence matrix is touched page by page as its columns are
written; on some virtual machines each 4 KiB page fault costs microseconds,
which adds up to seconds for the 10M-row Callaway & Sant'Anna grid. Large
buffers are therefore taken from an anonymous memory map advised to use
transparent huge pages (2 MiB) where the platform offers it; the kernel
zero-fills them, as numpy.zeros. Elsewhere this is numpy.zeros.
"""
from __future__ import annotations

import mmap

import numpy as np

HUGE_FROM = 64 << 20  # bytes


def zeros_f(shape: tuple[int, int]) -> np.ndarray:
    """Column-major float64 zeros of ``shape`` (writeable; the map is freed with the array)."""
    n_bytes = int(shape[0]) * int(shape[1]) * 8
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if n_bytes < HUGE_FROM or advice is None or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.zeros(shape, order="F")
    try:
        buf = mmap.mmap(-1, n_bytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf.madvise(advice)
    except (OSError, ValueError):
        return np.zeros(shape, order="F")
    return np.frombuffer(buf, dtype=np.float64).reshape(shape[::-1]).T
