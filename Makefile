# Two commands that matter on a fresh machine:
#   make demo   -> venv, install, simulate demo data, render midterm + final reports
#   make test   -> venv, install, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DATA := data/demo

.PHONY: demo test install clean-demo chromium bench wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/evalkit simulate --out $(DEMO_DATA) --seed 2024 --size small --if-needed
	$(BIN)/evalkit report run midterm --params params/outreach_midterm.yaml
	$(BIN)/evalkit report run final --params params/outreach_final.yaml
	@echo "Reports written under $(CURDIR)/reports/ (open the .html files)"

# the property-based invariance file (~14 min of single-core fits) runs beside the rest of the suite,
# so the two cores are both used; a failure in either fails the target (its log is printed in full)
INV := tests/test_invariance.py
test: $(STAMP) chromium
	@$(BIN)/python -m pytest -q -p no:cacheprovider $(INV) > $(VENV)/invariance.log 2>&1 & inv_pid=$$!; \
	$(BIN)/python -m pytest -q --ignore=$(INV); main=$$?; \
	wait $$inv_pid; inv=$$?; echo "--- $(INV) (run beside the rest) ---"; \
	if [ $$inv -eq 0 ]; then tail -n 2 $(VENV)/invariance.log; else cat $(VENV)/invariance.log; fi; \
	[ $$main -eq 0 ] && [ $$inv -eq 0 ]

# Debian's chromium renders the reports headlessly in the tests (installed when missing and run as root)
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); } || \
	  echo "chromium not installed: the browser test will be skipped (CI fails it)"

# the sdist and the wheel in dist/ (the wheel carries the report templates: see setup.py); install it
# anywhere with `pip install dist/evalkit-*.whl`, then `evalkit init DIR` sets up a report project
wheel: $(STAMP)
	$(BIN)/python -m build --outdir dist .

# the documentation site (docs/, Sphinx + myst-nb + numpydoc) into docs/_build/html, warnings as errors;
# the tutorial and the examples are executed (cached in docs/_build/.jupyter_cache: a rebuild re-runs
# only the notebooks whose code changed; -E re-reads every page, so the API pages follow the docstrings).
# tests/test_docs.py runs the same build in a scratch folder.
.PHONY: docs lab
docs: $(STAMP)
	$(BIN)/python -m sphinx -b html -E -W --keep-going -q docs docs/_build/html
	@echo "Documentation: $(CURDIR)/docs/_build/html/index.html"

# JupyterLab on the tutorial notebook (with the lab extra's widgets; --allow-root when run as root, as on the
# research servers' containers and CI); LAB_ARGS="--no-browser --port=..." passes more options
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,lab]"
	$(BIN)/python -m jupyter lab docs/tutorial.ipynb $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# side-by-side benchmarks against the peer libraries (not part of the tests)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run --sizes $(or $(SIZES),100k,1M)

clean-demo:
	rm -rf $(DEMO_DATA)
