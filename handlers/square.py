"""Square: `x-square-hmacsha256-signature` = base64 HMAC-SHA256(signature key, URL + body).

Square signs the notification URL registered for the subscription followed by the raw body
("Validate webhook notifications" in Square's docs; `square.utils.webhooks_helper` in the SDK). The
URL must be the one registered, byte for byte: behind a proxy or a load balancer the URL we are
reached at differs, so it is configuration (`notification_url`), never read from the request.

Square signs no timestamp, so there is no replay window; a retry carries the same `event_id`,
which is the dedup key. Signature keys are rotated in the Developer Console: configure both while
switching (`secrets`, the first that matches wins and is recorded).

Square sends `payment.updated` for every change of a payment (completion, a tip, a refund), so
`payment.succeeded` is published for a COMPLETED payment only while it has no refunds (the
refund's own `refund.updated` carries that) and may still come more than once for one payment:
consumers key on `payment_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature, HmacVerified
from ingest.schemas import payments
from ingest.schemas.base import Money

SIGNATURE = HmacSignature(
    header="x-square-hmacsha256-signature", vendor="Square", encoding="base64"
)


class SquareOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    notification_url: str
    """The notification URL exactly as registered in Square's Developer Console: it is signed."""

    @field_validator("notification_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be the absolute URL registered in Square (https://…)")
        return value


def _money(raw: Any) -> Money:
    """Square's `Money` is already in minor units: `{"amount": 100, "currency": "USD"}`."""
    if not isinstance(raw, dict):
        raise ValueError("Square object has no money field")
    amount, currency = raw.get("amount"), raw.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        raise ValueError("Square money lacks an integer amount and a currency")
    return Money(amount_minor=amount, currency=currency)


