"""What `header_token` sends, simulated for `ingest send`, the benchmarks and the tests: sample
bodies with fresh ids, signed as the vendor signs them. The service never imports this to
receive."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.header_token import AUTHORIZATION, HeaderTokenHandler, HeaderTokenOptions
from ingest.simulation import _extraction
from ingest.simulation._extraction import ExtractingSimulator
from ingest.simulation.base import SignedRequest, SigningContext


class HeaderTokenSimulator(ExtractingSimulator):
    vendor: ClassVar[str] = HeaderTokenHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """With the first configured token; as a Bearer token when the header is Authorization."""
        options = self.handler.options(context.source, HeaderTokenOptions)
        token = options.tokens[0]
        headers = {
            "Content-Type": "application/json",
            options.header: f"Bearer {token}" if options.header == AUTHORIZATION else token,
            **_extraction.sample_headers(options, event_type),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
