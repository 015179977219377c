"""Progress goes to the console stream, never into captured (notebook) output."""
import io
import sys

from evalkit import progress


def test_step_and_bar_write_to_stderr_outside_a_kernel(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    with progress.step("demo step"):
        pass
    assert list(progress.bar(range(3), total=3, description="loop")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "[evalkit] demo step ..." in err and "[evalkit] demo step:" in err and "loop" in err


def test_silenced_inside_a_kernel_without_console(monkeypatch):
    monkeypatch.setattr(progress, "_CONSOLE", [])
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    monkeypatch.setattr(sys, "stderr", io.StringIO())          # a captured stream without the fd copy
    with progress.step("hidden"):
        pass
    assert list(progress.bar([1, 2], description="x")) == [1, 2]
    assert sys.stderr.getvalue() == ""
