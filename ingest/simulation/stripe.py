"""What `stripe` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, ClassVar

import stripe

from ingest.handlers.stripe import StripeHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _sample_subscription(event_type: str, customer: str, created: int) -> dict[str, Any]:
    """Shape of Stripe's documented Subscription object, one monthly price, API 2024-06-20."""
    subscription_id = f"sub_{secrets.token_hex(12)}"
    canceled = event_type == "customer.subscription.deleted"
    price = {
        "id": "price_1MowQULkdIwHu7ixraBm864M",
        "object": "price",
        "active": True,
        "currency": "usd",
        "product": "prod_NZKdYqrwEYx6iK",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": 1000,
    }
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": False,
        "canceled_at": created if canceled else None,
        "created": created,
        "currency": "usd",
        "current_period_end": created + 30 * 86_400,
        "current_period_start": created,
        "customer": customer,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{secrets.token_hex(7)}",
                    "object": "subscription_item",
                    "price": price,
                    "quantity": 1,
                    "subscription": subscription_id,
                }
            ],
        },
        "livemode": False,
        "metadata": {},
        "status": "canceled" if canceled else "active",
    }


class StripeSimulator(Simulator[StripeHandler]):
    vendor: ClassVar[str] = StripeHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "charge.dispute.created",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.created",
    )

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
        elif event_type == "charge.dispute.created":
            # Shape of Stripe's documented Dispute object (API reference, "The Dispute object").
            obj = {
                "id": f"dp_{secrets.token_hex(12)}",
                "object": "dispute",
                "amount": 2000,
                "balance_transactions": [],
                "charge": charge_id,
                "created": created,
                "currency": "usd",
                "evidence_details": {
                    "due_by": created + 7 * 86_400,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": True,
                "livemode": False,
                "metadata": {},
                "payment_intent": intent_id,
                "reason": "fraudulent",
                "status": "needs_response",
            }
        elif event_type.startswith("customer.subscription."):
            obj = _sample_subscription(event_type, customer, created)
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
