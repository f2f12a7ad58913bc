from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import svix
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    Emitted,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.handlers.clerk import ClerkHandler
from ingest.schemas.identity import (
    SessionEnded,
    SessionStarted,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, sign_headers, verify

handler = ClerkHandler()
# The Standard Webhooks / Svix example secret (Clerk's signing secrets have the same whsec_ form).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "QUJD" * 8
source = handler.check_config(SourceConfig(name="clerk", vendor="clerk", secrets=(SECRET,)))

# The `user.created` payload in Clerk's webhooks overview, verbatim (timestamp in milliseconds).
DOCUMENTED_USER_CREATED: dict[str, Any] = {
    "data": {
        "birthday": "",
        "created_at": 1654012591514,
        "email_addresses": [
            {
                "email_address": "example@example.org",
                "id": "idn_29w83yL7CwVlJXylYLxcslromF1",
                "linked_to": [],
                "object": "email_address",
                "verification": {"status": "verified", "strategy": "ticket"},
            }
        ],
        "external_accounts": [],
        "external_id": "567772",
        "first_name": "Example",
        "gender": "",
        "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
        "image_url": "https://img.clerk.com/xxxxxx",
        "last_name": "Example",
        "last_sign_in_at": 1654012591514,
        "object": "user",
        "password_enabled": True,
        "phone_numbers": [],
        "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1",
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "private_metadata": {},
        "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
        "public_metadata": {},
        "two_factor_enabled": False,
        "unsafe_metadata": {},
        "updated_at": 1654012591835,
        "username": None,
        "web3_wallets": [],
    },
    "instance_id": "ins_123",
    "object": "event",
    "timestamp": 1654012591835,
    "type": "user.created",
}
# The `user.deleted` example in Clerk's docs, with the event attributes Clerk now adds.
DOCUMENTED_USER_DELETED: dict[str, Any] = {
    "data": {"deleted": True, "id": "user_29wBMCtzATuFJut8jO2VNTVekS4", "object": "user"},
    "event_attributes": {
        "http_request": {
            "client_ip": "0.0.0.0",  # noqa: S104 - Clerk's example value, not a bind address
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
        }
    },
    "object": "event",
    "timestamp": 1661861640000,
    "type": "user.deleted",
}
# `session.created` from Clerk's webhook event catalog (its examples give seconds).
CATALOG_SESSION_CREATED: dict[str, Any] = {
    "event_attributes": {
        "http_request": {
            "client_ip": "192.168.1.100",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
        }
    },
    "object": "event",
    "type": "session.created",
    "instance_id": "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    "timestamp": 1716883200,
    "data": {
        "object": "session",
        "id": "sess_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        "user_id": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        "user": {
            "object": "user",
            "id": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "primary_email_address_id": "idn_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "username": None,
            "first_name": "John",
            "last_name": "Doe",
            "email_addresses": [],
            "created_at": 1716883200000,
            "updated_at": 1716883200000,
        },
        "client_id": "client_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        "actor": None,
        "status": "active",
        "last_active_organization_id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        "last_active_at": 1716883200000,
        "expire_at": 1716969600000,
        "abandon_at": 1719475200000,
        "updated_at": 1716883200000,
        "created_at": 1716883200000,
    },
}


def svix_signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    """Signed by the Svix SDK, as Clerk's sender (Svix) signs."""
    moment = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    return {
        "svix-id": "msg_2pLqRsTuVwXyZaBcDe",
        "svix-timestamp": str(int(moment.timestamp())),
        "svix-signature": svix.Webhook(secret).sign(
            "msg_2pLqRsTuVwXyZaBcDe", moment, body.decode()
        ),
    }


def normalize(payload: dict[str, Any] | bytes) -> list[Emitted]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    identity = identify(handler, body, {"svix-id": "msg_1"}, source)
    return handler.normalize(
        Delivery("clerk", "clerk", identity.event_id, identity.event_type, body, datetime.now(UTC))
    )


# -- signatures ------------------------------------------------------------------------


def test_what_the_svix_sdk_signs_we_accept() -> None:
    body = json.dumps(DOCUMENTED_USER_CREATED).encode()
    assert verify(handler, body, svix_signed(body), source, time.time()).secret_index == 0


def test_what_we_sign_the_svix_sdk_accepts_with_svix_headers() -> None:
    body = simulator(handler).sample("user.created")
    headers = sign_headers(handler, body, SECRET, time.time())
    assert {"svix-id", "svix-timestamp", "svix-signature"} <= set(headers)
    assert not any(name.startswith("webhook-") for name in headers)
    svix.Webhook(SECRET).verify(body, headers)  # raises WebhookVerificationError on a mismatch
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.Webhook(OTHER).verify(body, headers)


def test_rotation() -> None:
    rotating = handler.check_config(
        SourceConfig(name="clerk", vendor="clerk", secrets=(OTHER, SECRET))
    )
    body = simulator(handler).sample("session.created")
    assert verify(handler, body, svix_signed(body), rotating, time.time()).secret_index == 1


def test_tampering_and_wrong_secret_are_rejected() -> None:
    body = json.dumps(DOCUMENTED_USER_CREATED).encode()
    headers = svix_signed(body)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body.replace(b"Example", b"Exampel"), headers, source, time.time())
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, {**headers, "svix-id": "msg_other"}, source, time.time())
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, svix_signed(body, OTHER), source, time.time())


def test_missing_signature_and_stale_timestamp() -> None:
    body = simulator(handler).sample(None)
    headers = svix_signed(body)
    del headers["svix-signature"]
    with pytest.raises(MissingSignatureError):
        verify(handler, body, headers, source, time.time())
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, body, svix_signed(body, at=time.time() - 600), source, time.time())


