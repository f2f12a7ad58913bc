"""What `twilio` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

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
    sample_types: ClassVar[tuple[str, ...]] = (
        "message.delivered",
        "message.received",
        "message.undelivered",
        "call.completed",
        "message.accepted",
    )

    def sample(self, event_type: str | None) -> bytes:
        """Parameters as in Twilio's documented status callbacks and inbound message requests."""
        event_type = event_type or self.sample_types[0]
        kind, _, status = event_type.partition(".")
        account = "AC" + secrets.token_hex(16)
        if kind == "call":
            params = {
                "AccountSid": account,
                "ApiVersion": "2010-04-01",
                "CallSid": "CA" + secrets.token_hex(16),
                "CallStatus": status or "completed",
                "CallDuration": "17",
                "CallbackSource": "call-progress-events",
                "Called": "+15017122661",
                "Caller": "+15558675310",
                "Direction": "outbound-api",
                "Duration": "1",
                "From": "+15558675310",
                "SequenceNumber": "3",
                "SipResponseCode": "200",
                "Timestamp": format_datetime(datetime.now(UTC).replace(microsecond=0)),
                "To": "+15017122661",
            }
        else:
            status = status or "delivered"
            sid = "SM" + secrets.token_hex(16)
            params = {
                "AccountSid": account,
                "ApiVersion": "2010-04-01",
                "From": "+15017122661",
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
                "To": "+15558675310",
            }
            if status == "received":
                params.update(
                    {
                        "Body": "Hello from Twilio!",
                        "NumMedia": "0",
                        "NumSegments": "1",
                        "SmsMessageSid": sid,
                        "From": "+15558675310",
                        "To": "+15017122661",
                    }
                )
            if status in {"undelivered", "failed"}:
                params["ErrorCode"] = "30003"
        return urlencode(params).encode()

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
