"""Packaging metadata: one version, an SPDX license with its file, a changelog, declared imports."""
from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import evalkit

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_one_version_source():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "evalkit._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[.-]?\w+)*", evalkit.__version__)
    written = [p for p in (ROOT / "evalkit").rglob("*.py") if re.search(r"^__version__\s*=", p.read_text(), re.M)]
    assert [p.name for p in written] == ["_version.py"]
    # the installed metadata is built from the same attribute (stale only until the next `pip install -e .`)
    assert md.version("evalkit") == evalkit.__version__


def test_spdx_license_with_its_file():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert not any(c.startswith("License ::") for c in PROJECT.get("classifiers", []))  # PEP 639: not both
    setuptools = [r for r in PYPROJECT["build-system"]["requires"] if _name(r) == "setuptools"]
    assert setuptools and int(re.search(r">=\s*(\d+)", setuptools[0]).group(1)) >= 77


def test_urls_are_real_or_absent():
    for label, url in PROJECT.get("urls", {}).items():
        assert url.startswith("https://") and not re.search(r"example\.|placeholder|TODO", url, re.I), label


def test_changelog_keeps_a_changelog_form():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog") and "## [Unreleased]" in text
    assert f"## [{evalkit.__version__}]" in text
    assert re.search(r"^### (Added|Changed|Fixed)$", text, re.M)


def _imports() -> dict[str, bool]:
    """Third-party top-level modules imported by evalkit -> whether any import is at module level."""
    found: dict[str, bool] = {}
    for path in (ROOT / "evalkit").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "evalkit" and top not in sys.stdlib_module_names:
                    found[top] = found.get(top, False) or id(node) in top_level
    return found


def test_declared_dependencies_match_the_imports():
    runtime = {_name(r) for r in PROJECT["dependencies"]}
    extras = {_name(r) for reqs in PROJECT["optional-dependencies"].values() for r in reqs}
    dists = md.packages_distributions()
    imports = _imports()
    assert {"tqdm", "IPython", "numpy"} <= set(imports)
    for module, at_import in imports.items():
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if at_import:  # imported when its module loads: a runtime dependency
            assert names & runtime, f"{module} is imported at module level but not in [project] dependencies"
        else:  # imported inside a function: runtime or an optional extra
            assert names & (runtime | extras), f"{module} is imported but declared nowhere"
