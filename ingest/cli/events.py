"""`ingest events list` and `ingest events show`: what arrived, and what it became."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import click

from ingest.cli.common import (
    ROW_ID,
    CommandError,
    ExitCode,
    event_filter_options,
    run_async,
    settings_for_cli,
)
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.store import EventFilter, PublishSummary, StoredCloudEvent, StoredEvent


@click.group()
def events() -> None:
    """Inspect the inbox."""


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _published(summary: PublishSummary | None) -> dict[str, Any]:
    summary = summary or PublishSummary()
    return {
        "cloudevent_types": list(summary.types),
        "publish_state": summary.state,
        "cloudevents": {
            "published": summary.published,
            "pending": summary.pending,
            "parked": summary.parked,
        },
    }


def _summary(event: StoredEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "source": event.source,
        "vendor": event.vendor,
        "vendor_event_id": event.vendor_event_id,
        "vendor_event_type": event.vendor_event_type,
        "received_at": _time(event.received_at),
        "status": event.status,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "processed_at": _time(event.processed_at),
        "next_attempt_at": _time(event.next_attempt_at),
        "secret_index": event.secret_index,
    }


def _body(body: bytes) -> dict[str, Any]:
    try:
        return {"encoding": "utf-8", "text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "text": base64.b64encode(body).decode()}


def _cloudevent(record: StoredCloudEvent) -> dict[str, Any]:
    return {
        "generation": record.generation,
        "seq": record.seq,
        "id": record.cloudevent_id,
        "type": record.type,
        "topic": record.topic,
        "key": record.key,
        "published_at": _time(record.published_at),
        "publish_state": record.publish_state,
        "parked_at": _time(record.parked_at),
        "error": record.last_error,
        "cloudevent": json.loads(record.value),
    }


@events.command("list")
@event_filter_options
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_events(
    source: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """List received events, newest first: status, the CloudEvents they became (type) and
    whether those are published, pending or parked."""
    settings = settings_for_cli()
    selection = EventFilter(source=source, status=status, since=since, until=until)
    found, summaries = _list(settings, selection, limit)
    if as_json:
        for event in found:
            click.echo(json.dumps({**_summary(event), **_published(summaries.get(event.id))}))
        return
    if not found:
        click.echo("no events", err=True)
        return
    click.echo(
        f"{'ID':>8}  {'RECEIVED (UTC)':<19}  {'SOURCE':<14}  {'STATUS':<9}  {'TRIES':>5}  "
        f"{'VENDOR TYPE':<28}  {'CLOUDEVENT':<26}  PUBLISHED"
    )
    for event in found:
        received = event.received_at.strftime("%Y-%m-%d %H:%M:%S")
        status_text = click.style(
            f"{event.status:<9}", fg="red" if event.status == "failed" else None
        )
        summary = summaries.get(event.id) or PublishSummary()
        types = (
            ", ".join(summary.types)
            if len(summary.types) < 3
            else (f"{summary.types[0]} +{len(summary.types) - 1}")
        )
        state = summary.state
        if state == "partial":
            state = f"{summary.published}/{summary.published + summary.pending}"
        click.echo(
            f"{event.id:>8}  {received:<19}  {event.source:<14.14}  {status_text}  "
            f"{event.attempts:>5}  {event.vendor_event_type:<28.28}  {types or '-':<26.26}  "
            + click.style(state, fg="red" if state == "parked" else None)
        )


@run_async
async def _list(
    settings: Settings, selection: EventFilter, limit: int
) -> tuple[list[StoredEvent], dict[int, PublishSummary]]:
    database = await Database.open(settings)
    try:
        found = await database.store.list_events(selection, limit=limit)
        return found, await database.store.publish_summaries([event.id for event in found])
    finally:
        await database.close()


@events.command("show")
@click.argument("event_id", metavar="ID", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show_event(event_id: int, as_json: bool) -> None:
    """Show one event: redacted headers, raw body, status, error, and the CloudEvents it made."""
    settings = settings_for_cli()
    found = _show(settings, event_id)
    if found is None:
        raise CommandError(f"no event with id {event_id}", ExitCode.FAILED)
    event, produced = found
    document = {
        **_summary(event),
        "signed_at": event.signed_at,
        "headers": event.headers,
        "body": _body(event.body),
        "cloudevents": [_cloudevent(record) for record in produced],
    }
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    for key, value in _summary(event).items():
        click.echo(f"{key + ':':<19} {value if value is not None else '-'}")
    click.echo("headers:")
    for name, value in sorted(event.headers.items()):
        click.echo(f"  {name}: {value}")
    click.echo(f"body ({document['body']['encoding']}, {len(event.body)} bytes):")
    click.echo(document["body"]["text"])
    click.echo(f"cloudevents ({len(produced)}):")
    for record in produced:
        published = _time(record.published_at) or "pending"
        click.echo(
            f"  gen {record.generation} #{record.seq}  {record.cloudevent_id}  {record.type}  "
            f"→ {record.topic} key={record.key}  published={published}"
            + (f"  PARKED: {record.last_error}" if record.publish_state == "parked" else "")
        )


@run_async
async def _show(
    settings: Settings, event_id: int
) -> tuple[StoredEvent, list[StoredCloudEvent]] | None:
    database = await Database.open(settings)
    try:
        event = await database.store.get_event(event_id)
        if event is None:
            return None
        return event, await database.store.cloudevents_of(event_id)
    finally:
        await database.close()
