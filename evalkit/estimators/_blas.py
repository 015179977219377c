"""One BLAS thread while an estimator runs many small matrix products (or its own threads).

OpenBLAS starts its threads for products as small as a few thousand rows by
three columns; between calls they spin, and on a machine with few (or shared)
cores the spinning and waking cost more than the products (Callaway &
Sant'Anna's grid ran 2-4x slower in wall and CPU time with two BLAS threads).
:func:`single_thread` sets numpy's OpenBLAS to one thread and restores the
previous count when the last caller leaves. Without an OpenBLAS that can be
found (MKL, Accelerate, other platforms) it does nothing. Results do not
depend on it beyond floating-point summation order.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading

_LOCK = threading.Lock()
_STATE = {"depth": 0, "saved": None, "lib": False}  # lib: False = not looked up yet, None = none found
_NAMES = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]


def _candidates() -> list[str]:
    """numpy's own OpenBLAS first (wheels bundle it in numpy.libs; scipy's copy is another library)."""
    import numpy

    libs = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
    paths = sorted(glob.glob(os.path.join(libs, "*openblas*")))
    try:
        with open("/proc/self/maps") as maps:
            paths += [line.split()[-1] for line in maps if "openblas" in line.lower() and "numpy" in line]
    except OSError:
        pass
    return list(dict.fromkeys(paths))


def _openblas():
    """(get, set) of numpy's OpenBLAS thread count, or None."""
    if _STATE["lib"] is False:
        _STATE["lib"] = None
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for get, set_ in _NAMES:
                if hasattr(lib, get) and hasattr(lib, set_):
                    _STATE["lib"] = (getattr(lib, get), getattr(lib, set_))
                    break
            if _STATE["lib"] is not None:
                break
    return _STATE["lib"]


@contextlib.contextmanager
def single_thread():
    """Run the block with one OpenBLAS thread (re-entrant and safe across Python threads)."""
    with _LOCK:
        lib = _openblas()
        if lib is not None and _STATE["depth"] == 0:
            _STATE["saved"] = lib[0]()
            lib[1](1)
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if lib is not None and _STATE["depth"] == 0 and _STATE["saved"] is not None:
                lib[1](_STATE["saved"])
