from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from sendgrid.helpers.eventwebhook import EventWebhook

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.handlers.sendgrid import SendGridHandler, item_id
from ingest.schemas.email import (
    EmailBounced,
    EmailClicked,
    EmailComplained,
    EmailDeferred,
    EmailDelivered,
    EmailDropped,
    EmailOpened,
    EmailUnsubscribed,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.simulation.sendgrid import public_key_text
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import URL, identify, request, verify

handler = SendGridHandler()

# sendgrid-python's test vector (test/unit/test_eventwebhook.py): SendGrid's documented dropped
# event, signed by SendGrid, with the trailing CRLF SendGrid's body ends with.
DOC_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
    "2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
DOC_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15Tlu"
    "LtEZtM="
)
DOC_TIMESTAMP = "1600112502"
DOC_BODY = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": (
                    "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0"
                ),
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()
# The SDK's "bad key" from the same test file: a valid P-256 key that did not sign the vector.
OTHER_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo"
    "7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
)
DOC_NOW = int(DOC_TIMESTAMP) + 30
DOC_HEADERS = {
    "X-Twilio-Email-Event-Webhook-Signature": DOC_SIGNATURE,
    "X-Twilio-Email-Event-Webhook-Timestamp": DOC_TIMESTAMP,
}


def source_for(*keys: str, tolerance: int | None = None) -> SourceConfig:
    return SourceConfig(
        name="sendgrid",
        vendor="sendgrid",
        tolerance_seconds=tolerance,
        options=RawOptions.of({"public_keys": list(keys)}),
    )


doc_source = source_for(DOC_PUBLIC_KEY)


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    simulator(handler).generate_keys(directory)
    return directory


