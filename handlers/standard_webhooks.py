"""Standard Webhooks (and Svix, which Clerk and many others use): `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64> [v1a,<base64> …]` over `{id}.{timestamp}.{body}`.

Two signature schemes share the header (the spec's "signature identifier"):

- `v1`: HMAC-SHA256 with a shared `whsec_<base64>` secret (`secrets`). The signature itself comes
  from the `standardwebhooks` library. We do not call its `verify`: it reads the wall clock, and it
  raises ValueError/binascii.Error instead of its verification error on headers such as `v1abc` or
  `v1,@@@` (a 500 waiting to happen). So we parse the headers ourselves, strictly.
- `v1a`: ed25519 with the sender's public key `whpk_<base64 of the raw 32-byte key>`
  (`public_keys`). No reference library implements it, so it is verified here with
  `cryptography`. The sender keeps the private key, `whsk_<base64>`: Svix serializes it as the
  64-byte seed‖public key, and we also read a bare 32-byte seed.

A source may trust secrets, public keys or both (at least one). `Verdict.secret_index` numbers
them in one sequence: the secrets first (0 … n-1), then the public keys (n … n+m-1), so a source
rotating from `v1` to `v1a` shows the move in the same metric.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError
from standardwebhooks import Webhook
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers import base
from ingest.handlers._extraction import wire_bytes
from ingest.sources import RawOptions, SourceConfig

MAX_SIGNATURES = 16
MAX_HEADER_LENGTH = 4096
ED25519_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
PUBLIC_KEY_PREFIX = "whpk_"
PRIVATE_KEY_PREFIX = "whsk_"
PRIVATE_KEY_FILE = "private.whsk"
PUBLIC_KEY_FILE = "public.whpk"


class StandardWebhooksOptions(BaseModel):
    """Vendors built on this handler that add options should subclass this model, so that their
    sources keep `public_keys` (v1a)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public_keys: tuple[str, ...] = ()
    """Trusted `whpk_…` ed25519 public keys (v1a); several during a key rotation."""


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


def _strict_b64(encoded: str) -> bytes | None:
    """Key material, decoded strictly: a typo must not quietly become a different key. Missing
    padding is tolerated because keys get pasted without it."""
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=256)
def _public_key(encoded: str) -> Ed25519PublicKey | None:
    """A `whpk_…` key, or None when it is not one (check_config reports which)."""
    if not encoded.startswith(PUBLIC_KEY_PREFIX):
        return None
    raw = _strict_b64(encoded.removeprefix(PUBLIC_KEY_PREFIX))
    if raw is None or len(raw) != ED25519_KEY_BYTES:
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def _parse_signatures(header: str) -> tuple[list[bytes], list[bytes]]:
    """The well-formed `v1` and `v1a` signatures of a space-separated header; anything else
    (other versions, bad base64, a v1a that is not 64 bytes) is skipped, as the spec lets senders
    add schemes we do not know."""
    symmetric: list[bytes] = []
    asymmetric: list[bytes] = []
    for entry in header.split(" ")[:MAX_SIGNATURES]:
        version, _, encoded = entry.partition(",")
        decoded = _decode_signature(encoded)
        if decoded is None:
            continue
        if version == "v1":
            symmetric.append(decoded)
        elif version == "v1a" and len(decoded) == ED25519_SIGNATURE_BYTES:
            asymmetric.append(decoded)
    return symmetric, asymmetric


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    """`{id}.{timestamp}.{body}` with the id and timestamp exactly as sent (for the ASCII ids
    and digits senders use, the same bytes the standardwebhooks library signs for v1)."""
    return wire_bytes(msg_id) + b"." + wire_bytes(timestamp) + b"." + body


