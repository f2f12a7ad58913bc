"""What `mixpanel` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/mixpanel.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.mixpanel import MixpanelHandler
from ingest.handlers.schemes.credentials import BasicCredentials
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.simulation.credentials import basic_authorization, first_basic_credential


class MixpanelSimulator(Simulator[MixpanelHandler]):
    vendor: ClassVar[str] = MixpanelHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {"Content-Type": "application/json"}
        options = self.handler.options(context.source, BasicCredentials)
        credential = first_basic_credential(options.basic_auth)
        if credential is not None:  # without one the request goes unauthenticated (and is refused)
            headers["Authorization"] = basic_authorization(credential)
        return SignedRequest(headers=headers, body=body, url=context.url)
