"""Google Cloud Storage notifications through a Pub/Sub push subscription.

With authentication enabled on the push subscription, Pub/Sub sends
`Authorization: Bearer <OIDC token>`: a JWT signed by Google (RS256) whose `aud` is the audience
configured on the subscription and whose `email` is the subscription's service account. The scheme
(`schemes.bearer_jwt`) verifies the signature against Google's JWKS
(https://www.googleapis.com/oauth2/v3/certs, fetched and cached by the service, or a local copy
named by `jwks` for air-gapped installs), `exp`/`iat` against the injected clock, `iss`
(accounts.google.com) and `aud`; this module adds Google's own: `email` and `email_verified`.

The body is the push envelope: `message.data` is the base64 object resource, `message.attributes`
carries `eventType`, `bucketId`, `objectId`, `objectGeneration`; dedup is on `message.messageId`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import override

from ingest.handlers import _storage, base
from ingest.handlers.schemes.bearer_jwt import BearerJwt
from ingest.sources import SourceConfig

GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
TOKEN = BearerJwt(vendor="Google", jwks_url=GOOGLE_JWKS_URL, issuers=GOOGLE_ISSUERS)
KEY_FILE = "private.pem"
JWKS_FILE = "jwks.json"
LOCAL_KID = "ingest-local"


class GcsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    audience: Annotated[str, Field(min_length=1)]
    """The audience set on the push subscription (by default the push endpoint URL)."""
    service_account_email: Annotated[str, Field(min_length=3)]
    """The service account the push subscription authenticates as."""
    jwks: str | None = None
    """A local copy of Google's JWKS (air-gapped installs); otherwise it is fetched and cached."""

    @field_validator("jwks")
    @classmethod
    def _jwks_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no file at {value}")
        return value


class GcsHandler(base.VendorHandler):
    vendor: ClassVar[str] = "gcs"
    summary: ClassVar[str] = (
        "Pub/Sub push: Authorization: Bearer Google-signed OIDC JWT (RS256; aud, iss, email)"
    )
    signature_headers: ClassVar[tuple[str, ...]] = ("Authorization",)
    options_model: ClassVar[type[BaseModel]] = GcsOptions
    requires_secrets: ClassVar[bool] = False
    default_tolerance_seconds: ClassVar[int | None] = 60
    """Clock skew allowed around the token's `iat` and `exp` (Google's tokens live an hour)."""
    document_hosts: ClassVar[tuple[re.Pattern[str], ...]] = (re.compile(r"^www\.googleapis\.com$"),)
    document_cache_seconds: ClassVar[float] = 3600.0
    mapped_types: ClassVar[Mapping[str, str]] = {
        "OBJECT_FINALIZE": "storage.object.created",
        "OBJECT_DELETE": "storage.object.deleted (not for overwritten generations)",
        "OBJECT_ARCHIVE": "gcs.OBJECT_ARCHIVE (passthrough)",
        "OBJECT_METADATA_UPDATE": "gcs.OBJECT_METADATA_UPDATE (passthrough)",
    }

    @override
    def documents(self, request: base.InboundRequest) -> list[str]:
        return [GOOGLE_JWKS_URL]

    @override
    def pinned_documents(self, source: SourceConfig) -> Mapping[str, str]:
        """Google's JWKS answered from the local copy, when the source names one."""
        jwks = self.options(source, GcsOptions).jwks
        return {GOOGLE_JWKS_URL: jwks} if jwks else {}

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        options = self.options(check.source, GcsOptions)
        claims = TOKEN.verified_claims(
            check.request,
            check.documents,
            now=check.now,
            tolerance_seconds=self.tolerance(check.source),
            audience=options.audience,
        )
        if claims.get("email") != options.service_account_email:
            raise base.InvalidCredentialsError("bearer token is for another service account")
        if claims.get("email_verified") is not True:
            raise base.InvalidCredentialsError("bearer token's email is not verified")
        return base.Verdict(secret_index=0, signed_at=int(claims["iat"]))

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        message = request.json_object().get("message")
        if not isinstance(message, dict):
            raise base.MalformedRequestError("push body has no 'message' object")
        message_id = base.bounded_id(
            message.get("messageId") or message.get("message_id"), "Pub/Sub messageId"
        )
        attributes = message.get("attributes")
        event_type = attributes.get("eventType") if isinstance(attributes, dict) else None
        if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
            event_type = "message"
        return base.Identity(event_id=message_id, event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        envelope = delivery.json_object()
        message = envelope["message"]
        attributes = message.get("attributes") or {}
        event_type = delivery.event_type
        if event_type not in {"OBJECT_FINALIZE", "OBJECT_DELETE"} or (
            # A delete of a generation another one replaced: the object still exists (its new
            # generation arrives as OBJECT_FINALIZE), so it is not `storage.object.deleted`.
            event_type == "OBJECT_DELETE" and "overwrittenByGeneration" in attributes
        ):
            return [base.passthrough(delivery, envelope)]
        resource = _resource(message.get("data"))
        bucket = attributes.get("bucketId") or resource.get("bucket")
        key = attributes.get("objectId") or resource.get("name")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise ValueError("GCS notification names no bucket and object")
        occurred_at = (
            base.iso_time(attributes.get("eventTime"))
            or base.iso_time(message.get("publishTime"))
            or delivery.received_at
        )
        generation = attributes.get("objectGeneration") or resource.get("generation")
        return [
            _storage.object_event(
                "gcs",
                created=event_type == "OBJECT_FINALIZE",
                bucket=bucket,
                key=key,
                action=event_type,
                occurred_at=occurred_at,
                size=resource.get("size"),
                etag=resource.get("etag"),
                version=str(generation) if generation else None,
                content_type=resource.get("contentType"),
                metadata=resource.get("metadata"),
            )
        ]


def _resource(data: Any) -> dict[str, Any]:
    """The object resource from `message.data` (JSON_API_V1); empty for payloadFormat NONE."""
    if not isinstance(data, str) or not data:
        return {}
    try:
        decoded = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("message.data is not base64 JSON") from None
    return base.object_or_empty(decoded)
