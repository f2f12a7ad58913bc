"""What `segment` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.segment import SIGNATURE, SegmentHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class SegmentSimulator(Simulator[SegmentHandler]):
    vendor: ClassVar[str] = SegmentHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = ("track", "identify", "page", "screen", "group")

    def sample(self, event_type: str | None) -> bytes:
        """The Segment Webhooks destination's documented examples, with fresh ids."""
        event_type = event_type or self.sample_types[0]
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message: dict[str, Any] = {
            "version": 1,
            "type": event_type,
            "messageId": f"ajs-next-{secrets.token_hex(16)}",
            "userId": "019mr8mf4r",
            "anonymousId": str(uuid.uuid4()),
            "context": {
                "ip": "8.8.8.8",
                "library": {"name": "analytics.js", "version": "2.11.1"},
                "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
            },
            "timestamp": now,
            "sentAt": now,
            "receivedAt": now,
        }
        match event_type:
            case "track":
                message["event"] = "Purchased an Item"
                message["properties"] = {"revenue": "39.95", "shippingMethod": "2-day"}
            case "identify":
                message["traits"] = {
                    "email": "achilles@segment.com",
                    "name": "Achilles",
                    "subscriptionPlan": "Premium",
                    "friendCount": 29,
                }
            case "page":
                message["name"] = "Pricing"
                message["properties"] = {
                    "path": "/pricing",
                    "referrer": "https://segment.com",
                    "title": "Segment Pricing",
                    "url": "https://segment.com/pricing",
                }
            case "screen":
                message["name"] = "Main Screen"
                message["properties"] = {"from": "Home Screen"}
            case "group":
                message["groupId"] = "0e8c78ea9d97a7b8185e8632"
                message["traits"] = {
                    "name": "Initech",
                    "industry": "Technology",
                    "employees": 329,
                    "plan": "Enterprise",
                }
            case "alias":
                message["previousId"] = "39239-239239-239239-23923"
        return json.dumps(message, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Segment.io/1.0",
            SIGNATURE.header: SIGNATURE.header_value(context.secret or "", body),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
