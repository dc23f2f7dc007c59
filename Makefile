# Two commands on a fresh machine: `make demo` runs the pipeline on the embedded default, `make test` runs the tests.
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint data repro report clean

# The pipeline: the package `imdb_bert` (src/) with the pins of requirements.txt, installed editable.
$(VENV)/installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# Development adds requirements-dev.txt: pytest, ruff, the servers the tests start.
$(VENV)/dev-installed: $(VENV)/installed requirements-dev.txt
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/installed
	bash demo/run.sh

# Two workers: much of a test's time is one core busy (imports, DVC, Python), so two keep both cores in use;
# work stealing keeps both busy to the end, when one is left with a slow module.
test: $(VENV)/dev-installed
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=15

lint: $(VENV)/dev-installed
	$(BIN)/ruff check .

# After downloading the Kaggle CSV: put it under DVC, so queued experiments, clones and CI get it from the cache.
data: $(VENV)/installed
	$(BIN)/imdb-preflight --track

repro: $(VENV)/installed
	$(BIN)/imdb-preflight
	$(BIN)/dvc repro

report: $(VENV)/installed
	$(BIN)/imdb-report

clean:
	rm -rf .demo
