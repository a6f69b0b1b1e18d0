# The two commands: `make run` executes the whole course, `make test` runs the tests and checks every notebook.
# Both create .venv, install the pinned requirements and provision data/ and bert/ first; set-up is idempotent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# The German edition: generated from the English notebooks and i18n/de/ by tools/translate.py (make translations).
NOTEBOOKS_DE := $(sort $(wildcard notebooks/de/*.ipynb))
# Which editions `make run` and `make test` cover: EDITIONS="en de" (default), EDITIONS=en or EDITIONS=de.
EDITIONS ?= en de

.PHONY: setup provision run test nbval lab lint lint-imports clean slides chromium translations

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

provision: setup
	$(PY) -m torchnlp provision

# Executed copies go to build/ (German: build/de/); the notebooks in notebooks/ stay as committed. The German
# notebook 05 finds the English run's finished checkpoint (the code and settings are the same) and loads it.
run: provision
	@mkdir -p build
	$(if $(filter en,$(EDITIONS)),@$(PY) tools/run_notebooks.py --output-dir build $(NOTEBOOKS))
	$(if $(filter de,$(EDITIONS)),@$(PY) tools/run_notebooks.py --output-dir build/de $(NOTEBOOKS_DE))

# Unit tests, then every notebook under strict nbval in quick mode, twice: at 2 threads and at 1 thread, so
# that an output which depends on the order of floating-point summation fails here and not on a learner's
# machine. Stale quick checkpoints are removed before each pass so that each pass trains afresh. The German
# edition runs the same code, so one pass (2 threads) checks it.
THREADS ?= 2
EDITION ?= en
NBVAL_FILES = $(if $(filter de,$(EDITION)),$(NOTEBOOKS_DE),$(if $(filter en,$(EDITION)),$(NOTEBOOKS)))
NBVAL := $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1200
# The linter (the notebooks too) before anything runs. Where chromium or npm is missing and cannot be installed (no
# root or no apt-get: a learner's laptop), the browser tests and the slide decks are skipped with one line saying
# how to get them; under CI (CI set) that is an error. TESTS narrows the unit tests (default: all of tests/).
TESTS ?= tests
test: provision lint lint-imports
	@sh tools/browser_tools.sh for-test
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory slides; fi
	COURSE_QUICK=1 $(PY) -m pytest --durations=10 $(TESTS)
	$(if $(filter en,$(EDITIONS)),$(MAKE) --no-print-directory nbval THREADS=2 EDITION=en)
	$(if $(filter en,$(EDITIONS)),$(MAKE) --no-print-directory nbval THREADS=1 EDITION=en)
	$(if $(filter de,$(EDITIONS)),$(MAKE) --no-print-directory nbval THREADS=2 EDITION=de)

nbval: provision
	@echo "== $(EDITION) notebooks under nbval, quick mode, OMP_NUM_THREADS=$(THREADS)"
	@test -n "$(NBVAL_FILES)" || { echo "no notebooks for EDITION=$(EDITION) (en or de; make translations builds de)"; exit 1; }
	rm -rf checkpoints/*-quick checkpoints/*-quick.json checkpoints/*-quick.lock
	COURSE_QUICK=1 OMP_NUM_THREADS=$(THREADS) $(NBVAL) $(NBVAL_FILES)

# Regenerate notebooks/de/ after editing an English notebook or a translation (outputs kept where the code is
# unchanged; it names the notebooks to re-run), and say what still needs translating.
translations: setup
	$(PY) tools/translate.py build
	$(PY) tools/translate.py check

# Static reveal.js decks from the committed outputs, one per notebook, into build/slides/: open
# build/slides/NN_*.html from the file system (or copy the folder to a USB stick); nothing is loaded from
# the network. reveal.js, require.js, jQuery and MathJax come from npm into build/npm (npm and node from
# apt-get when missing, where that is possible: as root, like CI).
SLIDES_NPM := build/npm
SLIDES_PACKAGES := reveal.js@5.2.1 requirejs@2.3.7 jquery@3.7.1 mathjax@2.7.9
$(SLIDES_NPM)/.installed: Makefile
	@sh tools/browser_tools.sh require npm
	npm install --prefix $(SLIDES_NPM) --no-audit --no-fund --loglevel=error $(SLIDES_PACKAGES)
	touch $@

slides: setup $(SLIDES_NPM)/.installed
	$(PY) tools/slides.py build --vendor $(SLIDES_NPM)/node_modules --output build/slides $(NOTEBOOKS)
	$(PY) tools/slides.py build --vendor $(SLIDES_NPM)/node_modules --output build/slides/de $(NOTEBOOKS_DE)

# Headless Chromium for the browser tests (Debian's package, installed when missing where that is possible).
chromium:
	@sh tools/browser_tools.sh require chromium

lint: setup
	$(PY) -m ruff check .

# The layers of the code (pyproject.toml's import-linter contracts): the machinery in course/ below torchnlp.py,
# the notebooks' exercises, quiz, explorer and diagrams above it, no cycles.
lint-imports: setup
	$(VENV)/bin/lint-imports

lab: provision
	$(VENV)/bin/jupyter lab notebooks  # the German edition: notebooks/de

clean:
	rm -rf build checkpoints
