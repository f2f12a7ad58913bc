"""SIGKILL of the service's own processes under load: `ingest serve` with its in-process relay,
a lone `ingest relay` killed mid-batch, and one of two relays sharing the shards.

Nothing here is shut down politely: no lease is released, no Kafka transaction is ended, no
response is finished. The vendor retries what got no 2xx; the next relay fences the dead one's
producer and recovers from its last committed marker (docs/delivery.md). Each kill lands at a
seeded choice of moment: inside an open Kafka transaction (seen from the broker's offsets),
while records are pending, right after a relay took its shards (in recovery), or — for
`ingest serve` only — anywhere."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import support
from tests.faults import harness
from tests.faults.harness import Plan

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.timeout(harness.TEST_TIMEOUT)]

SHARDS = 4
TAKEOVER_SECONDS = harness.LEASE_SECONDS * 4 / 3
"""docs/delivery.md: a dead relay's shards are taken over within ttl + ttl/3."""
TAKEOVER_SLACK_SECONDS = 3.0
"""This machine is shared and slow: a database round trip alone can take a second."""
IN_RECOVERY = "in recovery"


@dataclass
class Rig:
    env: dict[str, str]
    topics: support.Topics
    database: harness.Database
    transactions: harness.Transactions
    kafka: harness.ClientOptions
    workdir: Path

    async def verify(
        self, scenario: str, load: harness.Load, faults: harness.FaultLog
    ) -> harness.Outcome:
        return await harness.verify(
            scenario,
            database=self.database,
            kafka=self.kafka,
            topic=self.topics.payments,
            acked=load.acked,
            faults=faults.count,
        )


NETWORK_DELAY_SECONDS = 0.05
"""Added to every answer of the broker, so a relay's transaction stays open ~3 round trips and
kills land inside transactions (see `harness.Proxy`), not only between them."""


@pytest.fixture
async def rig(postgres_url: str, own_kafka: harness.OwnKafka, tmp_path: Path) -> AsyncIterator[Rig]:
    """A fresh database, the suite's broker behind a slow proxy, routed topics created
    beforehand, and a watch on their transactions."""
    sources, topics = support.write_sources(tmp_path)
    await harness.create_topic(own_kafka.direct, topics.payments)
    own_kafka.proxy.delay = NETWORK_DELAY_SECONDS
    env = harness.service_env(postgres_url, own_kafka.bootstrap, sources, tmp_path)
    database = harness.Database(postgres_url)
    async with harness.Transactions(own_kafka.direct, topics.payments) as transactions:
        yield Rig(env, topics, database, transactions, own_kafka.direct, tmp_path)
    own_kafka.proxy.delay = 0.0
    await database.close()


ANY_MOMENT = harness.MOMENTS
MID_BATCH = ("in a transaction", "while records are pending", IN_RECOVERY)
"""A relay is killed only while it has work: in a transaction, with records pending, or just
after it took its shards (recovering from the marker, then the backlog the outage left)."""


async def strike_point(rig: Rig, random: random.Random, moments: tuple[str, ...]) -> str:
    """Pick this kill's kind of moment among `moments` and wait for it."""
    moment = random.choice(moments)
    if moment == IN_RECOVERY:
        await asyncio.sleep(random.uniform(0, 0.3))  # the caller waited for the shards
        return moment
    await asyncio.sleep(random.uniform(0.3, 1.5))
    return await harness.wait_for_moment(
        moment, transactions=rig.transactions, database=rig.database
    )


SERVE = Plan.pick(
    short=Plan(faults=2, keys=8, pace=0.3, tail=3),
    full=Plan(faults=20, keys=12, pace=0.3, tail=5),
)


async def test_serve_killed(rig: Rig) -> None:
    """kill -9 of `ingest serve` (relay in-process) at random moments; restarted on its port,
    which the vendors keep retrying."""
    scenario = "serve_killed"
    random = harness.rng(scenario)
    port = support.free_port()
    serve = harness.Service(
        "serve", ["serve", "--port", str(port)], rig.env, rig.workdir, port=port
    )
    faults = harness.FaultLog(scenario)
    load = harness.Load(scenario, port=lambda: port, plan=SERVE, random_source=random)
    try:
        await serve.start()

        async def inject() -> None:
            for _ in range(SERVE.faults):
                await asyncio.sleep(random.uniform(0.5, 2.0))
                moment = await strike_point(rig, random, ANY_MOMENT)
                pid = serve.kill()
                faults.fault(f"kill -9 serve pid {pid} {moment} ({load.summary()})")
                await asyncio.sleep(random.uniform(0, 0.5))
                await serve.start()

        await harness.under_load(load, inject())
        drain = await harness.drained(rig.database)
        outcome = await rig.verify(scenario, load, faults)
        harness.report(outcome, faults, load.summary(), f"drained {drain:.1f} s after the load")
        assert outcome.clean, outcome.explain(faults, [serve])
        assert faults.count == SERVE.faults
    finally:
        serve.stop()


RELAY = Plan.pick(
    short=Plan(faults=2, keys=8, pace=0.3, tail=3),
    full=Plan(faults=20, keys=12, pace=0.3, tail=5),
)


