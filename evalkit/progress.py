"""Progress for long work, on the console.

Inside a Jupyter kernel both ``sys.stderr`` and the process's file descriptor 2 are captured
into the notebook, which would put progress lines into the reviewer's HTML. ipykernel keeps a
duplicate of the original descriptor (``_original_stdstream_copy``); writing there reaches the
console of whoever started the run (the papermill command, or the terminal running JupyterLab)
and never the notebook. When that duplicate is unavailable inside a kernel, progress is
silenced rather than leaked. Outside a kernel it goes to stderr.
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator

from tqdm.std import tqdm as _tqdm

from evalkit import seal


_CONSOLE: list = []


def _stream():
    """The console stream, or None when only a captured (notebook) stream is available."""
    if _CONSOLE:
        return _CONSOLE[0]
    if "ipykernel" not in sys.modules:
        return sys.stderr
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    if fd is None:
        return None
    _CONSOLE.append(open(fd, "w", closefd=False, buffering=1, encoding="utf-8"))  # noqa: SIM115
    return _CONSOLE[0]


@contextlib.contextmanager
def step(description: str, *, enabled: bool = True) -> Iterator[None]:
    """Announce a long step and its duration: ``[evalkit] description ... 3.2 s``."""
    stream = _stream() if enabled else None
    if stream is None:
        yield
        return
    start = time.perf_counter()
    print(seal.note_lines(f"[evalkit] {description} ..."), file=stream, flush=True)
    yield
    print(seal.note_lines(f"[evalkit] {description}: {time.perf_counter() - start:.1f} s"), file=stream, flush=True)


def bar(iterable: Iterable, *, total: int | None = None, description: str = "", enabled: bool = True):
    """A progress bar over ``iterable`` on the console stream (a plain iterator when disabled)."""
    stream = _stream() if enabled else None
    if stream is None:
        return iterable
    # the console tqdm, never the notebook widget (which would write into the report)
    return _tqdm(iterable, total=total, desc=f"[evalkit] {description}", file=stream, mininterval=0.5)