def _period_end(subscription: dict[str, Any]) -> datetime | None:
    """`charged_through_date` is the last day paid for (a date in the subscription's time zone);
    the period ends when that day does. Without a known zone the instant is unknown: None."""
    raw_date, zone = subscription.get("charged_through_date"), subscription.get("timezone")
    if not isinstance(raw_date, str) or not isinstance(zone, str):
        return None
    try:
        day = date.fromisoformat(raw_date)
        tz = ZoneInfo(zone)
    except (ValueError, OSError, ZoneInfoNotFoundError):  # bad date, odd or unknown zone name
        return None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def _inner(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """The entity in `data.object`, under the first of `names` present."""
    holder = data.get("object")
    if isinstance(holder, dict):
        for name in names:
            if isinstance(found := holder.get(name), dict):
                return found
    raise ValueError(f"Square event has no data.object.{names[0]}")


SUBSCRIPTION_EVENTS: dict[str, type[payments.SubscriptionEvent]] = {
    "subscription.created": payments.SubscriptionCreated,
    "subscription.updated": payments.SubscriptionUpdated,
}


EVENT_FIELDS = base.EventFields(vendor="Square", id="event_id", type="type")


class SquareHandler(HmacVerified, base.FieldsIdentified):
    vendor: ClassVar[str] = "square"
    summary: ClassVar[str] = (
        "x-square-hmacsha256-signature: base64 HMAC-SHA256 of notification_url + body"
    )
    signature: ClassVar[HmacSignature] = SIGNATURE
    options_model: ClassVar[type[BaseModel]] = SquareOptions
    event_fields: ClassVar[base.EventFields] = EVENT_FIELDS
    mapped_types: ClassVar[Mapping[str, str]] = {
        "payment.updated": "payment.succeeded (COMPLETED) / payment.failed (FAILED, CANCELED)",
        "refund.updated": "payment.refunded (COMPLETED)",
        "dispute.created": "payment.disputed",
        "subscription.created": "subscription.created",
        "subscription.updated": "subscription.updated (subscription.canceled when CANCELED)",
    }

    @override
    def signed_content(self, check: base.Verification) -> bytes:
        url = self.options(check.source, SquareOptions).notification_url.encode()
        return url + check.request.body

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        event = delivery.json_object()
        data = base.required_object(event.get("data"), "Square event's data")
        occurred_at = base.iso_time(event.get("created_at")) or delivery.received_at
        emitted: base.Emitted | None
        match delivery.event_type:
            case "payment.updated":
                emitted = self._payment(_inner(data, "payment"), occurred_at)
            case "refund.updated":
                emitted = self._refund(_inner(data, "refund"), occurred_at)
            case "dispute.created":
                # The SDK's DisputeCreatedEventObject holds the dispute under `object`; older
                # payloads used `dispute`.
                emitted = self._dispute(_inner(data, "object", "dispute"), occurred_at)
            case "subscription.created" | "subscription.updated":
                emitted = self._subscription(
                    delivery.event_type, _inner(data, "subscription"), occurred_at
                )
            case _:
                emitted = None
        return [emitted or base.passthrough(delivery, event)]

    @staticmethod
    def _payment(payment: dict[str, Any], occurred_at: datetime) -> base.Emitted | None:
        status = payment.get("status")
        common: dict[str, Any] = {
            "provider": "square",
            "payment_id": payment["id"],
            "amount": _money(payment.get("total_money") or payment.get("amount_money")),
            "customer_id": payment.get("customer_id"),
            "occurred_at": occurred_at,
            "order_id": payment.get("order_id"),
        }
        data: payments.PaymentSucceeded | payments.PaymentFailed
        if status == "COMPLETED" and not payment.get("refund_ids"):
            data = payments.PaymentSucceeded(**common)
        elif status in ("FAILED", "CANCELED"):
            errors = base.object_or_empty(payment.get("card_details")).get("errors") or [{}]
            error = base.object_or_empty(errors[0])
            data = payments.PaymentFailed(
                **common,
                failure_code=error.get("code"),
                failure_message=error.get("detail"),
            )
        else:
            return None  # APPROVED, PENDING, a refund's echo: passed through unchanged
        return base.Emitted(data=data, key=data.payment_id, subject=data.payment_id)

    @staticmethod
    def _refund(refund: dict[str, Any], occurred_at: datetime) -> base.Emitted | None:
        if refund.get("status") != "COMPLETED":
            return None  # PENDING, REJECTED, FAILED: passed through unchanged
        amount = _money(refund.get("amount_money"))
        payment_id = refund["payment_id"]
        data = payments.PaymentRefunded(
            provider="square",
            payment_id=payment_id,
            amount=amount,
            occurred_at=occurred_at,
            refund_id=refund["id"],
            refund_amount=amount,
            reason=refund.get("reason"),
        )
        return base.Emitted(data=data, key=payment_id, subject=payment_id)

    @staticmethod
    def _dispute(dispute: dict[str, Any], occurred_at: datetime) -> base.Emitted:
        payment_id = (dispute.get("disputed_payment") or {})["payment_id"]
        data = payments.PaymentDisputed(
            provider="square",
            payment_id=payment_id,
            amount=_money(dispute.get("amount_money")),
            occurred_at=occurred_at,
            dispute_id=dispute.get("id") or dispute["dispute_id"],
            reason=dispute.get("reason"),
            status=dispute.get("state"),
            evidence_due_by=base.iso_time(dispute.get("due_at")),
        )
        return base.Emitted(data=data, key=payment_id, subject=payment_id)

    @staticmethod
    def _subscription(
        event_type: str, subscription: dict[str, Any], occurred_at: datetime
    ) -> base.Emitted:
        status = subscription["status"]
        # Square has no cancellation event: a cancellation is an update to status CANCELED.
        model = (
            payments.SubscriptionCanceled
            if status == "CANCELED"
            else SUBSCRIPTION_EVENTS[event_type]
        )
        price = subscription.get("price_override_money")
        data = model(
            provider="square",
            subscription_id=subscription["id"],
            customer_id=subscription.get("customer_id"),
            status=status,
            # `plan_id` is the name older API versions used for the plan variation.
            plan_id=subscription.get("plan_variation_id") or subscription.get("plan_id"),
            amount=_money(price) if price is not None else None,
            current_period_end=_period_end(subscription),
            occurred_at=occurred_at,
        )
        return base.Emitted(data=data, key=data.subscription_id, subject=data.subscription_id)
