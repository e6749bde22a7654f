# One entry point for setting up, running and checking the project.
# `make demo` and `make test` do all the set-up they need on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps browser-deps web-deps web web-test web-e2e web-lint web-types screenshots \
	demo test chaos check fmt lint types bench clean

install: $(STAMP)

# Real services the integration tests start themselves (throwaway, loopback
# only). Installed from Debian's packages when missing; needs root, as on CI.
system-deps:
	@if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package) for the integration tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if ! command -v redis-server >/dev/null 2>&1; then \
		echo "installing redis-server (Debian package) for the integration tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	fi

# Debian's Chromium for the dashboard's end-to-end tests (Playwright drives it;
# no browser is downloaded).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium (Debian package) for the dashboard's end-to-end tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium fonts-liberation >/dev/null; \
	fi

# The dashboard (web/): Node >= 20.19, packages from the committed lock file.
WEB       := web
WEB_STAMP := $(WEB)/node_modules/.package-lock.json
WEB_OUT   := $(WEB)/out/index.html
NPM       := cd $(WEB) && NEXT_TELEMETRY_DISABLED=1 npm

web-deps: $(WEB_STAMP)

$(WEB_STAMP): $(WEB)/package-lock.json $(WEB)/package.json
	@command -v npm >/dev/null 2>&1 || { echo "the dashboard needs Node.js >= 20.19 with npm"; exit 1; }
	$(NPM) ci --no-audit --no-fund
	touch $(WEB_STAMP)

# Always rebuilt: a few seconds, and never a stale dashboard under test.
web: web-deps
	$(NPM) run build

# Built once when missing (make demo); `make web` rebuilds.
$(WEB_OUT): | $(WEB_STAMP)
	$(NPM) run build

web-test: web-deps
	$(NPM) test

web-e2e: install web-deps browser-deps web
	$(NPM) run e2e

# The end-to-end run writes its screenshots under web/test-results/ (ignored);
# this one rewrites the README's, docs/screenshots/, on purpose: commit them if
# the dashboard's look changed.
screenshots: install web-deps browser-deps web
	cd $(WEB) && EMS_E2E_UPDATE_SCREENSHOTS=1 NEXT_TELEMETRY_DISABLED=1 npm run e2e

web-lint: web-deps
	$(NPM) run lint

web-types: web-deps
	$(NPM) run typecheck

# Re-install when the lock or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# `make demo DEVICES=sunspec`: the demo site's battery and PV run behind
# `ems devices serve` (SunSpec over Modbus TCP on 127.0.0.1:1502 and 1503) and
# the edge reads and commands them through `driver: sunspec` (demo_sunspec.yaml).
DEVICES ?= simulated
SITES   := src/ems/edge/sites
ifeq ($(filter $(DEVICES),simulated sunspec),)
$(error DEVICES is simulated (the default) or sunspec, not '$(DEVICES)')
endif

demo: install $(WEB_OUT)
ifeq ($(DEVICES),sunspec)
	$(BIN)/ems devices serve --config $(SITES)/demo.yaml --port 1502 & served=$$!; \
	trap 'kill $$served 2>/dev/null' EXIT INT TERM; \
	$(BIN)/ems demo --config $(SITES)/demo_sunspec.yaml
else
	$(BIN)/ems demo
endif

test: install system-deps
	$(BIN)/python -m pytest
	$(MAKE) web-test web-e2e

# The chaos suite, long: several rounds of every fault (EMS_CHAOS_DURATION_S, default
# 900 s, about 100 s a round), a random seed unless EMS_CHAOS_SEED is set. `make test`
# runs one round.
EMS_CHAOS_DURATION_S ?= 900
chaos: install system-deps
	EMS_CHAOS_DURATION_S=$(EMS_CHAOS_DURATION_S) $(BIN)/python -m pytest -m chaos -s tests/chaos

fmt: install
	$(BIN)/ruff format src tests bench

lint: install web-lint
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

# The test machinery (throwaway servers, chaos harness, backend conformance checks)
# lives under tests/support, outside the package, and is held to the same types.
types: install web-types
	$(BIN)/mypy
	MYPYPATH=tests $(BIN)/mypy -p support

check: lint types test

bench: install system-deps
	$(BIN)/python bench/dal.py
	$(BIN)/python bench/cycle_jitter.py
	$(BIN)/python bench/commands.py --cloud-log-json
	$(BIN)/python bench/telemetry.py
	$(BIN)/python bench/edge.py
	$(BIN)/python bench/sunspec.py
	$(BIN)/python bench/devices.py
	$(BIN)/python bench/control.py
	$(BIN)/python bench/import_edges.py
	$(BIN)/python bench/config_sync.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
	rm -rf $(WEB)/node_modules $(WEB)/.next $(WEB)/out $(WEB)/test-results