@pytest.mark.parametrize("value", ["\u00b2", "1700000000\u00b2", "\u0661" * 10])
def test_non_ascii_digits_in_the_timestamp_are_rejections(value: str) -> None:
    """str.isdigit() accepts them and int() does not: found by the property test below."""
    body = simulator(handler).sample(None)
    headers = {**svix_signed(body), "svix-timestamp": value}
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, headers, source, time.time())


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["svix-signature", "svix-timestamp", "svix-id"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    body = simulator(handler).sample(None)
    now = time.time()
    assert_only_rejections(handler, source, body, {**svix_signed(body, at=now), header: value}, now)


PROPERTY_BODY = json.dumps(DOCUMENTED_USER_CREATED).encode()
PROPERTY_NOW = 1_700_000_000.0
PROPERTY_HEADERS = svix_signed(PROPERTY_BODY, at=PROPERTY_NOW)


@settings(max_examples=200, deadline=None)
@given(
    # Start from a correctly signed request and replace some of its headers, so that examples
    # reach the parsing past the first checks.
    replaced=st.dictionaries(
        st.sampled_from(["svix-id", "svix-timestamp", "svix-signature", "webhook-signature"]),
        st.text(max_size=200),
        max_size=4,
    ),
    body=st.just(PROPERTY_BODY) | st.binary(max_size=512),
)
def test_random_requests_only_raise_rejections(replaced: dict[str, str], body: bytes) -> None:
    headers = {**PROPERTY_HEADERS, **replaced}
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(request(body, headers), source, PROPERTY_NOW, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(request(body, headers), source)


# -- normalization --------------------------------------------------------------------


def test_documented_user_created() -> None:
    [event] = normalize(DOCUMENTED_USER_CREATED)
    assert event.type == "identity.user.created"
    assert isinstance(event.data, UserCreated)
    assert event.data.user_id == "user_29w83sxmDNGwOuEthce5gg56FcC" == event.key == event.subject
    assert event.data.email == "example@example.org"
    assert event.data.name == "Example Example"
    assert event.data.username is None
    assert event.data.provider_event_id == "msg_1"
    assert event.data.occurred_at == datetime(2022, 5, 31, 15, 56, 31, 835000, tzinfo=UTC)
    assert event.item_id is None


def test_documented_user_deleted() -> None:
    [event] = normalize(DOCUMENTED_USER_DELETED)
    assert isinstance(event.data, UserDeleted)
    assert event.data.user_id == "user_29wBMCtzATuFJut8jO2VNTVekS4" == event.key
    assert event.data.email is None
    assert event.data.ip == "0.0.0.0"  # noqa: S104 - the value Clerk reported
    assert event.data.user_agent is not None


def test_user_updated() -> None:
    [event] = normalize(simulator(handler).sample("user.updated"))
    assert isinstance(event.data, UserUpdated)


def test_catalog_session_created_is_a_session_start_with_seconds_timestamp() -> None:
    [event] = normalize(CATALOG_SESSION_CREATED)
    assert event.type == "identity.session.started"
    assert isinstance(event.data, SessionStarted)
    assert event.data.session_id == "sess_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    assert event.data.user_id == "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S" == event.key
    assert event.data.name == "John Doe"
    assert event.data.email is None  # the primary address is not in the (empty) list
    assert event.data.ip == "192.168.1.100"
    assert event.data.occurred_at == datetime(2024, 5, 28, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("ending", ["ended", "removed", "revoked"])
def test_every_session_ending_is_a_session_end(ending: str) -> None:
    body = simulator(handler).sample(f"session.{ending}")
    [event] = normalize(body)
    assert event.type == "identity.session.ended"
    assert isinstance(event.data, SessionEnded)
    assert event.data.reason == ending
    assert event.data.session_id == json.loads(body)["data"]["id"]
    assert event.data.email == "example@example.org"


def test_emails_pass_through_keyed_by_their_user() -> None:
    body = simulator(handler).sample("email.created")
    [event] = normalize(body)
    assert event.type == "clerk.email.created"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)
    assert event.key == json.loads(body)["data"]["user_id"]


def test_an_organization_event_passes_through_keyed_by_delivery() -> None:
    payload = {"type": "organization.created", "object": "event", "data": {"id": "org_1"}}
    [event] = normalize(payload)
    assert event.type == "clerk.organization.created"
    assert event.key == "msg_1"


def test_a_user_event_without_id_fails_normalization_for_replay() -> None:
    with pytest.raises(KeyError):
        normalize({**DOCUMENTED_USER_CREATED, "data": {"object": "user"}})


# -- configuration --------------------------------------------------------------------


def test_a_signing_secret_is_required_and_public_keys_are_not_a_clerk_option() -> None:
    with pytest.raises(ConfigError, match="needs 'secrets'"):
        handler.check_config(SourceConfig(name="clerk", vendor="clerk"))
    with pytest.raises(ConfigError, match="public_keys"):
        handler.check_config(
            SourceConfig(
                name="clerk",
                vendor="clerk",
                secrets=(SECRET,),
                options=RawOptions.of(
                    {"public_keys": ["whpk_wuzPrKxPfWpJSsXgyg/MEoMGvjs5SjDO4ad6X4ZYqqg="]}
                ),
            )
        )
    with pytest.raises(ConfigError, match=r"secrets\[0\]"):
        handler.check_config(SourceConfig(name="clerk", vendor="clerk", secrets=("whsec_@@@",)))
