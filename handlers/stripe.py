"""Stripe: `Stripe-Signature: t=…,v1=…` checked by Stripe's own SDK; dedup on the body's `id`.

The SDK checks signatures in constant time but reads the wall clock for the tolerance, so we call it
without a tolerance and apply ours with the injected clock (and in both directions).

Payments, refunds, disputes and subscriptions map to the shared payments schema; a subscription's
events are keyed by the subscription id, everything else by the PaymentIntent (or the Charge when
there is no intent) so that a payment's success, refund and dispute stay in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import stripe
from typing_extensions import override

from ingest.handlers import base
from ingest.schemas import payments
from ingest.schemas.base import Money, currency_exponent

MAX_HEADER_LENGTH = 4096


def _signed_at(header: str) -> int:
    """The timestamp exactly as Stripe's SDK reads it — the first item whose key is exactly `t`,
    the text up to a second `=`, through `int()` — because that is the one its signature check
    covered. Reading it any other way (stripping keys, taking another `t`) would apply the
    tolerance to one timestamp and the signature to another."""
    for item in header.split(","):
        parts = item.split("=", 2)
        if parts[0] == "t":
            try:
                return int(parts[1]) if len(parts) > 1 else int("")
            except ValueError:
                raise base.InvalidSignatureError("Stripe-Signature t= is not a Unix time") from None
    raise base.InvalidSignatureError("Stripe-Signature has no t= timestamp")


# Stripe's own decimals per currency (https://docs.stripe.com/currencies): amounts are integers
# in these units, which are not always ISO 4217's. MGA is zero-decimal at Stripe but has two
# decimals in ISO; ISK has none in ISO but Stripe kept two ("100" is 1 króna).
STRIPE_ZERO_DECIMAL = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
        "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def stripe_exponent(currency: str) -> int:
    if currency in STRIPE_ZERO_DECIMAL:
        return 0
    return 3 if currency in STRIPE_THREE_DECIMAL else 2


def _money(amount: Any, currency: Any) -> Money:
    """Stripe's integer amount as ISO 4217 minor units: the same for most currencies, times 100
    for MGA, divided by 100 for ISK: exactly, or an error (an old fractional-króna charge has no
    ISO form)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        raise ValueError("Stripe object lacks an integer amount and a currency")
    code = currency.upper()
    shift = currency_exponent(code) - stripe_exponent(code)
    if shift >= 0:
        return Money(amount_minor=amount * 10**shift, currency=code)
    divisor = 10**-shift
    if amount % divisor:
        raise ValueError(
            f"Stripe amount {amount} {code} is not a whole number of ISO 4217 minor units"
        )
    return Money(amount_minor=amount // divisor, currency=code)


def _string_metadata(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


SUBSCRIPTION_EVENTS: dict[str, type[payments.SubscriptionEvent]] = {
    "customer.subscription.created": payments.SubscriptionCreated,
    "customer.subscription.updated": payments.SubscriptionUpdated,
    # Stripe "deletes" a subscription when it is canceled (at once or at the period's end).
    "customer.subscription.deleted": payments.SubscriptionCanceled,
}


def _subscription(
    model: type[payments.SubscriptionEvent], sub: dict[str, Any], occurred_at: datetime
) -> payments.SubscriptionEvent:
    """Price, interval and period from the subscription's items.

    The price and amount are only filled for a single-item subscription: with several items there
    is no one plan, and summing prices of different intervals would invent a number. Since API
    version 2025-03-31 `current_period_end` lives on the items; before, on the subscription.
    """
    items = base.object_or_empty(sub.get("items")).get("data")
    items = items if isinstance(items, list) else []
    item = base.object_or_empty(items[0]) if len(items) == 1 else {}
    # `plan` is the legacy name of the price on older API versions.
    price = (
        base.object_or_empty(item.get("price"))
        or base.object_or_empty(item.get("plan"))
        or base.object_or_empty(sub.get("plan"))
    )
    recurring = base.object_or_empty(price.get("recurring"))
    unit_amount, currency = price.get("unit_amount", price.get("amount")), price.get("currency")
    quantity = item.get("quantity", sub.get("quantity", 1))
    amount = (
        _money(unit_amount * quantity, currency)
        if isinstance(unit_amount, int) and isinstance(quantity, int) and isinstance(currency, str)
        else None
    )
    period_end = sub.get("current_period_end") or item.get("current_period_end")
    customer = sub.get("customer")
    return model(
        provider="stripe",
        subscription_id=sub["id"],
        customer_id=customer if isinstance(customer, str) else None,
        status=sub["status"],
        plan_id=price.get("id") if isinstance(price.get("id"), str) else None,
        amount=amount,
        interval=recurring.get("interval") or price.get("interval"),
        interval_count=recurring.get("interval_count") or price.get("interval_count"),
        current_period_end=base.from_unix(period_end) if isinstance(period_end, int) else None,
        cancel_at_period_end=sub.get("cancel_at_period_end"),
        canceled_at=base.from_unix(sub.get("canceled_at")),
        occurred_at=occurred_at,
        metadata=_string_metadata(sub.get("metadata")),
    )


EVENT_FIELDS = base.EventFields(vendor="Stripe", id="id", type="type")


class StripeHandler(base.FieldsIdentified):
    vendor: ClassVar[str] = "stripe"
    summary: ClassVar[str] = "Stripe-Signature t=…,v1=HMAC-SHA256 hex of '{t}.{body}' (stripe SDK)"
    signature_headers: ClassVar[tuple[str, ...]] = ("Stripe-Signature",)
    default_tolerance_seconds: ClassVar[int | None] = 300
    event_fields: ClassVar[base.EventFields] = EVENT_FIELDS
    mapped_types: ClassVar[Mapping[str, str]] = {
        "payment_intent.succeeded": "payment.succeeded",
        "payment_intent.payment_failed": "payment.failed",
        "charge.refunded": "payment.refunded",
        "charge.dispute.created": "payment.disputed",
        "customer.subscription.created": "subscription.created",
        "customer.subscription.updated": "subscription.updated",
        "customer.subscription.deleted": "subscription.canceled",
    }

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now = check.request, check.source, check.now
        header = request.required_header("Stripe-Signature", max_length=MAX_HEADER_LENGTH)
        # The SDK compares with hmac.compare_digest, which raises TypeError on non-ASCII str.
        if not header.isascii():
            raise base.InvalidSignatureError("Stripe-Signature header is malformed")
        try:
            payload = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise base.MalformedRequestError("body is not UTF-8") from None
        for index, secret in enumerate(source.secrets):
            try:
                stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
            except stripe.SignatureVerificationError:
                continue
            signed_at = _signed_at(header)
            base.check_tolerance(signed_at, now, self.tolerance(source))
            return base.Verdict(secret_index=index, signed_at=signed_at)
        raise base.InvalidSignatureError("no Stripe signature matches a configured secret")

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        event = delivery.json_object()
        obj = event.get("data", {}).get("object", {})
        occurred_at = base.from_unix(event.get("created")) or delivery.received_at
        if (model := SUBSCRIPTION_EVENTS.get(delivery.event_type)) is not None:
            subscription = _subscription(model, obj, occurred_at)
            return [
                base.Emitted(
                    data=subscription,
                    key=subscription.subscription_id,
                    subject=subscription.subscription_id,
                )
            ]
        data: (
            payments.PaymentSucceeded
            | payments.PaymentFailed
            | payments.PaymentRefunded
            | payments.PaymentDisputed
        )
        match delivery.event_type:
            case "payment_intent.succeeded":
                data = payments.PaymentSucceeded(
                    provider="stripe",
                    payment_id=obj["id"],
                    amount=_money(
                        obj.get("amount_received") or obj.get("amount"), obj.get("currency")
                    ),
                    customer_id=obj.get("customer"),
                    occurred_at=occurred_at,
                    metadata=_string_metadata(obj.get("metadata")),
                    charge_id=obj.get("latest_charge"),
                )
                payment_id = obj["id"]
            case "payment_intent.payment_failed":
                error = obj.get("last_payment_error") or {}
                data = payments.PaymentFailed(
                    provider="stripe",
                    payment_id=obj["id"],
                    amount=_money(obj.get("amount"), obj.get("currency")),
                    customer_id=obj.get("customer"),
                    occurred_at=occurred_at,
                    metadata=_string_metadata(obj.get("metadata")),
                    failure_code=error.get("code"),
                    failure_message=error.get("message"),
                    decline_code=error.get("decline_code"),
                )
                payment_id = obj["id"]
            case "charge.refunded":
                # Keyed by the PaymentIntent when there is one, so it follows that payment's
                # `payment.succeeded` on the same partition.
                payment_id = obj.get("payment_intent") or obj["id"]
                data = payments.PaymentRefunded(
                    provider="stripe",
                    payment_id=payment_id,
                    amount=_money(obj.get("amount_refunded"), obj.get("currency")),
                    amount_captured=_money(
                        obj.get("amount_captured", obj.get("amount")), obj.get("currency")
                    ),
                    customer_id=obj.get("customer"),
                    occurred_at=occurred_at,
                    metadata=_string_metadata(obj.get("metadata")),
                    charge_id=obj["id"],
                    fully_refunded=bool(obj.get("refunded")),
                )
            case "charge.dispute.created":
                # Keyed like the refund: by the PaymentIntent the disputed charge belongs to.
                payment_id = obj.get("payment_intent") or obj["charge"]
                due_by = base.object_or_empty(obj.get("evidence_details")).get("due_by")
                data = payments.PaymentDisputed(
                    provider="stripe",
                    payment_id=payment_id,
                    amount=_money(obj.get("amount"), obj.get("currency")),
                    occurred_at=occurred_at,
                    metadata=_string_metadata(obj.get("metadata")),
                    dispute_id=obj["id"],
                    reason=obj.get("reason"),
                    status=obj.get("status"),
                    charge_id=obj.get("charge"),
                    evidence_due_by=base.from_unix(due_by) if isinstance(due_by, int) else None,
                )
            case _:
                return [base.passthrough(delivery, event)]
        return [base.Emitted(data=data, key=payment_id, subject=payment_id)]
