"""Every README code block is executed or checked (issue 16 part 3).

**python blocks** run for real, every one, in README order, in one namespace, in a scratch working
folder whose ``data/demo`` is the session's demo data (``conftest.py`` made it with seed 2024,
size small). The first block's ``ek.simulate("data/demo", seed=2024, size="small")`` runs too, but
finds exactly that data already in place (:func:`evalkit.data.simulate.is_current` checks seed, size
and generator) and returns without writing it again (~20 s saved; ``tests/test_simulate.py`` and
``tests/test_cli.py`` simulate for real).

**bash blocks**: every line is a command the test knows (an unknown one fails, so a new README
command needs a rule here). Lines are joined at ``\\`` and split at ``&&``; ``#`` starts a comment.

=========================================  ===================================================================
command                                    how it is checked
=========================================  ===================================================================
``evalkit --version``, ``init``,           **executed** with :func:`evalkit.cli.main` in the scratch folder
``report params``, ``lists compute``       (exit 0; ``lists compute`` must write the files it names)
``evalkit simulate ...``                   parsed by the CLI's parser; the data it names (seed, size) must be
                                           current in the session's ``data/demo``, which is then linked where
                                           the command would write it (generating it again costs ~20 s and is
                                           the python block's work)
``evalkit report run ...``                 parsed, then the dry run of a report: the parameter file is
                                           validated and checked against the data (:func:`runner._prepare`,
                                           what runs before any kernel), ``--pdf`` finds Chromium. A run takes
                                           15-60 s; ``test_report_runs.py`` and ``test_report_pdf.py`` run them
``evalkit report run-due ...``             parsed, and the schedule file loaded and validated (running it would
                                           run every report in it)
``make demo``, ``make test``               ``make -n`` (a dry run: make prints the recipe without running it).
                                           ``make test`` is the whole suite, this test included, and ``make
                                           demo`` renders both reports; the evalkit commands ``make -n demo``
                                           prints are parsed like the README's own
``cd DIR``                                 changes the scratch working folder
``pip install evalkit-X-...whl``           the wheel's version must be evalkit's (``test_packaging.py``
                                           installs the wheel for real)
=========================================  ===================================================================

The ``cron`` and ``ini`` blocks and the Windows Task Scheduler line hold ``python -m evalkit ...``
command lines for a server's absolute paths: those are parsed by the CLI's parser. The ``yaml``
block (a register layout) is read by :class:`evalkit.domain.register.RegisterConfig`.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import matplotlib
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO = ROOT / "data" / "demo"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
#: how each kind of command line was checked, filled by the bash test (shown with -s, asserted below)
EXECUTED, PARSED = "executed", "parsed"


def blocks(lang: str) -> list[str]:
    """The README's fenced blocks of ``lang``, in order, de-indented (some sit inside list items)."""
    out = []
    for m in FENCE.finditer(README.read_text(encoding="utf-8")):
        if m.group("lang") == lang:
            indent = len(m.group("indent"))
            out.append("\n".join(line[indent:] for line in m.group("body").splitlines()) + "\n")
    return out


def commands(block: str) -> list[str]:
    """Command lines of a bash block: continuations joined, comments dropped, split at ``&&``."""
    text = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        out += [part.strip() for part in line.split("&&") if part.strip()]
    return out


def _link_demo(target: Path) -> None:
    """The session's demo data at ``target`` (a link, or a copy where links are not allowed)."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(DEMO, target_is_directory=True)
    except OSError:  # no symlinks (Windows without the privilege)
        shutil.copytree(DEMO, target)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A scratch folder with the session's demo data, the example parameters and the schedule."""
    from evalkit.data.simulate import is_current

    assert is_current(DEMO, seed=2024, size="small")  # conftest.py made it
    work = tmp_path_factory.mktemp("readme")
    _link_demo(work / "data" / "demo")
    shutil.copytree(ROOT / "params", work / "params")
    shutil.copy(ROOT / "reports.yaml", work / "reports.yaml")
    return work


def test_every_python_block_runs_in_order(workspace, monkeypatch):
    import evalkit
    from evalkit.data.simulate import is_current

    matplotlib.use("Agg")
    real = evalkit.simulate

    def simulate(out, *, seed=2024, size="small", **kwargs):
        if is_current(out, seed=seed, size=size):  # the session's identical data is already there
            return Path(out)
        return real(out, seed=seed, size=size, **kwargs)

    monkeypatch.setattr(evalkit, "simulate", simulate)
    monkeypatch.chdir(workspace)
    code = blocks("python")
    assert len(code) >= 4
    scope: dict = {}
    took = []
    for number, block in enumerate(code, 1):
        start = time.perf_counter()
        exec(compile(block, f"README.md python block {number}", "exec"), scope)
        took.append(round(time.perf_counter() - start, 1))
    print("README python blocks, seconds each:", took)
    # what the blocks promise
    assert scope["res"].estimator == "twfe" and len(scope["cohort"]) > 0   # res is rebound by the inference block
    assert scope["panel"]["cohort"].gt(0).any()
    assert scope["mde"].mde > 0
    assert len(scope["lists"].counts()) > 0 and len(scope["lists"].criteria) > 0


def _parser():
    from evalkit.cli import build_parser

    return build_parser()


