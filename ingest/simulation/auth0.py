"""What `auth0` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/auth0.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.auth0 import (
    Auth0Handler,
    _records,
)
from ingest.handlers.base import MalformedRequestError
from ingest.handlers.schemes.credentials import TokenCredentials
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class Auth0Simulator(Simulator[Auth0Handler]):
    vendor: ClassVar[str] = Auth0Handler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        token = context.secret or self.handler.options(context.source, TokenCredentials).tokens[0]
        try:
            kind, _ = _records(body)
        except MalformedRequestError:
            kind = "logs"
        # Event streams send a Bearer token; log streams send the configured value verbatim.
        authorization = f"Bearer {token}" if kind == "cloudevent" else token
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        return SignedRequest(headers=headers, body=body, url=context.url)
