# Every target builds the virtual environment it needs, so a fresh clone needs nothing but python3 and make.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-ea test-deep fuzz mutation test-installer installer lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v g++ >/dev/null || { echo "installing g++: the EA tests compile mql5/ with it"; \
	  apt-get install -y -q g++ || sudo apt-get install -y -q g++; }
	@command -v strace >/dev/null || { echo "installing strace: the journal test counts its disk syncs with it"; \
	  apt-get install -y -q strace || sudo apt-get install -y -q strace; }
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

# Release checks: every property test with at least 10,000 examples per property (CSMC_HYPOTHESIS=deep), and
# the bridge fuzzers with 100,000 (CSMC_HYPOTHESIS=fuzz). Both take long; neither has a per-test timeout.
PROPERTY_TESTS := tests/unit/test_engine_properties.py tests/unit/test_mapping.py tests/bridge/test_fuzz.py
test-deep: $(STAMP)
	CSMC_HYPOTHESIS=deep $(BIN)/python -m pytest --timeout=0 $(PROPERTY_TESTS)

fuzz: $(STAMP)
	CSMC_HYPOTHESIS=fuzz $(BIN)/python -m pytest --timeout=0 tests/bridge/test_fuzz.py

# The Windows installer (NSIS) and the Linux/macOS archives, into build/installer/; installs makensis and
# mingw-w64 from Debian when they are missing (installer/tools.sh).
installer: $(STAMP)
	PYTHON=$(BIN)/python bash installer/build.sh

# The installers under real Wine (installed here when missing), install.sh on fake prefixes, the Windows
# launcher starting the Linux sidecar. Apart from `make test` so that one runs where there is no Wine.
test-installer: installer
	installer/tools.sh test
	mkdir -p build
	set -o pipefail; CSMC_INSTALLER_TESTS=1 $(BIN)/python -m pytest tests/installer $(PYTEST_ARGS) 2>&1 \
	  | tee build/test-installer-output.txt
	$(BIN)/python -m tests.secret_scan build/test-installer-output.txt

# Mutation testing of sidecar/engine.py, mapping.py and journal.py against the fast tests (about an hour on
# two cores); the score per file, and every surviving mutant, are printed at the end (build/mutation.txt).
mutation: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,mutation]'
	rm -rf mutants
	CSMC_HYPOTHESIS=quick $(BIN)/mutmut run --max-children 2 > /dev/null
	mkdir -p build
	$(BIN)/python -m tests.mutation_score mutants | tee build/mutation.txt

lint: $(STAMP)
	$(BIN)/ruff check bridge sidecar tests bench
	$(BIN)/mypy

# The figures of the speed issue, each beside its baseline in the same run (build/bench.json). Installs the
# bench-only extra (ccxt, the second SDK the order latency is compared with) into the same virtual environment.
bench: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build mutants .pytest_cache .mypy_cache .ruff_cache
