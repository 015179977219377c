"""``evalkit init`` and where report runs find templates, projects and data (issue 16, part 1);
the templates' parameters cells and papermill's parameter warnings (part 7).
The built wheel, end to end: tests/test_wheel.py."""
from __future__ import annotations

import logging
import re
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from evalkit.cli import main
from evalkit.errors import EvalkitWarning
from evalkit.report import project as pj
from evalkit.report import runner
from evalkit.report.params import PARAMS, TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
FILES = {".gitignore", "README.md", "reports.yaml", "data/README.md", "reports/README.md",
         "notebooks/midterm.ipynb", "notebooks/final.ipynb", "params/outreach_midterm.yaml",
         "params/outreach_final.yaml", "params/poa_final.yaml"}


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_init_makes_a_project(tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj)]) == 0
    assert "created the report project" in capsys.readouterr().out
    assert FILES <= _files(proj)
    assert pj.is_project(proj) and pj.find_project(proj / "notebooks") == proj
    for template in TEMPLATES:  # editable copies of the templates, without the demo run's outputs
        copy = nbformat.read(proj / "notebooks" / f"{template}.ipynb", as_version=4)
        stock = nbformat.read(pj.template_notebook(template), as_version=4)
        assert [c.source for c in copy.cells] == [c.source for c in stock.cells]
        assert all(not c.get("outputs") for c in copy.cells)
    for rel in ("reports.yaml", "params/outreach_midterm.yaml"):
        assert (proj / rel).read_bytes() == (pj.template_root() / rel).read_bytes()
    assert "data/demo" in (proj / "params" / "outreach_midterm.yaml").read_text()  # relative to the project


def test_init_into_an_empty_existing_folder(tmp_path):
    assert main(["init", str(tmp_path)]) == 0 and FILES <= _files(tmp_path)


@pytest.mark.parametrize("kind", ["non-empty", "file"])
def test_init_refuses_with_one_line_and_writes_nothing(tmp_path, kind):
    target = tmp_path / "proj"
    if kind == "file":
        target.write_text("x")
    else:
        target.mkdir()
        (target / "mine.txt").write_text("keep")
    before = _files(tmp_path)
    done = subprocess.run([sys.executable, "-m", "evalkit", "init", str(target)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evalkit: error:") and str(target) in lines[0], done.stderr
    assert _files(tmp_path) == before


def test_init_help_is_plain_text(capsys):
    assert main(["init", "--help"]) == 0
    text = capsys.readouterr().out
    assert "usage: evalkit init" in text and "DIR" in text
    assert not re.search(r"``|`[^`]+`|:(func|class|mod|meth):", text)
    assert main(["--help"]) == 0 and "init" in capsys.readouterr().out


def test_templates_come_from_the_checkout_in_an_editable_install():
    assert pj.template_root() == ROOT
    assert pj.template_notebook("final") == ROOT / "notebooks" / "final.ipynb"


def test_missing_templates_are_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(pj, "CHECKOUT", tmp_path / "a")
    monkeypatch.setattr(pj, "PACKAGED", tmp_path / "b")
    with pytest.raises(pj.EvalkitError, match="templates are missing"):
        pj.template_root()


def test_outside_a_project_runs_use_the_cwd_and_the_packaged_templates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert pj.find_project(tmp_path) is None
    assert runner.project_root() == tmp_path.resolve()
    assert runner._source("midterm", None, tmp_path) == pj.template_notebook("midterm").resolve()
    # a project's own copy wins over the packaged template
    main(["init", str(tmp_path / "proj")])
    own = tmp_path / "proj" / "notebooks" / "midterm.ipynb"
    assert runner.project_root(tmp_path / "proj" / "params") == (tmp_path / "proj").resolve()
    assert runner._source("midterm", None, (tmp_path / "proj").resolve()) == own.resolve()


def test_a_notebook_opened_in_a_project_finds_its_data(tmp_path, monkeypatch):
    from evalkit.report.preflight import resolve_data_dir

    main(["init", str(tmp_path / "proj")])
    (tmp_path / "proj" / "data" / "demo").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "notebooks")  # where JupyterLab's kernel starts
    assert resolve_data_dir("data/demo") == (tmp_path / "proj" / "data" / "demo").resolve()


def test_run_due_runs_jobs_in_the_project_of_the_schedule(tmp_path):
    from evalkit.report.schedule import _project_dir

    main(["init", str(tmp_path / "proj")])
    assert _project_dir(tmp_path / "proj") == tmp_path / "proj"
    assert _project_dir(tmp_path) == tmp_path


# ----------------------------------------------------------------------------- parameters cells (part 7)
@pytest.mark.parametrize("template", TEMPLATES)
def test_the_parameters_cell_declares_exactly_the_report_parameters(template):
    """papermill warns "Passed unknown parameter" for every name the cell does not declare: the runner
    passes every declared parameter, so the cell must hold them all (and nothing else)."""
    declared = runner.declared_parameters(ROOT / "notebooks" / f"{template}.ipynb")
    assert declared == {p.name for p in PARAMS}


@pytest.mark.parametrize("template", TEMPLATES)
def test_papermill_reads_the_parameters_cell_without_warnings(template, caplog):
    """papermill's line pattern cannot read a line with a second '=' (e.g. "goals_as_of = 0  # 0 = ...")."""
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    nb = load_notebook_node(str(ROOT / "notebooks" / f"{template}.ipynb"))
    with caplog.at_level(logging.WARNING, logger="papermill"):
        names = {p.name for p in _infer_parameters(nb, name="python3", language="python")}
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert names == runner.declared_parameters(ROOT / "notebooks" / f"{template}.ipynb")


def test_a_copy_missing_a_parameter_gets_one_evalkit_warning(tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / "midterm.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("goals_as_of"))
    copy = tmp_path / "old_copy.ipynb"
    nbformat.write(nb, copy)
    params = {p.name: p.default for p in PARAMS}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        runner.check_notebook_parameters(copy, params)
        runner.check_notebook_parameters(ROOT / "notebooks" / "midterm.ipynb", params)
    assert [str(w.message) for w in seen if w.category is EvalkitWarning] == [
        "old_copy.ipynb does not declare the parameter(s) goals_as_of in its parameters cell; they are injected "
        "after it (compare your copy with the packaged template)."]


def test_papermills_parameter_warnings_are_dropped_during_a_run(caplog):
    log = logging.getLogger("papermill")
    with caplog.at_level(logging.WARNING, logger="papermill"), runner._quiet_papermill_parameters():
        log.warning("Passed unknown parameter: x")
        logging.getLogger("papermill.translators").warning("Unable to parse line 3 'a = 1  # b = 2'.")
        log.warning("Input notebook does not contain a cell with tag 'parameters'")
    assert [r.getMessage() for r in caplog.records] == [
        "Input notebook does not contain a cell with tag 'parameters'"]
