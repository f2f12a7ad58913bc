"""The relay on the embedded SQLite store and the file sink: order, real write failures, shards,
leases, supervision."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import override

from ingest.outbox import OutboxStore, PendingRecord
from ingest.relay import RelayState
from ingest.relay.coordination import Coordination
from ingest.sinks import FileSink
from ingest.sinks.base import PublishResult
from ingest.store import Store
from tests.ingest.relay.kit import lines, record_stripe, relay_on, wait_for


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


async def test_one_relay_holds_the_shard_and_another_takes_over_when_it_stops(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink_path = tmp_path / "events.jsonl"
    ttl = timedelta(seconds=1)
    first = relay_on(engine, FileSink(sink_path), lease_ttl=ttl)
    second = relay_on(engine, FileSink(sink_path), lease_ttl=ttl)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    first_task = asyncio.create_task(first.run(stop_first))
    await wait_for(lambda: first.owned_shards == [0])
    second_task = asyncio.create_task(second.run(stop_second))
    await wait_for(lambda: second.state is RelayState.STANDBY)
    await record_stripe(store, 3)
    first.wake()
    await wait_for(lambda: first.published == 3)
    assert (len(lines(sink_path)), second.published) == (3, 0)

    stop_first.set()
    await first_task  # releases its leases on the way out
    await record_stripe(store, 2)
    # The sink has the lines before the relay counts them (it counts once they are marked
    # published), so wait on the count, then check nothing more reached the sink.
    await wait_for(lambda: second.published == 2)
    assert len(lines(sink_path)) == 5
    stop_second.set()
    await second_task


async def test_a_dead_relays_shards_are_taken_over_within_the_lease(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    """The holder is cancelled without releasing anything (as if killed): its leases expire."""
    sink_path = tmp_path / "events.jsonl"
    ttl = timedelta(seconds=1.5)
    first = relay_on(engine, FileSink(sink_path), lease_ttl=ttl, shards=3)
    second = relay_on(engine, FileSink(sink_path), lease_ttl=ttl, shards=3)
    first_task = asyncio.create_task(first.run(asyncio.Event()))
    await wait_for(lambda: first.owned_shards == [0, 1, 2])
    stop_second = asyncio.Event()
    second_task = asyncio.create_task(second.run(stop_second))
    await wait_for(lambda: len(first.owned_shards) + len(second.owned_shards) == 3, timeout=5)

    # A crash: nothing released on the way out.
    first._shutdown = _nothing  # type: ignore[method-assign]
    for running in first._running.values():
        running.task.cancel()
    first_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first_task
    killed_at = time.monotonic()
    await wait_for(lambda: second.owned_shards == [0, 1, 2], timeout=10)
    takeover = time.monotonic() - killed_at
    assert takeover < ttl.total_seconds() * 2 + 0.5, f"took {takeover:.1f} s"
    await record_stripe(store, 6)
    second.wake()
    await wait_for(lambda: len(lines(sink_path)) == 6)
    stop_second.set()
    await second_task


async def _nothing() -> None:
    return None


async def test_relays_share_the_shards_fairly(
    engine: AsyncEngine, store: Store, tmp_path: Path
) -> None:
    sink_path = tmp_path / "events.jsonl"
    ttl = timedelta(seconds=1)
    relays = [relay_on(engine, FileSink(sink_path), lease_ttl=ttl, shards=4) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
    await wait_for(lambda: sorted(len(r.owned_shards) for r in relays) == [2, 2], timeout=10)
    assert sorted(relays[0].owned_shards + relays[1].owned_shards) == [0, 1, 2, 3]
    payments = await record_stripe(store, 40)
    for relay in relays:
        relay.wake()
    await wait_for(lambda: sum(relay.published for relay in relays) == 40)
    published = Counter(line["subject"] for line in lines(sink_path))
    assert set(published) == set(payments)
    assert max(published.values()) == 1
    assert all(relay.published > 0 for relay in relays)
    stop.set()
    await asyncio.gather(*tasks)
    states = await Coordination(engine).shard_states()
    assert [s.shard for s in states] == [0, 1, 2, 3]


class FlakySink(FileSink):
    """A sink with a bug: it raises something nobody expected, a few times, then works."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.calls = 0

    @override
    def publisher(self, shard: int) -> FlakyPublisher:
        return FlakyPublisher(self)


class FlakyPublisher:
    exactly_once = False

    def __init__(self, sink: FlakySink) -> None:
        self.sink = sink

    async def open(self) -> list[int]:
        return []

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult:
        self.sink.calls += 1
        if self.sink.calls <= self.sink.failures:
            raise RuntimeError("a bug in the sink")
        await self.sink.append(records)
        return PublishResult(delivered=[r.id for r in records])

    async def close(self) -> None:
        return None


async def test_the_relay_survives_an_unexpected_exception_and_says_so_once(
    engine: AsyncEngine, store: Store, tmp_path: Path, capsys: object
) -> None:
    sink = FlakySink(tmp_path / "events.jsonl", failures=5)
    relay = relay_on(engine, sink)
    await record_stripe(store, 3)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: len(lines(sink.path)) == 3)
    assert not task.done()
    assert sink.calls == 6
    stop.set()
    await task


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
