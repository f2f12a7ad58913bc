"""What `generic_hmac` sends, simulated for `ingest send`, the benchmarks and the tests: sample
bodies with fresh ids, signed as the vendor signs them. The service never imports this to
receive."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.generic_hmac import GenericHmacHandler, GenericHmacOptions, _content
from ingest.simulation import _extraction
from ingest.simulation._extraction import ExtractingSimulator
from ingest.simulation.base import SignedRequest, SigningContext


class GenericHmacSimulator(ExtractingSimulator):
    vendor: ClassVar[str] = GenericHmacHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        options = self.handler.options(context.source, GenericHmacOptions)
        if not context.secret:
            raise ConfigError(f"source {context.source.name!r}: no secret to sign with")
        headers = {
            "Content-Type": "application/json",
            **_extraction.sample_headers(options, event_type),
        }
        values = {"body": body, "url": context.url.encode()}
        timestamp = str(int(now))
        if options.has_timestamp:
            values["timestamp"] = timestamp.encode()
        if options.timestamp_header:
            headers[options.timestamp_header] = timestamp
        if options.id_header:
            values["id"] = headers[options.id_header].encode()
        signature = options.signature.header_value(
            context.secret, _content(options.signed_content, values)
        )
        if options.timestamp_prefix is not None and options.multiple_signatures_separator:
            signature = (
                f"{options.timestamp_prefix}{timestamp}"
                f"{options.multiple_signatures_separator}{signature}"
            )
        headers[options.header] = signature
        return SignedRequest(headers=headers, body=body, url=context.url)
