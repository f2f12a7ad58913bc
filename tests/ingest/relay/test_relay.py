"""`Relay` (ingest/relay/relay.py) on the embedded SQLite store and the file sink: how relays
share the shards. One relay holds a shard while another stands by and takes over when it stops;
a relay that dies without releasing anything loses its shards once their leases expire; several
relays split the shards fairly and publish each record once. What a single shard's worker does
with the records (order, outages, poison) is in test_worker.py; the lease table itself in
test_coordination.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.relay import RelayState
from ingest.relay.coordination import Coordination
from ingest.sinks import FileSink
from ingest.store import Store
from tests.ingest.relay.kit import lines, record_stripe, relay_on, wait_for


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
