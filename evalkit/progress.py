"""Progress for long work, on the console.

Inside a report kernel ``sys.stderr`` is captured into the notebook, which would put progress
bars into the reviewer's HTML; ``sys.__stderr__`` is the kernel's own stream, which papermill
leaves on the console of whoever started the run. Interactive users see it in the terminal
that runs JupyterLab; scripts see it on stderr.
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator

from tqdm.std import tqdm as _tqdm


def _stream():
    return sys.__stderr__ or sys.stderr


@contextlib.contextmanager
def step(description: str, *, enabled: bool = True) -> Iterator[None]:
    """Announce a long step and its duration: ``[evalkit] description ... 3.2 s``."""
    if not enabled:
        yield
        return
    start = time.perf_counter()
    print(f"[evalkit] {description} ...", file=_stream(), flush=True)
    yield
    print(f"[evalkit] {description}: {time.perf_counter() - start:.1f} s", file=_stream(), flush=True)


def bar(iterable: Iterable, *, total: int | None = None, description: str = "", enabled: bool = True):
    """A progress bar over ``iterable`` on the console stream (a plain iterator when disabled)."""
    if not enabled:
        return iterable
    # the console tqdm, never the notebook widget (which would write into the report)
    return _tqdm(iterable, total=total, desc=f"[evalkit] {description}", file=_stream(), mininterval=0.5)
