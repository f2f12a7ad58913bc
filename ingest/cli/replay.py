"""`ingest replay`: re-run normalization for selected events and re-publish them (same ids)."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

import click

from ingest.cli.common import (
    ROW_ID,
    CommandError,
    ExitCode,
    event_filter_options,
    finite,
    run_async,
    settings_for_cli,
    stdin_is_interactive,
)
from ingest.cli.serve import config_or_exit
from ingest.replay import ReplayOptions, ReplaySummary, fingerprint, replay_run
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.sources import KAFKA_TOPIC, SourcesConfig
from ingest.store import EventFilter, ReplayRunRow, StoredEvent

PROGRESS_THRESHOLD = 10


def _topic(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not KAFKA_TOPIC.fullmatch(value):
        raise click.BadParameter("a Kafka topic name: letters, digits, '.', '_' and '-'")
    return value


@click.command()
@click.argument("ids", nargs=-1, type=ROW_ID)
@event_filter_options
@click.option(
    "--to-topic",
    metavar="TOPIC",
    callback=_topic,
    help="Publish to this (shadow) topic instead of the routed ones.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    callback=lambda ctx, param, value: finite(value, "--rate"),
    metavar="N",
    help="At most N events per second (default: as fast as the database takes them).",
)
@click.option("--dry-run", is_flag=True, help="List what would be replayed; change nothing.")
@click.option(
    "--restart",
    is_flag=True,
    help="Start over even if an interrupted run of the same replay could be resumed.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def replay(
    ids: tuple[int, ...],
    source: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    to_topic: str | None,
    rate: float | None,
    dry_run: bool,
    restart: bool,
    yes: bool,
) -> None:
    """Re-normalize selected events and re-publish their CloudEvents.

    Select by IDS and/or filters; at least one is required. CloudEvent ids are the same as in the
    first run, so consumers deduplicate. The records go through the outbox and the relay: the
    same exactly-once path as live events.

    An interrupted replay (Ctrl-C) resumes where it stopped when the same command is run again;
    --restart starts over. Exits 1 if any event failed again, 130 if interrupted.

    \b
    Examples:
      ingest replay --status failed --yes
      ingest replay 42 43
      ingest replay --source stripe --since 2h --dry-run
      ingest replay --source stripe --since 7d --to-topic payments.shadow --rate 200 --yes
    """
    if not (ids or source or status or since or until):
        raise click.UsageError("select events: give IDs or --source/--status/--since/--until")
    meta = click.get_current_context().meta
    command = {
        "ids": sorted(ids),
        "source": source,
        "status": status,
        "since": meta.get("raw_since"),
        "until": meta.get("raw_until"),
        "to_topic": to_topic,
    }
    settings = settings_for_cli()
    config = config_or_exit(settings)
    selection = EventFilter(ids=ids, source=source, status=status, since=since, until=until)
    options = ReplayOptions(
        to_topic=to_topic, rate=rate, max_record_bytes=settings.kafka_max_request_size
    )
    try:
        summary = _replay(
            settings,
            config,
            selection,
            command,
            options,
            dry_run=dry_run,
            yes=yes,
            restart=restart,
        )
    except KeyboardInterrupt:
        # Each event's new generation and the run's cursor commit together: nothing half-done.
        click.echo("\ninterrupted; run the same command again to resume", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    if summary is None:
        return
    resumed = f" (resumed: {summary.resumed_from} done before)" if summary.resumed_from else ""
    click.echo(
        f"replayed {summary.selected}{resumed}: {summary.processed} processed, "
        f"{summary.failed} failed, {summary.skipped} skipped; "
        f"{summary.cloudevents} CloudEvents queued for publishing"
        + (f" to {to_topic}" if to_topic else "")
    )
    for event_id, error in summary.failures:
        click.echo(f"  event {event_id}: {error}", err=True)
    if summary.failed or summary.failures:
        sys.exit(ExitCode.FAILED)


@run_async
async def _replay(
    settings: Settings,
    config: SourcesConfig,
    selection: EventFilter,
    command: dict[str, Any],
    options: ReplayOptions,
    *,
    dry_run: bool,
    yes: bool,
    restart: bool,
) -> ReplaySummary | None:
    database = await Database.open(settings)
    try:
        store = database.store
        key = fingerprint(command)
        run = None if restart or dry_run else await store.unfinished_replay_run(key)
        if run is not None:
            selection = EventFilter.from_description(run.selection)
            click.echo(
                f"resuming replay run {run.id}: {run.done} of {run.total} done before it was "
                "interrupted (--restart to start over)",
                err=True,
            )
        total = await store.count_events(selection)
        if total == 0 and run is None:
            click.echo("no events match")
            return None
        if dry_run:
            await _dry_run(database, selection, total)
            return None
        if not yes:
            if not stdin_is_interactive():
                raise CommandError(
                    f"{total} events selected; pass --yes to replay without a prompt",
                    ExitCode.USAGE,
                )
            click.confirm(f"Replay {total} events?", abort=True, err=True)
        if run is None:
            description = {**selection.describe(), "to_topic": options.to_topic}
            run = await store.start_replay_run(description, key, total)
        return await _run_with_progress(database, config, run, selection, options)
    finally:
        await database.close()


async def _dry_run(database: Database, selection: EventFilter, total: int) -> None:
    shown = await database.store.list_events(selection, newest_first=False, limit=1000)
    for event in shown:
        click.echo(
            f"would replay {event.id}  {event.source}  {event.vendor_event_type}  "
            f"{event.status}  (attempts {event.attempts})"
        )
    if total > len(shown):
        click.echo(f"… and {total - len(shown)} more")
    click.echo(f"{total} events would be replayed (dry run; nothing changed)")


class _Rate:
    """Events per second over the run so far, for the progress bar."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.count = 0

    def show(self, _item: object) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return f"{self.count / elapsed:,.0f} events/s"


async def _run_with_progress(
    database: Database,
    config: SourcesConfig,
    run: ReplayRunRow,
    selection: EventFilter,
    options: ReplayOptions,
) -> ReplaySummary:
    from ingest.handlers import HANDLERS  # noqa: PLC0415 - keeps `ingest --help` fast

    options = ReplayOptions(
        to_topic=run.to_topic, rate=options.rate, max_record_bytes=options.max_record_bytes
    )
    remaining = max(run.total - run.done, 0)
    if remaining < PROGRESS_THRESHOLD:
        return await replay_run(database.store, config, HANDLERS, run, selection, options=options)
    rate = _Rate()
    with click.progressbar(
        length=remaining,
        label="replaying",
        file=sys.stderr,
        show_eta=True,
        show_percent=True,
        item_show_func=rate.show,
    ) as bar:

        def advance(event: StoredEvent) -> None:
            rate.count += 1
            bar.update(1, event)

        return await replay_run(
            database.store,
            config,
            HANDLERS,
            run,
            selection,
            options=options,
            on_progress=advance,
        )
