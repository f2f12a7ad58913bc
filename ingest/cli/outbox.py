"""`ingest outbox list` and `ingest outbox retry`: what the relay owes the sink, and the records it
parked because the sink refused them for good."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from ingest.cli.common import ROW_ID, CommandError, ExitCode, run_async, settings_for_cli
from ingest.outbox import OutboxRecord
from ingest.runtime import Database
from ingest.settings import Settings


@click.group()
def outbox() -> None:
    """Inspect the outbox; release parked records."""


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _document(record: OutboxRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "event_id": record.inbox_id,
        "status": record.status,
        "cloudevent_id": record.cloudevent_id,
        "type": record.type,
        "topic": record.topic,
        "key": record.key,
        "size": record.size,
        "created_at": _time(record.created_at),
        "published_at": _time(record.published_at),
        "parked_at": _time(record.parked_at),
        "failures": record.failures,
        "error": record.last_error,
    }


@outbox.command("list")
@click.option("--parked", is_flag=True, help="Only records parked because the sink refused them.")
@click.option("--pending", is_flag=True, help="Only records not yet published (parked included).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_records(parked: bool, pending: bool, limit: int, as_json: bool) -> None:
    """List outbox records, newest first, with their publish status and error.

    \b
    Examples:
      ingest outbox list --parked
      ingest outbox list --pending --json | jq .error
    """
    settings = settings_for_cli()
    found = _list(settings, parked, pending, limit)
    if as_json:
        for record in found:
            click.echo(json.dumps(_document(record)))
        return
    if not found:
        click.echo("no records" + (" parked" if parked else ""), err=True)
        return
    click.echo(
        f"{'ID':>8}  {'EVENT':>8}  {'STATUS':<9}  {'TOPIC':<24}  {'TYPE':<28}  {'BYTES':>8}  ERROR"
    )
    for record in found:
        status = click.style(f"{record.status:<9}", fg="red" if record.status == "parked" else None)
        click.echo(
            f"{record.id:>8}  {record.inbox_id:>8}  {status}  {record.topic:<24.24}  "
            f"{record.type:<28.28}  {record.size:>8}  {record.last_error or ''}"
        )


@run_async
async def _list(settings: Settings, parked: bool, pending: bool, limit: int) -> list[OutboxRecord]:
    database = await Database.open(settings)
    try:
        return await database.outbox.list_records(
            parked_only=parked, unpublished_only=pending, limit=limit
        )
    finally:
        await database.close()


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--all", "every", is_flag=True, help="Release every parked record.")
def retry(ids: tuple[int, ...], every: bool) -> None:
    """Release parked records: the relay publishes them again (after you fixed the cause: the
    topic exists, the broker's size limit was raised, the ACL granted).

    A record the sink refuses again is parked again, with the new error. Exits 1 if nothing
    was parked among IDS.

    \b
    Examples:
      ingest outbox retry 1042 1043
      ingest outbox retry --all
    """
    if bool(ids) == every:
        raise click.UsageError("give outbox IDS or --all (not both)")
    settings = settings_for_cli()
    released = _retry(settings, ids, every)
    click.echo(f"released {released} parked record{'s' if released != 1 else ''}")
    if ids and released == 0:
        raise CommandError("none of those records is parked", ExitCode.FAILED)


@run_async
async def _retry(settings: Settings, ids: tuple[int, ...], every: bool) -> int:
    database = await Database.open(settings)
    try:
        return await database.outbox.retry(ids, every=every)
    finally:
        await database.close()
