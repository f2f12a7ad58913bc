"""A handler raises → `failed` but acked → fixed → `ingest replay` → published, same ids."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from handlers.base import Delivery, Emitted
from handlers.stripe import StripeHandler
from ingest.cloudevents import cloudevent_id
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
    body = stripe.sample("payment_intent.succeeded")
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
    event = json.loads(stripe.sample("payment_intent.succeeded"))
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
    await deliver(app, stripe.sample("customer.created"))
    unconfirmed = support.run_cli(cli_env(app), tmp_path, "replay", "--source", "stripe")
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr


async def test_concurrent_replays_write_one_generation_each(app: App) -> None:
    import asyncio  # noqa: PLC0415

    from handlers import HANDLERS  # noqa: PLC0415
    from ingest.replay import replay  # noqa: PLC0415
    from ingest.runtime import load_config  # noqa: PLC0415

    event_id = await deliver(app, stripe.sample("payment_intent.succeeded"))
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
