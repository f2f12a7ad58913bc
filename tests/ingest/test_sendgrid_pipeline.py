"""SendGrid batches through the real app, PostgreSQL and Kafka: one CloudEvent per item, with ids
that survive SendGrid re-batching its retries."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ingest.cloudevents import cloudevent_id
from ingest.handlers.sendgrid import SendGridHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.handlers.test_sendgrid import local_public_key
from tests.ingest.conftest import App, AppFactory

handler = SendGridHandler()


def events(*names: str) -> list[dict[str, Any]]:
    return [json.loads(simulator(handler).sample(name))[0] for name in names]


async def post(app: App, key_dir: Path, items: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps(items).encode()
    source = SourceConfig(name="sendgrid", vendor="sendgrid")
    context = SigningContext(
        source=source, url="https://ingest.test/webhooks/sendgrid", key_dir=key_dir
    )
    headers = simulator(handler).sign(body, context, time.time()).headers
    response = await app.client.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


async def test_batch_items_are_published_once_across_redelivery_and_rebatching(
    make_app: AppFactory, kafka_bootstrap: str, tmp_path: Path
) -> None:
    simulator(handler).generate_keys(tmp_path)
    extra = {"sendgrid": {"vendor": "sendgrid", "public_keys": [local_public_key(tmp_path)]}}
    first = events("delivered", "open", "bounce")
    async with make_app(extra) as app:
        accepted = await post(app, tmp_path, first)
        assert accepted["status"] == "accepted"
        assert await counts(app) == (1, 3)

        # The same batch again (a retry): a duplicate delivery, nothing new.
        again = await post(app, tmp_path, first)
        assert again == {"status": "duplicate", "id": accepted["id"]}
        assert await counts(app) == (1, 3)

        # SendGrid re-batches its retries: two old items and one new one in a new body.
        new = events("click")
        rebatched = await post(app, tmp_path, [first[2], *new, first[0]])
        assert rebatched["status"] == "accepted"
        assert await counts(app) == (2, 4)

        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=4)
    published = [json.loads(record.value) for record in records]
    assert len(published) == 4, published
    assert [e["type"] for e in published] == [
        "email.delivered",
        "email.opened",
        "email.bounced",
        "email.clicked",
    ]
    expected_ids = [
        cloudevent_id("sendgrid", "", 0, e["type"], f"sg:{item['sg_event_id']}")
        for e, item in zip(published, [*first, *new], strict=True)
    ]
    assert [e["id"] for e in published] == expected_ids
    assert {record.key for record in records} == {b"example@test.com"}
    assert published[2]["data"]["bounce_type"] == "hard"


async def test_an_item_the_mapping_cannot_read_does_not_hold_back_its_batch(
    make_app: AppFactory, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Acked and stored; the two good items reach Kafka now; the row is `failed`, naming the
    item, for `ingest failed` and a replay once the cause is fixed."""
    simulator(handler).generate_keys(tmp_path)
    extra = {"sendgrid": {"vendor": "sendgrid", "public_keys": [local_public_key(tmp_path)]}}
    items = events("delivered", "open", "bounce")
    del items[1]["email"]
    async with make_app(extra) as app:
        accepted = await post(app, tmp_path, items)
        assert accepted["status"] == "accepted"
        assert await counts(app) == (1, 2)
        async with app.store.engine.connect() as conn:
            status, error = (
                await conn.execute(select(InboxEvent.status, InboxEvent.last_error))
            ).one()
        assert status == "failed"
        assert error is not None
        assert error.startswith("1 of 3 items not mapped (2 published): item 1: ValueError")
        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=2)
    assert [json.loads(r.value)["type"] for r in records] == ["email.delivered", "email.bounced"]
