"""What `datadog` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/datadog.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.datadog import DatadogHandler, DatadogOptions
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.simulation.credentials import basic_authorization, first_basic_credential


class DatadogSimulator(Simulator[DatadogHandler]):
    vendor: ClassVar[str] = DatadogHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        headers = {"Content-Type": "application/json"}
        options = self.handler.options(context.source, DatadogOptions)
        if options.tokens:
            headers[options.header] = options.tokens[0]
        elif (credential := first_basic_credential(options.basic_auth)) is not None:
            headers["Authorization"] = basic_authorization(credential)
        return SignedRequest(headers=headers, body=body, url=context.url)
