"""Shopify: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the body with the app's client
secret; the topic is in `X-Shopify-Topic`.

Dedup follows Shopify's "ignore duplicate webhooks" guidance: `X-Shopify-Event-Id` is the same on
every delivery of one event (retries included), whereas `X-Shopify-Webhook-Id` names a single
delivery. We key on the event id *and* the topic, so one merchant action reported under two
topics (orders/create and orders/paid) stays two events; deliveries without an event id (older API
versions) fall back to the webhook id. Shopify signs no timestamp: there is no replay window.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature, HmacVerified
from ingest.schemas import commerce
from ingest.schemas.base import Money, money_from_decimal
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

SIGNATURE = HmacSignature(header="X-Shopify-Hmac-Sha256", vendor="Shopify", encoding="base64")
TOPIC_HEADER = "x-shopify-topic"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"

ORDER_MODELS: Mapping[str, type[commerce.OrderEvent]] = {
    "orders/create": commerce.OrderCreated,
    "orders/paid": commerce.OrderPaid,
    "orders/cancelled": commerce.OrderCancelled,
    "orders/fulfilled": commerce.OrderFulfilled,
}


class ShopifyHandler(HmacVerified):
    vendor: ClassVar[str] = "shopify"
    summary: ClassVar[str] = "X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the body"
    signature: ClassVar[HmacSignature] = SIGNATURE
    mapped_types: ClassVar[Mapping[str, str]] = {
        **{topic: model.event_type for topic, model in ORDER_MODELS.items()},
        "refunds/create": commerce.OrderRefunded.event_type,
    }

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        topic = request.headers.get(TOPIC_HEADER, "").strip()
        if not topic or len(topic) > 100:
            raise base.MalformedRequestError("X-Shopify-Topic header is missing")
        event_id = request.headers.get(EVENT_ID_HEADER, "").strip()
        webhook_id = request.headers.get(WEBHOOK_ID_HEADER, "").strip()
        if event_id and len(event_id) <= 128:
            return base.Identity(event_id=f"{event_id}:{topic}", event_type=topic)
        if webhook_id and len(webhook_id) <= 255:
            return base.Identity(event_id=webhook_id, event_type=topic)
        raise base.MalformedRequestError(
            "neither X-Shopify-Event-Id nor X-Shopify-Webhook-Id is set"
        )

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        payload = delivery.json_object()
        triggered_at = base.iso_time(delivery.headers.get(TRIGGERED_AT_HEADER))
        topic = delivery.event_type
        # The event's time: Shopify's X-Shopify-Triggered-At, else the payload's own timestamp
        # for that change, else when we received it.
        if topic in ORDER_MODELS:
            return [self._order(topic, payload, triggered_at, delivery.received_at)]
        if topic == "refunds/create":
            return [self._refund(payload, triggered_at, delivery.received_at)]
        # `products/update` → `shopify.products.update`: CloudEvent types are dotted.
        kind = topic.replace("/", ".")
        key = base.id_or_none(payload.get("id")) or delivery.event_id
        return [
            base.Emitted(
                type=f"shopify.{kind}",
                data=VendorPassthrough(vendor="shopify", vendor_event_type=topic, payload=payload),
                key=key,
                time=triggered_at,
            )
        ]

    @staticmethod
    def _order(
        topic: str, order: dict[str, Any], triggered_at: datetime | None, received_at: datetime
    ) -> base.Emitted:
        model = ORDER_MODELS[topic]
        order_id = base.id_or_none(order.get("id"))
        if order_id is None:
            raise ValueError("Shopify order has no id")
        customer = base.object_or_empty(order.get("customer"))
        own_time = {
            "orders/create": order.get("created_at"),
            "orders/cancelled": order.get("cancelled_at"),
        }.get(topic, order.get("updated_at"))
        occurred_at = triggered_at or base.iso_time(own_time) or received_at
        fields: dict[str, Any] = {
            "provider": "shopify",
            "order_id": order_id,
            "order_number": order.get("name") or base.id_or_none(order.get("order_number")),
            "total": money_from_decimal(order["total_price"], order["currency"]),
            "customer_id": base.id_or_none(customer.get("id")),
            "customer_email": order.get("email") or customer.get("email") or None,
            "financial_status": order.get("financial_status"),
            "fulfillment_status": order.get("fulfillment_status"),
            "occurred_at": occurred_at,
        }
        if model is commerce.OrderCancelled:
            fields["cancel_reason"] = order.get("cancel_reason")
        data = model(**fields)
        return base.Emitted(data=data, key=order_id, subject=order_id)

    @staticmethod
    def _refund(
        refund: dict[str, Any], triggered_at: datetime | None, received_at: datetime
    ) -> base.Emitted:
        order_id, refund_id = (
            base.id_or_none(refund.get("order_id")),
            base.id_or_none(refund.get("id")),
        )
        if order_id is None or refund_id is None:
            raise ValueError("Shopify refund has no id or order_id")
        # The money this refund moved: its successful refund transactions (a refund that only
        # restocks has none).
        refunded = [
            transaction
            for transaction in refund.get("transactions") or []
            if isinstance(transaction, dict)
            and transaction.get("kind") == "refund"
            and transaction.get("status") == "success"
        ]
        amount = None
        if refunded:
            currencies = {transaction["currency"] for transaction in refunded}
            if len(currencies) != 1:
                raise ValueError("Shopify refund transactions are in several currencies")
            currency = currencies.pop()
            amount = Money(
                amount_minor=sum(
                    money_from_decimal(transaction["amount"], currency).amount_minor
                    for transaction in refunded
                ),
                currency=currency.upper(),
            )
        occurred_at = triggered_at or base.iso_time(refund.get("created_at")) or received_at
        data = commerce.OrderRefunded(
            provider="shopify",
            order_id=order_id,
            refund_id=refund_id,
            amount=amount,
            note=refund.get("note") or None,
            occurred_at=occurred_at,
        )
        return base.Emitted(data=data, key=order_id, subject=order_id)
