"""Auth0 through the real app, PostgreSQL and Kafka: a log stream batch becomes one CloudEvent per
log, deduplicated by body and by `log_id`; an event stream CloudEvent by its id."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from ingest.cloudevents import cloudevent_id
from ingest.handlers.auth0 import Auth0Handler
from ingest.simulation import simulator
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.ingest.conftest import App, AppFactory

TOKEN = "auth0-pipeline-stream-token"
SOURCES = {"auth0": {"vendor": "auth0", "tokens": [TOKEN]}}
handler = Auth0Handler()


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


def log(code: str) -> dict[str, Any]:
    [record] = json.loads(simulator(handler).sample(code))
    assert isinstance(record, dict)
    return record


def array(*logs: dict[str, Any]) -> bytes:
    return json.dumps(list(logs)).encode()


async def test_log_stream_batch_is_published_one_event_per_log(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    login, failure, signup, api = log("s"), log("fp"), log("ss"), log("sapi")
    logout = log("slo")
    batch = array(login, failure, signup, api)
    # A later batch repeats a log (Auth0 re-batches on retry) next to a new one.
    rebatched = array(signup, logout)

    async with make_app(SOURCES) as app:
        refused = await app.client.post(
            "/webhooks/auth0", content=batch, headers={"Authorization": "Bearer nope"}
        )
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_credentials")
        missing = await app.client.post("/webhooks/auth0", content=batch)
        assert (missing.status_code, missing.json()["error"]) == (401, "missing_credentials")
        assert await counts(app) == (0, 0)

        # The stream's "Authorization Token" arrives as configured: bare here, Bearer below.
        first = await app.client.post(
            "/webhooks/auth0", content=batch, headers={"Authorization": TOKEN}
        )
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        again = await app.client.post(
            "/webhooks/auth0", content=batch, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
        later = await app.client.post(
            "/webhooks/auth0", content=rebatched, headers={"Authorization": TOKEN}
        )
        assert later.json()["status"] == "accepted"
        assert await counts(app) == (2, 5)

        stored = await app.store.get_event(first.json()["id"])
        assert stored is not None
        assert stored.vendor_event_type == "log_stream"
        assert stored.headers["authorization"] == "[redacted]"

        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=5)

    assert len(records) == 5, [record.value for record in records]
    published = {json.loads(record.value)["id"]: record for record in records}
    expected = {
        cloudevent_id("auth0", "", 0, "identity.login.succeeded", login["log_id"]),
        cloudevent_id("auth0", "", 0, "identity.login.failed", failure["log_id"]),
        cloudevent_id("auth0", "", 0, "identity.user.created", signup["log_id"]),
        cloudevent_id("auth0", "", 0, "auth0.sapi", api["log_id"]),
        cloudevent_id("auth0", "", 0, "identity.session.ended", logout["log_id"]),
    }
    assert set(published) == expected
    by_type = {json.loads(r.value)["type"]: r for r in records}
    succeeded = by_type["identity.login.succeeded"]
    assert succeeded.key == login["data"]["user_id"].encode()
    data = json.loads(succeeded.value)["data"]
    assert data["provider"] == "auth0"
    assert data["provider_event_id"] == login["log_id"]
    assert data["session_id"] == login["data"]["details"]["session_id"]
    assert json.loads(by_type["auth0.sapi"].value)["data"]["payload"] == api


async def test_event_stream_cloudevent_is_deduplicated_by_its_id(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    body = simulator(handler).sample("user.created")
    event = json.loads(body)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with make_app(SOURCES) as app:
        first = await app.client.post("/webhooks/auth0", content=body, headers=headers)
        assert first.json()["status"] == "accepted", first.text
        again = await app.client.post("/webhooks/auth0", content=body, headers=headers)
        assert again.json()["status"] == "duplicate"
        stored = await app.store.get_event(first.json()["id"])
        assert stored is not None
        assert stored.vendor_event_id == event["id"]
        [record] = await support.consume(kafka_bootstrap, [app.topics.default], expect=1)
    cloudevent = json.loads(record.value)
    assert cloudevent["type"] == "identity.user.created"
    assert cloudevent["vendoreventid"] == event["id"]
    assert cloudevent["data"]["email"] == "jane.doe@example.com"
    assert record.key == event["data"]["object"]["user_id"].encode()
