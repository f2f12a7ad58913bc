"""Slack through the real app, PostgreSQL and Kafka: the url_verification handshake is answered
over HTTP and stored but never published; an event and Slack's retry of it make one CloudEvent."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import func, select

from ingest.handlers.slack import SlackHandler
from ingest.simulation import simulator
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

handler = SlackHandler()
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EXTRA = {"slack": {"vendor": "slack", "secrets": [SECRET]}}


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


async def post(app: App, body: bytes, **extra_headers: str) -> Any:
    headers = {**sign_headers(handler, body, SECRET, time.time()), **extra_headers}
    return await app.client.post("/webhooks/slack", content=body, headers=headers)


async def test_url_verification_is_answered_with_the_challenge_and_not_published(
    make_app: AppFactory,
) -> None:
    body = simulator(handler).sample("url_verification")
    challenge = json.loads(body)["challenge"]
    async with make_app(EXTRA) as app:
        response = await post(app, body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {"challenge": challenge}
        assert await counts(app) == (1, 0)
        async with app.store.engine.connect() as conn:
            row = (await conn.execute(select(InboxEvent))).one()
        assert row.vendor_event_type == "url_verification"
        assert row.status == "processed"
        assert row.body == body


async def test_event_and_its_retry_make_one_cloudevent(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    body = simulator(handler).sample("message")
    event = json.loads(body)
    async with make_app(EXTRA) as app:
        first = await post(app, body)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        # Slack retries with a fresh signature and X-Slack-Retry-Num; same event_id.
        retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        retry = await post(app, body, **retry_headers)
        assert retry.json() == {"status": "duplicate", "id": first.json()["id"]}
        assert await counts(app) == (1, 1)
        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=1)
    assert len(records) == 1
    cloudevent = json.loads(records[0].value)
    assert cloudevent["type"] == "chat.message.posted"
    assert cloudevent["vendoreventid"] == event["event_id"]
    assert cloudevent["data"]["text"] == event["event"]["text"]
    assert records[0].key == b"T123ABC456:C123ABC456"


async def test_a_slash_command_gets_an_empty_200_and_is_published(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    """Slack shows our answer to the user who typed the command: it must be empty."""
    async with make_app(EXTRA) as app:
        for kind in ("slash_command", "block_actions"):
            response = await post(app, simulator(handler).sample(kind))
            assert response.status_code == 200, response.text
            assert response.content == b""
        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=2)
    types = sorted(json.loads(record.value)["type"] for record in records)
    assert types == ["slack.block_actions", "slack.slash_command"]
    for record in records:
        assert "token" not in json.loads(record.value)["data"]["payload"]
