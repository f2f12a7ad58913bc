"""Pre-fill a benchmark database's inbox with millions of processed events, fast.

`bench/ingest_rate.py --big-inbox` measures whether the request path slows down once the inbox
holds what months of traffic leave in it: every request's `INSERT … ON CONFLICT` probes the
unique index on (source, vendor_event_id), and every insert extends the indexes on `received_at`
and (status, received_at). Sending five million webhooks through the service would take over an
hour here, so the rows are written by PostgreSQL itself, `INSERT … SELECT … FROM
generate_series(…)`, in chunks (one transaction each, so progress can be printed and no single
transaction holds gigabytes of WAL).

The rows look like the ones the service writes, so that the indexes have the shape they would
have in production:

* `vendor_event_id` is `evt_` and 24 random-looking hex digits (an md5 of a per-fill salt and
  the row number), the shape of Stripe's ids and of `StripeHandler.sample`'s: new events then
  land all over the unique index, as real ones do, instead of after one contiguous block of
  look-alike keys;
* `received_at` rises with the row number over the 30 days before the fill (`processed_at` 2 ms
  later), so the time indexes are appended to at their right end, as in production;
* the body is a real sample Stripe event with the row's own id in it, and the headers are
  those of a signed delivery, so rows have the real size (~1.2 kB each);
* every row is `processed`, with one attempt and no error: what an inbox at rest holds.

With `outbox=True` (the default of `--big-inbox`) every inbox row also gets its CloudEvent in
`outbox_events`, already published: `ingest purge` removes both together, so an inbox of five
million rows normally comes with as many outbox rows. They are outside the relay's partial
index of pending records, so they should not slow it; having them checks that.

Autovacuum is switched off for the two tables while they are filled (it would otherwise start
on them between chunks and compete with the fill), then the tables are vacuumed and analyzed
explicitly and a checkpoint is taken, so that the timed phases afterwards do not share the
machine with a vacuum or a checkpoint caused by the fill. Each step is timed and reported.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig

CHUNK_ROWS = 100_000
"""Rows per INSERT (one transaction): ~2-4 s each here, short enough for regular progress."""

PROGRESS_EVERY_ROWS = 500_000
HISTORY = timedelta(days=30)
"""The fill's `received_at` values span this period, ending at the fill."""

STATEMENT_TIMEOUT = 3600.0


@dataclass(frozen=True)
class FillResult:
    """What the fill wrote and how long each step took (seconds)."""

    rows: int
    outbox_rows: int
    insert_seconds: float
    vacuum_seconds: float
    checkpoint_seconds: float | None
    """None when the server refused CHECKPOINT (not a superuser): the fill is still valid."""
    inbox_bytes: int
    outbox_bytes: int
    database_bytes: int

    @property
    def total_seconds(self) -> float:
        return self.insert_seconds + self.vacuum_seconds + (self.checkpoint_seconds or 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "outbox_rows": self.outbox_rows,
            "insert_seconds": self.insert_seconds,
            "vacuum_seconds": self.vacuum_seconds,
            "checkpoint_seconds": self.checkpoint_seconds,
            "total_seconds": self.total_seconds,
            "inbox_bytes": self.inbox_bytes,
            "outbox_bytes": self.outbox_bytes,
            "database_bytes": self.database_bytes,
        }


# $1 salt, $2 received_at of row 1, $3 seconds between rows, $4..$5 row numbers, $6 source,
# $7 event type, $8 headers (JSON text), $9 body template, $10 1-based offset of its event id.
_ROWS = """
rows AS (
    SELECT 'evt_' || substr(md5($1 || g::text), 1, 24) AS eid,
           $2::timestamptz + make_interval(secs => (g - 1) * $3::float8) AS r
    FROM generate_series($4::bigint, $5::bigint) AS g
)"""
_INSERT_INBOX = """
INSERT INTO inbox_events (
    source, vendor, vendor_event_id, vendor_event_type, received_at, headers, body, status,
    attempts, last_error, processed_at, secret_index, signed_at, next_attempt_at
)
SELECT $6::text, 'stripe', eid, $7::text, r, $8::json,
       overlay($9::bytea PLACING convert_to(eid, 'UTF8') FROM $10::int FOR 28),
       'processed', 1, NULL, r + interval '2 ms', 0, extract(epoch FROM r)::bigint, NULL
FROM rows"""
# Both composed of the constant fragments above: no outside text is ever formatted in.
FILL_INBOX = f"WITH {_ROWS}\n{_INSERT_INBOX}"
# $11 topic, $12 CloudEvent value template.
FILL_INBOX_AND_OUTBOX = f"""
WITH {_ROWS}, inserted AS (
{_INSERT_INBOX}
    RETURNING id, vendor_event_id, processed_at
)
INSERT INTO outbox_events (
    inbox_id, generation, seq, cloudevent_id, type, topic, key, value, created_at, published_at,
    key_hash
)
SELECT id, 1, 0, md5('ce' || vendor_event_id)::uuid::text, 'payment.succeeded', $11::text,
       'pi_' || substr(md5(vendor_event_id), 1, 24), $12::bytea, processed_at,
       processed_at + interval '20 ms',
       hashtext('pi_' || substr(md5(vendor_event_id), 1, 24))::bigint & 4294967295
FROM inserted
"""  # noqa: S608


