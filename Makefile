# Every target builds the virtual environment it needs, so a fresh clone needs nothing but python3 and make.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-ea lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v g++ >/dev/null || { echo "installing g++: the EA tests compile mql5/ with it"; \
	  apt-get install -y -q g++ || sudo apt-get install -y -q g++; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The real MQL5 EA, compiled by the test harness, in a scripted terminal copying to the Paper venue.
demo: $(STAMP)
	$(BIN)/python -m tests.ea.demo

# The suite's own output is scanned for the test profile's secrets after the run (tests/secret_scan.py).
test: $(STAMP)
	mkdir -p build
	set -o pipefail; $(BIN)/python -m pytest $(PYTEST_ARGS) 2>&1 | tee build/test-output.txt
	$(BIN)/python -m tests.secret_scan build/test-output.txt

# Builds the EA from mql5/ with the C++ harness and runs its scenarios; `make test` runs them too.
test-ea: $(STAMP)
	$(BIN)/python -m pytest tests/ea

lint: $(STAMP)
	$(BIN)/ruff check bridge sidecar tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
