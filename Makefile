# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Where `make run` serves; set on the command line (make run PORT=9000), not taken from the
# environment, where HOST and PORT often mean something else (the machine's name, a PaaS port).
HOST   := 127.0.0.1
PORT   := 8000

.PHONY: run test lint typecheck fmt schema graphiql-assets bench faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## Migrate the embedded database, seed a demo organization if empty, serve on HOST:PORT
## (127.0.0.1:8000 unless given: make run HOST=0.0.0.0 PORT=9000).
run: $(STAMP)
	$(BIN)/waypost dev --host $(HOST) --port $(PORT)

## Install and run the whole suite (SQLite + in-process broker unless WAYPOST_TEST_* says otherwise).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Fetch GraphiQL's pinned files from npm again and check them against their manifest
## (backend/entrypoints/graphiql/assets/manifest.json); after changing a version there,
## VENDOR_ARGS=--write replaces the files and their hashes.
graphiql-assets: $(STAMP)
	$(BIN)/python -m backend.entrypoints.graphiql.vendor $(VENDOR_ARGS)

## Seed Postgres at three sizes, load Waypost, PostGraphile v5 and an asyncpg floor with wrk,
## and rewrite the tables in docs/benchmarks.md (longer than the 25 minutes it once took: see
## docs/benchmarks.md; BENCH_ARGS="--sizes small --quick" for a smoke run).
bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## Inject faults into a production deployment on loopback (Postgres and Redis on 127.0.0.1)
## and print the table of docs/reliability.md (about 3 minutes; FAULTS_ARGS=--help).
faults: $(STAMP)
	$(BIN)/python -m bench.faults $(FAULTS_ARGS)

## Rewrite graphql_schema/schema.graphql from the code.
schema: $(STAMP)
	$(BIN)/waypost export-schema

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
