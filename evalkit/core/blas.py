"""One BLAS thread for code made of many thin matrix products.

On two cores OpenBLAS's own spinning threads made the Callaway-Sant'Anna grid 2-4x slower and the
event study's indicator fit slower too; those run under :func:`one_thread` (restored on exit).
threadpoolctl's controller scans every loaded shared library (~20 ms with pandas and pyarrow
loaded); it is built once, when this module is imported, not inside each estimator call.
"""
from __future__ import annotations

from threadpoolctl import ThreadpoolController

_CONTROLLER = ThreadpoolController()


def one_thread():
    """Context manager: the BLAS libraries loaded at import run one thread inside the block."""
    return _CONTROLLER.limit(limits=1, user_api="blas")