def local_public_key(key_dir: Path) -> str:
    pem = (key_dir / "sendgrid" / "private.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return public_key_text(private.public_key())


def signed(key_dir: Path, body: bytes, now: int) -> dict[str, str]:
    source = source_for(local_public_key(key_dir))
    context = SigningContext(source=source, url=URL, key_dir=key_dir)
    return simulator(handler).sign(body, context, now).headers


# -- the documented example and the SDK ---------------------------------------------------------


def test_documented_example_verifies() -> None:
    verdict = verify(handler, DOC_BODY, DOC_HEADERS, doc_source, DOC_NOW)
    assert verdict.secret_index == 0
    assert verdict.signed_at == int(DOC_TIMESTAMP)


def test_documented_example_normalizes_to_email_dropped() -> None:
    identity = identify(handler, DOC_BODY, DOC_HEADERS, doc_source)
    assert identity.event_id == hashlib.sha256(DOC_BODY).hexdigest()
    assert identity.event_type == "dropped"
    delivery = Delivery("sendgrid", "sendgrid", identity.event_id, "dropped", DOC_BODY, now())
    [event] = handler.normalize(delivery)
    assert event.type == "email.dropped"
    assert event.item_id == "sg:ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"
    assert isinstance(event.data, EmailDropped)
    assert event.data.recipient == "hello@world.com"
    assert event.data.reason == "Bounced Address"
    assert event.data.occurred_at == datetime.fromtimestamp(1600112492, tz=UTC)
    assert event.key == "hello@world.com"


def test_pem_public_key_is_accepted_too() -> None:
    der = base64.b64decode(DOC_PUBLIC_KEY)
    key = serialization.load_der_public_key(der)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert verify(handler, DOC_BODY, DOC_HEADERS, source_for(pem), DOC_NOW).secret_index == 0


def test_what_we_sign_the_sdk_accepts(key_dir: Path) -> None:
    body = simulator(handler).sample("delivered")
    headers = signed(key_dir, body, DOC_NOW)
    sdk = EventWebhook(local_public_key(key_dir))
    assert sdk.verify_signature(
        body.decode(),
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        headers["X-Twilio-Email-Event-Webhook-Timestamp"],
    )
    assert verify(handler, body, headers, source_for(local_public_key(key_dir)), DOC_NOW)


def test_what_the_sdk_accepts_we_accept() -> None:
    """Signed with cryptography as SendGrid signs; the SDK's verifier agrees, and so do we."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = public_key_text(private.public_key())
    body = simulator(handler).sample("bounce")
    timestamp = str(DOC_NOW)
    signature = base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    assert EventWebhook(public).verify_signature(body.decode(), signature, timestamp)
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    assert verify(handler, body, headers, source_for(public), DOC_NOW).signed_at == DOC_NOW


# -- tampering ----------------------------------------------------------------------------------


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY.replace(b"dropped", b"delivr"), DOC_HEADERS, doc_source, DOC_NOW)
    # Even the trailing CRLF is signed.
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY.rstrip(), DOC_HEADERS, doc_source, DOC_NOW)


def test_tampered_timestamp_is_rejected() -> None:
    headers = {**DOC_HEADERS, "X-Twilio-Email-Event-Webhook-Timestamp": str(DOC_NOW)}
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY, headers, doc_source, DOC_NOW)


def test_sdk_bad_signature_vector_is_rejected() -> None:
    bad = (
        "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFD"
        "WYNH3j/0="
    )
    headers = {**DOC_HEADERS, "X-Twilio-Email-Event-Webhook-Signature": bad}
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY, headers, doc_source, DOC_NOW)


def test_wrong_key_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY, DOC_HEADERS, source_for(OTHER_PUBLIC_KEY), DOC_NOW)


def test_rotation_reports_the_matching_key() -> None:
    rotating = source_for(OTHER_PUBLIC_KEY, DOC_PUBLIC_KEY)
    assert verify(handler, DOC_BODY, DOC_HEADERS, rotating, DOC_NOW).secret_index == 1


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_timestamp_outside_default_tolerance(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, DOC_BODY, DOC_HEADERS, doc_source, int(DOC_TIMESTAMP) + skew)


def test_tolerance_is_configurable() -> None:
    lenient = source_for(DOC_PUBLIC_KEY, tolerance=3600)
    assert verify(handler, DOC_BODY, DOC_HEADERS, lenient, int(DOC_TIMESTAMP) + 3000)


@pytest.mark.parametrize(
    "missing",
    ["X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"],
)
def test_missing_headers(missing: str) -> None:
    headers = {k: v for k, v in DOC_HEADERS.items() if k != missing}
    with pytest.raises(MissingSignatureError):
        verify(handler, DOC_BODY, headers, doc_source, DOC_NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize(
    "header",
    ["X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"],
)
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    assert_only_rejections(handler, doc_source, DOC_BODY, {**DOC_HEADERS, header: value}, DOC_NOW)


def test_unicode_digit_timestamp_is_rejected_not_crashed() -> None:
    headers = {**DOC_HEADERS, "X-Twilio-Email-Event-Webhook-Timestamp": "\u00b2"}
    with pytest.raises(InvalidSignatureError):
        verify(handler, DOC_BODY, headers, doc_source, DOC_NOW)


@settings(max_examples=200, deadline=None)
@given(
    signature=st.text(max_size=200),
    timestamp=st.text(max_size=20),
    body=st.binary(max_size=300),
)
def test_property_random_input_only_rejects(signature: str, timestamp: str, body: bytes) -> None:
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    with pytest.raises(RejectedRequestError):
        handler.verify(Verification(request(body, headers), doc_source, DOC_NOW, {}))


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["not a key", "AAAA", OTHER_PUBLIC_KEY[:-8]])
def test_unusable_public_key_is_a_config_error_naming_the_index(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"public_keys\[1\]"):
        handler.check_config(source_for(DOC_PUBLIC_KEY, bad))


def test_public_keys_are_required() -> None:
    with pytest.raises(ConfigError, match="public_keys"):
        handler.check_config(SourceConfig(name="sendgrid", vendor="sendgrid"))


# -- identify and normalize ---------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def batch(*names: str) -> bytes:
    events = [json.loads(simulator(handler).sample(name))[0] for name in names]
    return json.dumps(events).encode()


def test_identify_rejects_non_arrays() -> None:
    for body in (b'{"event": "open"}', b"[1, 2]", b"not json"):
        with pytest.raises(MalformedRequestError):
            identify(handler, body, {})
    assert identify(handler, b'[{"event": ["x"]}]', {}).event_type == "batch"


def test_a_batch_becomes_one_event_per_item_with_stable_item_ids() -> None:
    names = (
        "processed",
        "delivered",
        "bounce",
        "dropped",
        "deferred",
        "spamreport",
        "open",
        "click",
        "unsubscribe",
        "group_unsubscribe",
    )
    body = batch(*names)
    identity = identify(handler, body, {})
    assert identity.event_type == "batch"
    emitted = handler.normalize(
        Delivery("sendgrid", "sendgrid", identity.event_id, "batch", body, now())
    )
    assert [e.type for e in emitted] == [
        "sendgrid.processed",
        "email.delivered",
        "email.bounced",
        "email.dropped",
        "email.deferred",
        "email.complained",
        "email.opened",
        "email.clicked",
        "email.unsubscribed",
        "email.unsubscribed",
    ]
    items = json.loads(body)
    assert [e.item_id for e in emitted] == [f"sg:{item['sg_event_id']}" for item in items]
    types = (
        VendorPassthrough,
        EmailDelivered,
        EmailBounced,
        EmailDropped,
        EmailDeferred,
        EmailComplained,
        EmailOpened,
        EmailClicked,
        EmailUnsubscribed,
        EmailUnsubscribed,
    )
    assert all(isinstance(e.data, t) for e, t in zip(emitted, types, strict=True))
    bounced, deferred, clicked, group = (
        emitted[2].data,
        emitted[4].data,
        emitted[7].data,
        emitted[9],
    )
    assert isinstance(bounced, EmailBounced)
    assert bounced.bounce_type == "hard"
    assert bounced.diagnostic == "5.0.0"
    assert bounced.tags == ["cat facts"]
    assert isinstance(deferred, EmailDeferred)
    assert deferred.attempt == 5
    assert isinstance(clicked, EmailClicked)
    assert clicked.url == "http://www.sendgrid.com/"
    assert isinstance(group.data, EmailUnsubscribed)
    assert group.data.group == "10"


def test_blocked_is_a_soft_bounce_and_custom_args_become_metadata() -> None:
    [event] = json.loads(simulator(handler).sample("bounce"))
    event.update(type="blocked", order_id="ord_42", plan="pro")
    body = json.dumps([event]).encode()
    [emitted] = handler.normalize(Delivery("sendgrid", "sendgrid", "x", "bounce", body, now()))
    assert isinstance(emitted.data, EmailBounced)
    assert emitted.data.bounce_type == "soft"
    assert emitted.data.vendor_bounce_type == "blocked"
    assert emitted.data.metadata == {"order_id": "ord_42", "plan": "pro"}


def test_item_without_sg_event_id_gets_a_content_hash() -> None:
    event = {"email": "a@example.com", "event": "open", "timestamp": 1}
    assert item_id(event).startswith("sg-sha256:")
    assert item_id(event) == item_id(dict(reversed(list(event.items()))))


def test_sample_types_all_sign_and_normalize(key_dir: Path) -> None:
    public = local_public_key(key_dir)
    for name in simulator(handler).sample_types:
        body = simulator(handler).sample(name)
        headers = signed(key_dir, body, DOC_NOW)
        verify(handler, body, headers, source_for(public), DOC_NOW)
        assert len(handler.normalize(Delivery("s", "sendgrid", "x", name, body, now()))) == 1


def test_sign_without_generated_keys_is_a_config_error(tmp_path: Path) -> None:
    context = SigningContext(source=doc_source, url=URL, key_dir=tmp_path)
    with pytest.raises(ConfigError, match="ingest keys generate sendgrid"):
        simulator(handler).sign(b"[]", context, DOC_NOW)
