"""Handshakes and batches the vendor modules' own pipeline tests do not cover, through the real
app, PostgreSQL and Kafka: GitHub's ping (answered, stored, never published) and an Ably batch
(one CloudEvent per item; the batch again adds nothing)."""

from __future__ import annotations

import json
import time

from ingest.handlers.ably import AblyHandler
from ingest.handlers.github import GitHubHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import AppFactory
from tests.ingest.test_app import counts

ABLY_KEY = "appId.keyId:a-long-key-secret"


async def test_github_ping_is_stored_answered_and_not_published(make_app: AppFactory) -> None:
    github = GitHubHandler()
    body = simulator(github).sample("ping")
    headers = sign_headers(github, body, support.GITHUB_SECRET, time.time(), "ping")
    async with make_app() as app:
        response = await app.client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted"
        stored = await app.store.get_event(response.json()["id"])
        assert stored is not None
        assert (stored.vendor_event_type, stored.status) == ("ping", "processed")
        assert await counts(app) == (1, 0)


async def test_ably_batch_one_cloudevent_per_item_and_no_repeats(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    ably = AblyHandler()
    body = simulator(ably).sample("channel.presence")
    items = json.loads(body)["items"]
    extra = {"ably": {"vendor": "ably", "secrets": [ABLY_KEY]}}
    async with make_app(extra) as app:
        headers = sign_headers(ably, body, ABLY_KEY, time.time())
        first = await app.client.post("/webhooks/ably", content=body, headers=headers)
        assert first.status_code == 200, first.text
        again = await app.client.post("/webhooks/ably", content=body, headers=headers)
        assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
        inbox, outbox = await counts(app)
        assert (inbox, outbox) == (1, len(items))
        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=len(items))
    published = [json.loads(record.value) for record in records]
    assert len(published) == len(items)
    assert len({event["id"] for event in published}) == len(items)
    assert all(event["vendor"] == "ably" for event in published)
