# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The stamp names the interpreter: a venv made by another Python (or none) is made again.
PYTHON_TAG := $(shell $(PYTHON) -c 'import sys; print(sys.implementation.cache_tag)' 2>/dev/null)
STAMP := $(VENV)/.installed-$(PYTHON_TAG)
PROTOCOL := examples/cd19-ucart-sle.proto-rules
PATIENTS := examples/patients.jsonl
COHORT := examples/cohort.json
OUT ?= out
# Other CPythons `make test` also installs into .venv-3.N and runs the demo and FAST_TESTS with, when
# they are on the machine (the full suite runs on $(PYTHON) only, to keep CI short).
OTHER_PYTHONS ?= 3.13 3.14
# The suite on every core (pytest-xdist), a test file's tests in one process (its fixtures built once):
# about half the time on two cores. `make test PARALLEL=` runs it in one process.
PARALLEL ?= -n auto --dist loadfile
FAST_TESTS := tests/test_grammar.py tests/test_engine.py tests/test_trail.py tests/test_escalation.py \
	tests/test_cli.py tests/test_install.py

# durable-rules 2.0.28 (unmaintained) calls PyEval_CallObject, which Python 3.13 removed; its direct
# replacement, PyObject_CallObject, exists since Python 2. The set-up builds it from its sdist with
# that one substitution, so every CPython from 3.11 on runs the same engine.
DURABLE_RULES := durable_rules-2.0.28
DURABLE_RULES_BUILD := $(VENV)/build
define PATCH_DURABLE_RULES
import pathlib, sys
source = pathlib.Path(sys.argv[1])
text = source.read_text(encoding="utf-8")
if text.count("PyEval_CallObject(") != 5:
    sys.exit(f"{source}: expected 5 calls of PyEval_CallObject, the sdist is not the one patched")
source.write_text(text.replace("PyEval_CallObject(", "PyObject_CallObject("), encoding="utf-8")
endef
export PATCH_DURABLE_RULES

.PHONY: demo test other-pythons fuzz bench bench-workers bench-million install prerequisites clean

demo: $(STAMP)
	@mkdir -p $(OUT)
	$(BIN)/proto-rules check $(PROTOCOL)
	$(BIN)/proto-rules run $(PROTOCOL) $(PATIENTS) --trail $(OUT)/trail.jsonl
	$(BIN)/proto-rules explain $(OUT)/trail.jsonl --patient P04-liver-at-threshold
	$(BIN)/proto-rules escalate $(PROTOCOL) $(COHORT) --trail $(OUT)/escalation.jsonl
	$(BIN)/proto-rules sdtm $(PROTOCOL) -o $(OUT)/sdtm
	$(BIN)/proto-rules sdtm-ie $(OUT)/trail.jsonl -o $(OUT)/sdtm

test: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "chromium could not be installed (apt-get install chromium): the report's browser tests will be skipped"
	$(BIN)/python -m pytest $(PARALLEL)
	@$(MAKE) --no-print-directory other-pythons

# For each other CPython found: set it up in its own venv (a Python that cannot build durable-rules,
# say without headers, is reported in one line and skipped), then the demo, whose trails must be
# byte-identical to this Python's, and the fast tests, which must pass.
other-pythons:
	@compared=; for version in $(OTHER_PYTHONS); do \
	    python=$$(python$$version -c 'import sys; print(sys.executable)' 2>/dev/null \
	        || PYENV_VERSION=$$(pyenv latest $$version 2>/dev/null) python$$version -c 'import sys; print(sys.executable)' 2>/dev/null) \
	        || { echo "python$$version: not on this machine, skipped"; continue; }; \
	    mkdir -p $(OUT); \
	    $(MAKE) --no-print-directory PYTHON=$$python VENV=.venv-$$version install >$(OUT)/setup-$$version.log 2>&1 \
	        || { echo "python$$version ($$python) could not be set up, skipped: see $(OUT)/setup-$$version.log"; continue; }; \
	    echo "python$$version ($$python): demo and fast tests"; \
	    [ -n "$$compared" ] || $(MAKE) --no-print-directory OUT=$(OUT) demo >/dev/null || exit 1; compared=yes; \
	    $(MAKE) --no-print-directory PYTHON=$$python VENV=.venv-$$version OUT=$(OUT)/$$version demo >/dev/null || exit 1; \
	    for trail in trail.jsonl escalation.jsonl sdtm/ti.xpt sdtm/ie.xpt; do \
	        cmp $(OUT)/$$trail $(OUT)/$$version/$$trail || { echo "python$$version writes another $$trail"; exit 1; }; \
	    done; \
	    .venv-$$version/bin/python -m pytest -p no:cacheprovider $(FAST_TESTS) || exit 1; \
	done

# The fuzz tests (tests/test_fuzz_*.py, else the property tests) with hypothesis's "long" profile.
fuzz: $(STAMP)
	PROTO_RULES_FUZZ=long $(BIN)/python -m pytest $(or $(wildcard tests/test_fuzz_*.py),tests/test_properties.py)

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

bench-workers: $(STAMP)
	$(BIN)/python bench/run_workers.py

# A million generated patients (4 GB, kept in MILLION_DIR for the next run), about an hour on 2 cores.
MILLION_DIR ?= $(OUT)/million
bench-million: $(STAMP)
	$(BIN)/python bench/run_million.py --workdir $(MILLION_DIR) $(MILLION_ARGS)

install: $(STAMP)

# durable-rules builds a C extension: it needs a C compiler and Python's headers.
prerequisites:
	@command -v $(PYTHON) >/dev/null || { echo "proto-rules needs python3 (>= 3.11) on PATH"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "proto-rules needs Python >= 3.11; $(PYTHON) --version says: $$($(PYTHON) --version 2>&1)"; exit 1; }
	@command -v cc >/dev/null || command -v gcc >/dev/null || { echo "durable-rules builds a C extension: install a C compiler (Debian: apt-get install build-essential)"; exit 1; }
	@$(PYTHON) -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || { echo "durable-rules builds a C extension: install Python's headers (Debian: apt-get install python3-dev)"; exit 1; }

# --no-compile: pip would compile every module of every package (pandas', dask's, their tests) to
# bytecode, half the set-up's time; Python compiles those a command imports, once, as it imports them.
$(STAMP): pyproject.toml | prerequisites
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip download --quiet --no-deps --no-binary :all: durable-rules==2.0.28 -d $(DURABLE_RULES_BUILD)
	tar -xzf $(DURABLE_RULES_BUILD)/$(DURABLE_RULES).tar.gz -C $(DURABLE_RULES_BUILD)
	$(BIN)/python -c "$$PATCH_DURABLE_RULES" $(DURABLE_RULES_BUILD)/$(DURABLE_RULES)/src/rulespy/rules.c
	$(BIN)/pip install --quiet --no-compile $(DURABLE_RULES_BUILD)/$(DURABLE_RULES)
	$(BIN)/pip install --quiet --no-compile -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .venv-3.* out
