from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    Emitted,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    PartlyMappedError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.okta import OktaHandler
from ingest.handlers.schemes.credentials import TokenInHeader
from ingest.schemas.identity import (
    LoginFailed,
    LoginSucceeded,
    SessionEnded,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.simulation.okta import sample_event
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = OktaHandler()
TOKEN = "okta-hook-secret-current"
OLD_TOKEN = "okta-hook-secret-previous"
NOW = 1_700_000_000
source = handler.check_config(
    SourceConfig(name="okta", vendor="okta", options=RawOptions.of({"tokens": [TOKEN]}))
)
rotating = handler.check_config(
    SourceConfig(name="okta", vendor="okta", options=RawOptions.of({"tokens": [OLD_TOKEN, TOKEN]}))
)

# "Sample Event Delivery Payload" from Okta's event hooks documentation, verbatim.
DOCUMENTED: dict[str, Any] = {
    "eventType": "com.okta.event_hook",
    "eventTypeVersion": "1.0",
    "cloudEventsVersion": "0.1",
    "contentType": "application/json",
    "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
    "eventTime": "2019-03-27T16:59:53.032Z",
    "source": "https://{yourOktaDomain}/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
    "data": {
        "events": [
            {
                "version": "0",
                "severity": "INFO",
                "client": {
                    "zone": "OFF_NETWORK",
                    "device": "Unknown",
                    "userAgent": {
                        "os": "Unknown",
                        "browser": "UNKNOWN",
                        "rawUserAgent": "UNKNOWN-DOWNLOAD",
                    },
                    "ipAddress": "12.97.85.90",
                },
                "actor": {
                    "id": "00u1qw6mqitPHM8AJ0g7",
                    "type": "User",
                    "alternateId": "admin@example.com",
                    "displayName": "Example Admin",
                },
                "outcome": {"result": "SUCCESS"},
                "uuid": "f790999f-fe87-467a-9880-6982a583986c",
                "published": "2018-03-28T22:23:07.777Z",
                "eventType": "user.session.start",
                "displayMessage": "User login to Okta",
                "transaction": {"type": "WEB", "id": "V04Oy4ubUOc5UuG6s9DyNQAABtc"},
                "legacyEventType": "core.user_auth.login_success",
                "authenticationContext": {
                    "authenticationStep": 0,
                    "externalSessionId": "1013FfF-DKQSvCI4RVXChzX-w",
                },
            }
        ]
    },
}
DOCUMENTED_BODY = json.dumps(DOCUMENTED, indent=2).encode()
CHALLENGE = "X1IHwGqfV_3TP3qyd-ynwqLbyyXxm-ba8Z2fFpLJv9c"


def auth(value: str = TOKEN) -> dict[str, str]:
    return {"Authorization": value}


def batch(*events: dict[str, Any], event_id: str | None = "delivery-1") -> bytes:
    body: dict[str, Any] = {"eventType": "com.okta.event_hook", "data": {"events": list(events)}}
    if event_id is not None:
        body["eventId"] = event_id
    return json.dumps(body).encode()


def normalize(body: bytes) -> list[Emitted]:
    identity = identify(handler, body, {}, source)
    return handler.normalize(
        Delivery("okta", "okta", identity.event_id, identity.event_type, body, datetime.now(UTC))
    )


def get(headers: Mapping[str, str], options_source: SourceConfig = source) -> bytes:
    reply = handler.handle_get(request(b"", headers, method="GET"), options_source)
    assert (reply.status, reply.content_type) == (200, "application/json")
    return reply.body


# -- one-time verification --------------------------------------------------------------


def test_the_verification_challenge_is_echoed_as_json() -> None:
    body = get({**auth(), "X-Okta-Verification-Challenge": CHALLENGE})
    assert json.loads(body) == {"verification": CHALLENGE}


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"X-Okta-Verification-Challenge": CHALLENGE}, MissingCredentialsError),
        ({**auth("wrong"), "X-Okta-Verification-Challenge": CHALLENGE}, InvalidCredentialsError),
        (auth(), MalformedRequestError),
        ({**auth(), "X-Okta-Verification-Challenge": "  "}, MalformedRequestError),
        ({**auth(), "X-Okta-Verification-Challenge": "a" * 2000}, MalformedRequestError),
    ],
)
def test_the_challenge_is_answered_only_to_an_authenticated_okta(
    headers: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        handler.handle_get(request(b"", headers, method="GET"), source)


def test_a_challenge_with_quotes_stays_valid_json() -> None:
    tricky = 'a"b\\c</script>'
    assert json.loads(get({**auth(), "X-Okta-Verification-Challenge": tricky})) == {
        "verification": tricky
    }


# -- credentials ----------------------------------------------------------------------


def test_the_configured_value_is_accepted_verbatim() -> None:
    assert verify(handler, DOCUMENTED_BODY, auth(), source, NOW).secret_index == 0


def test_no_scheme_is_stripped_okta_sends_the_value_as_configured() -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, DOCUMENTED_BODY, auth(f"Bearer {TOKEN}"), source, NOW)
    basic = handler.check_config(
        SourceConfig(
            name="okta", vendor="okta", options=RawOptions.of({"tokens": ["Basic dXNlcjpwYXNz"]})
        )
    )
    assert verify(handler, DOCUMENTED_BODY, auth("Basic dXNlcjpwYXNz"), basic, NOW)


