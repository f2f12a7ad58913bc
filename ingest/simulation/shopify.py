"""What `shopify` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.shopify import SIGNATURE, ShopifyHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _guess_topic(body: bytes) -> str:
    """For `ingest send --file` without `--type`: the topic whose payload this looks like."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "orders/create"
    if isinstance(payload, dict) and "order_id" in payload and "transactions" in payload:
        return "refunds/create"
    return "orders/create"


class ShopifySimulator(Simulator[ShopifyHandler]):
    vendor: ClassVar[str] = ShopifyHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "refunds/create",
        "customers/create",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Payloads shaped like the examples in Shopify's webhook topic reference."""
        topic = event_type or self.sample_types[0]
        order_id = 820982911946154508 + secrets.randbelow(10**12)
        customer = {
            "id": 115310627314723954,
            "email": "john@example.com",
            "first_name": "John",
            "last_name": "Smith",
        }
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        payload: dict[str, Any]
        if topic == "refunds/create":
            payload = {
                "id": 890088186047892319 + secrets.randbelow(10**12),
                "order_id": order_id,
                "created_at": now,
                "note": "Things were damaged",
                "restock": True,
                "user_id": 548380009,
                "refund_line_items": [],
                "transactions": [
                    {
                        "id": 245135271310201670 + secrets.randbelow(10**12),
                        "order_id": order_id,
                        "kind": "refund",
                        "gateway": "bogus",
                        "status": "success",
                        "amount": "10.00",
                        "currency": "USD",
                    }
                ],
            }
        elif topic == "customers/create":
            payload = {**customer, "id": 706405506930370084 + secrets.randbelow(10**12)}
        else:
            paid = topic in ("orders/paid", "orders/fulfilled")
            payload = {
                "id": order_id,
                "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
                "name": f"#{1000 + secrets.randbelow(9000)}",
                "order_number": 1234,
                "email": "jon@example.com",
                "created_at": now,
                "updated_at": now,
                "cancelled_at": now if topic == "orders/cancelled" else None,
                "cancel_reason": "customer" if topic == "orders/cancelled" else None,
                "currency": "USD",
                "subtotal_price": "398.00",
                "total_tax": "0.00",
                "total_price": "403.00",
                "financial_status": "paid" if paid else "pending",
                "fulfillment_status": "fulfilled" if topic == "orders/fulfilled" else None,
                "customer": customer,
                "line_items": [
                    {
                        "id": 487817672276298554,
                        "title": "Aviator sunglasses",
                        "quantity": 1,
                        "price": "199.00",
                        "sku": "SKU2006-001",
                    },
                    {
                        "id": 976318377106520349,
                        "title": "Mid-century lounger",
                        "quantity": 1,
                        "price": "199.00",
                        "sku": "SKU2006-020",
                    },
                ],
            }
        return json.dumps(payload, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        triggered_at = datetime.fromtimestamp(now, tz=UTC).isoformat().replace("+00:00", "Z")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": event_type or _guess_topic(body),
            SIGNATURE.header: SIGNATURE.header_value(context.secret or "", body),
            "X-Shopify-Shop-Domain": "example.myshopify.com",
            "X-Shopify-API-Version": "2025-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
