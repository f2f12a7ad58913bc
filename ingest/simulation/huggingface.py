"""What `huggingface` sends, simulated for `ingest send`, the benchmarks and the tests: sample
bodies with fresh ids, signed as the vendor signs them. The service never imports this to
receive."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.huggingface import HuggingFaceHandler
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class HuggingFaceSimulator(Simulator[HuggingFaceHandler]):
    vendor: ClassVar[str] = HuggingFaceHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {"Content-Type": "application/json", "X-Webhook-Secret": context.secret or ""}
        return SignedRequest(headers=headers, body=body, url=context.url)
