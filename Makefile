# Two commands on a fresh machine: `make up` runs Grekko, `make test` runs every check and test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(HOME)/.grekko

.PHONY: install ui chain interop browser up test lint typecheck contracts pytest bench bench-ingest bench-api bench-agents bench-ui bench-dex bench-scaleout clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel

SOURCES := $(shell find src -name '*.py')

# the hot modules are compiled into C extensions at install: any source change recompiles them
$(STAMP): pyproject.toml setup.py $(SOURCES) | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# the web UI (ui/, TypeScript + Vite) is built into src/grekko/static, which the API serves at /
UI_DEPS := ui/node_modules/.grekko-npm-ci
UI_BUILD := src/grekko/static/index.html
UI_SOURCES := $(shell find ui/src ui/public ui/index.html ui/package.json ui/vite.config.ts ui/tsconfig*.json -type f 2>/dev/null)

# npm ci refuses a lock file that lacks rollup's optional packages for other platforms, and a
# registry mirror without them makes just such a lock: then the locked versions are installed
# with npm install --no-save, which leaves package.json and the lock file as they are.
$(UI_DEPS): ui/package-lock.json
	cd ui && log=$$(mktemp) && { npm ci --no-audit --no-fund 2>$$log \
		|| { grep -q "Missing: @rollup/" $$log && npm install --no-audit --no-fund --no-save; } \
		|| { cat $$log >&2; rm -f $$log; exit 1; }; } && rm -f $$log
	touch $@

$(UI_BUILD): $(UI_SOURCES) $(UI_DEPS)
	cd ui && npm run build
	touch $@

ui: $(UI_BUILD)

# the local devnet (chain/): anvil and the protocol contracts' artifacts come pinned from npm, and our
# own contracts (contracts/*.sol) are compiled with solcjs into chain/build. The same lock-file
# fallback as ui/: a mirror that cannot satisfy `npm ci` still gets the locked versions.
CHAIN_DEPS := chain/node_modules/.grekko-npm-ci
CHAIN_BUILD := chain/build/GrekkoToken.json

$(CHAIN_DEPS): chain/package-lock.json chain/package.json
	cd chain && log=$$(mktemp) && { npm ci --no-audit --no-fund 2>$$log \
		|| npm install --no-audit --no-fund --no-save \
		|| { cat $$log >&2; rm -f $$log; exit 1; }; } && rm -f $$log
	touch $@

$(CHAIN_BUILD): $(wildcard contracts/*.sol) chain/build.mjs $(CHAIN_DEPS)
	cd chain && npm run build
	touch $@

chain: $(CHAIN_BUILD)

# WalletConnect interop (interop/): the official JavaScript SDK, pinned, that the interop tests
# check Grekko's URIs, keys and envelopes against; only the tests need it, so `make up` does not
# install it. The same lock-file fallback as chain/.
INTEROP_DEPS := interop/node_modules/.grekko-npm-ci

$(INTEROP_DEPS): interop/package-lock.json interop/package.json
	cd interop && log=$$(mktemp) && { npm ci --no-audit --no-fund 2>$$log \
		|| npm install --no-audit --no-fund --no-save \
		|| { cat $$log >&2; rm -f $$log; exit 1; }; } && rm -f $$log
	touch $@

interop: $(INTEROP_DEPS)

install: $(STAMP) $(UI_BUILD) $(CHAIN_BUILD)

# browser tests and the UI benchmark drive Debian's chromium (playwright never downloads one)
CHROMIUM := /usr/bin/chromium
browser: install
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "error: $(CHROMIUM) is missing and installing it needs root or sudo: run 'apt-get install -y chromium' as root" >&2; exit 1; fi; \
		echo "installing Debian's chromium (browser tests need $(CHROMIUM))"; \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
			|| { echo "error: 'apt-get install -y chromium' failed; browser tests need $(CHROMIUM)" >&2; exit 1; }; \
	fi

up: install
	$(BIN)/grekko up --data-dir "$(DATA_DIR)"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install browser $(INTEROP_DEPS)
	$(BIN)/pytest -q -p no:cacheprovider

test: lint typecheck contracts pytest

bench: install
	$(BIN)/python -m benchmarks.run_backtest_bench

bench-ingest: install
	$(BIN)/python -m benchmarks.run_ingest_bench

bench-api: install
	$(BIN)/python -m benchmarks.run_api_bench

bench-agents: install
	$(BIN)/python -m benchmarks.run_agents_bench

bench-dex: install
	$(BIN)/python -m benchmarks.run_dex_bench

bench-ui: install browser
	$(BIN)/python -m benchmarks.run_ui_bench

# the scale-out figures: Redis Streams vs the in-process bus, PostgreSQL vs SQLite appends,
# the five `grekko serve` processes end to end (1 and 2 per service), 1,000 WebSocket clients
bench-scaleout: install
	$(BIN)/python -m benchmarks.scaleout

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache ui/node_modules src/grekko/static chain/node_modules chain/build interop/node_modules
	find src -name '*.so' -delete