async def test_relay_killed(rig: Rig) -> None:
    """`serve --no-relay` plus one `ingest relay`, killed mid-batch once it holds its shards,
    and started again: the new relay waits out the dead one's leases, fences its producer
    (aborting an open transaction) and recovers from the last committed marker."""
    scenario = "relay_killed"
    random = harness.rng(scenario)
    port = support.free_port()
    serve = harness.Service(
        "serve", ["serve", "--port", str(port), "--no-relay"], rig.env, rig.workdir, port=port
    )
    relay = harness.Service("relay", ["relay"], rig.env, rig.workdir)
    faults = harness.FaultLog(scenario)
    load = harness.Load(scenario, port=lambda: port, plan=RELAY, random_source=random)

    async def holds_every_shard() -> bool:
        return await rig.database.shards_of(relay.pid) == SHARDS

    try:
        await serve.start()
        await relay.start()

        async def inject() -> None:
            for _ in range(RELAY.faults):
                await harness.until(
                    holds_every_shard, timeout=30, what="the relay takes its shards"
                )
                moment = await strike_point(rig, random, MID_BATCH)
                pid = relay.kill()  # at once: an open transaction lasts milliseconds
                pending = await rig.database.pending()
                faults.fault(f"kill -9 relay pid {pid} {moment} ({pending} pending after)")
                await asyncio.sleep(random.uniform(0, 1.0))
                await relay.start()

        await harness.under_load(load, inject())
        drain = await harness.drained(rig.database)
        outcome = await rig.verify(scenario, load, faults)
        harness.report(outcome, faults, load.summary(), f"drained {drain:.1f} s after the load")
        assert outcome.clean, outcome.explain(faults, [serve, relay])
        assert faults.count == RELAY.faults
    finally:
        relay.stop()
        serve.stop()


TWO_RELAYS = Plan.pick(
    short=Plan(faults=2, keys=8, pace=0.3, tail=3),
    full=Plan(faults=20, keys=12, pace=0.3, tail=5),
)


async def test_two_relays_one_killed(rig: Rig) -> None:
    """Two `ingest relay` processes share 4 shards; one of them (a seeded pick) is killed
    mid-batch. The other must hold all 4 within ttl + ttl/3 (plus slack for this machine) and
    publish the dead one's records exactly once; the dead one is started again, and the two
    share the shards again before the next kill."""
    scenario = "two_relays_one_killed"
    random = harness.rng(scenario)
    port = support.free_port()
    serve = harness.Service(
        "serve", ["serve", "--port", str(port), "--no-relay"], rig.env, rig.workdir, port=port
    )
    relays = [harness.Service(f"relay-{name}", ["relay"], rig.env, rig.workdir) for name in "ab"]
    faults = harness.FaultLog(scenario)
    load = harness.Load(scenario, port=lambda: port, plan=TWO_RELAYS, random_source=random)
    takeovers: list[float] = []

    async def shared() -> bool:
        holders = await rig.database.shard_holders()
        return len(holders) == SHARDS and {r.pid for r in relays} == set(holders.values())

    try:
        await serve.start()
        for relay in relays:
            await relay.start()

        async def inject() -> None:
            for _ in range(TWO_RELAYS.faults):
                await harness.until(shared, timeout=60, what="the two relays share the shards")
                victim = random.choice(relays)
                survivor = relays[1 - relays.index(victim)]
                moment = await strike_point(rig, random, MID_BATCH)
                pid = victim.kill()  # at once: an open transaction lasts milliseconds
                pending = await rig.database.pending()
                shards = await rig.database.shards_of(pid)  # its leases outlive it
                faults.fault(
                    f"kill -9 {victim.name} pid {pid} {moment}, holding {shards} shards "
                    f"({pending} pending after)"
                )

                async def survivor_holds_all(survivor: harness.Service = survivor) -> bool:
                    return await rig.database.shards_of(survivor.pid) == SHARDS

                took = await harness.until(
                    survivor_holds_all, timeout=60, what=f"{survivor.name} takes over every shard"
                )
                takeovers.append(took)
                faults.note(f"{survivor.name} holds all {SHARDS} shards after {took:.1f} s")
                await asyncio.sleep(random.uniform(0, 1.5))
                await victim.start()

        await harness.under_load(load, inject())
        drain = await harness.drained(rig.database)
        outcome = await rig.verify(scenario, load, faults)
        slowest = max(takeovers, default=0.0)
        if slowest > TAKEOVER_SECONDS + TAKEOVER_SLACK_SECONDS:
            outcome.problems.append(
                f"a takeover took {slowest:.1f} s; the lease promises {TAKEOVER_SECONDS:.1f} s"
            )
        harness.report(
            outcome,
            faults,
            load.summary(),
            f"takeover max {slowest:.1f} s (promised {TAKEOVER_SECONDS:.1f} s)",
            f"drained {drain:.1f} s after the load",
        )
        assert outcome.clean, outcome.explain(faults, [serve, *relays])
        assert faults.count == TWO_RELAYS.faults
    finally:
        for relay in relays:
            relay.stop()
        serve.stop()
