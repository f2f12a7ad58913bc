"""What `pusher` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, ClassVar

from pydantic import ValidationError

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
    sample_types: ClassVar[tuple[str, ...]] = (
        "batch",
        "channel_occupied",
        "channel_vacated",
        "member_added",
        "member_removed",
        "client_event",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Events as in Pusher's webhook documentation; `batch` is several in one webhook."""
        event_type = event_type or self.sample_types[0]
        channel = f"presence-room-{secrets.token_hex(4)}"
        user_id = f"user-{secrets.token_hex(4)}"
        catalog: dict[str, dict[str, Any]] = {
            "channel_occupied": {"name": "channel_occupied", "channel": channel},
            "member_added": {"name": "member_added", "channel": channel, "user_id": user_id},
            "client_event": {
                "name": "client_event",
                "channel": channel,
                "event": "client-typing",
                "data": json.dumps({"user": user_id}),
                "socket_id": f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**7)}",
                "user_id": user_id,
            },
            "member_removed": {"name": "member_removed", "channel": channel, "user_id": user_id},
            "channel_vacated": {"name": "channel_vacated", "channel": channel},
        }
        events = (
            list(catalog.values())
            if event_type == "batch"
            else [catalog.get(event_type, {"name": event_type, "channel": channel})]
        )
        body = {"time_ms": int(time.time() * 1000), "events": events}
        return json.dumps(body).encode()

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
