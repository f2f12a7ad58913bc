"""What `shopify` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/shopify.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import ClassVar

from typing_extensions import override

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

    @override
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
