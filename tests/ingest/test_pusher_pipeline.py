"""Pusher batches through the real app, PostgreSQL and Kafka: one CloudEvent per event in the
batch; Pusher's redelivery of the same webhook adds nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from ingest.cloudevents import cloudevent_id
from ingest.handlers.base import Delivery
from ingest.handlers.pusher import PusherHandler
from ingest.simulation import simulator
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

handler = PusherHandler()
KEY, SECRET = "278d425bdf160c739803", "7ad3773142a6692b25b8"
EXTRA = {"pusher": {"vendor": "pusher", "secrets": [SECRET], "app_key": KEY}}


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


async def test_batch_is_one_cloudevent_per_event_and_redelivery_adds_nothing(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    body = simulator(handler).sample("batch")
    sent = json.loads(body)["events"]
    async with make_app(EXTRA) as app:
        headers = sign_headers(handler, body, SECRET, time.time())
        assert headers["X-Pusher-Key"] == "278d425bdf160c739803"
        first = await app.client.post("/webhooks/pusher", content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        assert await counts(app) == (1, len(sent))

        again = await app.client.post("/webhooks/pusher", content=body, headers=headers)
        assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
        assert await counts(app) == (1, len(sent))

        wrong_key = {**headers, "X-Pusher-Key": "someone-elses-app"}
        refused = await app.client.post("/webhooks/pusher", content=body, headers=wrong_key)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")

        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=len(sent))
    published = [json.loads(record.value) for record in records]
    assert [e["type"] for e in published] == [
        "realtime.channel.occupied",
        "realtime.presence.joined",
        "pusher.client_event",
        "realtime.presence.left",
        "realtime.channel.vacated",
    ]
    assert {record.key for record in records} == {sent[0]["channel"].encode()}
    delivery = Delivery("pusher", "pusher", "", "batch", body, datetime.now(UTC))
    items = [e.item_id for e in handler.normalize(delivery)]
    assert [e["id"] for e in published] == [
        cloudevent_id("pusher", "", 0, e["type"], item)
        for e, item in zip(published, items, strict=True)
    ]
    assert published[1]["data"]["user_id"] == sent[1]["user_id"]
