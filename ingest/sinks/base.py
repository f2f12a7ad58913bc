"""The small protocol the relay publishes through, so Kafka is one implementation among two.

A `Sink` hands out one `Publisher` per relay shard. A publisher publishes a batch and says, per
record, whether the sink took it or refused it for good; anything transient (the sink is down,
slow, or the connection broke) is raised as `SinkUnavailableError` instead, and the relay backs
off and starts the publisher again.

An *exactly-once* publisher commits each batch atomically together with a progress marker naming
the records it holds (`carried` included), and on `open` reports the records named by the last
committed marker, so a relay that crashed between the sink's commit and the database's mark does
not publish them twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ingest.errors import IngestError
from ingest.outbox import PendingRecord


class Cause(StrEnum):
    """Why the sink could not be used: named in logs, `/readyz` and metrics."""

    AUTHENTICATION_FAILED = "authentication_failed"
    CERTIFICATE_NOT_TRUSTED = "certificate_not_trusted"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    FENCED = "fenced"
    AUTHORIZATION_FAILED = "authorization_failed"
    WRITE_FAILED = "write_failed"
    OTHER = "other"


class SinkUnavailableError(IngestError):
    """The sink cannot take records now; the relay keeps them in the outbox and retries."""

    def __init__(self, message: str, cause: Cause = Cause.OTHER) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class RejectionKind(StrEnum):
    RECORD = "record"
    """This record can never be published as it is (too large, a topic we may not write)."""
    SUSPECT = "suspect"
    """The sink refused a group the record was in; tried alone, it is parked if refused again."""
    TOPIC_MISSING = "topic_missing"
    """The cluster answers but does not have the topic (yet): held, parked if it stays missing."""


@dataclass(frozen=True)
class Rejection:
    kind: RejectionKind
    reason: str
    """A short code for metrics: record_too_large, topic_missing, topic_unauthorized…"""
    message: str


@dataclass(frozen=True)
class PublishResult:
    delivered: list[int]
    """Outbox ids the sink acknowledged (committed, for an exactly-once publisher)."""
    rejected: dict[int, Rejection] = field(default_factory=dict)


class Publisher(Protocol):
    exactly_once: bool

    async def open(self) -> list[int]:
        """Connect; for exactly-once publishers, fence any previous holder of this shard and
        return the outbox ids the last committed marker names. Raises SinkUnavailableError."""
        ...

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult: ...

    async def close(self) -> None:
        """Prompt even when the sink is unreachable."""
        ...


class Sink(Protocol):
    name: str

    def publisher(self, shard: int) -> Publisher: ...

    async def prepare(self, *, shards: int, instance: str, holder: str) -> None:
        """One-off set-up before any publisher opens (the progress topic); may raise
        SinkUnavailableError."""
        ...
