"""What `ably` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies with
fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, ClassVar

from ingest.handlers.ably import SAMPLE_KEY_NAME, SIGNATURE, AblyHandler, _split_key
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class AblySimulator(Simulator[AblyHandler]):
    vendor: ClassVar[str] = AblyHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "channel.lifecycle",
        "channel.presence",
        "channel.message",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Items as in Ably's "Outbound webhooks" documentation, batched and enveloped."""
        event_type = event_type or self.sample_types[0]
        now_ms = int(time.time() * 1000)
        channel = f"chat-channel-{secrets.token_hex(3)}"
        connection = secrets.token_hex(5)
        base = {
            "webhookId": "ABcDEf",
            "source": event_type,
            "serial": f"{secrets.token_hex(11)}:{secrets.randbelow(10)}",
            "timestamp": now_ms,
        }
        item: dict[str, Any]
        if event_type == "channel.presence":
            item = {
                **base,
                "name": "presence.message",
                "data": {
                    "channelId": channel,
                    "site": "eu-west-1-A",
                    "presence": [
                        {
                            "id": f"{connection}:1:0",
                            "clientId": "bob",
                            "connectionId": connection,
                            "timestamp": now_ms,
                            "data": "the message data",
                            "action": 2,
                        }
                    ],
                },
            }
        elif event_type == "channel.message":
            item = {
                **base,
                "name": "channel.message",
                "data": {
                    "channelId": channel,
                    "site": "eu-west-1-A",
                    "messages": [
                        {
                            "id": f"{connection}:1:0",
                            "clientId": "user-3",
                            "connectionId": connection,
                            "timestamp": now_ms,
                            "data": "the message data",
                            "name": "a message name",
                        }
                    ],
                },
            }
        else:
            item = {
                **base,
                "source": "channel.lifecycle",
                "name": "channel.opened",
                "data": {
                    "channelId": channel,
                    "name": channel,
                    "status": {
                        "isActive": True,
                        "occupancy": {
                            "metrics": {"connections": 1, "publishers": 1, "subscribers": 1}
                        },
                    },
                },
            }
        return json.dumps({"items": [item]}).encode()

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
