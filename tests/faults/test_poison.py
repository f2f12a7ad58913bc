"""Records the broker refuses for good, mixed into the load: parked, and nothing else waits.

`payment.failed` is routed to a topic created with `max.message.bytes=4096`, and those events
carry ~6 KB of metadata (copied into the CloudEvent's `data.metadata`), so the broker refuses
each of them inside the relay's transaction — under KAFKA_MAX_REQUEST_SIZE, the producer's own
check lets them through. They share keys, shards and transactions with the good events, which
must still be published exactly once and in order. The poison records must end up parked
(`ingest outbox list --parked`) with their error; once the topic's limit is raised,
`ingest outbox retry --all` publishes each of them exactly once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests import support
from tests.faults import harness

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.timeout(harness.TEST_TIMEOUT)]

LIMIT = 4096
PADDING = 6000
PLAN = harness.Plan.pick(
    short=harness.Plan(faults=3, keys=6, pace=0.1, tail=10),
    full=harness.Plan(faults=10, keys=10, pace=0.1, tail=30),
)
"""`faults` is the number of poison events; `tail` the good events per key."""


async def test_poison_record(postgres_url: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    scenario = "poison_record"
    random = harness.rng(scenario)
    suffix = uuid.uuid4().hex[:10]
    document = support.sources_document(suffix)
    poison_topic, payments = f"poison-{suffix}", f"payments-{suffix}"
    document["routes"].insert(0, {"match": "payment.failed", "topic": poison_topic})
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(document))
    kafka = harness.plaintext(kafka_bootstrap)
    await harness.create_topic(kafka, payments)
    await harness.create_topic(
        kafka, poison_topic, partitions=1, configs={"max.message.bytes": str(LIMIT)}
    )
    env = harness.service_env(postgres_url, kafka_bootstrap, sources, tmp_path)
    port = support.free_port()
    serve = harness.Service("serve", ["serve", "--port", str(port)], env, tmp_path, port=port)
    database = harness.Database(postgres_url)
    faults = harness.FaultLog(scenario)
    # Never a key's first event: the poison event comes between two good ones of its key.
    slots = [(key, seq) for key in range(PLAN.keys) for seq in range(1, PLAN.tail)]
    poison = dict.fromkeys(random.sample(slots, PLAN.faults), PADDING)
    load = harness.Load(scenario, port=lambda: port, plan=PLAN, random_source=random, poison=poison)
    try:
        await serve.start()
        load.finish()  # no faults to wait for: each key sends its `tail` events and stops
        await load.run()
        for key, seq in sorted(poison):
            faults.fault(f"oversized payment.failed for {harness.entity(key)} before #{seq}")
        poisoned = {a.event_id for a in load.acked if a.poison}
        drain = await harness.drained(database)

        async def all_parked() -> bool:
            return await database.parked() == len(poisoned)

        await harness.until(all_parked, timeout=60, what="every poison record is parked")
        listed = harness.run_cli(env, tmp_path, "outbox", "list", "--parked", "--json")
        assert listed.returncode == 0, listed.stderr
        parked = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        outcome = await harness.verify(
            scenario,
            database=database,
            kafka=kafka,
            topic=payments,
            acked=load.acked,
            faults=faults.count,
            parked_expected=len(poisoned),
        )
        rows = await database.fetch(
            "SELECT i.vendor_event_id FROM outbox_events o JOIN inbox_events i "
            "ON i.id = o.inbox_id WHERE o.parked_at IS NOT NULL AND o.published_at IS NULL"
        )
        if {row["vendor_event_id"] for row in rows} != poisoned:
            outcome.problems.append(
                f"parked: {sorted(r['vendor_event_id'] for r in rows)}, poison: {sorted(poisoned)}"
            )
        for record in parked:
            if not (
                record["status"] == "parked"
                and record["error"]
                and record["topic"] == poison_topic
                and record["type"] == "payment.failed"
                and record["size"] > LIMIT
            ):
                outcome.problems.append(f"`outbox list --parked` shows {record}")
        if len(parked) != len(poisoned):
            outcome.problems.append(f"`outbox list --parked` lists {len(parked)} records")

        # Fixed: the topic takes them now; released, each is published exactly once.
        await harness.alter_topic(kafka, poison_topic, {"max.message.bytes": str(1024 * 1024)})
        retried = harness.run_cli(env, tmp_path, "outbox", "retry", "--all")
        assert retried.returncode == 0, retried.stderr
        faults.note(retried.stdout.strip())

        async def released_and_published() -> bool:
            return await database.parked() == 0 and await database.pending() == 0

        await harness.until(released_and_published, timeout=60, what="the retried records publish")
        published = Counter(
            json.loads(record.value)["vendoreventid"]
            for record in await harness.read_topic(kafka, poison_topic)
        )
        missing = poisoned - set(published)
        twice = sorted(event_id for event_id, n in published.items() if n > 1)
        strangers = set(published) - poisoned
        outcome.lost += len(missing)
        outcome.duplicated += sum(published[event_id] - 1 for event_id in twice)
        if missing or twice or strangers:
            outcome.problems.append(
                f"after the retry, {poison_topic} lacks {sorted(missing)}, has twice {twice}, "
                f"has unknown {sorted(strangers)}"
            )
        if f"released {len(poisoned)} parked records" not in retried.stdout:
            outcome.problems.append(f"`outbox retry --all` said {retried.stdout.strip()!r}")
        harness.report(
            outcome,
            faults,
            f"{len(poisoned)} parked ({parked[0]['error'][:60] if parked else '-'}…), "
            f"then published once each after `outbox retry --all`",
            load.summary(),
            f"drained {drain:.1f} s after the load",
        )
        assert outcome.clean, outcome.explain(faults, [serve])
    finally:
        serve.stop()
        await database.close()
