from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import stripe

from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    TimestampOutOfToleranceError,
)
from ingest.handlers.stripe import StripeHandler
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.payments import (
    PaymentDisputed,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionEvent,
    SubscriptionUpdated,
)
from ingest.simulation import simulator
from ingest.sources import SourceConfig
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


BODY = simulator(handler).sample("payment_intent.succeeded")


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
    [event] = handler.normalize(
        delivery(simulator(handler).sample("payment_intent.payment_failed"))
    )
    assert isinstance(event.data, PaymentFailed)
    assert event.data.failure_code == "card_declined"
    assert event.data.decline_code == "insufficient_funds"


def test_charge_refunded_is_keyed_by_its_payment_intent() -> None:
    body = simulator(handler).sample("charge.refunded")
    [event] = handler.normalize(delivery(body))
    charge = json.loads(body)["data"]["object"]
    assert isinstance(event.data, PaymentRefunded)
    assert event.key == charge["payment_intent"]
    assert event.data.charge_id == charge["id"]
    assert event.data.fully_refunded is True


def test_unmapped_type_passes_through_unchanged() -> None:
    body = simulator(handler).sample("customer.created")
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


def test_dispute_created_is_payment_disputed_keyed_by_its_payment_intent() -> None:
    body = simulator(handler).sample("charge.dispute.created")
    dispute = json.loads(body)["data"]["object"]
    [event] = handler.normalize(delivery(body))
    assert event.type == "payment.disputed"
    assert isinstance(event.data, PaymentDisputed)
    assert event.key == dispute["payment_intent"] == event.data.payment_id
    assert event.data.dispute_id == dispute["id"]
    assert event.data.charge_id == dispute["charge"]
    assert event.data.amount.amount_minor == 2000
    assert event.data.reason == "fraudulent"
    assert event.data.status == "needs_response"
    assert event.data.evidence_due_by == datetime.fromtimestamp(
        dispute["evidence_details"]["due_by"], tz=UTC
    )


def test_dispute_without_payment_intent_is_keyed_by_its_charge() -> None:
    event = json.loads(simulator(handler).sample("charge.dispute.created"))
    event["data"]["object"]["payment_intent"] = None
    [emitted] = handler.normalize(delivery(json.dumps(event).encode()))
    assert emitted.key == event["data"]["object"]["charge"]


@pytest.mark.parametrize(
    ("event_type", "model", "status"),
    [
        ("customer.subscription.created", SubscriptionCreated, "active"),
        ("customer.subscription.updated", SubscriptionUpdated, "active"),
        ("customer.subscription.deleted", SubscriptionCanceled, "canceled"),
    ],
)
def test_subscription_events(event_type: str, model: type[object], status: str) -> None:
    body = simulator(handler).sample(event_type)
    subscription = json.loads(body)["data"]["object"]
    [event] = handler.normalize(delivery(body))
    assert isinstance(event.data, model)
    assert isinstance(event.data, SubscriptionEvent)
    assert event.type == event.data.event_type
    assert event.key == subscription["id"] == event.data.subscription_id
    assert event.data.customer_id == subscription["customer"]
    assert event.data.status == status
    assert event.data.plan_id == "price_1MowQULkdIwHu7ixraBm864M"
    assert event.data.amount is not None
    assert event.data.amount.amount_minor == 1000
    assert event.data.interval == "month"
    assert event.data.interval_count == 1
    assert event.data.current_period_end == datetime.fromtimestamp(
        subscription["current_period_end"], tz=UTC
    )


def test_subscription_period_end_on_items_as_in_newer_api_versions() -> None:
    event = json.loads(simulator(handler).sample("customer.subscription.updated"))
    subscription = event["data"]["object"]
    end = subscription.pop("current_period_end")
    subscription["items"]["data"][0]["current_period_end"] = end
    subscription["items"]["data"][0]["quantity"] = 3
    [emitted] = handler.normalize(delivery(json.dumps(event).encode()))
    assert isinstance(emitted.data, SubscriptionUpdated)
    assert emitted.data.current_period_end == datetime.fromtimestamp(end, tz=UTC)
    assert emitted.data.amount is not None
    assert emitted.data.amount.amount_minor == 3000


def test_multi_item_subscription_has_no_single_plan_or_amount() -> None:
    event = json.loads(simulator(handler).sample("customer.subscription.created"))
    items = event["data"]["object"]["items"]["data"]
    items.append({**items[0], "id": "si_second"})
    [emitted] = handler.normalize(delivery(json.dumps(event).encode()))
    assert isinstance(emitted.data, SubscriptionCreated)
    assert emitted.data.plan_id is None
    assert emitted.data.amount is None


def test_new_samples_are_signed_and_accepted_like_the_others() -> None:
    for event_type in ("charge.dispute.created", "customer.subscription.deleted"):
        body = simulator(handler).sample(event_type)
        assert verify(handler, body, signed(body), source, NOW).secret_index == 0
        event = stripe.Event.construct_from(json.loads(body), stripe.api_key)
        assert event.type == event_type


@pytest.mark.parametrize(
    ("stripe_amount", "currency", "iso_minor"),
    [
        (1000, "usd", 1000),  # two decimals at Stripe and in ISO
        (500, "jpy", 500),  # zero-decimal in both
        (5120, "kwd", 5120),  # three decimals in both
        (1000, "mga", 100000),  # Stripe: zero-decimal; ISO 4217: two decimals
        (500, "isk", 5),  # Stripe: two decimals kept for compatibility; ISO: none
        (1000, "huf", 1000),  # two in both (Stripe pays out HUF as whole forints only)
        (9900, "twd", 9900),
        (250, "ugx", 250),  # zero-decimal in both
    ],
)
def test_amounts_are_iso_4217_minor_units(
    stripe_amount: int, currency: str, iso_minor: int
) -> None:
    """Stripe writes amounts in its own decimals per currency; consumers get ISO's."""
    event = json.loads(simulator(handler).sample("payment_intent.succeeded"))
    event["data"]["object"]["amount"] = stripe_amount
    event["data"]["object"]["amount_received"] = stripe_amount
    event["data"]["object"]["currency"] = currency
    body = json.dumps(event).encode()
    [emitted] = handler.normalize(
        Delivery("stripe", "stripe", event["id"], event["type"], body, datetime.now(UTC))
    )
    assert emitted.data.model_dump()["amount"] == {
        "amount_minor": iso_minor,
        "currency": currency.upper(),
    }


def test_an_amount_with_no_iso_form_fails_the_event_rather_than_rounding() -> None:
    """A fractional-króna charge from before 2023: 40.10 ISK has no ISO 4217 representation."""
    event = json.loads(simulator(handler).sample("payment_intent.succeeded"))
    event["data"]["object"].update(amount=4010, amount_received=4010, currency="isk")
    body = json.dumps(event).encode()
    with pytest.raises(ValueError, match="whole number"):
        handler.normalize(
            Delivery("stripe", "stripe", event["id"], event["type"], body, datetime.now(UTC))
        )
