"""Stripe: `Stripe-Signature: t=…,v1=…` checked by Stripe's own SDK; dedup on the body's `id`.

The SDK checks signatures in constant time but reads the wall clock for the tolerance, so we call it
without a tolerance and apply ours with the injected clock (and in both directions).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import stripe

from handlers.base import (
    BaseHandler,
    Delivery,
    Emitted,
    Identity,
    InboundRequest,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    SignedRequest,
    SigningContext,
    Verdict,
    check_tolerance,
    from_unix,
    json_object,
    passthrough,
)
from ingest.sources import SourceConfig
from schemas.base import Money
from schemas.payments import PaymentFailed, PaymentRefunded, PaymentSucceeded

SIGNATURE_HEADER = "stripe-signature"
MAX_HEADER_LENGTH = 4096


def _signed_at(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t" and value.strip().isdigit():
            return int(value)
    raise InvalidSignatureError("Stripe-Signature has no t= timestamp")


def _money(amount: Any, currency: Any) -> Money:
    if not isinstance(amount, int) or not isinstance(currency, str):
        raise ValueError("Stripe object lacks an integer amount and a currency")
    return Money(amount_minor=amount, currency=currency.upper())


def _string_metadata(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


class StripeHandler(BaseHandler):
    vendor: ClassVar[str] = "stripe"
    summary: ClassVar[str] = "Stripe-Signature t=…,v1=HMAC-SHA256 hex of '{t}.{body}' (stripe SDK)"
    signature_headers: ClassVar[tuple[str, ...]] = ("Stripe-Signature",)
    default_tolerance_seconds: ClassVar[int | None] = 300
    mapped_types: ClassVar[Mapping[str, str]] = {
        "payment_intent.succeeded": "payment.succeeded",
        "payment_intent.payment_failed": "payment.failed",
        "charge.refunded": "payment.refunded",
    }
    sample_types: ClassVar[tuple[str, ...]] = (
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "customer.created",
    )

    def verify(
        self,
        request: InboundRequest,
        source: SourceConfig,
        now: float,
        documents: Mapping[str, bytes],
    ) -> Verdict:
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            raise MissingSignatureError("Stripe-Signature header is missing")
        # The SDK compares with hmac.compare_digest, which raises TypeError on non-ASCII str.
        if len(header) > MAX_HEADER_LENGTH or not header.isascii():
            raise InvalidSignatureError("Stripe-Signature header is malformed")
        try:
            payload = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequestError("body is not UTF-8") from None
        for index, secret in enumerate(source.secrets):
            try:
                stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
            except stripe.SignatureVerificationError:
                continue
            signed_at = _signed_at(header)
            check_tolerance(signed_at, now, self.tolerance(source))
            return Verdict(secret_index=index, signed_at=signed_at)
        raise InvalidSignatureError("no Stripe signature matches a configured secret")

    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        event = json_object(request.body)
        event_id, event_type = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
            raise MalformedRequestError("Stripe event has no id")
        if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
            raise MalformedRequestError("Stripe event has no type")
        return Identity(event_id=event_id, event_type=event_type)

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        event = json_object(delivery.body)
        obj = event.get("data", {}).get("object", {})
        occurred_at = from_unix(event.get("created")) or delivery.received_at
        match delivery.event_type:
            case "payment_intent.succeeded":
                data: PaymentSucceeded | PaymentFailed | PaymentRefunded = PaymentSucceeded(
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
                data = PaymentFailed(
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
                data = PaymentRefunded(
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
            case _:
                return [passthrough(delivery, event)]
        return [
            Emitted(
                type=data.event_type,
                data=data,
                key=payment_id,
                subject=payment_id,
                time=occurred_at,
            )
        ]

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        created = int(time.time())
        intent_id = f"pi_{secrets.token_hex(12)}"
        customer = f"cus_{secrets.token_hex(7)}"
        charge_id = f"ch_{secrets.token_hex(12)}"
        obj: dict[str, Any]
        if event_type.startswith("payment_intent."):
            failed = event_type == "payment_intent.payment_failed"
            obj = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": 2000,
                "amount_received": 0 if failed else 2000,
                "currency": "usd",
                "customer": customer,
                "created": created,
                "latest_charge": charge_id,
                "livemode": False,
                "metadata": {"order_id": f"order_{secrets.token_hex(4)}"},
                "status": "requires_payment_method" if failed else "succeeded",
                "last_payment_error": {
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                    "type": "card_error",
                }
                if failed
                else None,
            }
        elif event_type.startswith("charge."):
            obj = {
                "id": charge_id,
                "object": "charge",
                "amount": 2000,
                "amount_captured": 2000,
                "amount_refunded": 2000,
                "currency": "usd",
                "customer": customer,
                "payment_intent": intent_id,
                "refunded": True,
                "created": created,
                "metadata": {},
            }
        else:
            obj = {
                "id": customer,
                "object": "customer",
                "email": "jenny.rosen@example.com",
                "created": created,
            }
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": created,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        return json.dumps(event, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode("utf-8"), context.secret or "", timestamp=int(now)
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": header,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
