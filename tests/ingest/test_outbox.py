"""The relay's view of the outbox on the embedded store: pending by shard, marking, parking."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import override

from ingest.outbox import OutboxStore
from ingest.sharding import shard_of
from ingest.store import Store
from tests.ingest.relay.kit import add_records


async def test_each_record_belongs_to_exactly_one_shard_by_its_key(
    sqlite_engine: AsyncEngine,
) -> None:
    store, outbox = Store(sqlite_engine), OutboxStore(sqlite_engine)
    keys = [f"customer-{n}" for n in range(40)]
    for key in keys:
        await add_records(store, [("t", key.encode())], key=key)
    by_shard = [await outbox.pending(shard=s, shards=4, limit=100) for s in range(4)]
    assert sorted(r.key for batch in by_shard for r in batch) == sorted(keys)
    for shard, batch in enumerate(by_shard):
        assert all(shard_of(r.key, 4) == shard for r in batch)
        assert [r.id for r in batch] == sorted(r.id for r in batch)


class ShrinkingList(list[int]):
    """A carried list whose marking finishes while the read is under way."""

    @override
    def __iter__(self) -> Iterator[int]:
        items = list(super().__iter__())
        self.clear()
        return iter(items)


async def test_records_being_marked_are_never_returned_as_pending(
    sqlite_engine: AsyncEngine,
) -> None:
    store, outbox = Store(sqlite_engine), OutboxStore(sqlite_engine)
    await add_records(store, [("t", b"1"), ("t", b"2"), ("t", b"3")])
    first = await outbox.pending(limit=10)
    carried = ShrinkingList(r.id for r in first[:2])
    again = await outbox.pending(limit=10, exclude=carried)
    assert [r.id for r in again] == [first[2].id]


async def test_marking_is_idempotent_and_parking_sets_records_aside(
    sqlite_engine: AsyncEngine,
) -> None:
    store, outbox = Store(sqlite_engine), OutboxStore(sqlite_engine)
    await add_records(store, [("t", b"1"), ("t", b"2"), ("t", b"3")])
    one, two, three = await outbox.pending(limit=10)
    assert await outbox.mark_published([one.id]) == 1
    assert await outbox.mark_published([one.id]) == 0
    await outbox.park({two.id: "record_too_large: 2000000 bytes"})
    assert [r.id for r in await outbox.pending(limit=10)] == [three.id]
    totals = await outbox.totals()
    assert (totals.pending, totals.parked) == (1, 1)
    [parked] = await outbox.list_records(parked_only=True)
    assert (parked.id, parked.status, parked.failures) == (two.id, "parked", 1)
    assert await outbox.retry(every=True) == 1
    assert [r.id for r in await outbox.pending(limit=10)] == [two.id, three.id]
    assert await outbox.retry(every=True) == 0
