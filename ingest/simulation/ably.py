"""What `ably` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are data
(`samples/ably.json`), signed here as the vendor signs them. The service never imports this."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from ingest.handlers.ably import SAMPLE_KEY_NAME, SIGNATURE, AblyHandler, _split_key
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class AblySimulator(Simulator[AblyHandler]):
    vendor: ClassVar[str] = AblyHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        name, secret = _split_key(context.secret or "") or (
            SAMPLE_KEY_NAME,
            context.secret or "",
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Ably",
            "X-Ably-Version": "1.2",
            "X-Ably-Key": name,
            SIGNATURE.header: SIGNATURE.header_value(secret, body),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
