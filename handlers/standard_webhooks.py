"""Standard Webhooks (and Svix, which Clerk and many others use): `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64> [v1,<base64> …]` over `{id}.{timestamp}.{body}`.

The signature itself comes from the `standardwebhooks` library. We do not call its `verify`:
it reads the wall clock, and it raises ValueError/binascii.Error instead of its verification
error on headers such as `v1abc` or `v1,@@@` (a 500 waiting to happen). So we parse the headers
ourselves, strictly.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar

from standardwebhooks import Webhook

from handlers.base import (
    BaseHandler,
    Delivery,
    Emitted,
    Identity,
    InboundRequest,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    SignedRequest,
    SigningContext,
    Verdict,
    check_tolerance,
    json_object,
    parse_unix_timestamp,
    passthrough,
)
from ingest.errors import ConfigError
from ingest.sources import SourceConfig

MAX_SIGNATURES = 16
MAX_HEADER_LENGTH = 4096


@lru_cache(maxsize=256)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """`webhook-*` is the standard; `svix-*` is what Svix-powered senders such as Clerk use."""
    return headers.get(f"webhook-{name}") or headers.get(f"svix-{name}")


def _decode_signature(encoded: str) -> bytes | None:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None


class StandardWebhooksHandler(BaseHandler):
    vendor: ClassVar[str] = "standard-webhooks"
    summary: ClassVar[str] = "webhook-signature: v1,base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'"
    signature_headers: ClassVar[tuple[str, ...]] = (
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    )
    default_tolerance_seconds: ClassVar[int | None] = 300
    sample_types: ClassVar[tuple[str, ...]] = ("user.created", "user.updated", "user.deleted")

    def check_config(self, source: SourceConfig) -> SourceConfig:
        source = super().check_config(source)
        for index, secret in enumerate(source.secrets):
            # The library decodes leniently (junk → fewer or no bytes); a typo'd secret must not
            # quietly become a different key, so decode strictly here.
            encoded = secret.removeprefix("whsec_")
            try:
                key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if not key:
                raise ConfigError(
                    f"source {source.name!r}: secrets[{index}] is not a base64 (whsec_…) secret"
                )
        return source

    def verify(
        self,
        request: InboundRequest,
        source: SourceConfig,
        now: float,
        documents: Mapping[str, bytes],
    ) -> Verdict:
        headers, body = request.headers, request.body
        signature_header = _header(headers, "signature")
        if not signature_header:
            raise MissingSignatureError("webhook-signature header is missing")
        msg_id = _header(headers, "id")
        if not msg_id:
            raise MalformedRequestError("webhook-id header is missing")
        if len(signature_header) > MAX_HEADER_LENGTH or len(msg_id) > 255:
            raise InvalidSignatureError("webhook signature headers are too long")
        signed_at = parse_unix_timestamp(_header(headers, "timestamp"))
        check_tolerance(signed_at, now, self.tolerance(source))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequestError("body is not UTF-8") from None
        provided = [
            decoded
            for version, _, encoded in (
                entry.partition(",") for entry in signature_header.split(" ")[:MAX_SIGNATURES]
            )
            if version == "v1" and (decoded := _decode_signature(encoded)) is not None
        ]
        if not provided:
            raise InvalidSignatureError("webhook-signature has no well-formed v1 signature")
        timestamp = datetime.fromtimestamp(signed_at, tz=UTC)
        for index, secret in enumerate(source.secrets):
            expected_header = _webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=text)
            expected = base64.b64decode(expected_header.partition(",")[2])
            if any(hmac.compare_digest(expected, candidate) for candidate in provided):
                return Verdict(secret_index=index, signed_at=signed_at)
        raise InvalidSignatureError("no webhook signature matches a configured secret")

    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        msg_id = _header(request.headers, "id")
        if not msg_id or len(msg_id) > 255:
            raise MalformedRequestError("webhook-id header is missing")
        event_type = json_object(request.body).get("type")
        if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
            raise MalformedRequestError("payload has no string 'type'")
        return Identity(event_id=msg_id, event_type=event_type)

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        return [passthrough(delivery, json_object(delivery.body))]

    def sample(self, event_type: str | None) -> bytes:
        event_type = event_type or self.sample_types[0]
        user_id = f"user_{secrets.token_hex(12)}"
        payload: dict[str, Any] = {
            "type": event_type,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "object": "event",
            "data": {
                "id": user_id,
                "object": "user",
                "first_name": "Example",
                "last_name": "Example",
                "email_addresses": [{"email_address": "example@example.org", "id": "idn_1"}],
            },
        }
        return json.dumps(payload, indent=2).encode()

    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        msg_id = f"msg_{uuid.uuid4().hex}"
        timestamp = datetime.fromtimestamp(int(now), tz=UTC)
        signature = _webhook(context.secret or "").sign(
            msg_id=msg_id, timestamp=timestamp, data=body.decode()
        )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": signature,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
