"""`ShardWorker` (ingest/relay/worker.py), driven through a relay on the embedded SQLite store
and the file sink: the loop that moves one shard's outbox records into the sink.

Covered: records published in outbox order and marked published, a commit's wake-up ending an
idle wait; a sink that really cannot write (a file where its directory should be) keeping the
records until it can; an unexpected exception from the sink survived (the supervisor restarts
the worker); wake-ups never shortening a backoff sleep; and poison isolation: exactly the record
the sink refuses for good is parked while the rest flow, and a missing topic is held back, then
parked if it stays missing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs
from typing_extensions import override

from ingest.outbox import OutboxStore, PendingRecord
from ingest.relay import RelayState
from ingest.sinks import FileSink
from ingest.sinks.base import PublishResult, Rejection, RejectionKind
from ingest.store import Store
from tests.ingest.relay.kit import (
    ScriptedSink,
    add_records,
    lines,
    record_stripe,
    relay_on,
    wait_for,
)


async def test_publishes_in_outbox_order_and_marks_published(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink_path = tmp_path / "events.jsonl"
    payments = await record_stripe(store, 25)
    relay = relay_on(engine, FileSink(sink_path), batch_size=10, idle_poll_seconds=5)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: len(lines(sink_path)) == 25)
    assert [line["subject"] for line in lines(sink_path)] == payments
    # Woken by a commit, not by the next poll (5 s here): a new event appears promptly.
    await wait_for(lambda: relay.state is RelayState.IDLE)
    [late] = await record_stripe(store, 1)
    relay.wake()
    await wait_for(lambda: len(lines(sink_path)) == 26, timeout=2)
    assert lines(sink_path)[-1]["subject"] == late
    stop.set()
    await task
    assert await OutboxStore(engine).count_pending() == 0


async def test_a_sink_that_cannot_write_keeps_records_until_it_can(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the sink needs a directory")
    sink_path = blocker / "events.jsonl"
    relay = relay_on(engine, FileSink(sink_path))
    await record_stripe(store, 5)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: relay.state is RelayState.SINK_DOWN)
    await asyncio.sleep(0.5)  # several retries while it stays broken
    assert await OutboxStore(engine).count_pending() == 5
    blocker.unlink()  # the operator fixes the disk
    await wait_for(lambda: len(lines(sink_path)) == 5)
    await wait_for(lambda: relay.state in {RelayState.HEALTHY, RelayState.IDLE})
    stop.set()
    await task
    assert await OutboxStore(engine).count_pending() == 0


def flaky_sink(path: Path, failures: int) -> ScriptedSink:
    """A sink with a bug: it raises something nobody expected `failures` times, then works."""

    async def publish(sink: ScriptedSink, records: Sequence[PendingRecord]) -> PublishResult:
        if len(sink.calls) <= failures:
            raise RuntimeError("a bug in the sink")
        await sink.append(records)
        return PublishResult(delivered=[r.id for r in records])

    return ScriptedSink(path, publish)


async def test_the_relay_survives_an_unexpected_exception_and_says_so_once(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink = flaky_sink(tmp_path / "events.jsonl", failures=5)
    relay = relay_on(engine, sink)
    await record_stripe(store, 3)
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(relay.run(stop))
        await wait_for(lambda: len(lines(sink.path)) == 3)
        assert not task.done()
        assert len(sink.calls) == 6
        stop.set()
        await task
    # Five identical crashes: one error line, not five.
    crashed = [entry for entry in logs if entry["event"] == "task.crashed"]
    assert len(crashed) == 1, [entry["event"] for entry in logs]
    assert crashed[0]["log_level"] == "error"


async def test_a_wakeup_never_cuts_a_backoff_sleep_short(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    """During an outage commits keep waking the relay; it must still back off."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("blocks the sink")
    relay = relay_on(engine, CountingSink(blocker / "events.jsonl"))
    sink = relay.sink
    assert isinstance(sink, CountingSink)
    await record_stripe(store, 1)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: relay.state is RelayState.SINK_DOWN)
    started, attempts_before = time.monotonic(), sink.appends
    while time.monotonic() - started < 1.5:
        relay.wake()
        await asyncio.sleep(0.005)
    attempts = sink.appends - attempts_before
    # FAST backoff: 0.05 s doubling to a 0.2 s ceiling (at least 0.1 s with jitter): at most
    # ~15 attempts in 1.5 s, against hundreds if each wake-up ended the sleep.
    assert attempts <= 16, attempts
    stop.set()
    await task


class CountingSink(FileSink):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.appends = 0

    @override
    async def append(self, records: Sequence[PendingRecord]) -> None:
        self.appends += 1
        await super().append(records)


# -- poison isolation -----------------------------------------------------------------------

POISON = b"POISON"


def transactional_like_sink(path: Path) -> ScriptedSink:
    """Behaves as the Kafka transactional publisher does with a record the broker refuses: the
    whole group is aborted and the refused record is only *suspect*; a topic named `missing-*`
    does not exist on the cluster."""

    async def publish(sink: ScriptedSink, records: Sequence[PendingRecord]) -> PublishResult:
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
        await sink.append(sendable)
        return PublishResult(delivered=[r.id for r in sendable], rejected=rejected)

    return ScriptedSink(path, publish)


async def test_a_refused_record_is_parked_and_the_rest_flow(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink = transactional_like_sink(tmp_path / "events.jsonl")
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
    sink = transactional_like_sink(tmp_path / "events.jsonl")
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
