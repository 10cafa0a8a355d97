# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-output

export PREFECT_LOGGING_LEVEL ?= WARNING
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: bytecode demo test test-unit test-integration test-e2e lint lint-imports bench bench-compare bench-peers bench-console browser install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The engine's own modules compiled ahead: an editable install leaves them as source, and where the environment sets
# PYTHONDONTWRITEBYTECODE (as CI's does) every process — each command, server and racer the tests start — would
# compile about a hundred modules again (0.3–0.4 s of CPU each time). Only changed files are compiled again.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q hazardloop models flows notifications config

demo: $(STAMP) bytecode
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	cd $(DEMO_DIR) && HAZARDLOOP_MAIL_DIR=outbox HAZARDLOOP_REPORT_DIR=reports \
		../$(BIN)/hazardloop --db sqlite:///demo.db demo

# The tests come in three tiers (tests/unit, tests/integration, tests/e2e; shared helpers in tests/support).
# `make test` runs them all on both cores; a test file stays on one worker (--dist loadfile), so what a module
# builds once (a generated data set, a web server, a browser) is built once, not once per worker.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

test: $(STAMP) bytecode browser
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory lint-imports
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL)

# The pure core in memory, no database: seconds.
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP) bytecode
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) tests/integration

test-e2e: $(STAMP) bytecode browser
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) tests/e2e

# The web console's browser tests drive Debian's chromium through Playwright (Playwright's own browser download is
# not reachable everywhere), with a Chinese font for the screenshots. Installed once, only where apt-get is at hand;
# elsewhere the browser tests are skipped and the pytest header says why.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium and a Chinese font for the console's browser tests (apt-get)"; \
			$(SUDO) apt-get update -qq && \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null || \
			echo "!!! chromium could not be installed: the console's browser tests will be SKIPPED"; \
		else \
			echo "!!! no $(CHROMIUM) and no apt-get: the console's browser tests will be SKIPPED"; \
		fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory lint-imports

# The import contracts (pyproject.toml, [tool.importlinter]). import-linter reads the package `hazardloop` from its
# folder, while the checkout maps models/, flows/, notifications/ and config/ into it (pyproject's package-dir): so
# the graph is read from a tree of links laid out as the wheel installs the package.
IMPORT_GRAPH := build/import-graph
lint-imports: $(STAMP)
	rm -rf $(IMPORT_GRAPH) && mkdir -p $(IMPORT_GRAPH)/hazardloop
	for entry in hazardloop/*; do ln -s "$(CURDIR)/$$entry" $(IMPORT_GRAPH)/hazardloop/; done
	for folder in models flows notifications config; do ln -s "$(CURDIR)/$$folder" $(IMPORT_GRAPH)/hazardloop/$$folder; done
	cd $(IMPORT_GRAPH) && PYTHONPATH=. $(abspath $(BIN))/lint-imports --config $(CURDIR)/pyproject.toml --no-cache

bench: $(STAMP)
	$(BIN)/python bench/lifecycle.py --hazards 10000

# This tree against main, alternating, with the raw floor and the peer engines in the same run (ratios, not
# absolute figures: these machines differ by two to three times from day to day).
BENCH_HAZARDS ?= 20000
BENCH_BASE ?= main
PEER_HAZARDS ?= 500
bench-compare: $(STAMP) bench-peers
	$(BIN)/python bench/lifecycle.py --compare $(BENCH_BASE) --hazards $(BENCH_HAZARDS) --per-event 1000 \
		--peers --peer-hazards $(PEER_HAZARDS)

# The peer engines, each in a venv of its own (pinned versions), then their run of the same hazard loop (fewer
# hazards: they are two orders of magnitude slower; events/s is compared).
PEERS := bench/peers
$(PEERS)/.venv-spiff/.installed:
	$(PYTHON) -m venv $(PEERS)/.venv-spiff
	$(PEERS)/.venv-spiff/bin/python -m pip install --quiet spiffworkflow==3.2.0
	touch $@
$(PEERS)/.venv-dbos/.installed:
	$(PYTHON) -m venv $(PEERS)/.venv-dbos
	$(PEERS)/.venv-dbos/bin/python -m pip install --quiet dbos==3.4.0
	touch $@
bench-peers: $(PEERS)/.venv-spiff/.installed $(PEERS)/.venv-dbos/.installed
	$(PEERS)/.venv-spiff/bin/python $(PEERS)/spiff_loop.py --hazards $(PEER_HAZARDS)
	$(PEERS)/.venv-dbos/bin/python $(PEERS)/dbos_loop.py --hazards $(PEER_HAZARDS)

bench-console: $(STAMP)
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist *.egg-info
