"""What `sendgrid` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/sendgrid.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typing_extensions import override

from ingest.handlers.sendgrid import KEY_FILE, SendGridHandler
from ingest.simulation import keys
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def public_key_text(key: ec.EllipticCurvePublicKey) -> str:
    """The public key as the SendGrid console shows it: base64 DER SubjectPublicKeyInfo."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


class SendGridSimulator(Simulator[SendGridHandler]):
    vendor: ClassVar[str] = SendGridHandler.vendor

    @override
    def generate_keys(self, key_dir: Path) -> str:
        directory = key_dir / self.vendor
        directory.mkdir(parents=True, exist_ok=True)
        private_key = ec.generate_private_key(ec.SECP256R1())
        path = directory / KEY_FILE
        keys.write_private_key(path, private_key)
        public = public_key_text(private_key.public_key())
        return (
            f"# private key written to {path}; trust it in sources.yaml:\n"
            f"    vendor: sendgrid\n"
            f"    public_keys:\n"
            f'      - "{public}"\n'
        )

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        private_key = keys.read_ec_key(context.key_dir / self.vendor / KEY_FILE, self.vendor)
        timestamp = str(int(now))
        der = private_key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "SendGrid Event API",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(der).decode("ascii"),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
