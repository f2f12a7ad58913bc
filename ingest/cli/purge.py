"""`ingest purge`: retention for the inbox, in bounded batches, never touching what is owed."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from ingest.cli.common import (
    CommandError,
    ExitCode,
    parse_moment,
    run_async,
    settings_for_cli,
    stdin_is_interactive,
)
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.tables import STATUSES

PROGRESS_THRESHOLD = 5000


@click.command()
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    callback=parse_moment,
    help="Received before this: an age (30d, 12h) or an ISO 8601 time.",
)
@click.option(
    "--status",
    type=click.Choice([s for s in STATUSES if s != "retrying"]),
    help="Only events in this status (default: all but `retrying`).",
)
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def purge(older_than: datetime, status: str | None, batch: int, dry_run: bool, yes: bool) -> None:
    """Delete old inbox events, with their CloudEvents, in batches.

    An event is never deleted while any of its CloudEvents is still owed to the sink (pending
    or parked), nor while the retrier owns it (`retrying`). Replays of a purged event are no
    longer possible: keep as much as you might want to replay.

    \b
    Examples:
      ingest purge --older-than 30d --dry-run
      ingest purge --older-than 30d --status processed --yes
    """
    settings = settings_for_cli()
    deleted = _purge(settings, older_than, status, batch, dry_run=dry_run, yes=yes)
    if deleted is not None:
        click.echo(f"purged {deleted} events received before {older_than.isoformat()}")


@run_async
async def _purge(
    settings: Settings,
    older_than: datetime,
    status: str | None,
    batch: int,
    *,
    dry_run: bool,
    yes: bool,
) -> int | None:
    database = await Database.open(settings)
    try:
        store = database.store
        total = await store.count_purgeable(older_than, status)
        if dry_run:
            click.echo(f"{total} events would be purged (dry run; nothing changed)")
            return None
        if total == 0:
            click.echo("nothing to purge")
            return None
        if not yes:
            if not stdin_is_interactive():
                raise CommandError(
                    f"{total} events to purge; pass --yes to purge without a prompt",
                    ExitCode.USAGE,
                )
            click.confirm(f"Purge {total} events?", abort=True, err=True)
        deleted = 0
        with click.progressbar(
            length=total,
            label="purging",
            file=sys.stderr,
            show_eta=True,
            hidden=total < PROGRESS_THRESHOLD,
        ) as bar:
            while done := await store.purge(older_than, status, batch=batch):
                deleted += done
                bar.update(done)
        return deleted
    finally:
        await database.close()
