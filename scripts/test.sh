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
  kafka="$(bash scripts/kafka.sh start)"
  KAFKA_BOOTSTRAP_SERVERS="$(sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p' <<<"$kafka")"
  export KAFKA_BOOTSTRAP_SERVERS
  # The same broker's SASL_SSL listener, its credentials and certificates, for the TLS tests.
  while IFS='=' read -r name value; do
    [[ $name == KAFKA_* && $name != KAFKA_BOOTSTRAP_SERVERS ]] && export "INGEST_TEST_$name=$value"
  done <<<"$kafka"
fi
export INGEST_TEST_DATABASE_URL="$DATABASE_URL" INGEST_TEST_KAFKA="$KAFKA_BOOTSTRAP_SERVERS"
exec .venv/bin/pytest "$@"
