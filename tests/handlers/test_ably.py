from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.ably import AblyHandler
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.realtime import ChannelOccupied, ChannelVacated, PresenceJoined, PresenceLeft
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, sign_headers, verify

handler = AblyHandler()
KEY_NAME, KEY_SECRET = "xVLyHw.A-pwh7", "fake-key-secret-for-tests"
API_KEY = f"{KEY_NAME}:{KEY_SECRET}"  # what the dashboard's API Keys tab shows
source = handler.check_config(SourceConfig(name="ably", vendor="ably", secrets=(API_KEY,)))

# The batched payload examples in Ably's "Outbound webhooks" documentation.
LIFECYCLE_ITEM: dict[str, Any] = {
    "webhookId": "ABcDEf",
    "source": "channel.lifecycle",
    "timestamp": 1562124922426,
    "serial": "a7bcdEFghIjklm123456789:4",
    "name": "channel.opened",
    "data": {
        "channelId": "chat-channel-5",
        "name": "chat-channel-5",
        "status": {"isActive": True, "occupancy": {"metrics": {"connections": 1}}},
    },
}
PRESENCE_ITEM: dict[str, Any] = {
    "webhookId": "ABcDEf",
    "source": "channel.presence",
    "serial": "a7bcdEFghIjklm123456789:4",
    "timestamp": 1562124922426,
    "name": "presence.message",
    "data": {
        "channelId": "education-channel",
        "site": "eu-west-1-A",
        "presence": [
            {
                "id": "ABcDefgHIj:1:0",
                "clientId": "bob",
                "connectionId": "ABcDefgHIj",
                "timestamp": 1123145678900,
                "data": "the message data",
                "action": 4,
            }
        ],
    },
}
MESSAGE_ITEM: dict[str, Any] = {
    "webhookId": "ABcDEf",
    "source": "channel.message",
    "serial": "a7bcdEFghIjklm123456789:4",
    "timestamp": 1562124922426,
    "name": "channel.message",
    "data": {
        "channelId": "chat-channel-4",
        "site": "eu-west-1-A",
        "messages": [
            {
                "id": "ABcDefgHIj:1:0",
                "clientId": "user-3",
                "connectionId": "ABcDefgHIj",
                "timestamp": 1123145678900,
                "data": "the message data",
                "name": "a message name",
            }
        ],
    },
}


def batch(*items: dict[str, Any]) -> bytes:
    return json.dumps({"items": list(items)}).encode()


