"""Scheduling without POSIX: the schedule imports with ``fcntl`` missing and ``os.name == 'nt'``;
the run-due lock is filelock's (a maintained cross-platform lock) on a descriptor evalkit keeps."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
import warnings

import pytest

import evalkit.report


class OneHolder:
    """Windows' lock semantics on one byte, as a stand-in for filelock's descriptor functions: a second
    descriptor of the same file cannot lock it, and only the holder can unlock."""

    def __init__(self):
        self.held: dict[tuple[int, int], int] = {}  # (device, inode) -> fd
        self.calls: list[str] = []

    def _spot(self, fd: int) -> tuple[int, int]:
        st = os.fstat(fd)
        return st.st_dev, st.st_ino

    def lock_descriptor(self, fd: int, *, blocking: bool = True, poll_interval: float = 0.05) -> bool:
        assert blocking is False  # run-due never waits for the lock
        self.calls.append("lock")
        return self.held.setdefault(self._spot(fd), fd) == fd

    def unlock_descriptor(self, fd: int) -> None:
        self.calls.append("unlock")
        if self.held.get(self._spot(fd)) != fd:
            raise OSError("not locked")
        del self.held[self._spot(fd)]


@pytest.fixture
def windows(monkeypatch):
    """Fresh imports of filelock, evalkit.report.portable and .schedule on a pretend Windows without fcntl;
    afterwards the real modules are back (and none of the pretend ones is left in ``sys.modules``)."""
    import importlib

    def ours(name: str) -> bool:
        return name in ("filelock", "evalkit.report.portable", "evalkit.report.schedule") or \
            name.startswith("filelock.")

    saved_modules = {m: mod for m, mod in sys.modules.items() if ours(m)}
    saved_attrs = {n: vars(evalkit.report)[n] for n in ("portable", "schedule") if n in vars(evalkit.report)}
    for name in saved_attrs:  # (hasattr would import it again through the package's __getattr__)
        delattr(evalkit.report, name)
    for name in saved_modules:
        del sys.modules[name]
    monkeypatch.setitem(sys.modules, "fcntl", None)  # import fcntl -> ImportError
    try:
        with warnings.catch_warnings():  # filelock says its FileLock falls back to a soft lock (evalkit does not use it)
            warnings.filterwarnings("ignore", "only soft file lock", UserWarning)
            importlib.import_module("filelock")  # afresh, without fcntl (before os.name changes: pathlib follows it)
        monkeypatch.setattr(os, "name", "nt")
        try:
            portable = importlib.import_module("evalkit.report.portable")
            schedule = importlib.import_module("evalkit.report.schedule")
        finally:
            monkeypatch.setattr(os, "name", "posix")  # only the imports need to believe it
        yield types.SimpleNamespace(portable=portable, schedule=schedule)
    finally:
        for name in [m for m in sys.modules if ours(m)]:
            del sys.modules[name]
        for name in ("portable", "schedule"):
            vars(evalkit.report).pop(name, None)
        sys.modules.update(saved_modules)
        vars(evalkit.report).update(saved_attrs)


def test_fcntl_is_really_unavailable(windows):
    with pytest.raises(ImportError):
        import fcntl  # noqa: F401
    assert windows.portable.WINDOWS
    assert windows.schedule.portable is windows.portable
    assert not hasattr(windows.portable, "fcntl") and not hasattr(windows.portable, "msvcrt")
    # filelock itself imported without fcntl (its flock path reports the missing module when used)
    assert windows.portable.filelock is sys.modules["filelock"]


def test_run_lock_without_fcntl(windows, monkeypatch, tmp_path):
    sc, lock_fns = windows.schedule, OneHolder()
    monkeypatch.setattr(windows.portable.filelock, "lock_descriptor", lock_fns.lock_descriptor)
    monkeypatch.setattr(windows.portable.filelock, "unlock_descriptor", lock_fns.unlock_descriptor)
    lock = tmp_path / "locks" / sc.LOCK_NAME
    with sc.run_lock(lock):
        assert lock.read_text().split()[0] == str(os.getpid())
        with pytest.raises(sc.RunDueBusy, match=f"by pid {os.getpid()}"), sc.run_lock(lock):
            pass
    with sc.run_lock(lock):  # released on exit
        pass
    assert issubclass(sc.RunDueBusy, evalkit.errors.EvalkitError)
    assert lock_fns.held == {} and lock_fns.calls == ["lock", "lock", "unlock", "lock", "unlock"]


def test_the_lock_is_filelocks():
    from evalkit.report import portable

    source = open(portable.__file__, encoding="utf-8").read()
    assert "filelock.lock_descriptor" in source and "import fcntl" not in source and "import msvcrt" not in source


def test_run_lock_contends_across_processes(tmp_path):
    """A second run-due (another process) finds the lock taken and names the holder; the OS releases it
    when the holder exits."""
    from evalkit.report.schedule import RunDueBusy, run_lock

    lock = tmp_path / ".run-due.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from evalkit.report.schedule import run_lock
        with run_lock({str(lock)!r}):
            print("held", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDueBusy, match=f"by pid {holder.pid}"), run_lock(lock):
            pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with run_lock(lock):  # free again once the holder is gone
        assert lock.read_text().split()[0] == str(os.getpid())


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


def test_the_platform_default():
    from evalkit.report import portable

    expected = {"creationflags"} if os.name == "nt" else {"start_new_session"}
    assert set(portable.group_kwargs()) == expected and portable.WINDOWS == (os.name == "nt")


POSIX_ONLY = {"fcntl", "resource", "pwd", "grp", "termios", "tty", "pty", "posix", "syslog", "crypt"}


def test_no_module_level_import_of_a_posix_only_module():
    import ast
    from pathlib import Path

    root = Path(evalkit.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in POSIX_ONLY]
    assert not found, found


def test_every_module_imports_without_fcntl():
    """No evalkit module needs fcntl at import time (Windows has none)."""
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        sys.modules["fcntl"] = None  # import fcntl -> ImportError
        import evalkit
        failed = []
        for info in pkgutil.walk_packages(evalkit.__path__, "evalkit."):
            if info.name == "evalkit.__main__":
                continue
            try:
                importlib.import_module(info.name)
            except ImportError as exc:
                failed.append(f"{info.name}: {exc}")
        print("\\n".join(failed) or "ok")
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok", done.stdout
