"""Replay: re-run normalization for stored events and owe their CloudEvents to the sink again.

The raw body is re-read from the inbox and never re-verified: its signature was checked when it
arrived, and that verdict is stored with it. The CloudEvent ids come out the same as before, so
consumers that deduplicate on `id` see a replay as a redelivery. The records go through the
outbox and the relay like any others: the same exactly-once path into Kafka.

A replay run is recorded (`replay_runs`) with its selection and a cursor, moved in the same
transaction as each event's new generation: interrupted (Ctrl-C, a crash), the same command
resumes after the last event it finished and repeats nothing. Events are read in id order, in
pages, so a run over millions of events holds only a page in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from ingest.handlers.base import VendorHandler
from ingest.identity import unexpected_when_stored
from ingest.processing import normalize
from ingest.sources import SourceConfig, SourcesConfig
from ingest.store import EventFilter, ReplayRunRow, Store, StoredEvent

PAGE = 200


@dataclass
class ReplaySummary:
    selected: int = 0
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    """Replayed concurrently by someone else, or of a vendor this build no longer knows."""
    cloudevents: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    resumed_from: int = 0
    """Events an earlier, interrupted run of the same replay had already done."""


@dataclass(frozen=True)
class ReplayOptions:
    to_topic: str | None = None
    """Publish to this (shadow) topic instead of the routed ones."""
    rate: float | None = None
    """At most this many events per second."""
    max_record_bytes: int | None = None


def fingerprint(command: Mapping[str, object]) -> str:
    """The same command line → the same fingerprint → its unfinished run is resumed. Taken over
    the options as typed (`--since 2h`, not the moment it meant), so running it again matches."""
    return hashlib.sha256(json.dumps(command, sort_keys=True, default=str).encode()).hexdigest()


class Pacer:
    """Spaces events `1/rate` seconds apart (no bursts after a pause)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1 / rate if rate else 0.0
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(self._next, now) + self.interval


async def replay_event(
    store: Store,
    config: SourcesConfig,
    handlers: Mapping[str, VendorHandler],
    event: StoredEvent,
    summary: ReplaySummary,
    *,
    options: ReplayOptions = ReplayOptions(),
    run_id: int | None = None,
) -> None:
    handler = handlers.get(event.vendor)
    if handler is None:
        summary.skipped += 1
        summary.failures.append((event.id, f"no handler for vendor {event.vendor!r}"))
        await store.advance_replay_run(run_id, event.id)
        return
    source = config.sources.get(event.source) or SourceConfig(event.source, event.vendor)
    outcome = normalize(
        handler,
        event.as_delivery(),
        config,
        max_record_bytes=options.max_record_bytes,
        unexpected=unexpected_when_stored(handler, source, event.headers, event.body),
    )
    if outcome.status == "retrying":
        # A replay is a person asking now: a transient failure is reported, not scheduled.
        outcome = type(outcome)(status="failed", error=outcome.error)
    if not await store.apply_replay(event, outcome, topic=options.to_topic, run_id=run_id):
        summary.skipped += 1
        await store.advance_replay_run(run_id, event.id)
    elif outcome.status == "failed":
        summary.failed += 1
        summary.failures.append((event.id, outcome.error or "failed"))
    else:
        summary.processed += 1
        summary.cloudevents += len(outcome.records)


async def replay(
    store: Store,
    config: SourcesConfig,
    handlers: Mapping[str, VendorHandler],
    events: list[StoredEvent],
    *,
    on_progress: Callable[[StoredEvent], None] | None = None,
    options: ReplayOptions = ReplayOptions(),
) -> ReplaySummary:
    """Replay a list of events (no run is recorded)."""
    summary = ReplaySummary(selected=len(events))
    for event in events:
        await replay_event(store, config, handlers, event, summary, options=options)
        if on_progress is not None:
            on_progress(event)
    return summary


async def pages(store: Store, selection: EventFilter, after: int) -> AsyncIterator[StoredEvent]:
    """Events of the selection with id > `after`, in id order, a page at a time."""
    cursor = after
    while True:
        page = await store.list_events(selection, limit=PAGE, newest_first=False, after_id=cursor)
        if not page:
            return
        for event in page:
            yield event
        cursor = page[-1].id


async def replay_run(
    store: Store,
    config: SourcesConfig,
    handlers: Mapping[str, VendorHandler],
    run: ReplayRunRow,
    selection: EventFilter,
    *,
    options: ReplayOptions,
    on_progress: Callable[[StoredEvent], None] | None = None,
) -> ReplaySummary:
    """Run (or resume) a recorded replay to the end of its selection."""
    summary = ReplaySummary(selected=run.total, resumed_from=run.done)
    pacer = Pacer(options.rate)
    async for event in pages(store, selection, run.cursor):
        await pacer.wait()
        await replay_event(store, config, handlers, event, summary, options=options, run_id=run.id)
        if on_progress is not None:
            on_progress(event)
    await store.finish_replay_run(run.id)
    return summary


async def select_events(store: Store, selection: EventFilter) -> list[StoredEvent]:
    """Oldest first, so a replay republishes one entity's events in their original order."""
    return await store.list_events(selection, newest_first=False)
