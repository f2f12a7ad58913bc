"""Mixpanel cohort sync through the real app, PostgreSQL and Kafka: Basic auth, Mixpanel's required
reply body over HTTP (for duplicates too), and one CloudEvent per member on the default topic."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import func, select

from ingest.cloudevents import cloudevent_id
from ingest.handlers.mixpanel import MixpanelHandler
from ingest.simulation import simulator
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.ingest.conftest import App, AppFactory

USERNAME, PASSWORD = "mixpanel", "mixpanel-pipeline-password"
SOURCES = {
    "mixpanel": {"vendor": "mixpanel", "basic_auth": [{"username": USERNAME, "password": PASSWORD}]}
}
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()}
handler = MixpanelHandler()


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


def page(action: str, session: str, members: list[dict[str, Any]]) -> bytes:
    document = json.loads(simulator(handler).sample(action))
    document["parameters"]["mixpanel_session_id"] = session
    document["parameters"]["members"] = members
    return json.dumps(document).encode()


async def test_cohort_sync_replies_as_mixpanel_requires_and_publishes_members(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    added = json.loads(simulator(handler).sample("add_members"))["parameters"]["members"]
    removed = [{**added[0], "mixpanel_distinct_id": "user-who-left"}]
    session = "sync-session-1"
    add_page = page("add_members", session, added)
    # A diff sync sends add_members and remove_members under one session id.
    remove_page = page("remove_members", session, removed)

    async with make_app(SOURCES) as app:
        missing = await app.client.post("/webhooks/mixpanel", content=add_page)
        assert (missing.status_code, missing.json()["error"]) == (401, "missing_credentials")
        wrong = await app.client.post(
            "/webhooks/mixpanel",
            content=add_page,
            headers={"Authorization": "Basic " + base64.b64encode(b"mixpanel:nope").decode()},
        )
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_credentials")
        assert await counts(app) == (0, 0)

        first = await app.client.post("/webhooks/mixpanel", content=add_page, headers=AUTH)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("application/json")
        assert first.json() == {"action": "add_members", "status": "success"}
        # Mixpanel retries on 5xx and timeouts: the retry must get the same answer.
        again = await app.client.post("/webhooks/mixpanel", content=add_page, headers=AUTH)
        assert again.json() == {"action": "add_members", "status": "success"}
        second = await app.client.post("/webhooks/mixpanel", content=remove_page, headers=AUTH)
        assert second.json() == {"action": "remove_members", "status": "success"}
        assert await counts(app) == (2, 3)

        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=3)

    assert len(records) == 3, [record.value for record in records]
    cohort = "1417361"
    events = {json.loads(record.value)["id"]: record for record in records}
    expected = {
        cloudevent_id(
            "mixpanel",
            "",
            0,
            "analytics.cohort.member_added",
            f"{cohort}:{session}:add_members:{member['mixpanel_distinct_id']}",
        )
        for member in added
    } | {
        cloudevent_id(
            "mixpanel",
            "",
            0,
            "analytics.cohort.member_removed",
            f"{cohort}:{session}:remove_members:user-who-left",
        )
    }
    assert set(events) == expected
    for record in records:
        cloudevent = json.loads(record.value)
        assert record.key == cohort.encode()
        assert cloudevent["source"] == "/sources/mixpanel"
        assert cloudevent["data"]["cohort_id"] == cohort
        assert cloudevent["data"]["sync_id"] == session
        assert cloudevent["data"]["full_sync"] is False
    removed_event = next(
        json.loads(r.value) for r in records if json.loads(r.value)["subject"] == "user-who-left"
    )
    assert removed_event["type"] == "analytics.cohort.member_removed"
