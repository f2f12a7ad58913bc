"""`ingest`: the command line. Each command lives in its own module."""

from __future__ import annotations

import click

from ingest import __version__
from ingest.cli.events import events
from ingest.cli.outbox import outbox
from ingest.cli.purge import purge
from ingest.cli.replay import replay
from ingest.cli.schemas import schemas_command
from ingest.cli.send import send
from ingest.cli.serve import migrate, relay_command, serve
from ingest.cli.sns import sns
from ingest.cli.vendors import keys, vendors


@click.group(
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


main.add_command(serve)
main.add_command(relay_command)
main.add_command(migrate)
main.add_command(events)
main.add_command(outbox)
main.add_command(purge)
main.add_command(replay)
main.add_command(send)
main.add_command(vendors)
main.add_command(keys)
main.add_command(schemas_command)
main.add_command(sns)
