# Developer entry points. CI runs `make lint` and `make test` through .ci/run.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast faults lint format generate services-up services-down bench bench-relay clean

# Two stamps: `make run` needs the service's runtime dependencies only; the tests, linters and
# vendors' SDKs (for cross-checks) come with `make install`, which every dev target depends on.
$(BIN)/ingest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: $(BIN)/ingest
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.dev-installed  ## create .venv with the project and its dev tools

sources.yaml:
	cp examples/sources.demo.yaml sources.yaml

run: $(BIN)/ingest sources.yaml  ## serve on 127.0.0.1:8000 (runtime dependencies only): SQLite inbox, ./events.jsonl sink
	$(BIN)/ingest serve --host $(HOST) --port $(PORT)

test: install  ## every test, on a local PostgreSQL and Kafka unless DATABASE_URL/KAFKA_BOOTSTRAP_SERVERS are set
	bash scripts/test.sh $(PYTEST_ARGS)

test-fast: install  ## the in-process tier only (SQLite, file sink, every vendor): no PostgreSQL or Kafka, about a minute
	$(BIN)/pytest --fast -q $(PYTEST_ARGS)

faults: install  ## the fault-injection suite in full (>= 20 kills of each process, broker kills, PostgreSQL restarts, network cuts); table in tests/faults/last-run.md
	INGEST_FAULTS=full bash scripts/test.sh tests/faults -p no:randomly -q -s $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

generate: install  ## regenerate checked-in artefacts: JSON Schemas, the docs' vendor catalog
	$(BIN)/ingest schemas export
	$(BIN)/ingest vendors --update-docs docs/vendors.md

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

services-up:  ## start the local PostgreSQL and Kafka used by the tests
	bash scripts/postgres.sh start
	bash scripts/kafka.sh start

services-down:
	bash scripts/kafka.sh stop
	bash scripts/postgres.sh stop

bench: install  ## ingest vs bare Starlette on a durable PostgreSQL and Kafka, incl. a 5M-row inbox; results in bench/results/
	@set -euo pipefail; \
	db="$$(bash scripts/postgres.sh start --durable --dir $(BENCH_PG_DIR) --port $(BENCH_PG_PORT) | sed -n 's/^DATABASE_URL=//p')"; \
	kafka="$$(bash scripts/kafka.sh start | sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p')"; \
	[[ -n $$db && -n $$kafka ]] || { echo "make bench: PostgreSQL or Kafka did not start" >&2; exit 1; }; \
	$(BIN)/python bench/ingest_rate.py --database-url "$$db" --kafka "$$kafka" \
		--big-inbox --results bench/results $(BENCH_ARGS)

BENCH_PG_DIR ?= .services/postgres-durable
BENCH_PG_PORT ?= 15433
bench-relay: install  ## relay throughput vs raw aiokafka, on a durable PostgreSQL (fsync on)
	@db="$$(bash scripts/postgres.sh start --durable --dir $(BENCH_PG_DIR) --port $(BENCH_PG_PORT) | sed -n 's/^DATABASE_URL=//p')"; \
	kafka="$$(bash scripts/kafka.sh start | sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p')"; \
	mkdir -p bench/results; \
	$(BIN)/python bench/relay_rate.py --database-url "$$db" --kafka "$$kafka" \
		--json bench/results/relay-$$(date -u +%Y%m%dT%H%M%SZ).json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .services .pytest_cache .mypy_cache .ruff_cache ingest.db* events.jsonl
