"""The broker under the service dies or drops off the network, under load.

`broker_killed`: SIGKILL of the suite's own broker (never the shared one), kept down longer than
the producer's delivery timeout, then started again with the same arguments. `kafka_cut_by_proxy`:
the broker stays up but every connection to it through the proxy is closed and new ones are
blackholed, for longer than the delivery timeout, then the network comes back. Either way the
webhooks keep being acknowledged into the outbox, and once Kafka is back every one of them is
published exactly once, in per-key order, without restarting the service."""

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

NETWORK_DELAY_SECONDS = 0.05
"""As in test_processes: transactions stay open long enough for a fault to land inside one."""
OUTAGE_SECONDS = (harness.DELIVERY_TIMEOUT_SECONDS + 1, harness.DELIVERY_TIMEOUT_SECONDS + 3)
"""Longer than the delivery timeout: the relay's transaction times out and its producer is
replaced, rather than the outage passing unnoticed inside one request."""


@dataclass
class Rig:
    kafka: harness.OwnKafka
    topics: support.Topics
    database: harness.Database
    serve: harness.Service


@pytest.fixture
async def rig(postgres_url: str, own_kafka: harness.OwnKafka, tmp_path: Path) -> AsyncIterator[Rig]:
    sources, topics = support.write_sources(tmp_path)
    await harness.create_topic(own_kafka.direct, topics.payments)
    own_kafka.proxy.delay = NETWORK_DELAY_SECONDS
    env = harness.service_env(postgres_url, own_kafka.bootstrap, sources, tmp_path)
    port = support.free_port()
    serve = harness.Service("serve", ["serve", "--port", str(port)], env, tmp_path, port=port)
    database = harness.Database(postgres_url)
    try:
        await serve.start()
        yield Rig(own_kafka, topics, database, serve)
    finally:
        serve.stop()
        own_kafka.proxy.delay = 0.0
        await database.close()


async def strike_point(rig: Rig, random: random.Random) -> str:
    """Once the relay is publishing, at a seeded choice of moment: inside an open transaction
    (watched over the broker's direct listener) or anywhere."""
    await harness.progressed(rig.database, harness.utcnow())
    await asyncio.sleep(random.uniform(0.5, 2.0))
    if random.random() < 0.5:
        return "at a random moment"
    async with harness.Transactions(rig.kafka.direct, rig.topics.payments) as transactions:
        return "in an open transaction" if await transactions.wait_open(10) else "(none seen)"


async def check(
    scenario: str, rig: Rig, load: harness.Load, faults: harness.FaultLog, *notes: str
) -> None:
    drain = await harness.drained(rig.database)
    outcome = await harness.verify(
        scenario,
        database=rig.database,
        kafka=rig.kafka.direct,
        topic=rig.topics.payments,
        acked=load.acked,
        faults=faults.count,
    )
    if rig.serve.incarnations != 1 or not rig.serve.alive:
        outcome.problems.append("ingest serve had to be restarted, or died")
    harness.report(outcome, faults, load.summary(), *notes, f"drained {drain:.1f} s after the load")
    assert outcome.clean, outcome.explain(faults, [rig.serve])


BROKER = Plan.pick(
    short=Plan(faults=1, keys=8, pace=0.5, tail=3),
    full=Plan(faults=5, keys=12, pace=0.4, tail=5),
)


async def test_broker_killed(rig: Rig) -> None:
    scenario = "broker_killed"
    random = harness.rng(scenario)
    faults = harness.FaultLog(scenario)
    port = rig.serve.port
    assert port is not None
    load = harness.Load(scenario, port=lambda: port, plan=BROKER, random_source=random)
    broker = rig.kafka.broker

    async def inject() -> None:
        for _ in range(BROKER.faults):
            moment = await strike_point(rig, random)
            pid = broker.kill()
            down = random.uniform(*OUTAGE_SECONDS)
            faults.fault(f"kill -9 broker pid {pid} {moment}, down for {down:.1f} s")
            await asyncio.sleep(down)
            await asyncio.to_thread(broker.start)
            faults.note(f"broker started again ({load.summary()})")

    await harness.under_load(load, inject())
    await check(scenario, rig, load, faults)
    assert faults.count == BROKER.faults


CUTS = Plan.pick(
    short=Plan(faults=1, keys=8, pace=0.5, tail=3),
    full=Plan(faults=4, keys=12, pace=0.4, tail=5),
)


async def test_kafka_cut_by_proxy(rig: Rig) -> None:
    scenario = "kafka_cut_by_proxy"
    random = harness.rng(scenario)
    faults = harness.FaultLog(scenario)
    port = rig.serve.port
    assert port is not None
    load = harness.Load(scenario, port=lambda: port, plan=CUTS, random_source=random)
    proxy = rig.kafka.proxy

    async def inject() -> None:
        for _ in range(CUTS.faults):
            moment = await strike_point(rig, random)
            proxy.cut()
            length = random.uniform(*OUTAGE_SECONDS) + 2
            faults.fault(f"network to Kafka cut {moment}, for {length:.1f} s")
            await asyncio.sleep(length)
            proxy.restore()
            faults.note(f"network restored ({proxy.blackholed} connections blackholed so far)")

    await harness.under_load(load, inject())
    await check(scenario, rig, load, faults)
    assert faults.count == CUTS.faults
