from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
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
    lower_headers,
)
from ingest.handlers.shopify import ShopifyHandler
from ingest.schemas.base import Money, currency_exponent, money_from_decimal
from ingest.schemas.commerce import (
    OrderCancelled,
    OrderCreated,
    OrderEvent,
    OrderFulfilled,
    OrderPaid,
    OrderRefunded,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, sign_headers, verify

handler = ShopifyHandler()
SECRET = "hush"
source = SourceConfig(name="shopify", vendor="shopify", secrets=(SECRET,))


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """As Shopify's "Verify webhooks" docs compute it: base64 of the HMAC-SHA256 digest."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"x-shopify-hmac-sha256": base64.b64encode(digest).decode()}


BODY = simulator(handler).sample("orders/create")


def test_signed_body_is_accepted() -> None:
    assert verify(handler, BODY, signed(BODY), source, 0).secret_index == 0


def test_what_we_sign_matches_the_documented_computation() -> None:
    headers = lower_headers(sign_headers(handler, BODY, SECRET, 0, "orders/paid"))
    assert headers["x-shopify-hmac-sha256"] == signed(BODY)["x-shopify-hmac-sha256"]
    assert headers["x-shopify-topic"] == "orders/paid"
    assert verify(handler, BODY, headers, source, 0).secret_index == 0


def test_tampered_body_and_wrong_secret_are_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY.replace(b"403.00", b"0.01"), signed(BODY), source, 0)
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, signed(BODY, "other"), source, 0)


def test_hex_digest_is_not_accepted() -> None:
    """Shopify sends base64; a hex digest is some other scheme."""
    hex_digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignatureError):
        verify(handler, BODY, {"x-shopify-hmac-sha256": hex_digest}, source, 0)


def test_missing_header() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, BODY, {}, source, 0)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_rejections(handler, source, BODY, {"x-shopify-hmac-sha256": value}, 0)


def test_rotation_reports_which_secret_matched() -> None:
    rotating = SourceConfig(name="shopify", vendor="shopify", secrets=("old", SECRET))
    assert verify(handler, BODY, signed(BODY), rotating, 0).secret_index == 1


# -- identification ----------------------------------------------------------------------


def test_dedup_is_the_event_id_per_topic() -> None:
    headers = lower_headers(sign_headers(handler, BODY, SECRET, 0, "orders/create"))
    identity = identify(handler, BODY, headers)
    assert identity.event_id == f"{headers['x-shopify-event-id']}:orders/create"
    assert identity.event_type == "orders/create"
    retry = {**headers, "x-shopify-webhook-id": "another-delivery"}
    assert identify(handler, BODY, retry).event_id == identity.event_id
    paid = {**headers, "x-shopify-topic": "orders/paid"}
    assert identify(handler, BODY, paid).event_id != identity.event_id


def test_webhook_id_is_the_fallback() -> None:
    headers = {"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "b54557e4"}
    assert identify(handler, BODY, headers).event_id == "b54557e4"
    with pytest.raises(MalformedRequestError):
        identify(handler, BODY, {"x-shopify-topic": "orders/create"})
    with pytest.raises(MalformedRequestError):
        identify(handler, BODY, {"x-shopify-event-id": "e"})


# -- normalization -----------------------------------------------------------------------


def delivery(topic: str, body: bytes, **headers: str) -> Delivery:
    return Delivery("shopify", "shopify", "e:1", topic, body, datetime.now(UTC), headers)


@pytest.mark.parametrize(
    ("topic", "model"),
    [
        ("orders/create", OrderCreated),
        ("orders/paid", OrderPaid),
        ("orders/cancelled", OrderCancelled),
        ("orders/fulfilled", OrderFulfilled),
    ],
)
def test_order_topics_normalize(topic: str, model: type[OrderEvent]) -> None:
    body = simulator(handler).sample(topic)
    order = json.loads(body)
    [event] = handler.normalize(delivery(topic, body))
    assert isinstance(event.data, OrderEvent)
    assert type(event.data) is model
    assert event.type == model.event_type
    assert event.key == event.data.order_id == str(order["id"])
    assert event.data.total == Money(amount_minor=40300, currency="USD")
    assert event.data.order_number == order["name"]
    assert event.data.customer_id == "115310627314723954"
    assert event.data.customer_email == "jon@example.com"


def test_cancellation_carries_reason_and_time() -> None:
    body = simulator(handler).sample("orders/cancelled")
    [event] = handler.normalize(delivery("orders/cancelled", body))
    assert isinstance(event.data, OrderCancelled)
    assert event.data.cancel_reason == "customer"
    assert event.data.occurred_at == datetime.fromisoformat(json.loads(body)["cancelled_at"])


def test_triggered_at_header_is_the_event_time() -> None:
    body = simulator(handler).sample("orders/paid")
    at = "2023-03-29T18:00:27.877041743Z"
    [event] = handler.normalize(delivery("orders/paid", body, **{"x-shopify-triggered-at": at}))
    assert isinstance(event.data, OrderPaid)
    assert event.data.occurred_at == datetime(2023, 3, 29, 18, 0, 27, 877041, tzinfo=UTC)


def test_zero_decimal_currency_total() -> None:
    order = json.loads(simulator(handler).sample("orders/create"))
    order.update({"currency": "JPY", "total_price": "1500.00"})
    [event] = handler.normalize(delivery("orders/create", json.dumps(order).encode()))
    assert isinstance(event.data, OrderCreated)
    assert event.data.total == Money(amount_minor=1500, currency="JPY")


def test_refund_is_keyed_by_its_order() -> None:
    body = simulator(handler).sample("refunds/create")
    refund = json.loads(body)
    [event] = handler.normalize(delivery("refunds/create", body))
    assert isinstance(event.data, OrderRefunded)
    assert event.key == str(refund["order_id"])
    assert event.data.refund_id == str(refund["id"])
    assert event.data.amount == Money(amount_minor=1000, currency="USD")
    assert event.data.note == "Things were damaged"


def test_restock_only_refund_has_no_amount() -> None:
    refund = json.loads(simulator(handler).sample("refunds/create"))
    refund["transactions"] = []
    [event] = handler.normalize(delivery("refunds/create", json.dumps(refund).encode()))
    assert isinstance(event.data, OrderRefunded)
    assert event.data.amount is None


def test_other_topics_pass_through_with_dotted_types() -> None:
    body = simulator(handler).sample("customers/create")
    [event] = handler.normalize(delivery("customers/create", body))
    assert event.type == "shopify.customers.create"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.vendor_event_type == "customers/create"
    assert event.key == str(json.loads(body)["id"])


def test_order_without_total_raises_so_it_is_marked_failed() -> None:
    order = json.loads(BODY)
    del order["total_price"]
    with pytest.raises(KeyError):
        handler.normalize(delivery("orders/create", json.dumps(order).encode()))


# -- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("199.00", "USD", 19900),
        ("199", "usd", 19900),
        ("0.5", "EUR", 50),
        ("1500", "JPY", 1500),
        ("1500.00", "JPY", 1500),
        ("1.250", "KWD", 1250),
        ("12.3456", "CLF", 123456),
        (7, "GBP", 700),
    ],
)
def test_money_from_decimal(amount: str | int, currency: str, minor: int) -> None:
    assert money_from_decimal(amount, currency) == Money(
        amount_minor=minor, currency=currency.upper()
    )


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("0.005", "USD"), ("1.5", "JPY"), ("-1.00", "USD"), ("1e3", "USD"), ("", "USD"), ("1", "U")],
)
def test_money_from_decimal_refuses_what_it_cannot_represent(amount: str, currency: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages vary by cause
        money_from_decimal(amount, currency)


def test_currency_exponents() -> None:
    assert [currency_exponent(c) for c in ("USD", "JPY", "KWD", "CLF", "ISK", "MGA")] == [
        2,
        0,
        3,
        4,
        0,
        2,
    ]
    # A code ISO 4217 does not list is refused: guessing two decimals could be 100 times off.
    with pytest.raises(ValueError, match="not an ISO 4217 currency"):
        currency_exponent("XYZ")


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "x-shopify-hmac-sha256",
                "x-shopify-topic",
                "x-shopify-event-id",
                "x-shopify-webhook-id",
            ]
        ),
        st.text(max_size=300),
    ),
    body=st.binary(max_size=300),
)
def test_random_input_only_ever_raises_rejections(headers: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(RejectedRequestError):
        verify(handler, body, headers, source, 0)
    with contextlib.suppress(RejectedRequestError):
        identify(handler, body, headers)
