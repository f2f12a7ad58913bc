"""Segment batches through the real app and PostgreSQL: every message's id becomes an item
claim the database can hold, whatever the sender wrote as messageId."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from ingest.handlers.segment import SegmentHandler
from ingest.simulation import simulator
from ingest.tables import InboxEvent, OutboxEvent
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

handler = SegmentHandler()
SECRET = "segment-shared-secret"
EXTRA = {"segment": {"vendor": "segment", "secrets": [SECRET]}}


async def post(app: App, messages: list[dict[str, Any]]) -> Any:
    body = json.dumps(messages).encode()
    headers = sign_headers(handler, body, SECRET, time.time())
    return await app.client.post("/webhooks/segment", content=body, headers=headers)


async def outbox_types(app: App) -> list[str]:
    async with app.store.engine.connect() as conn:
        rows = (await conn.execute(select(OutboxEvent.type).order_by(OutboxEvent.id))).all()
    return [row.type for row in rows]


async def test_message_ids_the_inbox_cannot_hold_as_written_are_still_stored_and_published(
    make_app: AppFactory,
) -> None:
    """Segment's messageId is free text: one longer than the inbox's 255-character item key,
    one with a NUL (PostgreSQL text cannot hold one) or a lone surrogate (JSON can escape one,
    UTF-8 cannot encode it) is still one message, claimed once (a user id with a NUL, the
    partition key, was already made safe where the CloudEvent is built)."""
    track = json.loads(simulator(handler).sample("track"))
    long_id = {**track, "messageId": "m" * 300}
    nul_id = {**track, "messageId": "ajs-\x00-1", "userId": "user\x00"}
    surrogate_id = {**track, "messageId": "ajs-\ud800-2", "anonymousId": "\udfff"}
    del surrogate_id["userId"]
    async with make_app(EXTRA) as app:
        response = await post(app, [long_id, nul_id, surrogate_id, track])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted"
        async with app.store.engine.connect() as conn:
            [(status, error)] = (
                await conn.execute(select(InboxEvent.status, InboxEvent.last_error))
            ).all()
        assert (status, error) == ("processed", None)
        assert await outbox_types(app) == ["analytics.track"] * 4

        # Segment retries a message in a new batch: its claim is found, nothing republished.
        again = await post(app, [long_id, surrogate_id, {**track, "messageId": "new-1"}])
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "accepted"
        assert await outbox_types(app) == ["analytics.track"] * 5
