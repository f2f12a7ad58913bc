"""What `postmark` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/postmark.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.postmark import PostmarkHandler
from ingest.handlers.schemes.credentials import BasicCredentials
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.simulation.credentials import basic_authorization


class PostmarkSimulator(Simulator[PostmarkHandler]):
    vendor: ClassVar[str] = PostmarkHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        options = self.handler.options(context.source, BasicCredentials)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Postmark",
            "Authorization": basic_authorization(options.basic_auth[0]),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
