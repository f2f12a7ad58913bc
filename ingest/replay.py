"""Replay: re-run normalization for stored events and owe their CloudEvents to the sink again.

The raw body is re-read from the inbox and never re-verified: its signature was checked when it
arrived, and that verdict is stored with it. The CloudEvent ids come out the same as before, so
consumers that deduplicate on `id` see a replay as a redelivery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from handlers.base import VendorHandler
from ingest.processing import normalize
from ingest.sources import SourcesConfig
from ingest.store import EventFilter, Store, StoredEvent


@dataclass
class ReplaySummary:
    selected: int = 0
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    """Replayed concurrently by someone else, or of a vendor this build no longer knows."""
    cloudevents: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)


async def replay(
    store: Store,
    config: SourcesConfig,
    handlers: Mapping[str, VendorHandler],
    events: list[StoredEvent],
    *,
    on_progress: Callable[[StoredEvent], None] | None = None,
) -> ReplaySummary:
    summary = ReplaySummary(selected=len(events))
    for event in events:
        handler = handlers.get(event.vendor)
        if handler is None:
            summary.skipped += 1
            summary.failures.append((event.id, f"no handler for vendor {event.vendor!r}"))
        else:
            outcome = normalize(handler, event.as_delivery(), config)
            if not await store.apply_replay(event, outcome):
                summary.skipped += 1
            elif outcome.status == "failed":
                summary.failed += 1
                summary.failures.append((event.id, outcome.error or "failed"))
            else:
                summary.processed += 1
                summary.cloudevents += len(outcome.records)
        if on_progress is not None:
            on_progress(event)
    return summary


async def select_events(store: Store, selection: EventFilter) -> list[StoredEvent]:
    """Oldest first, so a replay republishes one entity's events in their original order."""
    return await store.list_events(selection, newest_first=False)
