"""Group commit: the inbox and outbox rows of concurrent requests in one transaction, on asyncpg.

On the request path the commit is the cost that matters: with fsync on, each commit waits for
the disk, and SQLAlchemy's async layer adds about a millisecond of CPU per request around four
round trips. Here every request hands its rows to a queue and waits; a writer takes *whatever is
queued* the moment it is free — there is no timer, so at low load a request waits for nobody —
and writes them with one statement per table (`unnest` arrays) in one transaction. Each request
is acknowledged only after the commit that holds its row.

Deduplication stays exact: `INSERT … ON CONFLICT DO NOTHING RETURNING` tells which rows are new;
two copies of one event in the same batch are folded before the insert. If a batch fails, an
outage fails every request in it (they answer 503 and the vendors retry); a row the database
refuses for its content is found by writing the batch's requests one by one, so only that
request fails, and the others are stored.

PostgreSQL only; the embedded SQLite store writes one request per transaction as before.
Requests of sources with `dedupe_content_seconds` take the one-by-one path too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ingest.clock import utcnow
from ingest.db import DURABLE_SESSION
from ingest.dberrors import is_outage
from ingest.logs import get_logger
from ingest.processing import Outcome
from ingest.relay.backoff import Backoff
from ingest.relay.supervisor import TaskHealth, supervise
from ingest.sharding import key_hash
from ingest.store import NewDelivery, Recorded, Store

log = get_logger("ingest.group_commit")

MAX_BATCH = 512

INSERT_INBOX = """
INSERT INTO inbox_events (
    source, vendor, vendor_event_id, vendor_event_type, received_at, headers, body, status,
    attempts, last_error, processed_at, secret_index, signed_at, next_attempt_at
)
SELECT s, v, e, t, r, h::json, b, st, 1, le, $13, si, sa, na
FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
    $7::bytea[], $8::text[], $9::text[], $10::int[], $11::bigint[], $12::timestamptz[]
) AS u(s, v, e, t, r, h, b, st, le, si, sa, na)
ON CONFLICT (source, vendor_event_id) DO NOTHING
RETURNING id, source, vendor_event_id
"""
FIND_INBOX = """
SELECT i.id, i.source, i.vendor_event_id
FROM inbox_events i
JOIN unnest($1::text[], $2::text[]) AS k(s, e) ON i.source = k.s AND i.vendor_event_id = k.e
"""
CLAIM_ITEMS = """
INSERT INTO inbox_items (source, item_id, inbox_id, created_at)
SELECT s, i, b, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(s, i, b)
ON CONFLICT (source, item_id) DO NOTHING
RETURNING source, item_id, inbox_id
"""
INSERT_OUTBOX = """
INSERT INTO outbox_events (
    inbox_id, generation, seq, cloudevent_id, type, topic, key, value, created_at, key_hash
)
SELECT i, 1, sq, c, t, tp, k, v, $9, kh
FROM unnest(
    $1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[],
    $8::bigint[]
) AS u(i, sq, c, t, tp, k, v, kh)
"""


@dataclass(eq=False)
class _Request:
    delivery: NewDelivery
    outcome: Outcome
    retry_at: datetime | None
    future: asyncio.Future[Recorded] = field(repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.delivery.source, self.delivery.event_id


def asyncpg_dsn(database_url: str) -> str:
    from ingest.relay.wakeups import asyncpg_dsn as dsn  # noqa: PLC0415 - one definition

    return dsn(database_url)


class GroupCommitter:
    """`record()` with the semantics of `Store.record`, batched across concurrent callers."""

    def __init__(
        self, database_url: str, fallback: Store, *, writers: int = 2, timeout: float = 5.0
    ) -> None:
        self.database_url = database_url
        self.fallback = fallback
        self.writers = writers
        self.timeout = timeout
        self.health = TaskHealth("group-commit")
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._writing: set[_Request] = set()
        self.batches = 0
        self.rows = 0

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(
            asyncpg_dsn(self.database_url),
            min_size=0,
            max_size=self.writers,
            timeout=self.timeout,
            command_timeout=max(self.timeout * 2, 10.0),
            server_settings={**DURABLE_SESSION, "application_name": "ingest-group-commit"},
        )
        backoff = Backoff(initial=0.05, maximum=2.0)
        self._tasks = [
            asyncio.create_task(
                supervise(
                    f"group-commit-{n}",
                    self._write_forever,
                    self._stop,
                    backoff=backoff,
                    health=self.health,
                )
            )
            for n in range(self.writers)
        ]

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stranded = list(self._writing)
        while not self._queue.empty():
            stranded.append(self._queue.get_nowait())
        for request in stranded:  # nobody will write these now: they answer 503 and retry
            _fail(request, ConnectionError("the server is shutting down"))
        if self._pool is not None:
            await self._pool.close()

    async def record(
        self,
        delivery: NewDelivery,
        outcome: Outcome,
        *,
        retry_at: datetime | None = None,
        content_window: timedelta | None = None,
    ) -> Recorded:
        if content_window is not None or self._pool is None:
            return await self.fallback.record(
                delivery, outcome, retry_at=retry_at, content_window=content_window
            )
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(delivery, outcome, retry_at, future))
        return await asyncio.wait_for(asyncio.shield(future), self.timeout * 3)

    # -- the writers --------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        while not self._stop.is_set():
            first = await self._queue.get()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write_batch(batch)
            self.health.ok()

    async def _write_batch(self, batch: list[_Request]) -> None:
        live = [request for request in batch if not request.future.done()]
        if not live:
            return
        self._writing.update(live)
        try:
            await self._write_live(live)
        finally:
            self._writing.difference_update(live)

    async def _write_live(self, live: list[_Request]) -> None:
        try:
            results = await self._commit(live)
        except Exception as exc:  # noqa: BLE001 - sorted below: outage, or one bad row
            if is_outage(exc) or len(live) == 1:
                for request in live:
                    _fail(request, exc)
                return
            # A row the database refused: write them one by one, so only that one fails.
            for request in live:
                await self._write_batch([request])
            return
        for request, recorded in zip(live, results, strict=True):
            if not request.future.done():
                request.future.set_result(recorded)
        self.batches += 1
        self.rows += len(live)

    async def _commit(self, batch: Sequence[_Request]) -> list[Recorded]:
        assert self._pool is not None  # noqa: S101 - start() ran
        now = utcnow()
        # Two copies of one event in the batch: the first is written, the rest are its twins.
        firsts: dict[tuple[str, str], _Request] = {}
        for request in batch:
            firsts.setdefault(request.key, request)
        candidates = list(firsts.values())
        conn = await self._pool.acquire()
        try:
            new_keys, ids = await self._transaction(conn, firsts, candidates, now)
        finally:
            # Once the commit returned, its rows stand: a connection the server broke just after
            # (the release's reset fails) must not turn stored requests into errors.
            with contextlib.suppress(Exception):
                await self._pool.release(conn)
        results = []
        for request in batch:
            duplicate = request.key not in new_keys or firsts[request.key] is not request
            results.append(Recorded(id=ids[request.key], duplicate=duplicate))
        return results

    async def _transaction(
        self,
        conn: Any,
        firsts: dict[tuple[str, str], _Request],
        candidates: list[_Request],
        now: datetime,
    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str], int]]:
        async with conn.transaction():
            inserted = await conn.fetch(INSERT_INBOX, *_inbox_columns(candidates), now)
            ids = {(row["source"], row["vendor_event_id"]): row["id"] for row in inserted}
            new_keys = set(ids)
            missing = [key for key in firsts if key not in ids]
            if missing:
                found = await conn.fetch(
                    FIND_INBOX, [s for s, _ in missing], [e for _, e in missing]
                )
                ids.update({(row["source"], row["vendor_event_id"]): row["id"] for row in found})
            fresh = [r for r in candidates if r.key in new_keys]
            claimed = await self._claim_items(conn, fresh, ids, now)
            await self._write_outbox(conn, fresh, ids, claimed, now)
        return new_keys, ids

    @staticmethod
    async def _claim_items(
        conn: Any,
        fresh: Sequence[_Request],
        ids: dict[tuple[str, str], int],
        now: datetime,
    ) -> set[tuple[str, str, int]]:
        """Batch items claimed by this batch: (source, item id, inbox id of the winner)."""
        sources, item_ids, inbox_ids = [], [], []
        for request in fresh:
            seen: set[str] = set()
            for record in request.outcome.records:
                if record.item_id is not None and record.item_id not in seen:
                    seen.add(record.item_id)
                    sources.append(request.delivery.source)
                    item_ids.append(record.item_id)
                    inbox_ids.append(ids[request.key])
        if not item_ids:
            return set()
        rows = await conn.fetch(CLAIM_ITEMS, sources, item_ids, inbox_ids, now)
        return {(row["source"], row["item_id"], row["inbox_id"]) for row in rows}

    @staticmethod
    async def _write_outbox(
        conn: Any,
        fresh: Sequence[_Request],
        ids: dict[tuple[str, str], int],
        claimed: set[tuple[str, str, int]],
        now: datetime,
    ) -> None:
        columns: list[list[Any]] = [[] for _ in range(8)]
        for request in fresh:
            inbox_id = ids[request.key]
            for record in request.outcome.records:
                if record.item_id is not None and (
                    (request.delivery.source, record.item_id, inbox_id) not in claimed
                ):
                    continue  # published before, from another delivery of the same item
                for column, value in zip(
                    columns,
                    (
                        inbox_id,
                        record.seq,
                        record.cloudevent_id,
                        record.type,
                        record.topic,
                        record.key,
                        record.value,
                        key_hash(record.key),
                    ),
                    strict=True,
                ):
                    column.append(value)
        if columns[0]:
            await conn.execute(INSERT_OUTBOX, *columns, now)


def _inbox_columns(batch: Sequence[_Request]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(12)]
    for request in batch:
        delivery, outcome = request.delivery, request.outcome
        for column, value in zip(
            columns,
            (
                delivery.source,
                delivery.vendor,
                delivery.event_id,
                delivery.event_type,
                delivery.received_at,
                json.dumps(delivery.headers),
                delivery.body,
                outcome.status,
                outcome.error,
                delivery.verdict.secret_index,
                delivery.verdict.signed_at,
                request.retry_at if outcome.status == "retrying" else None,
            ),
            strict=True,
        ):
            column.append(value)
    return columns


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
