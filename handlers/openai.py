"""OpenAI: Standard Webhooks headers, with OpenAI's own reading of the secret; dedup webhook-id.

OpenAI sends `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>` over
`{id}.{timestamp}.{body}` like any Standard Webhooks sender, but its SDK (openai-python
`lib/_webhooks.py`) derives the HMAC key differently from the `standardwebhooks` library: a secret
starting `whsec_` is base64-decoded, any other secret is used as its raw UTF-8 bytes. The
dashboard issues `whsec_…` secrets; raw ones are accepted because the SDK accepts them. So the
HMAC is computed here (hmac/hashlib), while header parsing reuses handlers/standard_webhooks.py's
strict helpers. Timestamps are checked both ways (300 s, as the SDK).

OpenAI's events are thin — `{"id": "evt_…", "type": …, "created_at": …, "data": {"id": …}}` —
so the domain events carry the object's id and final status: fetch the object for the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    Emitted,
    Identity,
    InboundRequest,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    VendorHandler,
    Verdict,
    check_tolerance,
    from_unix,
    parse_unix_timestamp,
    passthrough,
)
from ingest.handlers.standard_webhooks import (
    MAX_HEADER_LENGTH,
    MAX_SIGNATURES,
    _decode_signature,
    _header,
)
from ingest.schemas.ai import (
    AiBatchCancelled,
    AiBatchCompleted,
    AiBatchExpired,
    AiBatchFailed,
    AiFineTuningJobCancelled,
    AiFineTuningJobFailed,
    AiFineTuningJobSucceeded,
    AiJobEvent,
    AiResponseCancelled,
    AiResponseCompleted,
    AiResponseFailed,
    AiResponseIncomplete,
)
from ingest.sources import SourceConfig

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of secrets, not one

MAPPED: Mapping[str, type[AiJobEvent]] = {
    "response.completed": AiResponseCompleted,
    "response.failed": AiResponseFailed,
    "response.cancelled": AiResponseCancelled,
    "response.incomplete": AiResponseIncomplete,
    "batch.completed": AiBatchCompleted,
    "batch.failed": AiBatchFailed,
    "batch.cancelled": AiBatchCancelled,
    "batch.expired": AiBatchExpired,
    "fine_tuning.job.succeeded": AiFineTuningJobSucceeded,
    "fine_tuning.job.failed": AiFineTuningJobFailed,
    "fine_tuning.job.cancelled": AiFineTuningJobCancelled,
}


@lru_cache(maxsize=256)
def signing_key(secret: str) -> bytes | None:
    """The HMAC key for a configured secret, as the OpenAI SDK derives it; None if unusable.

    Unlike the SDK (which decodes leniently, dropping junk characters), a `whsec_` secret must be
    strict base64: a typo must not quietly become another key."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def _event_type(document: Mapping[str, Any]) -> str:
    event_type = document.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
        raise MalformedRequestError("payload has no string 'type'")
    return event_type


class OpenAIHandler(VendorHandler):
    vendor: ClassVar[str] = "openai"
    summary: ClassVar[str] = (
        "webhook-signature: v1,base64 HMAC-SHA256 of '{id}.{timestamp}.{body}' "
        "(whsec_ secret base64-decoded, else raw)"
    )
    signature_headers: ClassVar[tuple[str, ...]] = (
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    )
    default_tolerance_seconds: ClassVar[int | None] = 300
    mapped_types: ClassVar[Mapping[str, str]] = {
        vendor_type: model.event_type for vendor_type, model in MAPPED.items()
    }

    def check_config(self, source: SourceConfig) -> SourceConfig:
        source = super().check_config(source)
        for index, secret in enumerate(source.secrets):
            if signing_key(secret) is None:
                raise ConfigError(
                    f"source {source.name!r}: secrets[{index}] starts with whsec_ but the rest "
                    "is not base64"
                )
        return source

    def verify(
        self,
        request: InboundRequest,
        source: SourceConfig,
        now: float,
        documents: Mapping[str, bytes],
    ) -> Verdict:
        headers = request.headers
        signature_header = _header(headers, "signature")
        if not signature_header:
            raise MissingSignatureError("webhook-signature header is missing")
        msg_id = _header(headers, "id")
        if not msg_id:
            raise MalformedRequestError("webhook-id header is missing")
        if len(signature_header) > MAX_HEADER_LENGTH or len(msg_id) > 255:
            raise InvalidSignatureError("webhook signature headers are too long")
        raw_timestamp = _header(headers, "timestamp")
        signed_at = parse_unix_timestamp(raw_timestamp)
        check_tolerance(signed_at, now, self.tolerance(source))
        provided = [
            decoded
            for version, _, encoded in (
                entry.partition(",") for entry in signature_header.split(" ")[:MAX_SIGNATURES]
            )
            if version == "v1" and (decoded := _decode_signature(encoded)) is not None
        ]
        if not provided:
            raise InvalidSignatureError("webhook-signature has no well-formed v1 signature")
        try:
            # The id and timestamp exactly as sent (latin-1 round-trips header bytes), as signed.
            prefix = f"{msg_id}.{raw_timestamp}.".encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidSignatureError("webhook-id is not a valid header value") from None
        signed_content = prefix + request.body
        for index, secret in enumerate(source.secrets):
            key = signing_key(secret)
            if key is None:
                continue
            expected = hmac.new(key, signed_content, hashlib.sha256).digest()
            if any(hmac.compare_digest(expected, candidate) for candidate in provided):
                return Verdict(secret_index=index, signed_at=signed_at)
        raise InvalidSignatureError("no webhook signature matches a configured secret")

    def identify(self, request: InboundRequest, source: SourceConfig) -> Identity:
        # OpenAI documents webhook-id as the idempotency key: the same on every retry.
        msg_id = _header(request.headers, "id")
        if not msg_id or len(msg_id) > 255:
            raise MalformedRequestError("webhook-id header is missing")
        return Identity(event_id=msg_id, event_type=_event_type(request.json_object()))

    def normalize(self, delivery: Delivery) -> list[Emitted]:
        event = delivery.json_object()
        model = MAPPED.get(delivery.event_type)
        if model is None:
            return [passthrough(delivery, event)]
        resource_id = event["data"]["id"]
        if not isinstance(resource_id, str) or not resource_id:
            raise ValueError("data.id is not a string")
        created = event.get("created_at")
        occurred_at = from_unix(created) if isinstance(created, int | float) else None
        provider_event_id = event.get("id")
        data = model(
            provider="openai",
            resource_id=resource_id,
            status=delivery.event_type.rsplit(".", 1)[1],
            provider_event_id=provider_event_id if isinstance(provider_event_id, str) else None,
            occurred_at=occurred_at,
        )
        return [
            Emitted(
                type=model.event_type,
                data=data,
                key=resource_id,
                subject=resource_id,
                time=occurred_at,
            )
        ]
