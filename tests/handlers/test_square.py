"""Square: HMAC-SHA256 of notification URL + body, checked against Square's SDK and its vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from square.types.dispute_created_event import DisputeCreatedEvent
from square.types.payment_updated_event import PaymentUpdatedEvent
from square.types.refund_updated_event import RefundUpdatedEvent
from square.types.subscription_created_event import SubscriptionCreatedEvent
from square.utils.webhooks_helper import verify_signature

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.square import SquareHandler
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.payments import (
    PaymentDisputed,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionUpdated,
)
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.simulation.square import signature
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, verify

handler = SquareHandler()
HEADER = "x-square-hmacsha256-signature"
NOW = 1_700_000_000

# The test vector of Square's Python SDK (tests/utilities/test_webhooks_helper.py): a real
# webhooks.test_notification signed for a webhook.site URL.
DOC_BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
    b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
    b'"created_at":"2022-07-13T20:30:59.037339943Z",'
    b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
)
DOC_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
DOC_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
DOC_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"

KEY = "square-signature-key-1"
OTHER_KEY = "square-signature-key-2"
URL = "https://hooks.example.com/webhooks/square"


def source(*keys: str, url: str = URL) -> SourceConfig:
    config = SourceConfig(
        name="square",
        vendor="square",
        secrets=keys or (KEY,),
        options=RawOptions.of({"notification_url": url}),
    )
    return handler.check_config(config)


def signed(body: bytes, key: str = KEY, url: str = URL) -> dict[str, str]:
    return {HEADER: signature(key, url, body)}


def test_square_sdk_documented_vector_verifies() -> None:
    doc = source(DOC_KEY, url=DOC_URL)
    assert verify(handler, DOC_BODY, {HEADER: DOC_SIGNATURE}, doc, NOW).secret_index == 0


def test_square_sdk_vector_with_escaped_body() -> None:
    """The SDK's second vector: HTML-significant characters are signed as sent, not escaped."""
    doc = source("signature-key", url="https://webhook.site/webhooks")
    body = b'{"data":{"type":"webhooks","id":">id<"}}'
    header = {HEADER: "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="}
    assert verify(handler, body, header, doc, NOW).secret_index == 0


@pytest.mark.parametrize(
    ("body", "key", "url", "header"),
    [
        # The SDK's negative vectors: another URL, key, signature, body, or reformatted body.
        (DOC_BODY, DOC_KEY, "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9", None),
        (DOC_BODY, "MCmhFRxGX82xMwg5FsaoQA", DOC_URL, None),
        (DOC_BODY, DOC_KEY, DOC_URL, "1z2n3DEJJiUPKcPzQo1ftvbxGdw="),
        (DOC_BODY.replace(b"2022-07-13", b"2022-06-13"), DOC_KEY, DOC_URL, None),
        (json.dumps(json.loads(DOC_BODY), indent=2).encode(), DOC_KEY, DOC_URL, None),
    ],
)
def test_square_sdk_negative_vectors_are_rejected(
    body: bytes, key: str, url: str, header: str | None
) -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, {HEADER: header or DOC_SIGNATURE}, source(key, url=url), NOW)


def context() -> SigningContext:
    """What `ingest send` passes: the configured source, posting to a local server."""
    return SigningContext(source=source(), url="http://127.0.0.1:8000/webhooks/square", secret=KEY)


def test_what_we_sign_the_sdk_accepts() -> None:
    body = simulator(handler).sample("payment.updated")
    headers = simulator(handler).sign(body, context(), NOW).headers
    assert verify_signature(
        request_body=body.decode(),
        signature_header=headers[HEADER],
        signature_key=KEY,
        notification_url=URL,
    )
    assert not verify_signature(
        request_body=body.decode(),
        signature_header=headers[HEADER],
        signature_key=OTHER_KEY,
        notification_url=URL,
    )


def test_what_the_sdk_checks_we_check_the_same_way() -> None:
    """Our signer agrees with the SDK's verifier, and our verifier with what it accepts."""
    body = simulator(handler).sample("refund.updated")
    header = signature(KEY, URL, body)
    assert verify_signature(
        request_body=body.decode(), signature_header=header, signature_key=KEY, notification_url=URL
    )
    assert verify(handler, body, {HEADER: header}, source(), NOW).secret_index == 0


def test_sign_uses_the_registered_url_not_the_posting_url() -> None:
    body = simulator(handler).sample("payment.updated")
    signed_request = simulator(handler).sign(body, context(), NOW)
    assert signed_request.url == "http://127.0.0.1:8000/webhooks/square"
    assert verify(handler, body, signed_request.headers, source(), NOW).secret_index == 0


