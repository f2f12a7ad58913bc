#!/usr/bin/env bash
# `make test`: bring up PostgreSQL and Kafka unless the environment points at running ones,
# then run the whole suite against them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -z "${DATABASE_URL:-}" ]]; then
  DATABASE_URL="$(bash scripts/postgres.sh start | sed -n 's/^DATABASE_URL=//p')"
  export DATABASE_URL
fi
if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  KAFKA_BOOTSTRAP_SERVERS="$(bash scripts/kafka.sh start | sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p')"
  export KAFKA_BOOTSTRAP_SERVERS
fi
export INGEST_TEST_DATABASE_URL="$DATABASE_URL" INGEST_TEST_KAFKA="$KAFKA_BOOTSTRAP_SERVERS"
exec .venv/bin/pytest "$@"
