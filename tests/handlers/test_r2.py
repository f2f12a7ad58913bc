from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.handlers.r2 import R2Handler
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.storage import StorageObjectCreated, StorageObjectDeleted
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests import support
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, sign_headers, verify

handler = R2Handler()
SECRET = support.STANDARD_SECRET
OTHER = "whsec_" + base64.b64encode(b"another-worker-secret-32-bytes!!").decode()
NOW = 1_716_579_404
source = SourceConfig(name="r2", vendor="r2", secrets=(SECRET,))

# Cloudflare's documented example message body (R2 → Event notifications → Message format).
DOC_MESSAGE: dict[str, Any] = {
    "account": "3f4b7e3dcab231cbfdaa90a6a28bd548",
    "action": "CopyObject",
    "bucket": "my-bucket",
    "object": {"key": "my-new-object", "size": 65536, "eTag": "c846ff7a18f28c2e262116d6e8719ef0"},
    "eventTime": "2024-05-24T19:36:44.379Z",
    "copySource": {"bucket": "my-bucket", "object": "my-original-object"},
}


def worker_request(
    message: Mapping[str, Any], message_id: str, secret: str, at: int
) -> tuple[bytes, dict[str, str]]:
    """What the docs/vendors/r2.md Worker sends, computed step by step as its JavaScript does:
    body = JSON.stringify(message.body); key = base64-decode(secret minus whsec_);
    signature = base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`))."""
    body = json.dumps(message, separators=(",", ":")).encode()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{at}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(at),
        "webhook-signature": f"v1,{base64.b64encode(mac).decode()}",
    }
    return body, headers


def delivery(body: bytes, headers: dict[str, str]) -> Delivery:
    identity = identify(handler, body, headers, source)
    return Delivery("r2", "r2", identity.event_id, identity.event_type, body, datetime.now(UTC))


def test_worker_signed_documented_message_becomes_storage_object_created() -> None:
    body, headers = worker_request(DOC_MESSAGE, "8a9b3c1d2e4f", SECRET, NOW)
    assert verify(handler, body, headers, source, NOW).signed_at == NOW
    identity = identify(handler, body, headers, source)
    assert identity.event_id == "8a9b3c1d2e4f"
    assert identity.event_type == "CopyObject"
    [event] = handler.normalize(delivery(body, headers))
    assert event.type == "storage.object.created"
    assert isinstance(event.data, StorageObjectCreated)
    assert event.data.provider == "r2"
    assert event.data.bucket == "my-bucket"
    assert event.data.key == "my-new-object"
    assert event.data.size == 65536
    assert event.data.etag == "c846ff7a18f28c2e262116d6e8719ef0"
    assert event.data.occurred_at == datetime(2024, 5, 24, 19, 36, 44, 379000, tzinfo=UTC)
    assert event.key == "r2:my-bucket/my-new-object"


def test_what_sign_makes_verifies() -> None:
    body = simulator(handler).sample("PutObject")
    headers = sign_headers(handler, body, SECRET, NOW)
    assert verify(handler, body, headers, source, NOW).secret_index == 0


def test_rotation() -> None:
    body, headers = worker_request(DOC_MESSAGE, "m1", SECRET, NOW)
    rotating = SourceConfig(name="r2", vendor="r2", secrets=(OTHER, SECRET))
    assert verify(handler, body, headers, rotating, NOW).secret_index == 1


def test_tampering_is_rejected() -> None:
    body, headers = worker_request(DOC_MESSAGE, "m1", SECRET, NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body.replace(b"65536", b"1"), headers, source, NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, {**headers, "webhook-id": "m2"}, source, NOW)
    _, wrong = worker_request(DOC_MESSAGE, "m1", OTHER, NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, wrong, source, NOW)
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, body, headers, source, NOW + 301)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    body, headers = worker_request(DOC_MESSAGE, "m1", SECRET, NOW)
    assert_only_rejections(handler, source, body, {**headers, header: value}, NOW)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
        st.text(max_size=100),
    ),
    body=st.binary(max_size=200),
)
def test_property_random_input_only_rejects(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(RejectedRequestError):
        handler.verify(Verification(request(body, headers), source, NOW, {}))


@pytest.mark.parametrize(
    ("action", "model"),
    [
        ("PutObject", StorageObjectCreated),
        ("CompleteMultipartUpload", StorageObjectCreated),
        ("DeleteObject", StorageObjectDeleted),
        ("LifecycleDeletion", StorageObjectDeleted),
    ],
)
def test_actions_map_to_storage_events(action: str, model: type) -> None:
    body = simulator(handler).sample(action)
    headers = sign_headers(handler, body, SECRET, NOW)
    [event] = handler.normalize(delivery(body, headers))
    assert isinstance(event.data, model)
    if isinstance(event.data, StorageObjectDeleted):
        assert event.data.size is None


def test_unknown_action_passes_through() -> None:
    message = {**DOC_MESSAGE, "action": "RestoreObject"}
    body, headers = worker_request(message, "m3", SECRET, NOW)
    [event] = handler.normalize(delivery(body, headers))
    assert event.type == "r2.RestoreObject"
    assert isinstance(event.data, VendorPassthrough)


def test_identify_needs_webhook_id_and_action() -> None:
    body, headers = worker_request(DOC_MESSAGE, "m1", SECRET, NOW)
    with pytest.raises(MalformedRequestError):
        identify(handler, body, {k: v for k, v in headers.items() if k != "webhook-id"})
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"bucket": "b"}', headers)