def test_request_url_is_ignored_the_configured_url_is_signed() -> None:
    body = simulator(handler).sample("payment.updated")
    headers = signed(body)
    # Reached through a proxy at another address: still the registered URL that counts.
    accepted = handler.verify(
        Verification(
            request(body, headers, url="http://10.0.0.7:8000/webhooks/square"), source(), NOW, {}
        )
    )
    assert accepted.secret_index == 0
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, signed(body, url=URL + "/"), source(), NOW)


def test_rotation_reports_which_key_matched() -> None:
    body = simulator(handler).sample("payment.updated")
    assert verify(handler, body, signed(body), source(OTHER_KEY, KEY), NOW).secret_index == 1


def test_tampered_body_and_wrong_key_are_rejected() -> None:
    body = simulator(handler).sample("payment.updated")
    with pytest.raises(InvalidSignatureError):
        verify(handler, body.replace(b"2000", b"9000"), signed(body), source(), NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, signed(body, OTHER_KEY), source(), NOW)


def test_no_timestamp_is_signed_so_old_deliveries_still_verify() -> None:
    body = simulator(handler).sample("payment.updated")
    assert verify(handler, body, signed(body), source(), NOW + 86_400 * 365).secret_index == 0


def test_missing_header() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, DOC_BODY, {}, source(), NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(handler, source(), DOC_BODY, {HEADER: value}, NOW)


@settings(max_examples=200, deadline=None)
@given(header=st.text(max_size=300), body=st.binary(max_size=512))
def test_random_headers_and_bodies_only_ever_reject(header: str, body: bytes) -> None:
    with pytest.raises(RejectedRequestError):
        handler.verify(Verification(request(body, {HEADER: header}), source(), NOW, {}))


def test_notification_url_is_required_and_absolute() -> None:
    for options in (
        {},
        {"notification_url": "/webhooks/square"},
        {"notification_url": URL, "x": 1},
    ):
        with pytest.raises(ConfigError):
            handler.check_config(
                SourceConfig(
                    name="square", vendor="square", secrets=(KEY,), options=RawOptions.of(options)
                )
            )
    with pytest.raises(ConfigError):
        handler.check_config(
            SourceConfig(
                name="sq", vendor="square", options=RawOptions.of({"notification_url": URL})
            )
        )


def test_identify_uses_event_id_and_type() -> None:
    identity = identify(handler, DOC_BODY, {})
    assert identity.event_id == "ac3ac95b-f97d-458c-a6e6-18981597e05f"
    assert identity.event_type == "webhooks.test_notification"
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"type": "payment.updated"}', {})
    with pytest.raises(MalformedRequestError):
        identify(handler, b"[]", {})


# -- normalization ------------------------------------------------------------------------


def delivery(body: bytes) -> Delivery:
    event = json.loads(body)
    return Delivery("square", "square", event["event_id"], event["type"], body, datetime.now(UTC))


def mutate(event_type: str, **changes: Any) -> bytes:
    event = json.loads(simulator(handler).sample(event_type))
    entity = next(iter(event["data"]["object"].values()))
    entity.update(changes)
    return json.dumps(event).encode()


def test_samples_parse_as_the_sdk_event_types() -> None:
    """Our samples have the shapes of Square's SDK models (which mirror the API reference)."""
    payment = PaymentUpdatedEvent.model_validate(
        json.loads(simulator(handler).sample("payment.updated"))
    )
    assert payment.data is not None
    assert payment.data.object is not None
    assert payment.data.object.payment is not None
    assert payment.data.object.payment.amount_money is not None
    refund = RefundUpdatedEvent.model_validate(
        json.loads(simulator(handler).sample("refund.updated"))
    )
    assert refund.data is not None
    assert refund.data.object is not None
    assert refund.data.object.refund is not None
    dispute = DisputeCreatedEvent.model_validate(
        json.loads(simulator(handler).sample("dispute.created"))
    )
    assert dispute.data is not None
    assert dispute.data.object is not None
    assert dispute.data.object.object is not None
    assert dispute.data.object.object.disputed_payment is not None
    sub = SubscriptionCreatedEvent.model_validate(
        json.loads(simulator(handler).sample("subscription.created"))
    )
    assert sub.data is not None
    assert sub.data.object is not None
    assert sub.data.object.subscription is not None


def test_completed_payment_is_payment_succeeded() -> None:
    body = simulator(handler).sample("payment.updated")
    [event] = handler.normalize(delivery(body))
    payment = json.loads(body)["data"]["object"]["payment"]
    assert event.type == "payment.succeeded"
    assert isinstance(event.data, PaymentSucceeded)
    assert event.data.provider == "square"
    assert event.data.payment_id == payment["id"] == event.key
    assert event.data.amount.amount_minor == 2000
    assert event.data.amount.currency == "USD"
    assert event.data.customer_id == payment["customer_id"]
    assert event.data.order_id == payment["order_id"]


