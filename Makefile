# Two commands on a fresh machine: `make demo` runs the pipeline on the embedded default, `make test` runs the tests.
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint repro report clean

$(VENV)/installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

demo: $(VENV)/installed
	bash demo/run.sh

# Two workers: much of a test's time is one core busy (imports, DVC, Python), so two keep both cores in use.
test: $(VENV)/installed
	$(BIN)/python -m pytest -n 2

lint: $(VENV)/installed
	$(BIN)/ruff check .

repro: $(VENV)/installed
	$(BIN)/python stages/preflight.py
	$(BIN)/dvc repro

report: $(VENV)/installed
	$(BIN)/python stages/report.py

clean:
	rm -rf .demo
