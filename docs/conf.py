"""Sphinx configuration of the evalkit documentation (``make docs``; issue 16, part 3).

Why Sphinx (and not mkdocs-material + mkdocstrings): the API reference is rendered from the
numpydoc docstrings by numpydoc itself, the tool whose rules ``tests/test_docstrings.py`` applies,
so the reference and the docstring check read the same sections; and myst-nb executes the
tutorial and the per-estimator examples at build time (cached by jupyter-cache), so every figure
on the site comes from the code beside it and a broken example fails the build.

Why pydata-sphinx-theme (and not furo): it is the theme of numpy, pandas, scipy and statsmodels,
whose API pages the readers of this library already know; its API navigation (a left sidebar per
section, an "on this page" list of the parameters' sections) suits a reference of ~70 names, and it
needs no network at build or view time (fonts and icons are bundled).

Warnings are errors (``-W --keep-going``, see the Makefile's ``docs`` target and
``tests/test_docs.py``), but the build is not nitpicky (no ``-n``): the docstrings name numpy,
pandas and matplotlib types, whose targets would need intersphinx inventories downloaded from the
projects' sites, and the build must work without network.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from sphinx.util import logging

HERE = Path(__file__).resolve().parent
# the checkout's evalkit when built from the repository without an install (an installed one otherwise)
if (HERE.parent / "evalkit" / "__init__.py").exists():
    sys.path.insert(0, str(HERE.parent))

import evalkit  # noqa: E402

# the executed notebooks run in kernels started from this process: no progress bars in the pages
os.environ.setdefault("EVALKIT_PROGRESS", "off")

project = "evalkit"
author = "evalkit authors"
copyright = "evalkit authors (MIT licence)"
version = release = evalkit.__version__
language = "en"

extensions = [
    "myst_nb",                 # Markdown (MyST) pages and executed notebooks (.ipynb and MyST .md)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",  # the API reference: one page per public name
    "numpydoc",                # renders the numpydoc sections (Parameters, Returns, ...)
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# --- MyST ---------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3        # "page.md#a-heading" links, as GitHub renders them

# --- executed notebooks (myst-nb) ---------------------------------------------------------------
# "cache": jupyter-cache keeps executed notebooks in docs/_build/.jupyter_cache, so a rebuild
# re-runs only the notebooks whose code changed. A cell error fails the build (the error is
# raised with its traceback), and so does a notebook that runs longer than the timeout.
nb_execution_mode = "cache"
nb_execution_timeout = 180
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_execution_excludepatterns: list[str] = []

# --- API reference ------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"      # the types are in the numpydoc Parameters sections
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False   # class pages list their members with autoclass :members:
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Parameters are checked by numpydoc's own validator in _check_parameters below (PR01/PR02 with the
# project's two exceptions), not by numpydoc_validation_checks, which knows neither exception.
numpydoc_validation_checks: set[str] = set()

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"evalkit {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
# the left sidebar lists a section's pages: only the examples and the API reference have several
html_sidebars = {page: [] for page in ("index", "getting_started", "tutorial", "glossary", "validation",
                                        "data_contract", "disclosure", "few_treated_inference",
                                        "conley_taber_ferman_pinto")}
html_static_path: list[str] = []

_logger = logging.getLogger("evalkit.docs")


def _check_api_lists_every_public_name(app) -> None:
    """Warn (an error under -W) when a public name of ``evalkit.__all__`` is not in api.md."""
    text = (Path(app.srcdir) / "api.md").read_text(encoding="utf-8")
    listed = {line.strip() for line in text.splitlines()}
    missing = [n for n in evalkit.__all__ if n != "__version__" and n not in listed]
    if missing:
        _logger.warning("api.md does not list these public names of evalkit.__all__: %s", ", ".join(missing))


def _parameter_problems(obj) -> tuple[list[str], list[str]]:
    """Undocumented and unknown parameters of ``obj``, by numpydoc's validator (PR01, PR02).

    The exceptions of ``tests/test_docstrings.py``: underscore-prefixed private parameters need no
    entry, and a class may document its constructor's fields under Attributes (the result and
    configuration dataclasses).
    """
    import inspect

    from numpydoc.docscrape import get_doc_object
    from numpydoc.validate import Validator

    v = Validator(get_doc_object(obj))
    signature = [p for p in v.signature_parameters if not p.lstrip("*").startswith("_")]
    documented = [p.replace("\\", "") for p in v.doc_all_parameters]
    known = set(documented)
    if inspect.isclass(obj):
        known |= {p.replace("\\", "") for p in v._doc_parameters(["Attributes"])}
    return [p for p in signature if p not in known], [p for p in documented if p not in v.signature_parameters]


def _check_parameters(app, what, name, obj, options, lines) -> None:
    """Warn (an error under -W) when a documented evalkit function, method or class leaves a
    parameter undocumented or documents one it does not have."""
    if what not in ("function", "method", "class") or not name.startswith("evalkit."):
        return
    if not getattr(obj, "__module__", "").startswith("evalkit"):
        return
    try:
        missing, unknown = _parameter_problems(obj)
    except (TypeError, ValueError):   # no signature to compare (a builtin, a C method)
        return
    if missing:
        _logger.warning("[numpydoc PR01] %s: parameters not documented: %s", name, ", ".join(missing))
    if unknown:
        _logger.warning("[numpydoc PR02] %s: documented parameters it does not have: %s", name, ", ".join(unknown))


def setup(app):
    app.connect("builder-inited", _check_api_lists_every_public_name)
    # priority below numpydoc's (500): the raw docstring, before numpydoc rewrites it to reST
    app.connect("autodoc-process-docstring", _check_parameters, priority=100)
