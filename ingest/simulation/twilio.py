"""What `twilio` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/twilio.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar
from urllib.parse import urlsplit

from typing_extensions import override

from ingest.handlers.base import (
    InboundRequest,
)
from ingest.handlers.twilio import (
    BODY_HASH_PARAM,
    SIGNATURES,
    TwilioHandler,
    _form_params,
    _is_json_body,
    _signed_string,
)
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class TwilioSimulator(Simulator[TwilioHandler]):
    vendor: ClassVar[str] = TwilioHandler.vendor

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        target = context.url
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        if _is_json_body(body):
            separator = "&" if urlsplit(target).query else "?"
            digest = hashlib.sha256(body).hexdigest()
            target = f"{target}{separator}{BODY_HASH_PARAM}={digest}"
            headers["Content-Type"] = "application/json"
            params: list[tuple[str, str]] = []
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            params = _form_params(body)
        inbound = InboundRequest(method="POST", url=target, headers={}, body=body)
        signed_url = self.handler.signed_url(inbound, context.source)
        signature = SIGNATURES["HMAC_SHA1"]
        signed = _signed_string(signed_url, params)
        headers[signature.header] = signature.header_value(context.secret or "", signed)
        return SignedRequest(headers=headers, body=body, url=target)