def signed(body: bytes, key_header: str = KEY_NAME, secret: str = KEY_SECRET) -> dict[str, str]:
    """By hand, following the steps in Ably's "Webhook security" documentation."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"x-ably-key": key_header, "x-ably-signature": base64.b64encode(digest).decode()}


BODY = batch(LIFECYCLE_ITEM)


def test_documented_steps_verify() -> None:
    assert verify(handler, BODY, signed(BODY), source, 0).secret_index == 0


def test_key_header_may_be_the_bare_key_id() -> None:
    assert verify(handler, BODY, signed(BODY, key_header="A-pwh7"), source, 0).secret_index == 0


def test_what_we_sign_we_accept() -> None:
    body = simulator(handler).sample("channel.presence")
    headers = {k.lower(): v for k, v in sign_headers(handler, body, API_KEY, 0).items()}
    assert headers["x-ably-key"] == KEY_NAME
    assert headers == {**headers, **signed(body)}
    assert verify(handler, body, headers, source, 0).secret_index == 0


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY.replace(b"opened", b"closed"), signed(BODY), source, 0)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, signed(BODY, secret="other"), source, 0)


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError, match="names no configured"):
        verify(handler, BODY, signed(BODY, key_header="xVLyHw.other"), source, 0)


def test_the_whole_api_key_is_not_a_signing_secret() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, signed(BODY, secret=API_KEY), source, 0)


@pytest.mark.parametrize("missing", ["x-ably-key", "x-ably-signature"])
def test_missing_headers(missing: str) -> None:
    """Ably signs batched requests only: an unsigned single request is refused."""
    headers = {k: v for k, v in signed(BODY).items() if k != missing}
    with pytest.raises(MissingSignatureError):
        verify(handler, BODY, headers, source, 0)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    for header in ("x-ably-key", "x-ably-signature"):
        assert_only_rejections(handler, source, BODY, {**signed(BODY), header: value}, 0)


def test_rotation_reports_which_key_matched() -> None:
    rotating = SourceConfig(name="ably", vendor="ably", secrets=("xVLyHw.old:old-secret", API_KEY))
    assert verify(handler, BODY, signed(BODY), rotating, 0).secret_index == 1


@pytest.mark.parametrize("bad", ["just-a-secret", "xVLyHw.A-pwh7:", ":secret", "nodot:secret"])
def test_config_needs_whole_api_keys(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"secrets\[0\]") as caught:
        handler.check_config(SourceConfig(name="ably", vendor="ably", secrets=(bad,)))
    assert bad not in str(caught.value)  # names the key, never the value


def test_identify_hashes_the_body() -> None:
    identity = identify(handler, BODY, {})
    assert identity.event_id == hashlib.sha256(BODY).hexdigest()
    assert identity.event_type == "channel.lifecycle"
    assert identify(handler, batch(LIFECYCLE_ITEM, MESSAGE_ITEM), {}).event_type == "batch"
    with pytest.raises(MalformedRequestError, match="items"):
        identify(handler, b'{"source": "channel.message"}', {})  # an enveloped single request


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {})
    return Delivery("ably", "ably", identity.event_id, identity.event_type, body, datetime.now(UTC))


def test_channel_opened_and_closed_map_to_occupied_and_vacated() -> None:
    closed = {**LIFECYCLE_ITEM, "name": "channel.closed", "serial": "x:5"}
    opened, vacated = handler.normalize(delivery(batch(LIFECYCLE_ITEM, closed)))
    assert opened.type == "realtime.channel.occupied"
    assert isinstance(opened.data, ChannelOccupied)
    assert opened.data.channel == opened.key == "chat-channel-5"
    assert opened.time == datetime(2019, 7, 3, 3, 35, 22, 426000, tzinfo=UTC)
    assert opened.item_id == "ABcDEf:a7bcdEFghIjklm123456789:4"
    assert isinstance(vacated.data, ChannelVacated)
    assert vacated.item_id == "ABcDEf:x:5"


def test_presence_enter_and_leave_map_to_joined_and_left() -> None:
    item = json.loads(json.dumps(PRESENCE_ITEM))
    item["data"]["presence"] = [
        {**item["data"]["presence"][0], "action": 2},
        {**item["data"]["presence"][0], "id": "ABcDefgHIj:2:0", "action": 3},
        {**item["data"]["presence"][0], "id": "ABcDefgHIj:3:0", "action": 4},
    ]
    joined, left, updated = handler.normalize(delivery(batch(item)))
    assert isinstance(joined.data, PresenceJoined)
    assert (joined.data.user_id, joined.data.connection_id) == ("bob", "ABcDefgHIj")
    assert joined.key == "education-channel"
    assert isinstance(left.data, PresenceLeft)
    assert updated.type == "ably.presence.update"
    assert isinstance(updated.data, VendorPassthrough)
    assert [e.item_id for e in (joined, left, updated)] == [
        "ABcDEf:a7bcdEFghIjklm123456789:4:ABcDefgHIj:1:0",
        "ABcDEf:a7bcdEFghIjklm123456789:4:ABcDefgHIj:2:0",
        "ABcDEf:a7bcdEFghIjklm123456789:4:ABcDefgHIj:3:0",
    ]


def test_documented_presence_update_passes_through() -> None:
    [event] = handler.normalize(delivery(batch(PRESENCE_ITEM)))
    assert event.type == "ably.presence.update"


def test_messages_pass_through() -> None:
    [event] = handler.normalize(delivery(batch(MESSAGE_ITEM)))
    assert event.type == "ably.channel.message"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == MESSAGE_ITEM
    assert event.key == "chat-channel-4"


def test_items_without_serial_are_identified_by_content() -> None:
    item = {k: v for k, v in LIFECYCLE_ITEM.items() if k != "serial"}
    [first] = handler.normalize(delivery(batch(item)))
    [again] = handler.normalize(delivery(batch(MESSAGE_ITEM, item)))[1:]
    assert first.item_id is not None
    assert first.item_id.startswith("sha256:")
    assert first.item_id == again.item_id


@settings(max_examples=200, deadline=None)
@given(
    key=st.one_of(st.just(KEY_NAME), st.text(max_size=50)),
    signature=st.text(max_size=100),
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
)
def test_random_input_only_ever_raises_rejections(key: str, signature: str, body: bytes) -> None:
    headers = {"x-ably-key": key, "x-ably-signature": signature}
    with contextlib.suppress(RejectedRequestError):
        verify(handler, body, headers, source, 0)
    with contextlib.suppress(RejectedRequestError):
        identify(handler, body, headers)
