# The two commands: `make run` executes the whole course, `make test` runs the tests and checks every notebook.
# Both create .venv, install the pinned requirements and provision data/ and bert/ first; set-up is idempotent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup provision run test nbval lab lint clean slides chromium

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

# Unit tests, then every notebook under strict nbval in quick mode, twice: at 2 threads and at 1 thread, so
# that an output which depends on the order of floating-point summation fails here and not on a learner's
# machine. Stale quick checkpoints are removed before each pass so that each pass trains afresh.
THREADS ?= 2
NBVAL := $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1200
test: provision slides chromium
	COURSE_QUICK=1 $(PY) -m pytest tests
	$(MAKE) --no-print-directory nbval THREADS=2
	$(MAKE) --no-print-directory nbval THREADS=1

nbval: provision
	@echo "== notebooks under nbval, quick mode, OMP_NUM_THREADS=$(THREADS)"
	rm -rf checkpoints/*-quick checkpoints/*-quick.json checkpoints/*-quick.lock
	COURSE_QUICK=1 OMP_NUM_THREADS=$(THREADS) $(NBVAL) notebooks

# Static reveal.js decks from the committed outputs, one per notebook, into build/slides/: open
# build/slides/NN_*.html from the file system (or copy the folder to a USB stick); nothing is loaded from
# the network. reveal.js, require.js, jQuery and MathJax come from npm into build/npm (npm and node from
# apt-get when missing: CI runs as root).
SLIDES_NPM := build/npm
SLIDES_PACKAGES := reveal.js@5.2.1 requirejs@2.3.7 jquery@3.7.1 mathjax@2.7.9
$(SLIDES_NPM)/.installed: Makefile
	command -v npm >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm; }
	npm install --prefix $(SLIDES_NPM) --no-audit --no-fund --loglevel=error $(SLIDES_PACKAGES)
	touch $@

slides: setup $(SLIDES_NPM)/.installed
	$(PY) tools/slides.py build --vendor $(SLIDES_NPM)/node_modules --output build/slides $(NOTEBOOKS)

# Headless Chromium for tests/test_slides_browser.py (Debian's package).
chromium:
	command -v chromium >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

lint: setup
	$(PY) -m ruff check .

lab: provision
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf build checkpoints