class StandardWebhooksHandler(base.VendorHandler):
    vendor: ClassVar[str] = "standard-webhooks"
    summary: ClassVar[str] = (
        "webhook-signature: v1,base64 HMAC-SHA256 (secrets) or v1a,base64 ed25519 (public_keys) "
        "of '{id}.{timestamp}.{body}'"
    )
    signature_headers: ClassVar[tuple[str, ...]] = (
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    )
    options_model: ClassVar[type[BaseModel]] = StandardWebhooksOptions
    # Secrets (v1) or public keys (v1a) or both: check_config insists on at least one.
    requires_secrets: ClassVar[bool] = False
    secrets_usage: ClassVar[str | None] = "secrets (v1) and/or public_keys (v1a)"
    default_tolerance_seconds: ClassVar[int | None] = 300

    @override
    def secret_problem(self, secret: str) -> str | None:
        # The library decodes leniently (junk → fewer or no bytes); a typo'd secret must not
        # quietly become a different key, so decode strictly here.
        if not _strict_b64(secret.removeprefix("whsec_")):
            return "is not a base64 (whsec_…) secret"
        return None

    @override
    def check_config(self, source: SourceConfig) -> SourceConfig:
        source = super().check_config(source)
        public_keys = self._public_keys(source)
        for index, encoded in enumerate(public_keys):
            if encoded.startswith(PRIVATE_KEY_PREFIX):
                raise ConfigError(
                    f"source {source.name!r}: public_keys[{index}] is a private (whsk_) key; "
                    "configure the sender's whpk_ public key and keep the private key secret"
                )
            if _public_key(encoded) is None:
                raise ConfigError(
                    f"source {source.name!r}: public_keys[{index}] is not a whpk_ ed25519 "
                    "public key (whpk_ + base64 of 32 bytes)"
                )
        if not source.secrets and not public_keys:
            raise ConfigError(
                f"source {source.name!r}: vendor {self.vendor} needs 'secrets' (whsec_…, v1) "
                "or 'public_keys' (whpk_…, v1a)"
            )
        return source

    @staticmethod
    def _public_keys(source: SourceConfig) -> tuple[str, ...]:
        """The source's `public_keys`: from its parsed options (this model or a subclass's), or
        from the raw mapping of a source check_config has not seen (never raises)."""
        options = source.options
        if isinstance(options, RawOptions):
            try:
                return StandardWebhooksOptions.model_validate(
                    {"public_keys": options.as_mapping().get("public_keys", ())}
                ).public_keys
            except ValidationError:
                return ()
        return options.public_keys if isinstance(options, StandardWebhooksOptions) else ()

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now = check.request, check.source, check.now
        headers, body = request.headers, request.body
        signature_header = _header(headers, "signature")
        if not signature_header:
            raise base.MissingSignatureError("webhook-signature header is missing")
        msg_id = _header(headers, "id")
        if not msg_id:
            raise base.MalformedRequestError("webhook-id header is missing")
        if len(signature_header) > MAX_HEADER_LENGTH or len(msg_id) > 255:
            raise base.InvalidSignatureError("webhook signature headers are too long")
        if not _utf8_encodable(msg_id):
            # Never off the wire (Starlette hands over latin-1), but the library would raise
            # UnicodeEncodeError signing it.
            raise base.InvalidSignatureError("webhook-id is not a valid header value")
        raw_timestamp = _header(headers, "timestamp") or ""
        signed_at = base.parse_unix_timestamp(raw_timestamp)
        base.check_tolerance(signed_at, now, self.tolerance(source))
        symmetric, asymmetric = _parse_signatures(signature_header)
        if not symmetric and not asymmetric:
            raise base.InvalidSignatureError(
                "webhook-signature has no well-formed v1 or v1a signature"
            )
        if symmetric:
            for index, secret in enumerate(source.secrets):
                expected = self.v1_signature(secret, msg_id, signed_at, body)
                if expected is None:
                    continue
                # Every offered signature is compared, matching or not: no early exit to time.
                matches = [hmac.compare_digest(expected, candidate) for candidate in symmetric]
                if any(matches):
                    return base.Verdict(secret_index=index, signed_at=signed_at)
        if asymmetric:
            content = _signed_content(msg_id, raw_timestamp, body)
            for offset, encoded_key in enumerate(self._public_keys(source)):
                key = _public_key(encoded_key)
                if key is not None and any(_ed25519_valid(key, s, content) for s in asymmetric):
                    return base.Verdict(
                        secret_index=len(source.secrets) + offset, signed_at=signed_at
                    )
        raise base.InvalidSignatureError("no webhook signature matches a configured secret or key")

    def v1_signature(self, secret: str, msg_id: str, signed_at: int, body: bytes) -> bytes | None:
        """The v1 HMAC-SHA256 of `{id}.{timestamp}.{body}` under `secret`, as the
        `standardwebhooks` library computes it (it derives the key from the `whsec_` secret);
        None for a secret that makes no key. Senders that derive the key otherwise (OpenAI)
        override this, and only this."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # the library signs text: such a body it could not sign
            raise base.MalformedRequestError("body is not UTF-8") from None
        timestamp = datetime.fromtimestamp(signed_at, tz=UTC)
        signed = _webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=text)
        return base64.b64decode(signed.partition(",")[2])

    @override
    def delivery_id(self, request: base.InboundRequest) -> str | None:
        """`webhook-id` is signed and kept on retries: the id even when the payload has no
        `type` (the spec does not constrain the payload)."""
        return _header(request.headers, "id") or None

    type_field: ClassVar[str] = "type"
    """The payload's field naming the event type (R2: `action`)."""

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        """`webhook-id` (signed, the same on every retry) and the payload's `type_field`."""
        msg_id = _header(request.headers, "id")
        if not msg_id or len(msg_id) > 255:
            raise base.WireError("webhook-id header is missing")
        event_type = base.vendor_type(request.json_object().get(self.type_field), self.type_field)
        return base.Identity(event_id=msg_id, event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        return [base.passthrough(delivery, delivery.json_object())]


def _utf8_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ed25519_valid(key: Ed25519PublicKey, signature: bytes, content: bytes) -> bool:
    try:
        key.verify(signature, content)
    except InvalidSignature:
        return False
    return True
