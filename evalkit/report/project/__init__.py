"""Report projects: where the templates are, which folder is a project, and ``evalkit init``.

A report project is a folder laid out as the design card says: ``notebooks/`` (the report
templates), ``params/`` (parameter files), ``reports.yaml`` (the schedule), ``data/`` and
``reports/``. The git checkout of evalkit is one; ``evalkit init DIR`` makes another anywhere.

The templates travel inside the package. A built wheel (or sdist) carries copies of the
checkout's ``notebooks/*.ipynb``, ``params/*.yaml`` and ``reports.yaml`` in
``evalkit/report/project/templates/``, copied there by the build (``setup.py``); an editable
install (``pip install -e .``) has no copy and reads them from the checkout, so there is one
source of the templates and nothing to keep in sync.
"""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import EvalkitError, ParameterError

HERE = Path(__file__).resolve().parent
#: the build's copy of the templates (present in an installed wheel, absent in a checkout)
PACKAGED = HERE / "templates"
#: the checkout this module lies in, when it is one (an editable install)
CHECKOUT = HERE.parents[2]
#: what a project folder holds besides data/ and reports/
SCHEDULE = "reports.yaml"
SKELETON = HERE / "skeleton"
#: skeleton file -> its name in a new project (dot files are not package data by default)
RENAMES = {"gitignore": ".gitignore"}


def _is_template_root(folder: Path) -> bool:
    return (folder / "notebooks" / "midterm.ipynb").is_file() and (folder / SCHEDULE).is_file()


def template_root() -> Path:
    """The folder holding the stock ``notebooks/``, ``params/`` and ``reports.yaml``.

    Returns
    -------
    pathlib.Path
        The evalkit checkout of an editable install, else the package's copy (an installed wheel).

    Raises
    ------
    EvalkitError
        When neither holds the templates (a broken installation).
    """
    for folder in (CHECKOUT, PACKAGED):  # a checkout first: its files are the source of any copy
        if _is_template_root(folder):
            return folder
    raise EvalkitError(f"the report templates are missing from this evalkit installation (looked in {PACKAGED} "
                       f"and {CHECKOUT}); reinstall evalkit.")


def template_notebook(template: str) -> Path:
    """The stock notebook of ``template`` (``midterm`` or ``final``).

    Parameters
    ----------
    template : str
        Template name.

    Returns
    -------
    pathlib.Path
        ``notebooks/<template>.ipynb`` under :func:`template_root`.
    """
    return template_root() / "notebooks" / f"{template}.ipynb"


def is_project(folder: Path) -> bool:
    """Whether ``folder`` is a report project.

    Parameters
    ----------
    folder : pathlib.Path
        The folder to look at.

    Returns
    -------
    bool
        True when it holds ``notebooks/`` beside ``reports.yaml`` (a project made by ``evalkit init``)
        or beside ``pyproject.toml`` (the evalkit checkout).
    """
    return (folder / "notebooks").is_dir() and ((folder / SCHEDULE).is_file() or (folder / "pyproject.toml").is_file())


def find_project(start: str | Path | None = None) -> Path | None:
    """The report project at or above ``start`` (default: the working directory).

    Parameters
    ----------
    start : str or pathlib.Path, optional
        Folder to search upwards from.

    Returns
    -------
    pathlib.Path or None
        The project folder, or None when no folder at or above ``start`` is one.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_project(folder):
            return folder
    return None


def init_project(folder: str | Path) -> list[Path]:
    """Create a report project in ``folder`` (new, or an empty folder).

    It holds editable copies of the report templates (``notebooks/``, their stored outputs
    cleared), the example parameter files (``params/``, whose relative ``data_dir`` is read
    from the project folder), the schedule ``reports.yaml``, ``data/`` and ``reports/`` with a
    README each, a README and a ``.gitignore`` that keeps data and reports out of git.

    Parameters
    ----------
    folder : str or pathlib.Path
        Where to create the project; refused when it exists and is not an empty folder.

    Returns
    -------
    list of pathlib.Path
        The files written, relative to ``folder``.

    Raises
    ------
    ParameterError
        When ``folder`` is a file or a non-empty folder (nothing is written then).
    """
    import nbformat

    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ParameterError(f"{str(folder)!r} is an existing file; give a new or empty folder.")
    if target.is_dir() and any(target.iterdir()):
        raise ParameterError(f"{str(folder)!r} is not empty; give a new or empty folder (nothing was written).")
    source = template_root()
    written: list[Path] = []

    def put(rel: Path, data: bytes) -> None:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        written.append(rel)

    target.mkdir(parents=True, exist_ok=True)
    for nb_path in sorted((source / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:  # a template, not a record of the demo run
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        put(Path("notebooks") / nb_path.name, (nbformat.writes(nb) + "\n").encode("utf-8"))
    for yaml_path in sorted((source / "params").glob("*.yaml")):
        put(Path("params") / yaml_path.name, yaml_path.read_bytes())
    put(Path(SCHEDULE), (source / SCHEDULE).read_bytes())
    for path in sorted(p for p in SKELETON.rglob("*") if p.is_file()):
        rel = path.relative_to(SKELETON)
        put(rel.with_name(RENAMES.get(rel.name, rel.name)), path.read_bytes())
    return written

