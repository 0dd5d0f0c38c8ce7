# Every target builds the virtual environment it needs, so a fresh clone needs nothing but python3 and make.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/csmc demo

# The suite's own output is scanned for the test profile's secrets after the run (tests/secret_scan.py).
test: $(STAMP)
	mkdir -p build
	set -o pipefail; $(BIN)/python -m pytest $(PYTEST_ARGS) 2>&1 | tee build/test-output.txt
	$(BIN)/python -m tests.secret_scan build/test-output.txt

lint: $(STAMP)
	$(BIN)/ruff check bridge sidecar tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
