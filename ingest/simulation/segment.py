"""What `segment` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/segment.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.segment import SIGNATURE, SegmentHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class SegmentSimulator(Simulator[SegmentHandler]):
    vendor: ClassVar[str] = SegmentHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Segment.io/1.0",
            SIGNATURE.header: SIGNATURE.header_value(context.secret or "", body),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
