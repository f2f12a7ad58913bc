"""What `square` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.square import SIGNATURE, SquareHandler, SquareOptions
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def signature(key: str, notification_url: str, body: bytes) -> str:
    """What Square puts in the header: UTF-8 of URL + body, HMAC-SHA256, base64."""
    return SIGNATURE.header_value(key, notification_url.encode() + body)


def _sample(event_type: str) -> dict[str, Any]:
    """Bodies shaped like the examples on Square's webhook reference pages, fresh ids each time."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    location_id = "S8GWD5R9QB376"
    payment_id = secrets.token_hex(14)
    order_id = secrets.token_hex(14)
    customer_id = secrets.token_hex(13).upper()
    money = {"amount": 2000, "currency": "USD"}
    entity: dict[str, Any]
    if event_type == "payment.updated":
        data_type, object_key = "payment", "payment"
        entity = {
            "id": payment_id,
            "amount_money": money,
            "total_money": money,
            "approved_money": money,
            "card_details": {
                "status": "CAPTURED",
                "card": {"card_brand": "MASTERCARD", "last_4": "9029", "exp_month": 11},
                "entry_method": "KEYED",
                "cvv_status": "CVV_ACCEPTED",
                "avs_status": "AVS_ACCEPTED",
            },
            "created_at": now,
            "updated_at": now,
            "customer_id": customer_id,
            "location_id": location_id,
            "order_id": order_id,
            "receipt_number": payment_id[:4],
            "source_type": "CARD",
            "status": "COMPLETED",
            "version": 1,
        }
    elif event_type == "refund.updated":
        data_type, object_key = "refund", "refund"
        entity = {
            "id": f"{payment_id}_{secrets.token_hex(14)}",
            "amount_money": money,
            "created_at": now,
            "updated_at": now,
            "location_id": location_id,
            "order_id": order_id,
            "payment_id": payment_id,
            "reason": "Returned goods",
            "status": "COMPLETED",
            "version": 2,
        }
    elif event_type == "dispute.created":
        data_type, object_key = "dispute", "object"
        dispute_id = secrets.token_urlsafe(16)
        entity = {
            "id": dispute_id,
            "dispute_id": dispute_id,
            "amount_money": {"amount": 8801, "currency": "USD"},
            "brand_dispute_id": secrets.token_hex(10),
            "card_brand": "VISA",
            "created_at": now,
            "updated_at": now,
            "disputed_payment": {"payment_id": payment_id},
            "due_at": now,
            "location_id": location_id,
            "reason": "AMOUNT_DIFFERS",
            "reported_at": now,
            "state": "EVIDENCE_REQUIRED",
            "version": 1,
        }
    elif event_type.startswith("subscription."):
        data_type, object_key = "subscription", "subscription"
        entity = {
            "id": str(uuid.uuid4()),
            "created_at": now,
            "customer_id": customer_id,
            "location_id": location_id,
            "plan_variation_id": "6JHXF3B2CW3YKHDV4XEM674H",
            "start_date": now[:10],
            "charged_through_date": now[:10],
            "status": "ACTIVE",
            "timezone": "America/Los_Angeles",
            "version": 1,
            "source": {"name": "My Application"},
        }
    else:
        data_type, object_key = "customer", "customer"
        entity = {
            "id": customer_id,
            "created_at": now,
            "updated_at": now,
            "given_name": "Amelia",
            "family_name": "Earhart",
            "email_address": "Amelia.Earhart@example.com",
            "version": 0,
        }
    return {
        "merchant_id": "6SSW7HV8K2ST5",
        "location_id": location_id,
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "created_at": now,
        "data": {"type": data_type, "id": entity["id"], "object": {object_key: entity}},
    }


class SquareSimulator(Simulator[SquareHandler]):
    vendor: ClassVar[str] = SquareHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "payment.updated",
        "refund.updated",
        "dispute.created",
        "subscription.created",
        "subscription.updated",
        "customer.created",
    )

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        return json.dumps(_sample(event_type), indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        # Square signs the registered URL even when the request is posted elsewhere (ingest send
        # to a local server): sign what verification will recompute.
        url = self.handler.options(context.source, SquareOptions).notification_url
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Square Connect v2",
            "square-environment": "Sandbox",
            "square-initial-delivery-timestamp": datetime.fromtimestamp(now, tz=UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "square-retry-number": "0",
            "x-square-hmacsha256-signature": signature(context.secret or "", url, body),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
