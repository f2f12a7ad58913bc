"""What `r2` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies with
fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from ingest.handlers.r2 import CREATE_ACTIONS, R2Handler
from ingest.simulation.standard_webhooks import StandardWebhooksSimulator


class R2Simulator(StandardWebhooksSimulator):
    vendor: ClassVar[str] = R2Handler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "PutObject",
        "CopyObject",
        "CompleteMultipartUpload",
        "DeleteObject",
        "LifecycleDeletion",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Cloudflare's documented example message body, with a fresh object key."""
        action = event_type or self.sample_types[0]
        message: dict[str, Any] = {
            "account": "3f4b7e3dcab231cbfdaa90a6a28bd548",
            "action": action,
            "bucket": "my-bucket",
            "object": {"key": f"my-new-object-{secrets.token_hex(6)}"},
            "eventTime": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        if action in CREATE_ACTIONS:
            message["object"].update(size=65536, eTag="c846ff7a18f28c2e262116d6e8719ef0")
        if action == "CopyObject":
            message["copySource"] = {"bucket": "my-bucket", "object": "my-original-object"}
        return json.dumps(message).encode()
