"""Scheduling without POSIX: the schedule imports and locks with ``fcntl`` missing and ``os.name == 'nt'``."""
from __future__ import annotations

import errno
import importlib
import os
import subprocess
import sys
import types

import pytest

import evalkit.report


class FakeMsvcrt(types.ModuleType):
    """``msvcrt.locking`` semantics on one byte: a second descriptor of the same file cannot lock it."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self):
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int], int] = {}  # (file, offset) -> fd
        self.calls: list[tuple[int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1
        st = os.fstat(fd)
        spot = ((st.st_dev, st.st_ino), os.lseek(fd, 0, os.SEEK_CUR))
        self.calls.append((mode, spot[1]))
        if mode == self.LK_UNLCK:
            if self.held.get(spot) != fd:
                raise OSError(errno.EACCES, "not locked")
            del self.held[spot]
        elif self.held.setdefault(spot, fd) != fd:
            raise OSError(errno.EDEADLOCK if hasattr(errno, "EDEADLOCK") else errno.EACCES, "locked")


@pytest.fixture
def windows(monkeypatch):
    """Fresh imports of evalkit.report.portable and .schedule on a pretend Windows without fcntl."""
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "fcntl", None)  # import fcntl -> ImportError
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    for name in ("portable", "schedule"):
        monkeypatch.delitem(sys.modules, f"evalkit.report.{name}", raising=False)
        monkeypatch.delattr(evalkit.report, name, raising=False)
    monkeypatch.setattr(os, "name", "nt")
    portable = importlib.import_module("evalkit.report.portable")
    schedule = importlib.import_module("evalkit.report.schedule")
    monkeypatch.setattr(os, "name", "posix")  # only the imports need to believe it
    yield types.SimpleNamespace(portable=portable, schedule=schedule, msvcrt=fake)


def test_fcntl_is_really_unavailable(windows):
    with pytest.raises(ImportError):
        import fcntl  # noqa: F401
    assert windows.portable.WINDOWS and windows.portable.fcntl is None
    assert windows.schedule.portable is windows.portable


def test_lock_helper_without_fcntl(windows, tmp_path):
    portable, msvcrt = windows.portable, windows.msvcrt
    path = tmp_path / "x.lock"
    first, second = (os.open(path, os.O_RDWR | os.O_CREAT) for _ in range(2))
    try:
        assert portable.try_lock(first)
        assert not portable.try_lock(second)
        portable.unlock(first)
        assert portable.try_lock(second)
        assert {offset for _, offset in msvcrt.calls} == {0}
    finally:
        os.close(first), os.close(second)


def test_run_lock_without_fcntl(windows, tmp_path):
    sc = windows.schedule
    lock = tmp_path / "locks" / sc.LOCK_NAME
    with sc.run_lock(lock):
        assert lock.read_text().split()[0] == str(os.getpid())
        with pytest.raises(sc.RunDueBusy, match=f"by pid {os.getpid()}"), sc.run_lock(lock):
            pass
    with sc.run_lock(lock):  # released on exit
        pass
    assert issubclass(sc.RunDueBusy, evalkit.errors.EvalkitError)
    assert windows.msvcrt.held == {}


def test_windows_job_group_and_kill(windows, monkeypatch):
    portable = windows.portable
    assert "creationflags" in portable.group_kwargs() and "start_new_session" not in portable.group_kwargs()
    taskkill: list[list[str]] = []
    monkeypatch.setattr(portable.subprocess, "run", lambda argv, **kw: taskkill.append(argv))
    monkeypatch.setattr(portable.signal, "CTRL_BREAK_EVENT", 1, raising=False)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(proc, "send_signal", lambda sig: None)  # a break the child ignores
    portable.kill_group(proc, grace_seconds=0.2)
    assert proc.returncode is not None
    assert taskkill == [["taskkill", "/T", "/F", "/PID", str(proc.pid)]]


def test_posix_helper_is_the_default():
    from evalkit.report import portable

    if os.name == "nt":  # pragma: no cover
        pytest.skip("POSIX only")
    assert portable.fcntl is not None and portable.group_kwargs() == {"start_new_session": True}
