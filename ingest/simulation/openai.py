"""What `openai` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import ClassVar

from ingest.handlers.openai import OpenAIHandler, signing_key
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class OpenAISimulator(Simulator[OpenAIHandler]):
    vendor: ClassVar[str] = OpenAIHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "response.completed",
        "response.failed",
        "response.cancelled",
        "response.incomplete",
        "batch.completed",
        "batch.failed",
        "batch.cancelled",
        "batch.expired",
        "fine_tuning.job.succeeded",
        "fine_tuning.job.failed",
        "fine_tuning.job.cancelled",
        "eval.run.succeeded",
    )

    def sample(self, event_type: str | None) -> bytes:
        """The shape of OpenAI's documented events (and the SDK's test payload), fresh ids."""
        event_type = event_type or self.sample_types[0]
        prefix = {
            "response": "resp",
            "batch": "batch",
            "fine_tuning": "ftjob",
            "eval": "evalrun",
        }.get(event_type.split(".", 1)[0], "obj")
        event = {
            "id": f"evt_{secrets.token_hex(16)}",
            "object": "event",
            "created_at": int(time.time()),
            "type": event_type,
            "data": {"id": f"{prefix}_{secrets.token_hex(16)}"},
        }
        return json.dumps(event).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        msg_id = f"wh_{uuid.uuid4().hex}"
        timestamp = str(int(now))
        key = signing_key(context.secret or "") or b""
        digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)",
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": f"v1,{base64.b64encode(digest).decode('ascii')}",
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
