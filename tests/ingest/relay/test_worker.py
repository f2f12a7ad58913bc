"""One bad record never blocks the others: the relay parks exactly what the sink refuses for good,
holds back a topic that does not exist and parks it if it stays missing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import override

from ingest.outbox import OutboxStore, PendingRecord
from ingest.sinks import FileSink
from ingest.sinks.base import PublishResult, Rejection, RejectionKind
from ingest.store import Store
from tests.ingest.relay.kit import add_records, lines, relay_on, wait_for

POISON = b"POISON"


class TransactionalLikeSink(FileSink):
    """Behaves as the Kafka transactional publisher does with a record the broker refuses: the
    whole group is aborted and the refused record is only *suspect*; a topic named `missing-*`
    does not exist on the cluster."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[list[int]] = []

    @override
    def publisher(self, shard: int) -> ScriptedPublisher:
        return ScriptedPublisher(self)


class ScriptedPublisher:
    exactly_once = False

    def __init__(self, sink: TransactionalLikeSink) -> None:
        self.sink = sink

    async def open(self) -> list[int]:
        return []

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult:
        self.sink.calls.append([r.id for r in records])
        rejected = {
            r.id: Rejection(RejectionKind.TOPIC_MISSING, "topic_missing", f"no {r.topic}")
            for r in records
            if r.topic.startswith("missing-")
        }
        sendable = [r for r in records if r.id not in rejected]
        poisoned = {
            r.id: Rejection(RejectionKind.SUSPECT, "record_too_large", "MessageSizeTooLarge")
            for r in sendable
            if POISON in r.value
        }
        if poisoned:
            return PublishResult(delivered=[], rejected={**rejected, **poisoned})
        await self.sink.append(sendable)
        return PublishResult(delivered=[r.id for r in sendable], rejected=rejected)

    async def close(self) -> None:
        return None


async def test_a_refused_record_is_parked_and_the_rest_flow(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink = TransactionalLikeSink(tmp_path / "events.jsonl")
    await add_records(store, [("t", b'{"n":1}'), ("t", b'{"n":2}')])
    await add_records(store, [("t", POISON)])
    await add_records(store, [("t", b'{"n":3}')])
    relay = relay_on(engine, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: len(lines(sink.path)) == 3)
    await add_records(store, [("t", b'{"n":4}')])  # later events keep flowing
    relay.wake()
    await wait_for(lambda: len(lines(sink.path)) == 4)
    assert [line["n"] for line in lines(sink.path)] == [1, 2, 3, 4]
    outbox = OutboxStore(engine)
    [parked] = await outbox.list_records(parked_only=True)
    assert parked.status == "parked"
    assert parked.last_error is not None
    assert parked.last_error.startswith("record_too_large")
    assert (await outbox.totals()).parked == 1
    # The operator fixes the cause (here: the poison is gone) and releases it.
    assert await outbox.retry([parked.id]) == 1
    stop.set()
    await task


async def test_a_missing_topic_is_held_back_then_parked(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink = TransactionalLikeSink(tmp_path / "events.jsonl")
    await add_records(store, [("missing-orders", b'{"n":0}')], key="a")
    await add_records(store, [("t", b'{"n":1}')], key="b")
    relay = relay_on(engine, sink, missing_topic_seconds=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: len(lines(sink.path)) == 1)  # the other topic is not held up
    outbox = OutboxStore(engine)
    assert (await outbox.totals()).parked == 0  # held, not parked, within the grace period
    await wait_for(lambda: relay.shard_statuses()[0].held_topics != {})
    await wait_for(lambda: relay.shard_statuses()[0].parked == 1, timeout=15)
    [parked] = await outbox.list_records(parked_only=True)
    assert parked.topic == "missing-orders"
    assert parked.last_error is not None
    assert "topic_missing" in parked.last_error
    stop.set()
    await task
