from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pusher
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pusher.signature import sign as pusher_sign

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    PartlyMappedError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
)
from ingest.handlers.pusher import PusherHandler
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.realtime import ChannelOccupied, ChannelVacated, PresenceJoined, PresenceLeft
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import URL, identify, verify

handler = PusherHandler()
APP_ID, KEY, SECRET = "3", "278d425bdf160c739803", "7ad3773142a6692b25b8"  # Pusher's doc values
NOW = 1_700_000_000
source = handler.check_config(
    SourceConfig(
        name="pusher", vendor="pusher", secrets=(SECRET,), options=RawOptions.of({"app_key": KEY})
    )
)


def body_at(seconds: float, events: list[dict[str, object]] | None = None) -> bytes:
    """Pusher's documented webhook format."""
    events = events if events is not None else [{"name": "channel_occupied", "channel": "test"}]
    return json.dumps({"time_ms": int(seconds * 1000), "events": events}).encode()


def signed(body: bytes, secret: str = SECRET, key: str = KEY) -> dict[str, str]:
    """Signed by the SDK's own signing helper, as Pusher signs."""
    return {"x-pusher-key": key, "x-pusher-signature": pusher_sign(secret, body.decode())}


BODY = body_at(NOW)


def test_sdk_signed_webhook_is_accepted() -> None:
    verdict = verify(handler, BODY, signed(BODY), source, NOW)
    assert verdict.secret_index == 0
    assert verdict.signed_at == NOW


def test_what_we_sign_the_sdk_accepts() -> None:
    body = simulator(handler).sample(
        "batch"
    )  # time_ms is now: the SDK checks against the wall clock
    request_ = simulator(handler).sign(
        body, SigningContext(source=source, url=URL, secret=SECRET), NOW
    )
    client = pusher.Pusher(app_id=APP_ID, key=KEY, secret=SECRET)
    validated = client.validate_webhook(
        key=request_.headers["X-Pusher-Key"],
        signature=request_.headers["X-Pusher-Signature"],
        body=body.decode(),
    )
    assert validated == json.loads(body)
    headers = {k.lower(): v for k, v in request_.headers.items()}
    assert verify(handler, body, headers, source, time.time()).secret_index == 0


def test_sdk_and_we_agree_on_a_tampered_body() -> None:
    body = body_at(time.time())
    headers = signed(body)
    tampered = body.replace(b"channel_occupied", b"channel_vacated")
    client = pusher.Pusher(app_id=APP_ID, key=KEY, secret=SECRET)
    assert client.validate_webhook(KEY, headers["x-pusher-signature"], tampered.decode()) is None
    with pytest.raises(InvalidSignatureError):
        verify(handler, tampered, headers, source, time.time())


def test_wrong_key_is_rejected_even_with_a_good_signature() -> None:
    with pytest.raises(InvalidSignatureError, match="app key"):
        verify(handler, BODY, signed(BODY, key="another-app"), source, NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, signed(BODY, secret="not-the-secret"), source, NOW)


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_time_ms_outside_tolerance_either_way(skew: int) -> None:
    body = body_at(NOW + skew)
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, body, signed(body), source, NOW)


def test_time_ms_within_tolerance() -> None:
    body = body_at(NOW - 299)
    assert verify(handler, body, signed(body), source, NOW).signed_at == NOW - 299


def test_signed_body_without_time_ms_is_malformed() -> None:
    body = json.dumps({"events": []}).encode()
    with pytest.raises(MalformedRequestError, match="time_ms"):
        verify(handler, body, signed(body), source, NOW)