@pytest.mark.parametrize("status", ["FAILED", "CANCELED"])
def test_failed_or_canceled_payment_is_payment_failed(status: str) -> None:
    body = mutate(
        "payment.updated",
        status=status,
        card_details={"status": "FAILED", "errors": [{"code": "GENERIC_DECLINE", "detail": "No"}]},
    )
    [event] = handler.normalize(delivery(body))
    assert event.type == "payment.failed"
    assert isinstance(event.data, PaymentFailed)
    assert event.data.failure_code == "GENERIC_DECLINE"


@pytest.mark.parametrize(
    "changes", [{"status": "APPROVED"}, {"refund_ids": ["r1"], "refunded_money": {}}]
)
def test_other_payment_updates_pass_through(changes: dict[str, Any]) -> None:
    [event] = handler.normalize(delivery(mutate("payment.updated", **changes)))
    assert event.type == "square.payment.updated"
    assert isinstance(event.data, VendorPassthrough)


def test_completed_refund_is_payment_refunded_keyed_by_payment() -> None:
    body = simulator(handler).sample("refund.updated")
    [event] = handler.normalize(delivery(body))
    refund = json.loads(body)["data"]["object"]["refund"]
    assert event.type == "payment.refunded"
    assert isinstance(event.data, PaymentRefunded)
    assert event.key == refund["payment_id"] == event.data.payment_id
    assert event.data.refund_id == refund["id"]
    assert event.data.refund_amount == event.data.amount
    assert event.data.fully_refunded is None  # Square's refund event does not say
    [pending] = handler.normalize(delivery(mutate("refund.updated", status="PENDING")))
    assert pending.type == "square.refund.updated"


def test_dispute_created_is_payment_disputed() -> None:
    body = simulator(handler).sample("dispute.created")
    [event] = handler.normalize(delivery(body))
    dispute = json.loads(body)["data"]["object"]["object"]
    assert event.type == "payment.disputed"
    assert isinstance(event.data, PaymentDisputed)
    assert event.key == dispute["disputed_payment"]["payment_id"]
    assert event.data.dispute_id == dispute["id"]
    assert event.data.amount.amount_minor == 8801
    assert event.data.reason == "AMOUNT_DIFFERS"
    assert event.data.status == "EVIDENCE_REQUIRED"
    assert event.data.evidence_due_by is not None


def test_subscriptions_map_and_cancellation_is_an_update() -> None:
    body = simulator(handler).sample("subscription.created")
    [created] = handler.normalize(delivery(body))
    sub = json.loads(body)["data"]["object"]["subscription"]
    assert isinstance(created.data, SubscriptionCreated)
    assert created.key == sub["id"]
    assert created.data.plan_id == sub["plan_variation_id"]
    assert created.data.amount is None
    [updated] = handler.normalize(delivery(simulator(handler).sample("subscription.updated")))
    assert isinstance(updated.data, SubscriptionUpdated)
    [canceled] = handler.normalize(delivery(mutate("subscription.updated", status="CANCELED")))
    assert canceled.type == "subscription.canceled"
    assert isinstance(canceled.data, SubscriptionCanceled)


def test_charged_through_date_ends_at_midnight_in_the_subscription_zone() -> None:
    body = mutate(
        "subscription.updated",
        charged_through_date="2024-05-31",
        timezone="America/Los_Angeles",
        price_override_money={"amount": 1500, "currency": "USD"},
    )
    [event] = handler.normalize(delivery(body))
    assert isinstance(event.data, SubscriptionUpdated)
    # May 31 is paid for; the period ends at June 1 00:00 in Los Angeles (PDT, UTC-7).
    assert event.data.current_period_end == datetime(2024, 6, 1, 7, tzinfo=UTC)
    assert event.data.amount is not None
    assert event.data.amount.amount_minor == 1500
    [no_zone] = handler.normalize(delivery(mutate("subscription.updated", timezone=None)))
    assert isinstance(no_zone.data, SubscriptionUpdated)
    assert no_zone.data.current_period_end is None


def test_unmapped_type_passes_through() -> None:
    body = simulator(handler).sample("customer.created")
    [event] = handler.normalize(delivery(body))
    assert event.type == "square.customer.created"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)


def test_payment_without_money_raises_so_the_event_is_marked_failed() -> None:
    with pytest.raises(ValueError, match="money"):
        handler.normalize(delivery(mutate("payment.updated", amount_money=None, total_money=None)))
