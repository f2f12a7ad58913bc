"""What `square` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/square.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from typing_extensions import override

from ingest.handlers.square import SIGNATURE, SquareHandler, SquareOptions
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def signature(key: str, notification_url: str, body: bytes) -> str:
    """What Square puts in the header: UTF-8 of URL + body, HMAC-SHA256, base64."""
    return SIGNATURE.header_value(key, notification_url.encode() + body)


class SquareSimulator(Simulator[SquareHandler]):
    vendor: ClassVar[str] = SquareHandler.vendor

    @override
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
