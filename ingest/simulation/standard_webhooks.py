"""What `standard-webhooks` sends, simulated for `ingest send`, the benchmarks and the tests: the
bodies are data (`samples/standard-webhooks.json`), signed here as the vendor signs them. The
service never imports this."""

from __future__ import annotations

import base64
import hmac
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.standard_webhooks import (
    ED25519_KEY_BYTES,
    PRIVATE_KEY_FILE,
    PRIVATE_KEY_PREFIX,
    PUBLIC_KEY_FILE,
    PUBLIC_KEY_PREFIX,
    StandardWebhooksHandler,
    _signed_content,
    _strict_b64,
    _webhook,
)
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def _encode_public_key(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def _private_key(encoded: str, where: str) -> Ed25519PrivateKey:
    """`whsk_` + base64 of the 32-byte seed, or of seed‖public key (64 bytes, as Svix writes)."""
    raw = _strict_b64(encoded.strip().removeprefix(PRIVATE_KEY_PREFIX))
    if raw is None or len(raw) not in (ED25519_KEY_BYTES, 2 * ED25519_KEY_BYTES):
        raise ConfigError(f"{where} is not a whsk_ ed25519 private key")
    key = Ed25519PrivateKey.from_private_bytes(raw[:ED25519_KEY_BYTES])
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if len(raw) > ED25519_KEY_BYTES and not hmac.compare_digest(public, raw[ED25519_KEY_BYTES:]):
        raise ConfigError(f"{where}: its public half does not belong to its private half")
    return key


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the private key {path} ({type(exc).__name__})") from None
    return _private_key(text, str(path))


class StandardWebhooksSimulator(Simulator[StandardWebhooksHandler]):
    vendor: ClassVar[str] = StandardWebhooksHandler.vendor

    @override
    def generate_keys(self, key_dir: Path) -> str:
        """An ed25519 pair under `key_dir/<vendor>/`: `private.whsk` (mode 0600, what `ingest send`
        signs v1a with) and `public.whpk`. An existing pair is kept: replacing it would silently
        break every source that already trusts its public key."""
        directory = key_dir / self.vendor
        private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
        if private_path.exists():
            key = _read_private_key(private_path)
            note = f"# kept the existing ed25519 key pair in {directory}/"
        else:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = Ed25519PrivateKey.generate()
            seed = key.private_bytes_raw()
            public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            encoded = PRIVATE_KEY_PREFIX + base64.b64encode(seed + public).decode("ascii")
            descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(encoded + "\n")
            note = f"# wrote an ed25519 key pair to {directory}/ (the private key stays there)"
        public_key = _encode_public_key(key.public_key())
        public_path.write_text(public_key + "\n", encoding="ascii")
        return "\n".join(
            [
                note,
                "# in sources.yaml, under your source (ingest send then signs v1a with it):",
                f"    vendor: {self.vendor}",
                "    public_keys:",
                f'      - "{public_key}"',
            ]
        )

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """`v1` with `context.secret` when there is one; `v1a` with `key_dir/<vendor>/private.whsk`
        when the source trusts public keys and that file exists; both, space-separated as in the
        spec's example, when both apply (a sender mid-way from one scheme to the other)."""
        msg_id = f"msg_{uuid.uuid4().hex}"
        signed_at = int(now)
        signatures: list[str] = []
        if context.secret:
            signatures.append(
                _webhook(context.secret).sign(
                    msg_id=msg_id,
                    timestamp=datetime.fromtimestamp(signed_at, tz=UTC),
                    data=body.decode(),
                )
            )
        private_path = context.key_dir / self.vendor / PRIVATE_KEY_FILE
        if self.handler._public_keys(context.source) and private_path.exists():
            key = _read_private_key(private_path)
            signature = key.sign(_signed_content(msg_id, str(signed_at), body))
            signatures.append("v1a," + base64.b64encode(signature).decode("ascii"))
        if not signatures:
            raise ConfigError(
                f"source {context.source.name!r}: nothing to sign with: no secret, and no "
                f"{private_path} (run `ingest keys generate {self.vendor}`)"
            )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(signed_at),
            "webhook-signature": " ".join(signatures),
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
