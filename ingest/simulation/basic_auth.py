"""What `basic_auth` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.basic_auth import BasicAuthHandler, BasicAuthOptions
from ingest.simulation import _extraction
from ingest.simulation._extraction import ExtractingSimulator
from ingest.simulation.base import SignedRequest, SigningContext
from ingest.simulation.credentials import basic_authorization


class BasicAuthSimulator(ExtractingSimulator):
    vendor: ClassVar[str] = BasicAuthHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """With the first configured pair (the one a sender would be set up with)."""
        options = self.handler.options(context.source, BasicAuthOptions)
        headers = {
            "Content-Type": "application/json",
            "Authorization": basic_authorization(options.basic_auth[0]),
            **_extraction.sample_headers(options, event_type),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
