"""What differs between POSIX and Windows in scheduling: an exclusive file lock and killing a job.

Nothing here is POSIX-only at import time. The lock is filelock's (a maintained cross-platform
package): :func:`filelock.lock_descriptor` on a descriptor evalkit keeps open, which is ``flock``
on POSIX and ``LockFileEx`` on one byte at offset 0 on Windows; the operating system releases
both when the holder dies, so a killed ``run-due`` never leaves a stale lock, and the holder can
still write its pid into the file for diagnosis. A job runs in its own process group (POSIX
session, Windows ``CREATE_NEW_PROCESS_GROUP``) so a timeout can stop the report run *and* the
Jupyter kernel it started:

* POSIX: SIGTERM to the group, SIGKILL to what is left after the grace period;
* Windows: CTRL_BREAK to the group, then ``taskkill /T /F`` on the process tree, then
  ``Popen.kill()``.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import filelock

WINDOWS = os.name == "nt"


def try_lock(fd: int) -> bool:
    """Take an exclusive non-blocking lock on the open file ``fd``; False when another holder has it."""
    return filelock.lock_descriptor(fd, blocking=False)


def unlock(fd: int) -> None:
    """Release :func:`try_lock` (closing the descriptor releases it too)."""
    filelock.unlock_descriptor(fd)


def read_holder(fd: int) -> str:
    """What the lock holder wrote into the file (its pid), or '' when unreadable (a locked byte on Windows)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def write_holder(fd: int, text: str) -> None:
    """Replace the lock file's content with ``text`` (done by the holder)."""
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, text.encode("utf-8"))


def group_kwargs() -> dict:
    """``Popen`` keyword arguments that start the child in a new process group."""
    if WINDOWS:
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the child has exited; on POSIX without reaping it (its pid, = the group id, stays reserved)."""
    if WINDOWS or not hasattr(os, "waitid"):
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait(proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not _exited(proc):
        time.sleep(0.05)
    return _exited(proc)


def kill_group(proc: subprocess.Popen, grace_seconds: float) -> None:
    """Stop the child and its process group: politely first, by force after ``grace_seconds``."""
    if WINDOWS:
        _kill_tree_windows(proc, grace_seconds)
    else:
        for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 0.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            _wait(proc, wait)
    proc.wait()


def _kill_tree_windows(proc: subprocess.Popen, grace_seconds: float) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        proc.send_signal(signal.CTRL_BREAK_EVENT)  # the group: KeyboardInterrupt in the report run
    if _wait(proc, grace_seconds):
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True, timeout=60, check=False)
    with contextlib.suppress(OSError):
        proc.kill()


#: browsers that can print a report to PDF headlessly, by platform (``shutil.which`` adds ``.exe`` on Windows)
BROWSERS_POSIX = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSERS_WINDOWS = ("chromium", "chrome", "msedge")
#: the browser to use instead of the first one on PATH (a path or a name on PATH)
BROWSER_ENV = "EVALKIT_CHROMIUM"


def find_chromium() -> str | None:
    """The headless-capable Chromium to print PDFs with: ``$EVALKIT_CHROMIUM`` when set (a path or a
    name on PATH), else the first of chromium, chromium-browser, google-chrome (POSIX) or chromium,
    chrome, msedge (Windows) on PATH; None when there is none."""
    import shutil

    chosen = os.environ.get(BROWSER_ENV, "").strip()
    if chosen:
        return shutil.which(chosen) or (chosen if os.path.isfile(chosen) and os.access(chosen, os.X_OK) else None)
    for name in BROWSERS_WINDOWS if WINDOWS else BROWSERS_POSIX:
        found = shutil.which(name)
        if found:
            return found
    return None
