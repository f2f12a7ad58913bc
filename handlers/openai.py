"""OpenAI: Standard Webhooks headers, with OpenAI's own reading of the secret; dedup webhook-id.

OpenAI sends `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>` over
`{id}.{timestamp}.{body}` like any Standard Webhooks sender, but its SDK (openai-python
`lib/_webhooks.py`) derives the HMAC key differently from the `standardwebhooks` library: a secret
starting `whsec_` is base64-decoded, any other secret is used as its raw UTF-8 bytes. The
dashboard issues `whsec_…` secrets; raw ones are accepted because the SDK accepts them. So this
is the Standard Webhooks handler with one override, `v1_signature` (the key derivation): header
parsing, tolerance (both ways, 300 s as the SDK) and comparison are the standard's.

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
from typing import ClassVar

from pydantic import BaseModel
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.schemas import ai
from ingest.sources import SourceConfig

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of secrets, not one

MAPPED: Mapping[str, type[ai.AiJobEvent]] = {
    "response.completed": ai.AiResponseCompleted,
    "response.failed": ai.AiResponseFailed,
    "response.cancelled": ai.AiResponseCancelled,
    "response.incomplete": ai.AiResponseIncomplete,
    "batch.completed": ai.AiBatchCompleted,
    "batch.failed": ai.AiBatchFailed,
    "batch.cancelled": ai.AiBatchCancelled,
    "batch.expired": ai.AiBatchExpired,
    "fine_tuning.job.succeeded": ai.AiFineTuningJobSucceeded,
    "fine_tuning.job.failed": ai.AiFineTuningJobFailed,
    "fine_tuning.job.cancelled": ai.AiFineTuningJobCancelled,
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


class OpenAIHandler(StandardWebhooksHandler):
    vendor: ClassVar[str] = "openai"
    summary: ClassVar[str] = (
        "webhook-signature: v1,base64 HMAC-SHA256 of '{id}.{timestamp}.{body}' "
        "(whsec_ secret base64-decoded, else raw)"
    )
    # The headers and the 300 s window are Standard Webhooks' own, inherited.
    mapped_types: ClassVar[Mapping[str, str]] = {
        vendor_type: model.event_type for vendor_type, model in MAPPED.items()
    }

    # Secrets only (no v1a public keys), and not necessarily base64: OpenAI's SDK takes raw ones.
    options_model: ClassVar[type[BaseModel]] = base.NoOptions
    requires_secrets: ClassVar[bool] = True
    secrets_usage: ClassVar[str | None] = None

    @override
    def check_config(self, source: SourceConfig) -> SourceConfig:
        # OpenAI signs with secrets only: Standard Webhooks' public keys are not its to check.
        return base.VendorHandler.check_config(self, source)

    @override
    def secret_problem(self, secret: str) -> str | None:
        if signing_key(secret) is None:
            return "starts with whsec_ but the rest is not base64"
        return None

    @override
    def v1_signature(self, secret: str, msg_id: str, signed_at: int, body: bytes) -> bytes | None:
        """OpenAI's key derivation (`signing_key`); the rest is Standard Webhooks'. The id and
        timestamp are signed as sent: ASCII, which `verify` checked before asking."""
        key = signing_key(secret)
        if key is None:
            return None
        content = f"{msg_id}.{signed_at}.".encode("utf-8", "surrogatepass") + body
        return hmac.new(key, content, hashlib.sha256).digest()

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        event = delivery.json_object()
        model = MAPPED.get(delivery.event_type)
        if model is None:
            return [base.passthrough(delivery, event)]
        resource_id = base.required_text(event["data"]["id"], "data.id")
        created = event.get("created_at")
        occurred_at = base.from_unix(created) if isinstance(created, int | float) else None
        provider_event_id = event.get("id")
        data = model(
            provider="openai",
            resource_id=resource_id,
            status=delivery.event_type.rsplit(".", 1)[1],
            provider_event_id=provider_event_id if isinstance(provider_event_id, str) else None,
            occurred_at=occurred_at,
        )
        return [base.Emitted(data=data, key=resource_id, subject=resource_id)]
