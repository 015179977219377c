"""Build step that pyproject.toml cannot express: the report templates go into the package.

The design card keeps the templates at the top of the repository (``notebooks/``, ``params/``,
``reports.yaml``), where analysts and the tests use them. A wheel has to carry them too, since
research servers install packages and do not clone repositories; so the build copies them into
``evalkit/report/project/templates/`` of the wheel (``build_py`` below). An editable install
(``pip install -e .``) gets no copy: :func:`evalkit.report.project.template_root` finds the
templates in the checkout. One source of truth, nothing to keep in sync. All other settings are
in pyproject.toml; ``MANIFEST.in`` puts the same files into the sdist, so a wheel built from the
sdist (``python -m build``) carries them as well.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: checkout files -> evalkit/report/project/templates/<same relative path> in the wheel
TEMPLATE_FILES = ("notebooks/*.ipynb", "params/*.yaml", "reports.yaml")
TARGET = ("evalkit", "report", "project", "templates")


class BuildPyWithTemplates(build_py):
    """``build_py`` that also copies the report templates into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # editable: read from the checkout at run time
            return
        target = Path(self.build_lib, *TARGET)
        shutil.rmtree(target, ignore_errors=True)  # no stale template from an earlier build
        found = 0
        for pattern in TEMPLATE_FILES:
            for source in sorted(ROOT.glob(pattern)):
                dest = target / source.relative_to(ROOT)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)
                found += 1
        if not (target / "notebooks" / "midterm.ipynb").is_file() or not (target / "reports.yaml").is_file():
            raise SystemExit(f"evalkit build: the report templates ({', '.join(TEMPLATE_FILES)}) are missing "
                             f"from {ROOT} ({found} files found)")


setup(cmdclass={"build_py": BuildPyWithTemplates})