def template(source: str, event_type: str, secret: str) -> tuple[str, bytes, int]:
    """(headers as JSON, a sample body, the 1-based offset of the event id in it)."""
    handler = StripeHandler()
    body = simulator(handler).sample(event_type)
    config = SourceConfig(name=source, vendor="stripe", secrets=(secret,))
    context = SigningContext(
        source=config, url=f"http://127.0.0.1/webhooks/{source}", secret=secret
    )
    signed = simulator(handler).sign(body, context, time.time())
    headers = {"host": "127.0.0.1", **{k.lower(): v for k, v in signed.headers.items()}}
    headers["content-length"] = str(len(body))
    event_id = json.loads(body)["id"].encode()
    if len(event_id) != 28:
        raise ValueError(f"unexpected Stripe event id shape: {event_id!r}")
    return json.dumps(headers), body, body.index(event_id) + 1


async def connect(database_url: str) -> Any:
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        command_timeout=STATEMENT_TIMEOUT,
    )


async def fill_inbox(
    database_url: str,
    rows: int,
    *,
    source: str,
    event_type: str,
    secret: str,
    topic: str,
    outbox: bool,
    progress: Callable[[str], None],
) -> FillResult:
    """Add `rows` processed events (and with `outbox`, their published CloudEvents)."""
    headers, body, id_offset = template(source, event_type, secret)
    salt = secrets.token_hex(8)
    step = HISTORY.total_seconds() / max(rows, 1)
    first = datetime.now(UTC) - HISTORY
    tables = ("inbox_events", "outbox_events") if outbox else ("inbox_events",)
    conn = await connect(database_url)
    try:
        # A real CloudEvent from this run's outbox as the value template, for its size.
        value = await conn.fetchval("SELECT value FROM outbox_events ORDER BY id DESC LIMIT 1")
        fixed: list[Any] = [salt, first, step]
        per_row: list[Any] = [source, event_type, headers, body, id_offset]
        if outbox:
            statement = FILL_INBOX_AND_OUTBOX
            per_row += [topic, value if value is not None else body]
        else:
            statement = FILL_INBOX
        for table in tables:
            await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        try:
            started = time.perf_counter()
            done = 0
            while done < rows:
                last = min(rows, done + CHUNK_ROWS)
                await conn.execute(statement, *fixed, done + 1, last, *per_row)
                previous, done = done, last
                if done // PROGRESS_EVERY_ROWS > previous // PROGRESS_EVERY_ROWS or done == rows:
                    elapsed = time.perf_counter() - started
                    progress(
                        f"{done:,} / {rows:,} rows in {elapsed:.0f} s"
                        f" ({done / elapsed:,.0f} rows/s)"
                    )
            insert_seconds = time.perf_counter() - started
        finally:
            for table in tables:
                await conn.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
        progress("VACUUM (ANALYZE) …")
        started = time.perf_counter()
        for table in tables:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        vacuum_seconds = time.perf_counter() - started
        progress(f"vacuumed and analyzed in {vacuum_seconds:.0f} s; CHECKPOINT …")
        checkpoint_seconds: float | None = None
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            started = time.perf_counter()
            await conn.execute("CHECKPOINT")
            checkpoint_seconds = time.perf_counter() - started
        sizes = await conn.fetchrow(
            "SELECT pg_total_relation_size('inbox_events') AS inbox,"
            " pg_total_relation_size('outbox_events') AS outbox,"
            " pg_database_size(current_database()) AS database"
        )
    finally:
        await conn.close()
    return FillResult(
        rows=rows,
        outbox_rows=rows if outbox else 0,
        insert_seconds=insert_seconds,
        vacuum_seconds=vacuum_seconds,
        checkpoint_seconds=checkpoint_seconds,
        inbox_bytes=int(sizes["inbox"]),
        outbox_bytes=int(sizes["outbox"]),
        database_bytes=int(sizes["database"]),
    )