def test_rotation_reports_which_token_matched() -> None:
    assert verify(handler, DOCUMENTED_BODY, auth(TOKEN), rotating, NOW).secret_index == 1
    assert verify(handler, DOCUMENTED_BODY, auth(OLD_TOKEN), rotating, NOW).secret_index == 0
    body = handler.handle_get(
        request(b"", {**auth(OLD_TOKEN), "X-Okta-Verification-Challenge": "c"}, method="GET"),
        rotating,
    ).body
    assert json.loads(body) == {"verification": "c"}


def test_a_custom_authentication_field() -> None:
    custom = handler.check_config(
        SourceConfig(
            name="okta",
            vendor="okta",
            options=RawOptions.of({"tokens": [TOKEN], "header": "X-Okta-Secret"}),
        )
    )
    assert verify(handler, DOCUMENTED_BODY, {"X-Okta-Secret": TOKEN}, custom, NOW)
    with pytest.raises(MissingCredentialsError):
        verify(handler, DOCUMENTED_BODY, auth(), custom, NOW)
    challenge = {"X-Okta-Secret": TOKEN, "X-Okta-Verification-Challenge": "c"}
    assert json.loads(get(challenge, custom)) == {"verification": "c"}


@pytest.mark.parametrize("headers", [{}, auth(""), auth(" ")])
def test_missing_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, DOCUMENTED_BODY, headers, source, NOW)


@pytest.mark.parametrize("value", ["wrong", TOKEN[:-1], TOKEN + " x", TOKEN.upper()])
def test_wrong_credentials(value: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, DOCUMENTED_BODY, auth(value), source, NOW)


CREDENTIAL_CODES = {"missing_credentials", "invalid_credentials", "malformed_request"}


def rejection(call: Callable[[], object]) -> RejectedRequestError | None:
    """The rejection `call` raised, if any; any other exception propagates and fails the test."""
    try:
        call()
    except RejectedRequestError as exc:
        return exc
    return None


def assert_only_credential_rejections(headers: Mapping[str, str], method: str = "POST") -> None:
    """contract.assert_only_rejections, for a token scheme: its codes are the credential ones."""
    error = rejection(
        (lambda: handler.handle_get(request(b"", headers, method="GET"), source))
        if method == "GET"
        else (
            lambda: handler.verify(Verification(request(DOCUMENTED_BODY, headers), source, NOW, {}))
        )
    )
    assert error is not None, "accepted"
    assert error.status in (400, 401)
    assert error.code in CREDENTIAL_CODES


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_credential_rejections(auth(value))
    assert_only_credential_rejections(
        {**auth(value), "X-Okta-Verification-Challenge": CHALLENGE}, method="GET"
    )
    assert_only_credential_rejections({"X-Okta-Verification-Challenge": value}, method="GET")


