from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.mixpanel import MixpanelHandler
from ingest.handlers.schemes.credentials import BasicCredential, BasicCredentials
from ingest.schemas.analytics import CohortMemberAdded, CohortMemberRemoved
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = MixpanelHandler()
NOW = 1_700_000_000
CREDENTIALS = [{"username": "mixpanel", "password": "s3cret-pass"}]


def configured(basic_auth: list[dict[str, str]] = CREDENTIALS) -> SourceConfig:
    raw = SourceConfig(
        name="mixpanel", vendor="mixpanel", options=RawOptions.of({"basic_auth": basic_auth})
    )
    return handler.check_config(raw)


source = configured()


def basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


# Mixpanel's documented webhook format (docs.mixpanel.com, "Syncing cohorts to a custom webhook"),
# with its placeholders filled in.
DOCUMENTED: dict[str, Any] = {
    "action": "members",
    "parameters": {
        "mixpanel_project_id": "2195193",
        "mixpanel_cohort_name": "Power users",
        "mixpanel_cohort_id": "1417361",
        "mixpanel_cohort_description": "description",
        "mixpanel_session_id": "b3f3a1e2c4d5",
        "page_info": {"total_pages": 10, "page_count": 6},
        "members": [
            {
                "email": "ada@example.com",
                "mixpanel_distinct_id": "user-1",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "phone_number": "555-010-0100",
            },
            {
                "email": "grace@example.com",
                "mixpanel_distinct_id": "user-2",
                "first_name": "Grace",
                "last_name": "Hopper",
                "phone_number": "555-010-0101",
            },
        ],
    },
}
BODY = json.dumps(DOCUMENTED).encode()


def document(action: str = "members", **parameters: Any) -> bytes:
    return json.dumps(
        {"action": action, "parameters": {**DOCUMENTED["parameters"], **parameters}}
    ).encode()


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {}, source)
    return Delivery(
        "mixpanel", "mixpanel", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def test_documented_request_with_basic_auth_is_accepted() -> None:
    assert verify(handler, BODY, basic("mixpanel", "s3cret-pass"), source, NOW).secret_index == 0


def test_what_sign_sends_is_accepted() -> None:
    body = simulator(handler).sample("add_members")
    signed = simulator(handler).sign(body, SigningContext(source=source, url=URL), NOW)
    assert verify(handler, body, signed.headers, source, NOW).secret_index == 0


def test_rotation() -> None:
    rotating = configured([{"username": "mixpanel", "password": "old-pass"}, *CREDENTIALS])
    assert verify(handler, BODY, basic("mixpanel", "s3cret-pass"), rotating, NOW).secret_index == 1


@pytest.mark.parametrize(
    "headers",
    [
        basic("mixpanel", "wrong"),
        basic("someone", "s3cret-pass"),
        basic("mixpanel", "s3cret-pass "),  # a trailing space makes another password
        {"Authorization": "Bearer s3cret-pass"},
        {"Authorization": "Basic bWl4cGFuZWw="},  # no colon
        {"Authorization": "Basic @@@"},
        {"Authorization": "Basic é"},
    ],
)
def test_wrong_credentials_are_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BODY, headers, source, NOW)


def test_missing_credentials() -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, BODY, {}, source, NOW)


def test_basic_auth_is_required_at_start_up() -> None:
    options: dict[str, Any]
    for options in ({}, {"basic_auth": []}, {"basic_auth": [{"username": "a:b", "password": "p"}]}):
        with pytest.raises(ConfigError, match="mixpanel"):
            handler.check_config(
                SourceConfig(name="mixpanel", vendor="mixpanel", options=RawOptions.of(options))
            )
    assert isinstance(handler.options(source, BasicCredentials).basic_auth[0], BasicCredential)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    with pytest.raises(RejectedRequestError) as caught:
        verify(handler, BODY, {"Authorization": value}, source, NOW)
    assert caught.value.code in {"invalid_credentials", "missing_credentials"}


def test_identify_is_cohort_session_action_and_page() -> None:
    identity = identify(handler, BODY, {}, source)
    assert identity.event_id == "1417361:b3f3a1e2c4d5:members:6"
    assert identity.event_type == "members"
    # One diff sync sends add_members and remove_members under one session: both are kept.
    added = identify(handler, document("add_members"), {}, source)
    removed = identify(handler, document("remove_members"), {}, source)
    assert added.event_id != removed.event_id
    long_session = identify(handler, document(mixpanel_session_id="s" * 300), {}, source)
    assert len(long_session.event_id) == 64


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"action": "drop_table", "parameters": {}}',
        b'{"action": "members"}',
        document(mixpanel_session_id=None),
        document(mixpanel_cohort_id=""),
        document(page_info={"page_count": "six"}),
    ],
)
def test_identify_rejects_what_mixpanel_never_sends(body: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        identify(handler, body, {}, source)


@pytest.mark.parametrize("action", ["members", "add_members", "remove_members"])
def test_reply_is_mixpanels_required_body(action: str) -> None:
    body = document(action)
    identity = identify(handler, body, {}, source)
    reply = handler.reply(request(body, {}), identity)
    assert reply is not None
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert json.loads(reply.body) == {"action": action, "status": "success"}


def test_full_sync_members_become_added_events_flagged_full_sync() -> None:
    events = handler.normalize(delivery(BODY))
    assert [e.type for e in events] == ["analytics.cohort.member_added"] * 2
    first = events[0].data
    assert isinstance(first, CohortMemberAdded)
    assert first.full_sync is True
    assert (first.cohort_id, first.cohort_name) == ("1417361", "Power users")
    assert (first.user_id, first.email, first.first_name) == ("user-1", "ada@example.com", "Ada")
    assert first.properties == {"phone_number": "555-010-0100"}
    assert first.sync_id == "b3f3a1e2c4d5"
    assert {e.key for e in events} == {"1417361"}
    assert [e.item_id for e in events] == [
        "1417361:b3f3a1e2c4d5:members:user-1",
        "1417361:b3f3a1e2c4d5:members:user-2",
    ]


def test_diffs_map_to_added_and_removed() -> None:
    [added, _] = handler.normalize(delivery(document("add_members")))
    assert isinstance(added.data, CohortMemberAdded)
    assert added.data.full_sync is False
    [removed, _] = handler.normalize(delivery(document("remove_members")))
    assert isinstance(removed.data, CohortMemberRemoved)
    assert removed.type == "analytics.cohort.member_removed"
    assert removed.item_id != added.item_id


def test_an_empty_diff_emits_nothing() -> None:
    assert handler.normalize(delivery(document("add_members", members=[]))) == []


def test_a_member_without_distinct_id_raises_so_the_event_is_marked_failed() -> None:
    with pytest.raises(ValueError, match="mixpanel_distinct_id"):
        handler.normalize(delivery(document(members=[{"email": "x@example.com"}])))


@settings(max_examples=200, deadline=None)
@given(
    authorization=st.one_of(
        st.none(),
        st.text(max_size=60),
        st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    ),
    body=st.one_of(st.binary(max_size=300), st.just(BODY)),
)
def test_random_headers_and_bodies_only_ever_reject(authorization: str | None, body: bytes) -> None:
    inbound = request(body, {} if authorization is None else {"Authorization": authorization})
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(inbound, source, NOW, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(inbound, source)
