"""The documentation site builds with warnings as errors (issue 16, part 3).

``make docs`` runs ``sphinx -b html -W --keep-going docs docs/_build/html``; this test runs the same
build on a copy of ``docs/`` in a scratch folder, so it neither reads a stale jupyter cache nor
writes into the working tree. The build executes the tutorial and the per-estimator examples
(myst-nb, each notebook in its own kernel, 180 s timeout each) and fails on any Sphinx warning:
a broken example, a reST error in a docstring, a public name missing from ``docs/api.md``, or an
undocumented or unknown parameter of a documented name (numpydoc's validator, ``docs/conf.py``).
About 2-3 minutes on 2 cores.

Sphinx, myst-nb, numpydoc and the theme come with the ``docs`` extra (part of ``dev``, which
``make test`` installs); where they are missing the test skips, and under ``CI=true`` that skip
is a failure (``tests/skip_policy.py``).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.slow

EXAMPLES = ["did2x2", "twfe", "event_study", "sun_abraham", "att_gt", "imputation", "bacon", "sdid", "synth",
            "few_treated", "honest_did", "inference", "inference_advisor", "compare"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    for module in ("sphinx", "myst_nb", "numpydoc", "pydata_sphinx_theme"):
        pytest.importorskip(module, reason=f"{module} (the docs extra: pip install -e '.[docs]')")
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated", ".ipynb_checkpoints",
                                                            "__pycache__"))
    # docs/validation.md includes tests/references/README.md by a relative path
    (tmp / "tests" / "references").mkdir(parents=True)
    shutil.copy2(ROOT / "tests" / "references" / "README.md", tmp / "tests" / "references" / "README.md")
    out = tmp / "html"
    env = {**os.environ, "EVALKIT_PROGRESS": "off", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                           str(src), str(out)], cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    messages = [line for line in proc.stderr.splitlines() if "[IPKernelApp]" not in line]
    if proc.returncode != 0:
        pytest.fail("the documentation build failed (warnings are errors):\n" + "\n".join(messages[-80:]),
                    pytrace=False)
    return out


def test_docs_build_with_warnings_as_errors(site):
    assert (site / "index.html").exists()
    for page in ("getting_started", "tutorial", "glossary", "validation", "api", "data_contract",
                 "disclosure", "few_treated_inference", "conley_taber_ferman_pinto"):
        assert (site / f"{page}.html").exists(), page


def test_tutorial_and_every_example_show_a_figure(site):
    for page in ["tutorial", *(f"examples/{name}" for name in EXAMPLES)]:
        html = (site / f"{page}.html").read_text(encoding="utf-8")
        assert re.search(r'<img [^>]*src="[^"]*\.png"', html), f"{page}: no executed figure"
        assert "Traceback" not in html, f"{page}: a cell raised"


def test_api_reference_has_a_page_per_public_name(site):
    import evalkit as ek

    names = [n for n in ek.__all__ if n != "__version__"]
    missing = [n for n in names if not (site / "generated" / f"evalkit.{n}.html").exists()]
    assert not missing, f"no API page for {missing}"
    twfe = (site / "generated" / "evalkit.twfe.html").read_text(encoding="utf-8")
    assert "Parameters" in twfe and "cluster" in twfe


def test_every_docs_page_is_in_the_site():
    """A Markdown page or notebook added to docs/ must be reachable (Sphinx warns "not in any
    toctree" too; this names the file without a build)."""
    index_text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "index.md", DOCS / "examples" / "index.md"))
    pages = [p for p in DOCS.rglob("*") if p.suffix in (".md", ".ipynb") and "_build" not in p.parts
             and "generated" not in p.parts and ".ipynb_checkpoints" not in p.parts]
    orphans = [p.relative_to(DOCS).as_posix() for p in pages
               if p.stem != "index" and not re.search(rf"^{re.escape(p.stem)}$", index_text, re.M)]
    assert not orphans, f"docs pages in no toctree (add them to docs/index.md): {orphans}"


def test_make_docs_treats_warnings_as_errors():
    recipe = re.search(r"^docs:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert recipe and " -W " in recipe.group(1) and "docs/_build/html" in recipe.group(1)
