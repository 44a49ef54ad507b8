# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOCOL := examples/cd19-ucart-sle.proto-rules
PATIENTS := examples/patients.jsonl
COHORT := examples/cohort.json
SCREENING := 2026-06-01

.PHONY: demo test bench prerequisites clean

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/proto-rules check $(PROTOCOL)
	$(BIN)/proto-rules run $(PROTOCOL) $(PATIENTS) --trail out/trail.jsonl
	$(BIN)/proto-rules explain out/trail.jsonl --patient P04-liver-at-threshold
	$(BIN)/proto-rules escalate $(PROTOCOL) $(COHORT) --trail out/escalation.jsonl

test: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "chromium could not be installed (apt-get install chromium): the report's browser tests will be skipped"
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

# durable-rules 2.0.28 ships as source with a C extension: it needs a C compiler and Python's headers.
prerequisites:
	@command -v $(PYTHON) >/dev/null || { echo "proto-rules needs python3 (>= 3.11) on PATH"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "proto-rules needs Python >= 3.11, found $$($(PYTHON) --version)"; exit 1; }
	@command -v cc >/dev/null || command -v gcc >/dev/null || { echo "durable-rules builds a C extension: install a C compiler (Debian: apt-get install build-essential)"; exit 1; }
	@$(PYTHON) -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || { echo "durable-rules builds a C extension: install Python's headers (Debian: apt-get install python3-dev)"; exit 1; }

$(STAMP): pyproject.toml | prerequisites
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) out
