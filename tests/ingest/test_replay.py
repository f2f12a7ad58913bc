"""A handler raises → `failed` but acked → fixed → `ingest replay` → published, same ids."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ingest.cloudevents import cloudevent_id
from ingest.handlers.base import Delivery, Emitted
from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App

stripe = StripeHandler()


def cli_env(app: App) -> dict[str, str]:
    return {
        "DATABASE_URL": app.settings.database_url,
        "INGEST_SOURCES_FILE": str(app.settings.sources_file),
        **support.SECRET_ENV,
    }


async def deliver(app: App, body: bytes) -> int:
    headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    event_id: int = response.json()["id"]
    return event_id


async def test_failed_event_is_replayed_after_the_fix_with_stable_ids(
    app: App, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(self: StripeHandler, delivery: Delivery) -> list[Emitted]:
        raise RuntimeError("mapping bug")

    monkeypatch.setattr(StripeHandler, "normalize", broken)
    body = simulator(stripe).sample("payment_intent.succeeded")
    event_id = await deliver(app, body)
    stored = await app.store.get_event(event_id)
    assert stored is not None
    assert (stored.status, stored.last_error) == ("failed", "RuntimeError: mapping bug")
    assert await app.store.cloudevents_of(event_id) == []

    monkeypatch.undo()  # the fix ships
    listed = support.run_cli(
        cli_env(app), tmp_path, "events", "list", "--status", "failed", "--json"
    )
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [event_id]
    dry = support.run_cli(cli_env(app), tmp_path, "replay", "--status", "failed", "--dry-run")
    assert dry.returncode == 0
    assert "1 events would be replayed" in dry.stdout
    assert (await app.store.get_event(event_id)).status == "failed"  # type: ignore[union-attr]

    result = support.run_cli(cli_env(app), tmp_path, "replay", "--status", "failed", "--yes")
    assert result.returncode == 0, result.stderr
    assert "1 processed, 0 failed" in result.stdout
    stored = await app.store.get_event(event_id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.last_error) == (
        "processed",
        2,
        None,
    )

    # Replaying again (by id) republishes the same CloudEvent id: consumers deduplicate.
    again = support.run_cli(cli_env(app), tmp_path, "replay", str(event_id), "--yes")
    assert again.returncode == 0, again.stderr
    records = await support.consume(kafka_bootstrap, [app.topics.payments], expect=2)
    expected_id = cloudevent_id("stripe", json.loads(body)["id"], 0, "payment.succeeded")
    assert [json.loads(r.value)["id"] for r in records] == [expected_id, expected_id]

    shown = support.run_cli(cli_env(app), tmp_path, "events", "show", str(event_id), "--json")
    document = json.loads(shown.stdout)
    assert [(c["generation"], c["id"]) for c in document["cloudevents"]] == [
        (2, expected_id),
        (3, expected_id),
    ]
    assert all(c["published_at"] for c in document["cloudevents"])
    assert document["body"]["text"] == body.decode()


async def test_replay_that_fails_again_exits_non_zero(app: App, tmp_path: Path) -> None:
    event = json.loads(simulator(stripe).sample("payment_intent.succeeded"))
    event["data"]["object"]["amount"] = "twenty"  # a payload our mapping cannot read
    event["data"]["object"]["amount_received"] = None
    event_id = await deliver(app, json.dumps(event).encode())
    result = support.run_cli(cli_env(app), tmp_path, "replay", "--status", "failed", "--yes")
    assert result.returncode == 1
    assert "0 processed, 1 failed" in result.stdout
    assert f"event {event_id}:" in result.stderr
    stored = await app.store.get_event(event_id)
    assert stored is not None
    assert (stored.status, stored.attempts) == ("failed", 2)


async def test_replay_needs_a_selection_and_confirmation(app: App, tmp_path: Path) -> None:
    assert support.run_cli(cli_env(app), tmp_path, "replay").returncode == 2
    await deliver(app, simulator(stripe).sample("customer.created"))
    unconfirmed = support.run_cli(cli_env(app), tmp_path, "replay", "--source", "stripe")
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr


async def test_concurrent_replays_write_one_generation_each(app: App) -> None:
    import asyncio  # noqa: PLC0415

    from ingest.handlers import HANDLERS  # noqa: PLC0415
    from ingest.replay import replay  # noqa: PLC0415
    from ingest.runtime import load_config  # noqa: PLC0415

    event_id = await deliver(app, simulator(stripe).sample("payment_intent.succeeded"))
    stored = await app.store.get_event(event_id)
    assert stored is not None
    config = load_config(app.settings)
    results = await asyncio.gather(
        *(replay(app.store, config, HANDLERS, [stored]) for _ in range(5))
    )
    assert sum(r.processed for r in results) == 1
    assert sum(r.skipped for r in results) == 4
    generations = [c.generation for c in await app.store.cloudevents_of(event_id)]
    assert generations == [1, 2]


async def test_replay_to_a_shadow_topic_at_a_rate(
    app: App, kafka_bootstrap: str, tmp_path: Path
) -> None:
    ids = [
        await deliver(app, simulator(stripe).sample("payment_intent.succeeded")) for _ in range(5)
    ]
    shadow = f"shadow-{app.topics.payments}"
    started = time.monotonic()
    result = support.run_cli(
        cli_env(app),
        tmp_path,
        "replay",
        *map(str, ids),
        "--to-topic",
        shadow,
        "--rate",
        "10",
        "--yes",
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert f"5 CloudEvents queued for publishing to {shadow}" in result.stdout
    assert elapsed >= 0.4  # five events at ten per second: four gaps of 0.1 s at least
    records = await support.consume(kafka_bootstrap, [shadow], expect=5)
    assert len(records) == 5
    # The routed topic got the first run only.
    assert len(await support.consume(kafka_bootstrap, [app.topics.payments], expect=5)) == 5


async def test_an_interrupted_replay_resumes_where_it_stopped(app: App, tmp_path: Path) -> None:
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    ids = [
        await deliver(app, simulator(stripe).sample("payment_intent.succeeded")) for _ in range(40)
    ]
    command = [*support.CLI, "replay", "--source", "stripe", "--rate", "20", "--yes"]
    process = subprocess.Popen(
        command,
        env=support.environment(cli_env(app)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:  # interrupt once some, not all, are done
        done = [e for e in [await app.store.get_event(i) for i in ids] if e and e.attempts > 1]
        if len(done) >= 5:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "run the same command again to resume" in err
    interrupted_at = sum(
        1 for e in [await app.store.get_event(i) for i in ids] if e and e.attempts > 1
    )
    assert 5 <= interrupted_at < 40

    again = support.run_cli(cli_env(app), tmp_path, *command[len(support.CLI) :])
    assert again.returncode == 0, again.stderr
    assert "resuming replay run" in again.stderr
    assert f"resumed: {interrupted_at} done before" in again.stdout
    # Every event replayed exactly once over the two runs: one new generation each.
    assert [(await app.store.get_event(i)).attempts for i in ids] == [2] * 40  # type: ignore[union-attr]

    # Finished runs are not resumed: the same command replays everything again.
    third = support.run_cli(cli_env(app), tmp_path, *command[len(support.CLI) :])
    assert third.returncode == 0, third.stderr
    assert "resuming" not in third.stderr
    assert [(await app.store.get_event(i)).attempts for i in ids] == [3] * 40  # type: ignore[union-attr]
