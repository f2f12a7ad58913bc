"""`ingest purge`: old events go in batches; anything still owed to the sink, or still being
retried, stays."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest import migrate
from ingest.db import create_engine
from ingest.handlers.base import Verdict
from ingest.outbox import OutboxStore
from ingest.processing import OutboxRecord, Outcome
from ingest.store import NewDelivery, Store
from tests import support


def delivery(age: timedelta) -> NewDelivery:
    return NewDelivery(
        "stripe",
        "stripe",
        f"evt_{uuid.uuid4().hex}",
        "test",
        b"{}",
        {},
        datetime.now(UTC) - age,
        Verdict(0),
    )


def owing(n: int) -> Outcome:
    record = OutboxRecord(
        seq=0, cloudevent_id=str(uuid.uuid4()), type="t", topic="t", key=f"k{n}", value=b"{}"
    )
    return Outcome(status="processed", records=(record,))


async def seed(database: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{database}")
    try:
        await migrate.upgrade(engine)
        store, outbox = Store(engine), OutboxStore(engine)
        old, new = timedelta(days=40), timedelta(hours=1)
        ids = {}
        for n in range(7):  # old, published: purged (several batches of 3)
            ids[f"published-{n}"] = (await store.record(delivery(old), owing(n))).id
        await outbox.mark_published([r.id for r in await outbox.pending(limit=100)])
        ids["failed"] = (await store.record(delivery(old), Outcome("failed", error="x"))).id
        ids["pending"] = (await store.record(delivery(old), owing(99))).id
        parked = (await store.record(delivery(old), owing(98))).id
        [record] = [r for r in await outbox.pending(limit=100) if r.key == "k98"]
        await outbox.park({record.id: "record_too_large"})
        ids["parked"] = parked
        ids["retrying"] = (await store.record(delivery(old), Outcome("retrying", error="later"))).id
        ids["recent"] = (await store.record(delivery(new), Outcome("processed"))).id
        return ids
    finally:
        await engine.dispose()


def test_purge_keeps_what_is_owed_and_deletes_the_rest(tmp_path: Path) -> None:
    database = tmp_path / "ingest.db"
    ids = asyncio.run(seed(database))
    env = {"DATABASE_URL": f"sqlite:///{database}"}

    dry = support.run_cli(env, tmp_path, "purge", "--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "8 events would be purged" in dry.stdout  # 7 published + 1 failed

    unconfirmed = support.run_cli(env, tmp_path, "purge", "--older-than", "30d")
    assert unconfirmed.returncode == 2

    done = support.run_cli(env, tmp_path, "purge", "--older-than", "30d", "--batch", "3", "--yes")
    assert done.returncode == 0, done.stderr
    assert "purged 8 events" in done.stdout

    listed = support.run_cli(env, tmp_path, "events", "list", "--json", "--limit", "100")
    left = {json.loads(line)["id"] for line in listed.stdout.splitlines()}
    assert left == {ids["pending"], ids["parked"], ids["retrying"], ids["recent"]}
    outbox = support.run_cli(env, tmp_path, "outbox", "list", "--json")
    assert {json.loads(line)["status"] for line in outbox.stdout.splitlines()} == {
        "pending",
        "parked",
    }
