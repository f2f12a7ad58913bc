from __future__ import annotations

import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.segment import SegmentHandler
from ingest.schemas.analytics import (
    AnalyticsGroup,
    AnalyticsIdentify,
    AnalyticsPage,
    AnalyticsScreen,
    AnalyticsTrack,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, sign_headers, verify

handler = SegmentHandler()
SECRET = "segment-shared-secret"
OTHER = "another-shared-secret"
NOW = 1_700_000_000
source = SourceConfig(name="segment", vendor="segment", secrets=(SECRET,))

# The track example of Segment's Webhooks destination docs (compact JSON), and its X-Signature
# computed independently: `openssl dgst -sha1 -hmac segment-shared-secret` over the same bytes.
DOC_TRACK = (
    b'{"version":1,"type":"track","userId":"019mr8mf4r","event":"Purchased an Item",'
    b'"properties":{"revenue":"39.95","shippingMethod":"2-day"},'
    b'"timestamp":"2012-12-02T00:30:08.276Z"}'
)
DOC_TRACK_SIGNATURE = "6c469c149d311ecd1f740691c9900e4c01d24137"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return sign_headers(handler, body, secret, NOW)


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {})
    return Delivery(
        "segment", "segment", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def test_documented_example_with_an_independently_computed_signature() -> None:
    headers = {"X-Signature": DOC_TRACK_SIGNATURE}
    assert verify(handler, DOC_TRACK, headers, source, NOW).secret_index == 0
    # Hex is case-insensitive.
    headers = {"X-Signature": DOC_TRACK_SIGNATURE.upper()}
    assert verify(handler, DOC_TRACK, headers, source, NOW).secret_index == 0


def test_what_we_sign_is_hex_hmac_sha1_of_the_body() -> None:
    assert signed(DOC_TRACK)["X-Signature"] == DOC_TRACK_SIGNATURE


@pytest.mark.parametrize("kind", simulator(SegmentHandler).sample_types)
def test_samples_sign_and_verify(kind: str) -> None:
    body = simulator(handler).sample(kind)
    assert verify(handler, body, signed(body), source, time.time()).signed_at is None


def test_rotation_reports_which_secret_matched() -> None:
    rotating = SourceConfig(name="segment", vendor="segment", secrets=(OTHER, SECRET))
    assert verify(handler, DOC_TRACK, signed(DOC_TRACK), rotating, NOW).secret_index == 1


def test_tampering_and_wrong_secret_are_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_TRACK.replace(b"39.95", b"0.01"), signed(DOC_TRACK), source, NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_TRACK, signed(DOC_TRACK, OTHER), source, NOW)
    with pytest.raises(InvalidSignatureError):
        # SHA-256 of the body with the right key is still not what Segment sends.
        verify(handler, DOC_TRACK, {"X-Signature": "0" * 64}, source, NOW)


def test_missing_signature() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, DOC_TRACK, {}, source, NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(handler, source, DOC_TRACK, {"X-Signature": value}, NOW)


def test_identify_uses_message_id_and_type() -> None:
    body = simulator(handler).sample("identify")
    identity = identify(handler, body, {})
    assert (identity.event_id, identity.event_type) == (json.loads(body)["messageId"], "identify")
    # The documented examples omit messageId: the body's hash keeps redeliveries deduplicated.
    assert identify(handler, DOC_TRACK, {}).event_id == hashlib.sha256(DOC_TRACK).hexdigest()
    for bad in (b"[]", b'{"messageId": "m"}', b"not json", b'{"type": "track", "messageId": 5.5}'):
        with pytest.raises(MalformedRequestError):
            identify(handler, bad, {})


def test_track_normalizes() -> None:
    body = simulator(handler).sample("track")
    message = json.loads(body)
    [event] = handler.normalize(delivery(body))
    assert event.type == "analytics.track"
    assert isinstance(event.data, AnalyticsTrack)
    assert event.data.event == "Purchased an Item"
    assert event.data.properties == {"revenue": "39.95", "shippingMethod": "2-day"}
    assert event.data.message_id == message["messageId"]
    assert event.data.user_id == "019mr8mf4r" == event.key
    assert event.data.context["library"]["name"] == "analytics.js"
    assert event.time is not None
    assert event.item_id is None


def test_documented_track_without_message_id_normalizes() -> None:
    [event] = handler.normalize(delivery(DOC_TRACK))
    assert isinstance(event.data, AnalyticsTrack)
    assert event.data.occurred_at == datetime(2012, 12, 2, 0, 30, 8, 276000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("identify", AnalyticsIdentify),
        ("page", AnalyticsPage),
        ("screen", AnalyticsScreen),
        ("group", AnalyticsGroup),
    ],
)
def test_other_spec_calls_normalize(kind: str, model: type) -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample(kind)))
    assert isinstance(event.data, model)
    assert event.type == f"analytics.{kind}"


def test_identify_keeps_traits_and_group_its_id() -> None:
    [identified] = handler.normalize(delivery(simulator(handler).sample("identify")))
    assert isinstance(identified.data, AnalyticsIdentify)
    assert identified.data.traits["email"] == "achilles@segment.com"
    [grouped] = handler.normalize(delivery(simulator(handler).sample("group")))
    assert isinstance(grouped.data, AnalyticsGroup)
    assert grouped.data.group_id == "0e8c78ea9d97a7b8185e8632"


def test_alias_passes_through() -> None:
    body = simulator(handler).sample("alias")
    [event] = handler.normalize(delivery(body))
    assert event.type == "segment.alias"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)


def test_a_batch_is_one_event_per_message_each_its_own_item() -> None:
    messages = [
        json.loads(simulator(handler).sample(kind)) for kind in ("track", "identify", "alias")
    ]
    body = json.dumps(messages).encode()
    assert verify(handler, body, signed(body), source, NOW).secret_index == 0
    identity = identify(handler, body, {})
    assert identity.event_type == "batch"
    assert identity.event_id == hashlib.sha256(body).hexdigest()
    events = handler.normalize(delivery(body))
    assert [e.type for e in events] == ["analytics.track", "analytics.identify", "segment.alias"]
    assert [e.item_id for e in events] == [m["messageId"] for m in messages]


def test_track_without_event_name_raises_so_the_event_is_marked_failed() -> None:
    with pytest.raises(ValueError, match="event"):
        handler.normalize(delivery(b'{"type": "track", "messageId": "m1", "userId": "u"}'))


@settings(max_examples=200, deadline=None)
@given(
    signature=st.one_of(st.none(), st.text(max_size=80)),
    body=st.one_of(st.binary(max_size=300), st.just(DOC_TRACK)),
)
def test_random_headers_and_bodies_only_ever_reject(signature: str | None, body: bytes) -> None:
    headers = {} if signature is None else {"X-Signature": signature}
    inbound = request(body, headers)
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(inbound, source, NOW, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(inbound, source)
