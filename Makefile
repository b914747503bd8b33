# Two commands on a fresh machine: `make up` runs Grekko, `make test` runs every check and test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(HOME)/.grekko

.PHONY: install up test lint typecheck contracts pytest bench bench-ingest bench-api clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel

SOURCES := $(shell find src -name '*.py')

# the hot modules are compiled into C extensions at install: any source change recompiles them
$(STAMP): pyproject.toml setup.py $(SOURCES) | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/grekko up --data-dir "$(DATA_DIR)"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q -p no:cacheprovider

test: lint typecheck contracts pytest

bench: install
	$(BIN)/python -m benchmarks.run_backtest_bench

bench-ingest: install
	$(BIN)/python -m benchmarks.run_ingest_bench

bench-api: install
	$(BIN)/python -m benchmarks.run_api_bench

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find src -name '*.so' -delete
