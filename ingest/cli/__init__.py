"""`ingest`: the command line. Each command lives in its own module."""

from __future__ import annotations

import click

from ingest import __version__
from ingest.cli.lazy import LazyCommand, LazyGroup

COMMANDS = {
    "serve": LazyCommand(
        "ingest.cli.serve:serve",
        "Serve POST /webhooks/{source}, GET /healthz, /readyz and /metrics.",
    ),
    "relay": LazyCommand(
        "ingest.cli.serve:relay_command",
        "Publish the outbox without serving webhooks (pairs with serve --no-relay).",
    ),
    "migrate": LazyCommand(
        "ingest.cli.serve:migrate", "Bring the database schema up to date (Alembic upgrade)."
    ),
    "events": LazyCommand("ingest.cli.events:events", "Inspect the inbox."),
    "outbox": LazyCommand(
        "ingest.cli.outbox:outbox", "Inspect the outbox; release parked records."
    ),
    "purge": LazyCommand(
        "ingest.cli.purge:purge", "Delete old inbox events, with their CloudEvents, in batches."
    ),
    "replay": LazyCommand(
        "ingest.cli.replay:replay",
        "Re-normalize selected events and re-publish their CloudEvents.",
    ),
    "send": LazyCommand(
        "ingest.cli.send:send", "Post a signed event to SOURCE's endpoint and print the response."
    ),
    "vendors": LazyCommand(
        "ingest.cli.vendors:vendors", "List the vendor catalog, or describe one VENDOR in full."
    ),
    "keys": LazyCommand(
        "ingest.cli.vendors:keys",
        "Local keys for vendors that sign asymmetrically (try them offline).",
    ),
    "schemas": LazyCommand(
        "ingest.cli.schemas:schemas_command",
        "JSON Schema files of the domain events (schemas/json/).",
    ),
    "sns": LazyCommand("ingest.cli.sns:sns", "AWS SNS subscriptions."),
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Configuration comes from the environment: DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
INGEST_SOURCES_FILE and the others in the README's table.

\b
Exit codes:
  0  success
  1  the operation failed (a replay failed again, a send was refused)
  2  usage error
  3  configuration error (sources file or environment)
  4  database unreachable or not migrated
  5  a service could not be reached
  130  interrupted (Ctrl-C); `ingest replay` resumes when run again""",
)
@click.version_option(__version__, prog_name="ingest")
def main() -> None:
    """Receive vendors' webhooks, verify them over the raw bytes, store them durably, and
    publish normalized CloudEvents to Kafka.

    \b
    Quick tour:
      ingest serve                  HTTP endpoints plus the relay to Kafka (or the file sink)
      ingest send stripe            post a signed sample event to a running server
      ingest events list            what arrived, newest first, and what it became
      ingest outbox list --parked   records Kafka refused, with the reason
      ingest replay --status failed --yes
    """