def _evalkit(argv: list[str], workspace: Path, cwd: Path) -> str:
    """Check one ``evalkit ...`` command line; return how (executed or parsed)."""
    from evalkit.cli import main

    args = _parser().parse_args(argv)  # every line at least parses (SystemExit on --version: handled below)
    head = argv[:2]
    if argv[0] in ("init", "lists") or head == ["report", "params"]:
        assert main(argv) == 0, argv
        for flag in ("--out", "--criteria", "--status", "--indicators"):
            if argv[0] == "lists" and getattr(args, flag[2:], None):
                assert (cwd / getattr(args, flag[2:])).is_file(), flag
        if argv[0] == "init":
            assert (cwd / args.dir / "notebooks").is_dir() and (cwd / args.dir / "reports.yaml").is_file()
        return EXECUTED
    if argv[0] == "simulate":
        from evalkit.data.simulate import is_current

        assert is_current(DEMO, seed=args.seed, size=args.size), argv
        _link_demo(cwd / args.out)  # what the command would write: the session's identical data
        return PARSED
    if head == ["report", "run"]:
        from evalkit.report.runner import _prepare, project_root

        params, _ = _prepare(args.template, cwd / args.params, project_root(cwd))
        assert params["data_dir"]
        if args.pdf:
            from evalkit.report.pdf import require_chromium
            from tests.chromium import chromium

            chromium()  # skip locally without it, fail under CI
            require_chromium()
        return PARSED
    if head == ["report", "run-due"]:
        from evalkit.report.schedule import load_schedule

        assert load_schedule(cwd / args.schedule).jobs
        return PARSED
    raise AssertionError(f"README command without a rule in tests/test_readme.py: evalkit {shlex.join(argv)}")


def test_every_bash_line_is_executed_or_parsed(workspace, monkeypatch, capsys):
    import evalkit

    monkeypatch.chdir(workspace)
    cwd = workspace
    seen: list[tuple[str, str]] = []
    for block in blocks("bash"):
        for line in commands(block):
            words = shlex.split(line)
            if words[0] == "evalkit" and words[1:] == ["--version"]:
                from evalkit.cli import main

                capsys.readouterr()
                assert main(words[1:]) == 0
                assert capsys.readouterr().out.strip() == f"evalkit {evalkit.__version__}"
                how = EXECUTED
            elif words[0] == "evalkit":
                how = _evalkit(words[1:], workspace, cwd)
            elif words[0] == "cd":
                cwd = (cwd / words[1]).resolve()
                monkeypatch.chdir(cwd)
                how = EXECUTED
            elif words[0] == "make":
                how = _make_dry_run(words[1:])
            elif words[:2] == ["pip", "install"]:
                wheel = re.fullmatch(r"evalkit-(.+?)-py3-none-any\.whl", Path(words[-1]).name)
                assert wheel and wheel.group(1) == evalkit.__version__, words[-1]
                how = PARSED
            else:
                raise AssertionError(f"README command without a rule in tests/test_readme.py: {line}")
            seen.append((line, how))
    capsys.readouterr()
    with capsys.disabled():
        print("\nREADME bash lines:", *(f"  {how:8} {line}" for line, how in seen), sep="\n")
    ran = {line for line, how in seen if how == EXECUTED}
    assert {"make demo", "make test"} <= {line for line, _ in seen}
    assert {"evalkit --version", "evalkit report params final", "evalkit init proj"} <= ran
    assert any(line.startswith("evalkit lists compute") for line in ran)


def _make_dry_run(target: list[str]) -> str:
    """``make -n TARGET`` in the checkout: the target exists and its recipe's evalkit commands parse."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", *target], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MAKEFLAGS": ""})
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        words = shlex.split(line) if "evalkit " in line and "pip" not in line else []
        if words and Path(words[0]).name == "evalkit":
            _parser().parse_args(words[1:])
    if target == ["test"]:
        assert "pytest" in done.stdout
    return PARSED


def test_server_command_lines_parse():
    """The cron and systemd blocks and the Windows line: ``python -m evalkit ...`` parses."""
    command = re.compile(r"-m evalkit ((?:report|simulate|lists|init)\b[^`>]*)")
    lines = [m.group(1) for block in blocks("cron") + blocks("ini") for row in block.splitlines()
             for m in command.finditer(row)]
    prose = FENCE.sub("", README.read_text(encoding="utf-8"))  # inline spans, which may wrap a line
    lines += [m.group(1) for span in re.findall(r"`([^`]*)`", prose) for m in command.finditer(span.replace("\n", " "))]
    assert len(lines) >= 3
    for line in lines:
        argv = shlex.split(line.replace("\\", "/"))
        _parser().parse_args(argv)


def test_register_layout_block_is_a_valid_config():
    from evalkit.domain.register import RegisterConfig

    (block,) = [b for b in blocks("yaml") if "registers:" in b]
    config = RegisterConfig.from_mapping(yaml.safe_load(block))
    assert config is not None


def _function_table_names(text: str) -> set[str]:
    """Names in the first column of the README's ``| function | what |`` tables (``name(...)`` or ``name``)."""
    names: set[str] = set()
    in_table = False
    for line in text.splitlines():
        if line.startswith("| function |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            first = re.split(r"(?<!\\)\|", line)[1]
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(|`)", first))
    return names


def test_every_public_name_in_the_readme_exists():
    import evalkit as ek

    text = README.read_text(encoding="utf-8")
    names = _function_table_names(text) | set(re.findall(r"\bek\.([A-Za-z_][A-Za-z0-9_]*)", text))
    assert {"cr2_dof", "did2x2", "sdid_plot", "match_areas"} <= names  # the tables were read
    missing = sorted(n for n in names if not hasattr(ek, n))
    assert not missing, f"README names that evalkit does not export: {missing}"
    assert all(n in ek.__all__ for n in names)
