"""`ingest replay`: re-run normalization for selected events and re-publish them (same ids)."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from handlers import HANDLERS
from ingest.cli.common import (
    CommandError,
    ExitCode,
    event_filter_options,
    run_async,
    settings_for_cli,
    stdin_is_interactive,
)
from ingest.cli.serve import config_or_exit
from ingest.replay import ReplaySummary, select_events
from ingest.replay import replay as run_replay
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.sources import SourcesConfig
from ingest.store import EventFilter, StoredEvent

PROGRESS_THRESHOLD = 10


@click.command()
@click.argument("ids", nargs=-1, type=int)
@event_filter_options
@click.option("--dry-run", is_flag=True, help="List what would be replayed; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def replay(
    ids: tuple[int, ...],
    source: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Re-normalize selected events and re-publish their CloudEvents.

    Select by IDS and/or filters; at least one is required. CloudEvent ids are the same as in the
    first run, so consumers deduplicate. Exits 1 if any event failed again.

    \b
    Examples:
      ingest replay --status failed --yes
      ingest replay 42 43
      ingest replay --source stripe --since 2h --dry-run
    """
    if not (ids or source or status or since or until):
        raise click.UsageError("select events: give IDs or --source/--status/--since/--until")
    settings = settings_for_cli()
    config = config_or_exit(settings)
    selection = EventFilter(ids=ids, source=source, status=status, since=since, until=until)
    summary = _replay(settings, config, selection, dry_run=dry_run, yes=yes)
    if summary is None:
        return
    click.echo(
        f"replayed {summary.selected}: {summary.processed} processed, {summary.failed} failed, "
        f"{summary.skipped} skipped; {summary.cloudevents} CloudEvents queued for publishing"
    )
    for event_id, error in summary.failures:
        click.echo(f"  event {event_id}: {error}", err=True)
    if summary.failed or summary.failures:
        sys.exit(ExitCode.FAILED)


@run_async
async def _replay(
    settings: Settings, config: SourcesConfig, selection: EventFilter, *, dry_run: bool, yes: bool
) -> ReplaySummary | None:
    database = await Database.open(settings)
    try:
        events = await select_events(database.store, selection)
        if not events:
            click.echo("no events match")
            return None
        if dry_run:
            for event in events:
                click.echo(
                    f"would replay {event.id}  {event.source}  {event.vendor_event_type}  "
                    f"{event.status}  (attempts {event.attempts})"
                )
            click.echo(f"{len(events)} events would be replayed (dry run; nothing changed)")
            return None
        if not yes:
            if not stdin_is_interactive():
                raise CommandError(
                    f"{len(events)} events selected; pass --yes to replay without a prompt",
                    ExitCode.USAGE,
                )
            click.confirm(f"Replay {len(events)} events?", abort=True, err=True)
        return await _run_with_progress(database, config, events)
    finally:
        await database.close()


async def _run_with_progress(
    database: Database, config: SourcesConfig, events: list[StoredEvent]
) -> ReplaySummary:
    if len(events) < PROGRESS_THRESHOLD:
        return await run_replay(database.store, config, HANDLERS, events)
    with click.progressbar(length=len(events), label="replaying", file=sys.stderr) as bar:
        return await run_replay(
            database.store, config, HANDLERS, events, on_progress=lambda _event: bar.update(1)
        )
