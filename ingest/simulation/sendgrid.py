"""What `sendgrid` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
    sample_types: ClassVar[tuple[str, ...]] = (
        "delivered",
        "processed",
        "bounce",
        "dropped",
        "deferred",
        "spamreport",
        "open",
        "click",
        "unsubscribe",
        "group_unsubscribe",
    )

    def sample(self, event_type: str | None) -> bytes:
        """A batch of one event, shaped like SendGrid's documented example events."""
        name = event_type or self.sample_types[0]
        message = secrets.token_urlsafe(16).replace("-", "_")
        event: dict[str, Any] = {
            "email": "example@test.com",
            "timestamp": int(time.time()),
            "smtp-id": f"<{message}@ismtpd0001p1lon1.sendgrid.net>",
            "event": name,
            "category": ["cat facts"],
            "sg_event_id": base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("="),
            "sg_message_id": f"{message}.filterdrecv-p3las1-5bf99c48d5-2m5t7-18-5F5FC76C-9.0",
        }
        extra: dict[str, dict[str, Any]] = {
            "delivered": {"response": "250 OK", "tls": 1},
            "bounce": {
                "reason": "500 unknown recipient",
                "status": "5.0.0",
                "type": "bounce",
                "bounce_classification": "Invalid Address",
            },
            "dropped": {"reason": "Bounced Address", "status": "5.0.0"},
            "deferred": {"response": "400 try again later", "attempt": "5"},
            "open": {
                "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)",
                "ip": "255.255.255.255",
            },
            "click": {
                "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)",
                "ip": "255.255.255.255",
                "url": "http://www.sendgrid.com/",
            },
            "unsubscribe": {},
            "group_unsubscribe": {
                "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)",
                "ip": "255.255.255.255",
                "url": "http://www.sendgrid.com/",
                "asm_group_id": 10,
            },
        }
        event.update(extra.get(name, {}))
        return json.dumps([event], indent=2).encode()

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
