"""Leases and published shard state: how relays in several processes share the outbox.

Each relay process renews a *member* lease, so every relay can count the live ones and take its
fair share of shards. Each shard has its own lease: one holder at a time, taken over by another
relay once the holder stops renewing it (`ttl`). The holder also writes the shard's state, so
`/readyz` and `/metrics` in any process can say what every shard is doing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.clock import utcnow
from ingest.tables import Lease, RelayInstance, RelayShard

leases = cast(Table, Lease.__table__)
shards_table = cast(Table, RelayShard.__table__)
instance_table = cast(Table, RelayInstance.__table__)

MEMBER_PREFIX = "relay-member:"
SHARD_PREFIX = "relay-shard:"


def shard_lease(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard}"


@dataclass(frozen=True)
class ShardState:
    shard: int
    holder: str
    state: str
    error: str | None
    updated_at: datetime
    progress_at: datetime | None

    def live(self, ttl: timedelta, now: datetime | None = None) -> bool:
        """A row whose heartbeat is older than the lease is from a relay that is gone."""
        return (now or utcnow()) - self.updated_at <= ttl


class Coordination:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dialect = sqlite if engine.dialect.name == "sqlite" else postgresql

    async def instance_id(self) -> str:
        """This database's identity, created on first use (see `RelayInstance`)."""
        select_id = select(instance_table.c.instance_id).where(instance_table.c.singleton == 1)
        async with self.engine.begin() as conn:
            found = (await conn.execute(select_id)).scalar_one_or_none()
            if found is not None:
                return str(found)
            await conn.execute(
                self._dialect.insert(instance_table)
                .values(singleton=1, instance_id=uuid.uuid4().hex[:16], created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["singleton"])
            )
            return str((await conn.execute(select_id)).scalar_one())

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the named lease; True when `holder` has it until now + ttl."""
        now = utcnow()
        statement = self._dialect.insert(leases).values(
            name=name, holder=holder, expires_at=now + ttl
        )
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
            where=(leases.c.holder == holder) | (leases.c.expires_at < now),
        ).returning(leases.c.holder)
        async with self.engine.begin() as conn:
            return (await conn.execute(statement)).scalar_one_or_none() == holder

    async def release(self, name: str, holder: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )

    async def live_members(self) -> int:
        query = (
            select(func.count())
            .select_from(leases)
            .where(leases.c.name.startswith(MEMBER_PREFIX), leases.c.expires_at >= utcnow())
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def shard_holders(self) -> dict[int, str]:
        """Shards whose lease is unexpired, and who holds each."""
        query = select(leases.c.name, leases.c.holder).where(
            leases.c.name.startswith(SHARD_PREFIX), leases.c.expires_at >= utcnow()
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {int(name.removeprefix(SHARD_PREFIX)): holder for name, holder in rows}

    async def write_shard_state(
        self,
        shard: int,
        holder: str,
        state: str,
        error: str | None,
        progress_at: datetime | None,
    ) -> None:
        now = utcnow()
        statement = self._dialect.insert(shards_table).values(
            shard=shard,
            holder=holder,
            state=state,
            error=error,
            updated_at=now,
            progress_at=progress_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["shard"],
            set_={
                "holder": statement.excluded.holder,
                "state": statement.excluded.state,
                "error": statement.excluded.error,
                "updated_at": statement.excluded.updated_at,
                "progress_at": statement.excluded.progress_at,
            },
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def shard_states(self) -> list[ShardState]:
        async with self.engine.connect() as conn:
            rows = (
                (await conn.execute(select(shards_table).order_by(shards_table.c.shard)))
                .mappings()
                .all()
            )
        return [ShardState(**row) for row in rows]

    async def forget_shards_from(self, shards: int) -> None:
        """Drop state rows of shard numbers a smaller INGEST_RELAY_SHARDS no longer has."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(shards_table).where(shards_table.c.shard >= shards))
