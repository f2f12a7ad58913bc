"""Okta event hooks through the real app, PostgreSQL and Kafka: the one-time verification GET and
batches whose events are deduplicated one by one across deliveries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from ingest.cloudevents import cloudevent_id
from ingest.simulation.okta import sample_event
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.ingest.conftest import App, AppFactory

TOKEN = "okta-pipeline-authentication-secret"
SOURCES = {"okta": {"vendor": "okta", "tokens": ["okta-previous-secret", TOKEN]}}
CHALLENGE = "X1IHwGqfV_3TP3qyd-ynwqLbyyXxm-ba8Z2fFpLJv9c"


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


def delivery(event_id: str, *events: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "contentType": "application/json",
            "eventId": event_id,
            "source": "https://example.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
            "data": {"events": list(events)},
        }
    ).encode()


HEADERS = {"Authorization": TOKEN, "Content-Type": "application/json"}


async def test_verification_challenge_is_answered_and_nothing_is_stored(
    make_app: AppFactory,
) -> None:
    async with make_app(SOURCES) as app:
        response = await app.client.get(
            "/webhooks/okta",
            headers={"Authorization": TOKEN, "X-Okta-Verification-Challenge": CHALLENGE},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {"verification": CHALLENGE}

        for headers, status, code in (
            ({"X-Okta-Verification-Challenge": CHALLENGE}, 401, "missing_credentials"),
            (
                {"Authorization": "guess", "X-Okta-Verification-Challenge": CHALLENGE},
                401,
                "invalid_credentials",
            ),
            ({"Authorization": TOKEN}, 400, "malformed_request"),
        ):
            refused = await app.client.get("/webhooks/okta", headers=headers)
            assert (refused.status_code, refused.json()["error"]) == (status, code)
            assert CHALLENGE not in refused.text
        assert await counts(app) == (0, 0)


async def test_batch_events_are_published_once_across_deliveries(
    make_app: AppFactory, kafka_bootstrap: str
) -> None:
    login = sample_event("user.session.start")
    created = sample_event("user.lifecycle.create")
    membership = sample_event("group.user_membership.add")
    logout = sample_event("user.session.end")
    first_body = delivery("eb1d5f6e-0000-4000-8000-000000000001", login, created, membership)
    # Okta may re-send an event in a later delivery alongside new ones.
    second_body = delivery("eb1d5f6e-0000-4000-8000-000000000002", created, logout)

    async with make_app(SOURCES) as app:
        first = await app.client.post("/webhooks/okta", content=first_body, headers=HEADERS)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted"
        again = await app.client.post("/webhooks/okta", content=first_body, headers=HEADERS)
        assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
        second = await app.client.post("/webhooks/okta", content=second_body, headers=HEADERS)
        assert second.json()["status"] == "accepted"
        assert second.json()["id"] != first.json()["id"]

        stored = await app.store.get_event(first.json()["id"])
        assert stored is not None
        assert stored.vendor_event_id == "eb1d5f6e-0000-4000-8000-000000000001"
        assert stored.secret_index == 1
        assert stored.headers["authorization"] == "[redacted]"
        assert await counts(app) == (2, 4)

        records = await support.consume(kafka_bootstrap, [app.topics.default], expect=4)

    assert len(records) == 4, [record.value for record in records]
    published = {json.loads(record.value)["id"]: record for record in records}
    # CloudEvent ids come from the Okta event's uuid: the same event has the same id whichever
    # delivery carried it, and the re-sent `created` was not published a second time.
    ids = {
        "login": cloudevent_id("okta", "", 0, "identity.login.succeeded", login["uuid"]),
        "created": cloudevent_id("okta", "", 0, "identity.user.created", created["uuid"]),
        "membership": cloudevent_id(
            "okta", "", 0, "okta.group.user_membership.add", membership["uuid"]
        ),
        "logout": cloudevent_id("okta", "", 0, "identity.session.ended", logout["uuid"]),
    }
    assert set(published) == set(ids.values())
    for record in records:
        cloudevent = json.loads(record.value)
        assert (cloudevent["source"], cloudevent["vendor"]) == ("/sources/okta", "okta")

    login_record = published[ids["login"]]
    assert login_record.key == login["actor"]["id"].encode()
    login_data = json.loads(login_record.value)["data"]
    assert login_data["provider_event_id"] == login["uuid"]
    assert login_data["session_id"] == login["authenticationContext"]["externalSessionId"]
    created_data = json.loads(published[ids["created"]].value)["data"]
    assert created_data["user_id"] == created["target"][0]["id"]
    membership_data = json.loads(published[ids["membership"]].value)["data"]
    assert membership_data["payload"] == membership
