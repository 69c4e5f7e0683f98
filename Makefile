# catsdogs: two commands on a fresh machine.
#   make reproduce   create .venv, install, run the six chapters + build the book (PROFILE=full)
#   make test        create .venv, install, lint (ruff), run the library tests, the notebooks (nbval) and the book test
# Data and ImageNet weights are found through CATSDOGS_DATA_DIR and CATSDOGS_WEIGHTS
# (see README.md); without them the notebooks download both (internet needed).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= full
RUN_DIR ?= runs/$(PROFILE)
EXTRAS ?= cpu,test,jupyter

.PHONY: install reproduce smoke test test-lib test-notebooks book export bench publish constraints colab-twin clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(VENV)/.installed

reproduce: install
	$(PY) -m catsdogs reproduce --profile $(PROFILE) --run-dir $(RUN_DIR)

smoke:
	$(MAKE) reproduce PROFILE=smoke

test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -p no:cacheprovider tests
	CATSDOGS_RUNS_DIR=$$(mktemp -d) $(PY) -m pytest -p no:cacheprovider --nbval-lax notebooks

test-lib: install
	$(PY) -m pytest -p no:cacheprovider tests -m "not slow"

book: install
	$(PY) -m catsdogs book --run-dir $(RUN_DIR)

export: install
	$(PY) -m catsdogs export --profile $(PROFILE) --run-dir $(RUN_DIR) --publish models

bench: install
	$(PY) -m catsdogs bench --profile $(PROFILE) --run-dir $(RUN_DIR)

# Publish a finished run: models/, results/<run>/ and the book's executed chapters (then commit them).
publish: install
	$(PY) -m catsdogs export --run-dir $(RUN_DIR) --publish models
	$(PY) -m catsdogs publish-results --run-dir $(RUN_DIR) --out results
	$(PY) -m catsdogs book --run-dir $(RUN_DIR) --out .

constraints: install
	{ echo "# Exact versions the tests were run with (pip constraints: python -m pip install -c constraints.txt ...)."; \
	  echo "# Regenerate with: make constraints"; \
	  $(PY) -m pip freeze --exclude-editable | grep -v -i '^catsdogs'; } > constraints.txt

# Colab's GPU runtime as published (../shared/colab/pip-freeze.gpu.txt; Python 3.13, e.g. pyenv's):
# the chapters' install cell must change none of its packages, then every chapter runs alone.
colab-twin: install
	$(PY) scripts/colab_twin.py --twin .cache/colab-twin

clean:
	rm -rf $(VENV) _build book/_build .pytest_cache
