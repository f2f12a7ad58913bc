"""What `pusher` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/pusher.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError
from typing_extensions import override

from ingest.handlers.pusher import SAMPLE_KEY, SIGNATURE, PusherHandler, PusherOptions
from ingest.simulation.base import SignedRequest, SigningContext, Simulator
from ingest.sources import SourceConfig


def _key_for(handler: PusherHandler, source: SourceConfig, secret: str) -> str:
    """The app key that goes with `secret`; a placeholder when the source configures none."""
    try:
        keys = handler.options(source, PusherOptions).app_key
    except ValidationError:  # a source without an app key: the sample still has one
        return SAMPLE_KEY
    if isinstance(keys, str):
        return keys
    index = source.secrets.index(secret) if secret in source.secrets else 0
    return keys[min(index, len(keys) - 1)]


class PusherSimulator(Simulator[PusherHandler]):
    vendor: ClassVar[str] = PusherHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        secret = context.secret or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pusher-webhooks",
            "X-Pusher-Key": _key_for(self.handler, context.source, secret),
            SIGNATURE.header: SIGNATURE.header_value(secret, body),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