@settings(max_examples=200, deadline=None)
@given(
    # The valid token too, so that random challenges and bodies get past authentication.
    authorization=st.none() | st.just(TOKEN) | st.text(max_size=300),
    challenge=st.none() | st.text(max_size=2000),
    body=st.binary(max_size=512) | st.just(DOCUMENTED_BODY),
)
def test_random_requests_only_raise_rejections(
    authorization: str | None, challenge: str | None, body: bytes
) -> None:
    headers = {} if authorization is None else auth(authorization)
    if challenge is not None:
        headers["X-Okta-Verification-Challenge"] = challenge
    posted = rejection(
        lambda: handler.verify(Verification(request(body, headers), source, NOW, {}))
    )
    assert posted is None or posted.code in CREDENTIAL_CODES
    got = rejection(lambda: handler.handle_get(request(body, headers, method="GET"), source))
    assert got is None or got.code in CREDENTIAL_CODES
    with contextlib.suppress(MalformedRequestError):
        handler.identify(request(body, headers), source)


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tokens": []},
        {"tokens": [""]},
        {"tokens": [TOKEN], "header": "Bad Header"},
        {"tokens": [TOKEN], "header": ""},
        {"tokens": [TOKEN], "typo": 1},
    ],
)
def test_unusable_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="source 'okta'") as caught:
        handler.check_config(
            SourceConfig(name="okta", vendor="okta", options=RawOptions.of(options))
        )
    assert TOKEN not in str(caught.value)


def test_secrets_are_refused_in_favour_of_tokens() -> None:
    with pytest.raises(ConfigError, match="'tokens'"):
        handler.check_config(
            SourceConfig(
                name="okta", vendor="okta", secrets=("x",), options=RawOptions.of({"tokens": ["y"]})
            )
        )


def test_the_header_option_is_normalized_to_lower_case() -> None:
    custom = handler.check_config(
        SourceConfig(
            name="okta", vendor="okta", options=RawOptions.of({"tokens": ["t"], "header": "X-Key"})
        )
    )
    assert isinstance(custom.options, TokenInHeader)
    assert custom.options.header == "x-key"


# -- identification and normalization -------------------------------------------------


def test_documented_delivery_is_identified_by_event_id() -> None:
    identity = identify(handler, DOCUMENTED_BODY, {}, source)
    assert identity.event_id == "b5a188b9-5ece-4636-b041-482ffda96311"
    assert identity.event_type == "com.okta.event_hook"
    assert not identity.handshake


def test_without_event_id_a_delivery_is_identified_by_its_content() -> None:
    body = batch(sample_event("user.session.start"), event_id=None)
    assert identify(handler, body, {}, source).event_id == hashlib.sha256(body).hexdigest()
    legacy = json.dumps({"eventType": "com.okta.event_hook", "eventID": "abc"}).encode()
    assert identify(handler, legacy, {}, source).event_id == "abc"


@pytest.mark.parametrize(
    "body", [b"[]", b"nope", b"\xff", b'{"data": {}}', b'{"eventType": "x", "eventId": ""}']
)
def test_unreadable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        identify(handler, body, {}, source)


def test_documented_session_start_is_a_successful_login() -> None:
    [event] = normalize(DOCUMENTED_BODY)
    assert event.type == "identity.login.succeeded"
    assert event.item_id == "f790999f-fe87-467a-9880-6982a583986c"
    assert isinstance(event.data, LoginSucceeded)
    assert event.data.user_id == "00u1qw6mqitPHM8AJ0g7" == event.key == event.subject
    assert event.data.username == "admin@example.com"
    assert event.data.session_id == "1013FfF-DKQSvCI4RVXChzX-w"
    assert event.data.ip == "12.97.85.90"
    assert event.data.user_agent == "UNKNOWN-DOWNLOAD"
    assert event.data.occurred_at == datetime(2018, 3, 28, 22, 23, 7, 777000, tzinfo=UTC)
    assert event.data.provider_event_id == event.item_id


def test_failed_session_start_is_a_failed_login_with_okta_reason() -> None:
    failed = copy.deepcopy(DOCUMENTED)
    failed["data"]["events"][0]["outcome"] = {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}
    [event] = normalize(json.dumps(failed).encode())
    assert isinstance(event.data, LoginFailed)
    assert event.type == "identity.login.failed"
    assert event.data.reason == "INVALID_CREDENTIALS"


def test_a_failed_login_for_an_unknown_account_has_no_user_id() -> None:
    unknown = sample_event("user.session.start", result="FAILURE")
    unknown["actor"] = {"id": "unknown", "type": "User", "alternateId": "bob@example.com"}
    [event] = normalize(batch(unknown))
    assert isinstance(event.data, LoginFailed)
    assert event.data.user_id is None
    assert event.key == "bob@example.com"


