# Two commands matter: `make run` and `make test`. Everything else is a helper.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever the dependencies change. Serving needs the package alone; the tools
# (tests, linters, generators) come with the dev extra, installed only when one is used.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

HOST ?= 127.0.0.1
PORT ?= 7420

# The suite's time goes to real processes (agents, shells, git, Chromium) that one pytest
# process would run one after another: pytest-xdist spreads the test files over worker
# processes, each file on one worker (--dist loadfile) so that a module's shared agent or
# browser starts once (tests/_scheduling.py says which files go together and which first).
# Much of a test's time is spent waiting on those processes, so more workers than cores
# keep a 2-core machine busy: four there (90-93 s of pytest in three runs, against
# 96-106 s with three and 100 s with five, interleaved; the CPU sat idle 11-14 s of a run
# with four, 23-26 s with three). More cores: more workers.
TEST_WORKERS ?= 4

# The suite starts many Python processes (agents, keepers, the MCP server, CLI checks);
# where the environment forbids writing bytecode, each one would compile the project's
# modules again. The suite writes it, into the gitignored __pycache__ directories.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

.PHONY: run test test-fallback test-deps test-lowest lint typecheck openapi dist bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP) ## Start the agent on loopback (no token needed there).
	$(BIN)/agentproc serve --host $(HOST) --port $(PORT)

test: test-deps lint typecheck ## Lint, type-check and run the whole suite.
	$(PYTEST) --numprocesses $(TEST_WORKERS) --dist loadfile

# The agent serves on uvloop and httptools where they are installed, on asyncio and h11
# where they are not; the test servers read the same variables as `agentproc serve`, so
# this runs the whole suite as an agent without uvloop and httptools would (CI runs both).
test-fallback: test-deps lint typecheck ## The whole suite on asyncio and h11.
	AGENTPROC_LOOP=asyncio AGENTPROC_HTTP=h11 \
		$(PYTEST) --numprocesses $(TEST_WORKERS) --dist loadfile

test-lowest: $(DEV_STAMP) ## The suite against the lowest versions pyproject.toml allows.
	bash scripts/test-lowest-deps.sh

test-deps: ## Chromium and chromedriver from apt, for the browser test of /docs.
	bash scripts/install-test-deps.sh

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

openapi: $(RUN_STAMP) ## Regenerate openapi.json after changing the API.
	$(BIN)/agentproc openapi --output openapi.json

dist: $(DEV_STAMP) ## Build the wheel and the sdist into dist/.
	$(BIN)/python -m build --outdir dist

bench: $(DEV_STAMP) ## Benchmarks against their floor and SWE-ReX (minutes; BENCH_ARGS=--quick: seconds).
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-lowest .bench .hypothesis .mypy_cache .ruff_cache .pytest_cache dist
