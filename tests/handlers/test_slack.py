from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    lower_headers,
)
from ingest.handlers.slack import SlackHandler
from ingest.schemas.chat import (
    ChatAppMention,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ChatReactionAdded,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, sign_headers, verify

handler = SlackHandler()

# Slack's documented example ("Verifying requests from Slack", also python-slack-sdk's tests).
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibI"
    b"GlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

source = SourceConfig(name="slack", vendor="slack", secrets=(DOC_SECRET,))
NOW = DOC_TIMESTAMP


class FixedClock:
    """The SDK's clock, pinned: its verifier then checks the timestamp against our `now`."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def sdk_headers(body: bytes, at: int = NOW, secret: str = DOC_SECRET) -> dict[str, str]:
    """Signed by the SDK, as Slack signs."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=body)
    assert signature is not None
    return {"x-slack-request-timestamp": str(at), "x-slack-signature": signature}


def test_slacks_documented_example() -> None:
    headers = {"x-slack-request-timestamp": str(DOC_TIMESTAMP), "x-slack-signature": DOC_SIGNATURE}
    verdict = verify(handler, DOC_BODY, headers, source, DOC_TIMESTAMP)
    assert (verdict.secret_index, verdict.signed_at) == (0, DOC_TIMESTAMP)


def test_what_the_sdk_signs_we_accept() -> None:
    body = simulator(handler).sample("message")
    assert verify(handler, body, sdk_headers(body), source, NOW).secret_index == 0


def test_what_we_sign_the_sdk_accepts() -> None:
    body = simulator(handler).sample("app_mention")
    headers = sign_headers(handler, body, DOC_SECRET, NOW)
    verifier = SignatureVerifier(DOC_SECRET, clock=FixedClock(NOW))  # type: ignore[arg-type]
    assert verifier.is_valid_request(body, headers)
    assert verify(handler, body, lower_headers(headers), source, NOW).secret_index == 0


def test_tampered_body_is_rejected() -> None:
    headers = {"x-slack-request-timestamp": str(DOC_TIMESTAMP), "x-slack-signature": DOC_SIGNATURE}
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY + b"------", headers, source, NOW)


def test_timestamp_is_signed() -> None:
    headers = {"x-slack-request-timestamp": str(NOW + 1), "x-slack-signature": DOC_SIGNATURE}
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY, headers, source, NOW)


def test_wrong_secret_is_rejected() -> None:
    body = simulator(handler).sample("message")
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, sdk_headers(body, secret="another-secret"), source, NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_timestamp_outside_tolerance_either_way(skew: int) -> None:
    body = simulator(handler).sample("message")
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, body, sdk_headers(body, at=NOW + skew), source, NOW)


def test_configured_tolerance_wins() -> None:
    strict = SourceConfig(name="slack", vendor="slack", secrets=(DOC_SECRET,), tolerance_seconds=5)
    body = simulator(handler).sample("message")
    assert verify(handler, body, sdk_headers(body, at=NOW - 5), strict, NOW).secret_index == 0
    with pytest.raises(RejectedRequestError, match="5s"):
        verify(handler, body, sdk_headers(body, at=NOW - 6), strict, NOW)


@pytest.mark.parametrize("missing", ["x-slack-signature", "x-slack-request-timestamp"])
def test_missing_headers(missing: str) -> None:
    body = simulator(handler).sample("message")
    headers = {k: v for k, v in sdk_headers(body).items() if k != missing}
    with pytest.raises(MissingSignatureError):
        verify(handler, body, headers, source, NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    body = simulator(handler).sample("message")
    for header in ("x-slack-signature", "x-slack-request-timestamp"):
        assert_only_rejections(handler, source, body, {**sdk_headers(body), header: value}, NOW)


@pytest.mark.parametrize("timestamp", ["١٥٣١٤٢٠٦١٨", "²", "1531420618.5", "-1"])
def test_timestamps_that_are_not_ascii_unix_seconds_are_rejected(timestamp: str) -> None:
    headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": DOC_SIGNATURE}
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY, headers, source, NOW)


def test_rotation_reports_which_secret_matched() -> None:
    rotating = SourceConfig(name="slack", vendor="slack", secrets=("old-secret", DOC_SECRET))
    body = simulator(handler).sample("message")
    assert verify(handler, body, sdk_headers(body), rotating, NOW).secret_index == 1


# -- handshake and identification --------------------------------------------------------


def test_url_verification_is_a_handshake_answered_with_its_challenge() -> None:
    body = json.dumps(
        {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    ).encode()
    identity = identify(handler, body, {})
    assert identity.handshake is True
    assert identity.event_type == "url_verification"
    reply = handler.reply(request(body, {}), identity)
    assert reply is not None
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }
    assert handler.normalize(delivery(body)) == []


def test_a_challenge_json_escapes_beyond_utf8_is_answered_not_crashed_on() -> None:
    """JSON can escape a lone surrogate, which UTF-8 cannot encode: the challenge's id (a
    digest) must still be computed, or a signed handshake would be a 500."""
    body = b'{"type": "url_verification", "challenge": "c-\\ud800"}'
    identity = identify(handler, body, {})
    assert identity.handshake is True
    assert identity.event_id.startswith("url_verification:")
    reply = handler.reply(request(body, {}), identity)
    assert reply is not None
    assert json.loads(reply.body) == {"challenge": "c-\ud800"}


def test_event_callbacks_get_no_special_reply() -> None:
    body = simulator(handler).sample("message")
    assert handler.reply(request(body, {}), identify(handler, body, {})) is None