@pytest.mark.parametrize(
    ("event_type", "model"),
    [
        ("user.lifecycle.create", UserCreated),
        ("user.account.update_profile", UserUpdated),
        ("user.lifecycle.delete.initiated", UserDeleted),
        ("user.lifecycle.delete.completed", UserDeleted),
    ],
)
def test_user_lifecycle_events_are_about_the_target_not_the_admin(
    event_type: str, model: type[Any]
) -> None:
    event = sample_event(event_type)
    [emitted] = normalize(batch(event))
    assert isinstance(emitted.data, model)
    assert emitted.data.user_id == event["target"][0]["id"] != event["actor"]["id"]
    assert emitted.key == event["target"][0]["id"]
    assert emitted.data.username == "jane.doe@example.com"


def test_session_end() -> None:
    event = sample_event("user.session.end")
    [emitted] = normalize(batch(event))
    assert isinstance(emitted.data, SessionEnded)
    assert emitted.data.session_id == event["authenticationContext"]["externalSessionId"]


@pytest.mark.parametrize("result", ["ALLOW", "DENY", "CHALLENGE", "SKIPPED", "UNKNOWN"])
def test_session_start_with_another_outcome_passes_through(result: str) -> None:
    [emitted] = normalize(batch(sample_event("user.session.start", result=result)))
    assert emitted.type == "okta.user.session.start"


def test_a_batch_is_one_event_per_item_and_others_pass_through() -> None:
    events = [
        sample_event("user.session.start"),
        sample_event("group.user_membership.add"),
        sample_event("user.authentication.auth_via_mfa"),
    ]
    emitted = normalize(batch(*events))
    assert [e.item_id for e in emitted] == [e["uuid"] for e in events]
    assert [e.type for e in emitted] == [
        "identity.login.succeeded",
        "okta.group.user_membership.add",
        "okta.user.authentication.auth_via_mfa",
    ]
    passthrough = emitted[1].data
    assert isinstance(passthrough, VendorPassthrough)
    assert passthrough.payload == events[1]


def test_an_item_that_cannot_be_read_is_set_aside_and_the_others_still_mapped() -> None:
    """Processing publishes the others and keeps the delivery `failed` for a replay."""
    good = sample_event("user.lifecycle.create")
    with pytest.raises(PartlyMappedError) as caught:
        normalize(batch({"eventType": "user.session.start"}, good, {**good, "target": []}))
    [(first, missing_uuid), (third, no_user)] = caught.value.failures
    assert (first, third) == (0, 2)
    assert "uuid" in str(missing_uuid)
    assert "User target" in str(no_user)
    [mapped] = caught.value.emitted
    assert mapped.type == "identity.user.created"


def test_a_body_without_its_events_list_fails_the_delivery_for_replay() -> None:
    with pytest.raises(ValueError, match=r"data\.events"):
        normalize(json.dumps({"eventType": "com.okta.event_hook", "eventId": "x"}).encode())


@pytest.mark.parametrize("event_type", simulator(OktaHandler).sample_types)
def test_samples_normalize(event_type: str) -> None:
    [emitted] = normalize(simulator(handler).sample(event_type))
    assert emitted.item_id is not None


# -- sending --------------------------------------------------------------------------


def test_what_we_sign_we_accept() -> None:
    signed = simulator(handler).sign(
        simulator(handler).sample(None), SigningContext(source=source, url=URL), NOW
    )
    assert signed.headers["Authorization"] == TOKEN
    assert verify(handler, signed.body, signed.headers, source, NOW).secret_index == 0
    custom = handler.check_config(
        SourceConfig(
            name="o",
            vendor="okta",
            options=RawOptions.of({"tokens": [TOKEN], "header": "x-okta-key"}),
        )
    )
    signed = simulator(handler).sign(
        simulator(handler).sample(None), SigningContext(source=custom, url=URL), NOW
    )
    assert verify(handler, signed.body, signed.headers, custom, NOW).secret_index == 0


def test_a_custom_credential_header_is_blanked_in_the_inbox() -> None:
    """With `header: X-Okta-Auth` the token travels in a header no name rule blanks: Okta has to
    declare it, or the inbox keeps every hook's credential in clear."""
    custom = handler.check_config(
        SourceConfig(
            name="okta",
            vendor="okta",
            options=RawOptions.of({"tokens": [TOKEN], "header": "X-Okta-Auth"}),
        )
    )
    assert handler.credential_headers(custom) == frozenset({"x-okta-auth"})
