from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import stripe

from handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    TimestampOutOfToleranceError,
)
from handlers.stripe import StripeHandler
from ingest.sources import SourceConfig
from schemas.passthrough import VendorPassthrough
from schemas.payments import PaymentFailed, PaymentRefunded, PaymentSucceeded
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, sign_headers, verify

SECRET = "whsec_test_secret"
OTHER = "whsec_other_secret"
NOW = 1_700_000_000
handler = StripeHandler()
source = SourceConfig(name="stripe", vendor="stripe", secrets=(SECRET,))
rotating = SourceConfig(name="stripe", vendor="stripe", secrets=(OTHER, SECRET))


def signed(body: bytes, secret: str = SECRET, at: int = NOW) -> dict[str, str]:
    """Signed by Stripe's own SDK, as Stripe's servers sign."""
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
    return {"stripe-signature": header}


BODY = handler.sample("payment_intent.succeeded")


def test_sdk_signed_event_is_accepted() -> None:
    verdict = verify(handler, BODY, signed(BODY), source, NOW)
    assert verdict.secret_index == 0
    assert verdict.signed_at == NOW


def test_what_we_sign_the_sdk_accepts() -> None:
    header = sign_headers(handler, BODY, SECRET, time.time())["Stripe-Signature"]
    event = stripe.Webhook.construct_event(BODY.decode(), header, SECRET, tolerance=300)
    assert event["id"] == json.loads(BODY)["id"]


def test_rotation_reports_which_secret_matched() -> None:
    assert verify(handler, BODY, signed(BODY), rotating, NOW).secret_index == 1


def test_any_of_several_v1_signatures_may_match() -> None:
    good = signed(BODY)["stripe-signature"]
    header = f"t={NOW},v1={'0' * 64},{good.split(',', 1)[1]}"
    assert verify(handler, BODY, {"stripe-signature": header}, source, NOW).secret_index == 0


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY.replace(b"2000", b"9000"), signed(BODY), source, NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, signed(BODY, OTHER), source, NOW)


def test_missing_header() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, BODY, {}, source, NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_timestamp_outside_tolerance(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, BODY, signed(BODY, at=NOW + skew), source, NOW)


def test_configured_tolerance_wins() -> None:
    strict = SourceConfig(name="stripe", vendor="stripe", secrets=(SECRET,), tolerance_seconds=10)
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, BODY, signed(BODY, at=NOW - 11), strict, NOW)
    assert verify(handler, BODY, signed(BODY, at=NOW - 9), strict, NOW).secret_index == 0


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(handler, source, BODY, {"stripe-signature": value}, NOW)


def test_non_utf8_body_is_malformed() -> None:
    with pytest.raises(MalformedRequestError):
        verify(handler, b"\xff\xfe", {"stripe-signature": f"t={NOW},v1=00"}, source, NOW)


def test_identify_uses_body_id_and_type() -> None:
    identity = identify(handler, BODY, {})
    assert identity.event_id == json.loads(BODY)["id"]
    assert identity.event_type == "payment_intent.succeeded"
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"type": "x"}', {})
    with pytest.raises(MalformedRequestError):
        identify(handler, b"[1]", {})


def delivery(body: bytes) -> Delivery:
    event = json.loads(body)
    return Delivery("stripe", "stripe", event["id"], event["type"], body, datetime.now(UTC))


def test_payment_intent_succeeded_normalizes() -> None:
    [event] = handler.normalize(delivery(BODY))
    intent = json.loads(BODY)["data"]["object"]
    assert event.type == "payment.succeeded"
    assert isinstance(event.data, PaymentSucceeded)
    assert event.data.amount.amount_minor == 2000
    assert event.data.amount.currency == "USD"
    assert event.data.payment_id == intent["id"] == event.key
    assert event.data.customer_id == intent["customer"]


def test_payment_failed_carries_decline_reason() -> None:
    [event] = handler.normalize(delivery(handler.sample("payment_intent.payment_failed")))
    assert isinstance(event.data, PaymentFailed)
    assert event.data.failure_code == "card_declined"
    assert event.data.decline_code == "insufficient_funds"


def test_charge_refunded_is_keyed_by_its_payment_intent() -> None:
    body = handler.sample("charge.refunded")
    [event] = handler.normalize(delivery(body))
    charge = json.loads(body)["data"]["object"]
    assert isinstance(event.data, PaymentRefunded)
    assert event.key == charge["payment_intent"]
    assert event.data.charge_id == charge["id"]
    assert event.data.fully_refunded is True


def test_unmapped_type_passes_through_unchanged() -> None:
    body = handler.sample("customer.created")
    [event] = handler.normalize(delivery(body))
    assert event.type == "stripe.customer.created"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)


def test_missing_amount_raises_so_the_event_is_marked_failed() -> None:
    event = json.loads(BODY)
    del event["data"]["object"]["amount"]
    event["data"]["object"]["amount_received"] = None
    with pytest.raises(ValueError, match="amount"):
        handler.normalize(delivery(json.dumps(event).encode()))
