"""How fast the relay drains the outbox into Kafka, against a raw aiokafka producer sending the
same records on the same machine in the same run.

Per round, interleaved so drift on a shared machine hits every variant alike:

- `raw`: one idempotent aiokafka producer (acks=all) sends the N records and awaits them all —
  the ceiling for this client library, with nothing stored or marked;
- `raw-txn`: the same records in transactions of `--batch` records (what transactions cost in
  Kafka alone);
- `relay-txn` and `relay-idempotent`: N records are committed to the outbox while the relay is
  idle, then it is woken; the time until every record is marked published in PostgreSQL (and
  committed in Kafka) is the relay's.

Each variant writes to a topic of its own; at the end every topic is read back with
read_committed and must hold each record exactly once. Run it against a durable PostgreSQL
(`scripts/postgres.sh start --durable --dir … --port …`): the relay's marking commits are part of
what it costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from ingest.simulation import simulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import migrate  # noqa: E402
from ingest.cloudevents import KAFKA_HEADERS  # noqa: E402
from ingest.db import create_engine  # noqa: E402
from ingest.handlers.stripe import StripeHandler  # noqa: E402 - after the path set-up above
from ingest.logs import configure  # noqa: E402
from ingest.outbox import OutboxStore  # noqa: E402
from ingest.outbox import inbox as inbox_table  # noqa: E402
from ingest.outbox import outbox as outbox_table  # noqa: E402
from ingest.relay import Backoff, Relay, RelayConfig  # noqa: E402
from ingest.relay.coordination import Coordination  # noqa: E402
from ingest.settings import LogFormat, Settings  # noqa: E402
from ingest.sharding import key_hash  # noqa: E402
from ingest.sinks.kafka import KafkaSink  # noqa: E402
from ingest.sinks.kafka_client import KafkaConfig  # noqa: E402

VARIANTS = ("raw", "raw-txn", "relay-txn", "relay-idempotent")


@dataclass(frozen=True)
class Record:
    key: str
    value: bytes


@dataclass
class Result:
    variant: str
    round: int
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@dataclass
class Run:
    options: argparse.Namespace
    results: list[Result] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)


def make_records(count: int, keys: int) -> list[Record]:
    """Real CloudEvent-sized values (a Stripe payment's), keyed over `keys` entities."""
    sample = simulator(StripeHandler()).sample("payment_intent.succeeded")
    return [
        Record(key=f"pi_bench_{n % keys}", value=sample.replace(b"evt_", f"evt_{n}_".encode(), 1))
        for n in range(count)
    ]


def producer_options(bootstrap: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
    }


async def raw(bootstrap: str, topic: str, records: Sequence[Record]) -> float:
    producer = AIOKafkaProducer(**producer_options(bootstrap))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        started = time.perf_counter()
        futures = [
            await producer.send(topic, r.value, key=r.key.encode(), headers=KAFKA_HEADERS)
            for r in records
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def raw_transactions(
    bootstrap: str, topic: str, records: Sequence[Record], batch: int
) -> float:
    producer = AIOKafkaProducer(
        **producer_options(bootstrap), transactional_id=f"bench-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            async with producer.transaction():
                futures = [
                    await producer.send(topic, r.value, key=r.key.encode(), headers=KAFKA_HEADERS)
                    for r in records[start : start + batch]
                ]
                await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def fill_outbox(database_url: str, topic: str, records: Sequence[Record]) -> None:
    """Commit the records to the outbox in bulk, as if webhooks had been accepted."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            inbox_id = (
                await conn.execute(
                    insert(inbox_table)
                    .values(
                        source="bench",
                        vendor="stripe",
                        vendor_event_id=uuid.uuid4().hex,
                        vendor_event_type="bench",
                        received_at=now,
                        headers={},
                        body=b"{}",
                        status="processed",
                        attempts=1,
                    )
                    .returning(inbox_table.c.id)
                )
            ).scalar_one()
            await conn.execute(
                insert(outbox_table),
                [
                    {
                        "inbox_id": inbox_id,
                        "generation": 1,
                        "seq": seq,
                        "cloudevent_id": str(uuid.uuid4()),
                        "type": "payment.succeeded",
                        "topic": topic,
                        "key": r.key,
                        "value": r.value,
                        "created_at": now,
                        "key_hash": key_hash(r.key),
                    }
                    for seq, r in enumerate(records)
                ],
            )
    finally:
        await engine.dispose()


async def relay(
    database_url: str,
    bootstrap: str,
    topic: str,
    records: Sequence[Record],
    *,
    txn: bool,
    shards: int,
    batch: int,
) -> float:
    settings = Settings(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        INGEST_KAFKA_TRANSACTIONS=txn,
    )
    engine = create_engine(database_url, pool_size=shards + 4)
    outbox = OutboxStore(engine)
    relay = Relay(
        outbox,
        Coordination(engine),
        KafkaSink(KafkaConfig.from_settings(settings)),
        RelayConfig(
            shards=shards,
            batch_size=batch,
            idle_poll_seconds=0.05,
            lease_ttl=timedelta(seconds=15),
            backoff=Backoff(initial=0.1, maximum=1.0),
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        while len(relay.owned_shards) < shards or any(
            s.state.value != "idle" for s in relay.shard_statuses()
        ):
            await asyncio.sleep(0.05)  # every shard open (fenced, recovered) and idle
        await fill_outbox(database_url, topic, records)
        started = time.perf_counter()
        relay.wake()
        while await outbox.count_pending():
            await asyncio.sleep(0.005)
        return time.perf_counter() - started
    finally:
        stop.set()
        await task
        await engine.dispose()


async def read_back(bootstrap: str, topic: str, expected: int) -> int:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"bench-{uuid.uuid4().hex}",
    )
    await consumer.start()
    seen: set[bytes] = set()
    count = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch and count >= expected:
                break
            for records in batch.values():
                for record in records:
                    if record.key == b"warm-up":
                        continue
                    count += 1
                    seen.add(record.value)
    finally:
        await consumer.stop()
    return count if len(seen) == count else -1


async def create_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"bench_relay_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    database_url = url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return database_url


async def fsync_setting(database_url: str) -> str:
    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        return str(await conn.fetchval("SHOW fsync"))
    finally:
        await conn.close()


async def benchmark(run: Run) -> None:
    options = run.options
    records = make_records(options.records, options.keys)
    database_url = await create_database(options.database_url)
    run.topics = {}
    for round_number in range(1, options.rounds + 1):
        for variant in VARIANTS:
            topic = f"bench.relay.{variant}.{uuid.uuid4().hex[:8]}"
            run.topics[f"{variant}/{round_number}"] = topic
            if variant == "raw":
                seconds = await raw(options.kafka, topic, records)
            elif variant == "raw-txn":
                seconds = await raw_transactions(options.kafka, topic, records, options.batch)
            else:
                seconds = await relay(
                    database_url,
                    options.kafka,
                    topic,
                    records,
                    txn=variant == "relay-txn",
                    shards=options.shards,
                    batch=options.batch,
                )
            result = Result(variant, round_number, len(records), seconds)
            run.results.append(result)
            print(
                f"round {round_number}  {variant:<17} {result.rate:>10,.0f} records/s"
                f"  ({seconds:.2f} s)",
                flush=True,
            )
    for name, topic in run.topics.items():
        count = await read_back(options.kafka, topic, len(records))
        if count != len(records):
            raise SystemExit(f"{name}: {count} records read back, {len(records)} expected")
    print(f"read back: every topic holds each of the {len(records)} records exactly once")
    run.options.fsync = await fsync_setting(database_url)


def summarize(run: Run) -> dict[str, Any]:
    by_variant = {
        v: statistics.median(r.rate for r in run.results if r.variant == v) for v in VARIANTS
    }
    ratios = {
        f"{v} / raw": statistics.median(
            r.rate / next(x.rate for x in run.results if x.variant == "raw" and x.round == r.round)
            for r in run.results
            if r.variant == v
        )
        for v in VARIANTS
        if v != "raw"
    }
    return {"median_records_per_second": by_variant, "median_ratios": ratios}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=500, help="distinct entity keys")
    parser.add_argument("--batch", type=int, default=500, help="records per transaction")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args(argv)
    if not options.database_url or not options.kafka:
        parser.error("--database-url and --kafka (or DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS)")
    configure(LogFormat.CONSOLE, "warning")  # the relay's own lines would drown the results
    run = Run(options)
    asyncio.run(benchmark(run))
    summary = summarize(run)
    print(
        f"\nmedians over {options.rounds} rounds, {options.records} records, "
        f"{options.shards} shards, {options.batch} per transaction, PostgreSQL fsync="
        f"{options.fsync}:"
    )
    for variant, rate in summary["median_records_per_second"].items():
        print(f"  {variant:<17} {rate:>10,.0f} records/s")
    for name, ratio in summary["median_ratios"].items():
        print(f"  {name:<24} {ratio:.2f}")
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(
            json.dumps(
                {
                    "machine": {
                        "cpus": os.cpu_count(),
                        "platform": platform.platform(),
                        "python": platform.python_version(),
                    },
                    "options": {k: str(v) for k, v in vars(options).items()},
                    "results": [vars(r) | {"rate": r.rate} for r in run.results],
                    **summary,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
