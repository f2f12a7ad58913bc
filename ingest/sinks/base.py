"""The small protocol the relay publishes through, so Kafka is one implementation among two."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.errors import IngestError
from ingest.store import PendingRecord


class SinkUnavailableError(IngestError):
    """The sink cannot take records now; the relay keeps them in the outbox and retries."""


@dataclass(frozen=True)
class PublishResult:
    delivered: list[int]
    """Outbox ids the sink acknowledged; these are marked published even when others failed."""
    error: str | None = None


class Sink(Protocol):
    name: str

    async def start(self) -> None:
        """Connect; raise SinkUnavailableError if that is impossible right now."""
        ...

    async def publish(self, records: Sequence[PendingRecord]) -> PublishResult: ...

    async def check(self) -> None:
        """Raise SinkUnavailableError unless the sink is reachable (for /readyz)."""
        ...

    async def stop(self) -> None: ...
