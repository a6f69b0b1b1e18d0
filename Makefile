# The two commands: `make run` executes the whole course, `make test` runs the tests and checks every notebook.
# Both create .venv, install the pinned requirements and provision data/ and bert/ first; set-up is idempotent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup provision run test lab lint clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

provision: setup
	$(PY) -m torchnlp provision

# Executed copies go to build/; the notebooks in notebooks/ stay as committed.
run: provision
	@mkdir -p build
	@$(PY) tools/run_notebooks.py --output-dir build $(NOTEBOOKS)

# Quick mode shrinks training; stale quick checkpoints are removed so each test run trains afresh.
test: provision
	rm -rf checkpoints/*-quick checkpoints/*-quick.json
	COURSE_QUICK=1 $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1200 tests notebooks

lint: setup
	$(PY) -m ruff check .

lab: provision
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf build checkpoints