def test_retries_carry_the_same_event_id() -> None:
    body = simulator(handler).sample("reaction_added")
    first = identify(handler, body, sdk_headers(body))
    retry = identify(
        handler,
        body,
        {**sdk_headers(body, NOW + 60), "x-slack-retry-num": "1", "x-slack-retry-reason": "x"},
    )
    assert first == retry
    assert first.event_id == json.loads(body)["event_id"]
    assert first.event_type == "reaction_added"


def test_a_slash_command_is_identified_acknowledged_empty_and_passed_on_without_its_token() -> None:
    """Slack's own signing example is a slash command: a form, not an Events API body."""
    identity = identify(handler, DOC_BODY, {})
    assert identity.event_type == "slash_command"
    assert identity.event_id == "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    reply = handler.reply(request(DOC_BODY, {}), identity)
    assert reply is not None
    assert (reply.status, reply.body) == (200, b"")
    [emitted] = handler.normalize(delivery(DOC_BODY))
    assert emitted.type == "slack.slash_command"
    assert isinstance(emitted.data, VendorPassthrough)
    assert emitted.data.payload["command"] == "/webhook-collect"
    assert "token" not in emitted.data.payload


def test_an_interaction_is_its_payload_type() -> None:
    body = simulator(handler).sample("block_actions")
    identity = identify(handler, body, {})
    assert identity.event_type == "block_actions"
    [emitted] = handler.normalize(delivery(body))
    assert emitted.type == "slack.block_actions"
    assert isinstance(emitted.data, VendorPassthrough)
    assert emitted.data.payload["actions"][0]["action_id"] == "approve"
    assert "token" not in emitted.data.payload


def test_an_event_callback_without_an_event_is_refused() -> None:
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"type": "event_callback", "event_id": "Ev1"}', {})


def test_app_rate_limited_is_one_event_per_minute() -> None:
    body = json.dumps(
        {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "type": "app_rate_limited",
            "team_id": "T123456",
            "minute_rate_limited": 1518467820,
            "api_app_id": "A123456",
        }
    ).encode()
    identity = identify(handler, body, {})
    assert identity.event_id == "app_rate_limited:A123456:1518467820"
    [event] = handler.normalize(delivery(body))
    assert event.type == "slack.app_rate_limited"


# -- normalization -----------------------------------------------------------------------


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {})
    return Delivery(
        "slack", "slack", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def with_event(**event: Any) -> bytes:
    document = json.loads(simulator(handler).sample("message"))
    document["event"] = {**document["event"], **event}
    return json.dumps(document).encode()


def test_message_normalizes() -> None:
    body = simulator(handler).sample("message")
    document = json.loads(body)
    [event] = handler.normalize(delivery(body))
    assert event.type == "chat.message.posted"
    assert isinstance(event.data, ChatMessagePosted)
    assert event.data.text == "Live long and prospect."
    assert (event.data.team_id, event.data.channel) == ("T123ABC456", "C123ABC456")
    assert event.key == "T123ABC456:C123ABC456"
    assert event.data.occurred_at == datetime.fromtimestamp(document["event_time"], tz=UTC)


def test_thread_reply_and_bot_message_are_posted_messages() -> None:
    [reply] = handler.normalize(delivery(with_event(thread_ts="1355517523.000005")))
    assert isinstance(reply.data, ChatMessagePosted)
    assert reply.data.thread_ts == "1355517523.000005"
    [bot] = handler.normalize(delivery(with_event(subtype="bot_message", user=None)))
    assert isinstance(bot.data, ChatMessagePosted)
    assert (bot.data.subtype, bot.data.user) == ("bot_message", None)


def test_edited_and_deleted_messages() -> None:
    changed = with_event(
        subtype="message_changed",
        message={"type": "message", "user": "U1", "text": "fixed", "ts": "1.000001"},
    )
    [edited] = handler.normalize(delivery(changed))
    assert isinstance(edited.data, ChatMessageEdited)
    assert (edited.data.text, edited.data.ts) == ("fixed", "1.000001")
    [deleted] = handler.normalize(
        delivery(with_event(subtype="message_deleted", deleted_ts="1.000001"))
    )
    assert isinstance(deleted.data, ChatMessageDeleted)
    assert deleted.data.ts == "1.000001"


def test_other_message_subtypes_pass_through() -> None:
    [event] = handler.normalize(delivery(with_event(subtype="channel_join")))
    assert event.type == "slack.message"
    assert isinstance(event.data, VendorPassthrough)


def test_app_mention_normalizes() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("app_mention")))
    assert event.type == "chat.app_mention"
    assert isinstance(event.data, ChatAppMention)
    assert event.data.user == "U061F7AUR"


def test_reaction_added_is_keyed_by_the_messages_channel() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("reaction_added")))
    assert event.type == "chat.reaction.added"
    assert isinstance(event.data, ChatReactionAdded)
    assert (event.data.reaction, event.data.item_ts) == ("thumbsup", "1360782400.498405")
    assert event.key == "T123ABC456:C123ABC456"


def test_other_events_pass_through() -> None:
    body = simulator(handler).sample("channel_created")
    [event] = handler.normalize(delivery(body))
    assert event.type == "slack.channel_created"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)


@settings(max_examples=200, deadline=None)
@given(
    signature=st.one_of(st.text(max_size=100), st.text(max_size=64).map(lambda s: "v0=" + s)),
    timestamp=st.one_of(st.text(max_size=20), st.integers(-(10**15), 10**15).map(str)),
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
)
def test_random_input_only_ever_raises_rejections(
    signature: str, timestamp: str, body: bytes
) -> None:
    headers = {"x-slack-signature": signature, "x-slack-request-timestamp": timestamp}
    with contextlib.suppress(RejectedRequestError):
        verify(handler, body, headers, source, NOW)
    with contextlib.suppress(RejectedRequestError):
        identify(handler, body, headers)
