"""ingest/relay/coordination.py: the lease table and the published shard states, on both stores.

Relays in several processes rely on these few statements alone to share the outbox: a lease has
one holder until it expires, only its holder renews or releases it, an expired one can be taken
over; live members and shard holders count only unexpired leases; every shard has one state row
that the last writer owns; shard numbers a smaller configuration dropped can be forgotten; and
the database's instance id never changes once made. The statements differ per dialect (SQLite's
and PostgreSQL's ON CONFLICT), so every test runs on the embedded SQLite store and on the real
PostgreSQL (`TestOnPostgreSQL`, left out by `--fast`). How `Relay` uses them to rebalance is in
test_relay.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import override

from ingest import migrate
from ingest.clock import utcnow
from ingest.db import create_engine
from ingest.relay.coordination import MEMBER_PREFIX, Coordination, ShardState, shard_lease

LONG = timedelta(seconds=30)
SHORT = timedelta(milliseconds=200)


async def expire(ttl: timedelta = SHORT) -> None:
    """Let a lease taken with `ttl` run out, for real."""
    await asyncio.sleep(ttl.total_seconds() + 0.15)


class TestOnSQLite:
    @pytest.fixture
    def db(self, sqlite_engine: AsyncEngine) -> AsyncEngine:
        return sqlite_engine

    @pytest.fixture
    def coordination(self, db: AsyncEngine) -> Coordination:
        return Coordination(db)

    async def test_a_free_lease_is_taken_and_a_held_one_refused_to_others(
        self, coordination: Coordination
    ) -> None:
        assert await coordination.acquire("relay-shard:0", "relay-a", LONG)
        assert not await coordination.acquire("relay-shard:0", "relay-b", LONG)
        assert await coordination.shard_holders() == {0: "relay-a"}

    async def test_the_holder_renews_its_lease_past_the_first_expiry(
        self, coordination: Coordination
    ) -> None:
        assert await coordination.acquire("relay-shard:0", "relay-a", SHORT)
        assert await coordination.acquire("relay-shard:0", "relay-a", LONG)  # renewed
        await expire()
        assert not await coordination.acquire("relay-shard:0", "relay-b", LONG)
        assert await coordination.shard_holders() == {0: "relay-a"}

    async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew_it(
        self, coordination: Coordination
    ) -> None:
        assert await coordination.acquire("relay-shard:1", "relay-a", SHORT)
        await expire()
        assert await coordination.shard_holders() == {}
        assert await coordination.acquire("relay-shard:1", "relay-b", LONG)
        assert not await coordination.acquire("relay-shard:1", "relay-a", LONG)
        assert await coordination.shard_holders() == {1: "relay-b"}

    async def test_only_the_holder_can_release_a_lease(self, coordination: Coordination) -> None:
        assert await coordination.acquire("relay-shard:2", "relay-a", LONG)
        await coordination.release("relay-shard:2", "relay-b")  # not its lease: nothing happens
        assert not await coordination.acquire("relay-shard:2", "relay-b", LONG)
        await coordination.release("relay-shard:2", "relay-a")
        assert await coordination.acquire("relay-shard:2", "relay-b", LONG)  # free at once

    async def test_live_members_counts_unexpired_member_leases_only(
        self, coordination: Coordination
    ) -> None:
        assert await coordination.live_members() == 0
        await coordination.acquire(f"{MEMBER_PREFIX}a", "relay-a", LONG)
        await coordination.acquire(f"{MEMBER_PREFIX}b", "relay-b", LONG)
        await coordination.acquire(f"{MEMBER_PREFIX}c", "relay-c", SHORT)
        await coordination.acquire(shard_lease(0), "relay-a", LONG)  # not a member
        assert await coordination.live_members() == 3
        await expire()
        assert await coordination.live_members() == 2

    async def test_shard_holders_names_every_unexpired_shard_lease_and_no_member(
        self, coordination: Coordination
    ) -> None:
        await coordination.acquire(shard_lease(0), "relay-a", LONG)
        await coordination.acquire(shard_lease(3), "relay-b", LONG)
        await coordination.acquire(shard_lease(7), "relay-c", SHORT)
        await coordination.acquire(f"{MEMBER_PREFIX}a", "relay-a", LONG)
        await expire()
        assert await coordination.shard_holders() == {0: "relay-a", 3: "relay-b"}

    async def test_each_shard_has_one_state_row_and_the_last_write_wins(
        self, coordination: Coordination
    ) -> None:
        progress = utcnow()
        await coordination.write_shard_state(1, "relay-a", "healthy", None, progress)
        await coordination.write_shard_state(0, "relay-a", "idle", None, None)
        await coordination.write_shard_state(1, "relay-b", "sink_down", "TimeoutError", None)
        states = await coordination.shard_states()
        assert [(s.shard, s.holder, s.state, s.error) for s in states] == [
            (0, "relay-a", "idle", None),
            (1, "relay-b", "sink_down", "TimeoutError"),
        ]
        assert states[1].progress_at is None  # overwritten too, not kept from the first write
        assert all(s.live(LONG) for s in states)

    async def test_state_rows_of_dropped_shard_numbers_can_be_forgotten(
        self, coordination: Coordination
    ) -> None:
        for shard in range(4):
            await coordination.write_shard_state(shard, "relay-a", "idle", None, None)
        await coordination.forget_shards_from(2)
        assert [s.shard for s in await coordination.shard_states()] == [0, 1]

    async def test_the_instance_id_is_made_once_and_kept(self, db: AsyncEngine) -> None:
        first = await Coordination(db).instance_id()
        assert len(first) == 16
        assert int(first, 16) >= 0  # hex: it becomes part of Kafka transactional ids
        again = await asyncio.gather(*(Coordination(db).instance_id() for _ in range(5)))
        assert set(again) == {first}


class TestOnPostgreSQL(TestOnSQLite):
    @pytest.fixture
    @override
    def db(self, postgres_engine: AsyncEngine) -> AsyncEngine:
        return postgres_engine


async def test_two_databases_have_different_instance_ids(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        await migrate.upgrade(other)
        assert (
            await Coordination(sqlite_engine).instance_id()
            != await Coordination(other).instance_id()
        )
    finally:
        await other.dispose()


def test_a_shard_state_is_live_while_its_heartbeat_is_within_the_lease() -> None:
    now = utcnow()
    state = ShardState(0, "relay-a", "healthy", None, now - timedelta(seconds=10), None)
    assert state.live(timedelta(seconds=15), now)
    assert state.live(timedelta(seconds=10), now)
    assert not state.live(timedelta(seconds=9), now)