@pytest.mark.parametrize("missing", ["x-pusher-key", "x-pusher-signature"])
def test_missing_headers(missing: str) -> None:
    headers = {k: v for k, v in signed(BODY).items() if k != missing}
    with pytest.raises(MissingSignatureError):
        verify(handler, BODY, headers, source, NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(
        handler, source, BODY, {**signed(BODY), "x-pusher-signature": value}, NOW
    )
    assert_only_rejections(handler, source, BODY, {**signed(BODY), "x-pusher-key": value}, NOW)


def test_rotation_with_one_key() -> None:
    rotating = SourceConfig(
        name="p",
        vendor="pusher",
        secrets=("old-secret", SECRET),
        options=RawOptions.of({"app_key": KEY}),
    )
    assert verify(handler, BODY, signed(BODY), rotating, NOW).secret_index == 1


def test_rotation_to_a_new_key_and_secret_pair() -> None:
    """A second token has its own key; each key is checked only with its own secret."""
    rotating = handler.check_config(
        SourceConfig(
            name="p",
            vendor="pusher",
            secrets=("old-secret", SECRET),
            options=RawOptions.of({"app_key": ["old-key", KEY]}),
        )
    )
    assert verify(handler, BODY, signed(BODY), rotating, NOW).secret_index == 1
    with pytest.raises(InvalidSignatureError):  # the new key with the old secret
        verify(handler, BODY, signed(BODY, secret="old-secret"), rotating, NOW)


@pytest.mark.parametrize(
    "options",
    [{}, {"app_key": ""}, {"app_key": []}, {"app_key": ["a", "b"]}, {"app_key": KEY, "x": 1}],
)
def test_config_needs_one_key_or_one_per_secret(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        handler.check_config(
            SourceConfig(
                name="p", vendor="pusher", secrets=(SECRET,), options=RawOptions.of(options)
            )
        )


def test_identify_hashes_the_body() -> None:
    identity = identify(handler, BODY, {})
    assert identity.event_id == hashlib.sha256(BODY).hexdigest()
    assert identity.event_type == "channel_occupied"
    assert identify(handler, simulator(handler).sample("batch"), {}).event_type == "batch"
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"time_ms": 1}', {})


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {})
    return Delivery(
        "pusher", "pusher", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def test_batch_becomes_one_event_per_item() -> None:
    body = simulator(handler).sample("batch")
    events = handler.normalize(delivery(body))
    assert [e.type for e in events] == [
        "realtime.channel.occupied",
        "realtime.presence.joined",
        "pusher.client_event",
        "realtime.presence.left",
        "realtime.channel.vacated",
    ]
    sent = json.loads(body)["events"]
    assert isinstance(events[0].data, ChannelOccupied)
    assert isinstance(events[1].data, PresenceJoined)
    assert events[1].data.user_id == sent[1]["user_id"]
    assert isinstance(events[2].data, VendorPassthrough)
    assert events[2].data.payload == sent[2]
    assert isinstance(events[3].data, PresenceLeft)
    assert isinstance(events[4].data, ChannelVacated)
    assert {e.key for e in events} == {sent[0]["channel"]}
    assert len({e.item_id for e in events}) == 5
    assert events[0].time == datetime.fromtimestamp(json.loads(body)["time_ms"] / 1000, tz=UTC)


def test_item_ids_are_stable_and_tell_identical_events_apart() -> None:
    occupied: dict[str, object] = {"name": "channel_occupied", "channel": "c"}
    body = body_at(NOW, [occupied, {"name": "channel_vacated", "channel": "c"}, occupied])
    first = [e.item_id for e in handler.normalize(delivery(body))]
    again = [e.item_id for e in handler.normalize(delivery(body))]
    assert first == again
    assert len(set(first)) == 3


def test_a_member_event_without_its_user_is_set_aside_and_the_others_still_mapped() -> None:
    events: list[dict[str, object]] = [
        {"name": "member_added", "channel": "presence-x"},
        {"name": "channel_occupied", "channel": "presence-x"},
    ]
    with pytest.raises(PartlyMappedError) as caught:
        handler.normalize(delivery(body_at(NOW, events)))
    [(position, error)] = caught.value.failures
    assert position == 0
    assert isinstance(error, KeyError)
    [occupied] = caught.value.emitted
    assert occupied.type == "realtime.channel.occupied"


@settings(max_examples=200, deadline=None)
@given(
    key=st.one_of(st.just(KEY), st.text(max_size=50)),
    signature=st.text(max_size=100),
    body=st.one_of(
        st.binary(max_size=300),
        st.builds(body_at, st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)),
    ),
)
def test_random_input_only_ever_raises_rejections(key: str, signature: str, body: bytes) -> None:
    headers = {"x-pusher-key": key, "x-pusher-signature": signature}
    with contextlib.suppress(RejectedRequestError):
        verify(handler, body, headers, source, NOW)
    with contextlib.suppress(RejectedRequestError):
        identify(handler, body, headers)
    # A valid signature over arbitrary bytes must still end in a rejection, not a crash.
    with contextlib.suppress(RejectedRequestError):
        verify(handler, body, {"x-pusher-key": KEY, **_sign_bytes(body)}, source, NOW)


def _sign_bytes(body: bytes) -> dict[str, str]:
    return {"x-pusher-signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
