"""Progress for long work: a notebook bar in JupyterLab, a console bar elsewhere, never in a report.

Where progress goes (:func:`destination`):

* **an interactive Jupyter kernel** (JupyterLab, Notebook, VS Code): into the notebook, as a
  ``tqdm`` widget bar (the ``tqdm.auto`` choice: a text bar in the cell when ipywidgets is not
  installed);
* **a report run** (``evalkit report run``: the kernel holds a run key, :mod:`evalkit.seal`, and the
  runner sets ``EVALKIT_PROGRESS=console``): never into the notebook, so never into the report HTML.
  ipykernel keeps a duplicate of the process's original stderr (``_original_stdstream_copy``), which
  the runner points at the run's restricted console log; progress goes there, or nowhere when that
  duplicate is unavailable;
* **outside a kernel** (a script, the CLI): the terminal (stderr).

``EVALKIT_PROGRESS`` overrides the choice: ``off`` (nothing anywhere, e.g. when running notebooks with
papermill yourself), ``console`` (never the notebook) or ``notebook``. Every long loop in evalkit
(simulation, bootstraps, placebos, HonestDiD, power, randomization inference) goes through
:func:`bar`, :func:`step` or :func:`logger`.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator

from evalkit import seal
from evalkit.errors import ParameterError

ENV = "EVALKIT_PROGRESS"
MODES = ("auto", "off", "console", "notebook")
_CONSOLE: list = []


def _console():
    """The console stream, or None when only a captured (notebook) stream is available."""
    if _CONSOLE:
        return _CONSOLE[0]
    if not type(sys.stderr).__module__.startswith("ipykernel"):  # not a kernel's captured stream
        return sys.stderr
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    if fd is None:  # a kernel whose stderr reaches only the notebook (and a report's HTML)
        return None
    _CONSOLE.append(open(fd, "w", closefd=False, buffering=1, encoding="utf-8"))  # noqa: SIM115
    return _CONSOLE[0]


def _interactive_kernel() -> bool:
    """Whether this process is a Jupyter kernel with a front end (not a terminal IPython)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def env_mode() -> str:
    """``$EVALKIT_PROGRESS`` as one of :data:`MODES` ("auto" when unset or empty; case and spaces ignored).

    Raises
    ------
    ParameterError
        When it is set to anything else (one line naming the variable and the allowed values).
    """
    raw = os.environ.get(ENV, "")
    mode = raw.strip().lower() or "auto"
    if mode not in MODES:
        raise ParameterError(f"{ENV}={raw!r} is not allowed; set it to one of {', '.join(MODES)} (or unset it).")
    return mode


def destination() -> str:
    """``"notebook"``, ``"console"`` or ``"off"`` for progress shown now (see the module docstring)."""
    mode = env_mode()
    if mode == "off":
        return "off"
    in_report = seal.known_report_run()
    if mode == "notebook" and not in_report:
        return "notebook"
    if mode == "auto" and not in_report and _interactive_kernel():
        return "notebook"
    return "console" if _console() is not None else "off"


def _notebook_tqdm():
    """The notebook bar class: tqdm's widget bar, or its text bar on the cell's stderr without ipywidgets."""
    from tqdm.notebook import IProgress, tqdm as notebook_tqdm

    if IProgress is not None:
        return notebook_tqdm
    from tqdm.std import tqdm

    return lambda *args, **kwargs: tqdm(*args, file=sys.stderr, **kwargs)


def _make(iterable: Iterable | None, *, total: int | None, description: str, where: str, **kwargs):
    if where == "notebook":
        return _notebook_tqdm()(iterable, total=total, desc=description, **kwargs)
    from tqdm.std import tqdm

    # the console tqdm, never the notebook widget (which would write into the report)
    stream = _console()
    terminal = _is_terminal(stream)
    # a terminal that reports its size as 0 x 0 (a pty without a window size: `script`, some CI runners,
    # IDE consoles, docker exec -t) made tqdm hide every bar (position >= 0 rows) or draw it 0 wide; a
    # file or pipe (a log) gets one line per bar (its start and end, redrawn at most once a minute)
    columns, rows = _size(stream) if terminal else (None, None)
    return tqdm(iterable, total=total, desc=f"[evalkit] {description}", file=stream,
                mininterval=0.5 if terminal else 60.0, ncols=80 if columns == 0 else None,
                nrows=24 if rows == 0 else None, **kwargs)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _size(stream) -> tuple[int | None, int | None]:
    """Columns and rows of the terminal ``stream`` writes to: 0 when it reports no size, None
    when it cannot be asked (tqdm then finds out itself)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return None, None
    return max(size.columns, 0), max(size.lines, 0)


def interactive() -> bool:
    """Whether someone watches the output now: stderr is a terminal, or this is a Jupyter kernel
    with a front end (not a report run).

    Progress bars of other tools (papermill's "Executing" bar in ``evalkit report run``) are shown
    only then, so a log file (``evalkit report run ... > log 2>&1``) holds no bars.

    Returns
    -------
    bool
        True in a terminal or an interactive notebook, False when stderr goes to a file or pipe.
    """
    if seal.known_report_run():
        return False
    return _is_terminal(sys.stderr) or _interactive_kernel()


def bar(iterable: Iterable, *, total: int | None = None, description: str = "", enabled: bool = True):
    """A progress bar over ``iterable`` where progress goes now (a plain iterator when disabled or off)."""
    where = destination() if enabled else "off"
    if where == "off":
        return iterable
    return _make(iterable, total=total, description=description, where=where)


def counted(iterable: Iterable, size: Callable[[object], int], *, total: int, description: str = "",
            enabled: bool = True) -> Iterator:
    """Like :func:`bar`, but each item of ``iterable`` advances the bar by ``size(item)`` units, so a
    bar over chunks of work counts what its description names (e.g. replications, not chunks)."""
    where = destination() if enabled else "off"
    if where == "off":
        yield from iterable
        return
    shown = _make(None, total=total, description=description, where=where)
    try:
        for item in iterable:
            yield item
            shown.update(size(item))
    finally:
        shown.close()


@contextlib.contextmanager
def step(description: str, *, enabled: bool = True) -> Iterator[None]:
    """Announce a long step and its duration: ``[evalkit] description ... 3.2 s``."""
    where = destination() if enabled else "off"
    if where == "off":
        yield
        return
    stream = sys.stdout if where == "notebook" else _console()
    start = time.perf_counter()
    print(seal.note_lines(f"[evalkit] {description} ..."), file=stream, flush=True)
    yield
    print(seal.note_lines(f"[evalkit] {description}: {time.perf_counter() - start:.1f} s"), file=stream, flush=True)


def logger(description: str, *, enabled: bool = True) -> Callable[[str], None]:
    """``log(message)`` for a long task made of named stages (e.g. ``simulate``).

    On the console each message is a line ``[description   12.3s] message``; in a notebook the
    messages replace each other on one status bar instead of filling the cell.
    """
    where = destination() if enabled else "off"
    start = time.perf_counter()
    if where == "off":
        return lambda message: None
    if where == "console":
        stream = _console()

        def log_line(message: str) -> None:
            print(seal.note_lines(f"[{description} {time.perf_counter() - start:6.1f}s] {message}"), file=stream,
                  flush=True)
        return log_line
    status = _make(None, total=None, description=description, where=where, bar_format="{desc}{postfix} [{elapsed}]")

    def log_status(message: str) -> None:
        status.set_postfix_str(message, refresh=True)
    return log_status
