"""PostgreSQL goes away under load and comes back; nothing is restarted but the database.

A fast restart (`pg_ctl restart -m fast`: every connection closed, back within a second) and a
crash (`pg_ctl stop -m immediate`, kept down longer than the relay's backoff ceiling, then
started: crash recovery). While it is down, webhooks get 503 and the vendors retry; the relay,
the LISTEN connection and the server's pool must find the database again by themselves, and the
outbox must drain without any process being restarted. The cluster is the test's own
(scripts/postgres.sh), never the shared one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import support
from tests.faults import harness

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.timeout(harness.TEST_TIMEOUT)]

RESTART, CRASH = "restart", "immediate"
OUTAGES = (RESTART, CRASH, RESTART, CRASH, CRASH, RESTART) if harness.FULL else (RESTART, CRASH)
DOWN_SECONDS = (harness.BACKOFF_MAX_SECONDS * 3, harness.BACKOFF_MAX_SECONDS * 4)
"""Longer than the backoff ceiling: the relay's retries reach their cap during the outage."""
PLAN = harness.Plan(faults=len(OUTAGES), keys=8, pace=0.4, tail=3)


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[harness.Postgres]:
    postgres = harness.Postgres(tmp_path / "pg")
    await asyncio.to_thread(postgres.start)
    try:
        # scripts/postgres.sh leaves the server's synchronous_commit off (fast tests): the
        # service's own sessions must ask for it, and this scenario shows they do.
        yield postgres
    finally:
        await asyncio.to_thread(postgres.stop)


async def test_postgres_restarted(
    own_postgres: harness.Postgres, kafka_bootstrap: str, tmp_path: Path
) -> None:
    scenario = "postgres_restarted"
    random = harness.rng(scenario)
    sources, topics = support.write_sources(tmp_path)
    kafka = harness.plaintext(kafka_bootstrap)
    await harness.create_topic(kafka, topics.payments)
    env = harness.service_env(own_postgres.url, kafka_bootstrap, sources, tmp_path)
    migrated = harness.run_cli(env, tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    port = support.free_port()
    serve = harness.Service("serve", ["serve", "--port", str(port)], env, tmp_path, port=port)
    database = harness.Database(own_postgres.url)
    faults = harness.FaultLog(scenario)
    load = harness.Load(scenario, port=lambda: port, plan=PLAN, random_source=random)
    recoveries: list[float] = []
    try:
        await serve.start()

        async def inject() -> None:
            for how in OUTAGES:
                await harness.progressed(database, harness.utcnow())
                await asyncio.sleep(random.uniform(1.0, 2.5))
                if how == RESTART:
                    await own_postgres.restart_fast()
                    faults.fault(f"pg_ctl restart -m fast ({load.summary()})")
                else:
                    await own_postgres.stop_immediate()
                    down = random.uniform(*DOWN_SECONDS)
                    faults.fault(f"pg_ctl stop -m immediate, down for {down:.1f} s")
                    await asyncio.sleep(down)
                    await own_postgres.start_again()
                    faults.note(f"PostgreSQL started again ({load.summary()})")
                back = harness.utcnow()
                took = await harness.progressed(database, back)
                recoveries.append(took)
                faults.note(f"the relay published again {took:.1f} s after")

        await harness.under_load(load, inject())
        drain = await harness.drained(database)
        outcome = await harness.verify(
            scenario,
            database=database,
            kafka=kafka,
            topic=topics.payments,
            acked=load.acked,
            faults=faults.count,
        )
        if serve.incarnations != 1 or not serve.alive:
            outcome.problems.append("ingest serve had to be restarted, or died")
        if not load.answers["503"]:
            outcome.problems.append("no vendor saw a 503: was the database really down?")
        other_errors = {
            status: n
            for status, n in load.answers.items()
            if status not in {"200", "503", "no answer"}
        }
        if other_errors:
            outcome.problems.append(
                f"answers other than 200/503 during the outages: {other_errors}"
            )
        harness.report(
            outcome,
            faults,
            load.summary(),
            f"relay published again ≤ {max(recoveries, default=0):.1f} s after each outage",
            f"drained {drain:.1f} s after the load",
        )
        assert outcome.clean, outcome.explain(faults, [serve])
        assert faults.count == len(OUTAGES)
    finally:
        serve.stop()
        await database.close()
