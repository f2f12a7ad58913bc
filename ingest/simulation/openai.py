"""What `openai` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/openai.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import ClassVar

from typing_extensions import override

from ingest.handlers.openai import OpenAIHandler, signing_key
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class OpenAISimulator(Simulator[OpenAIHandler]):
    vendor: ClassVar[str] = OpenAIHandler.vendor

    @override
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
