"""What `paypal` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/paypal.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from typing_extensions import override

from ingest.handlers.paypal import (
    AUTH_ALGORITHM,
    LOCAL_CERT_NAME,
    LOCAL_CERT_URL,
    LOCAL_WEBHOOK_ID,
    PayPalHandler,
    PayPalOptions,
    signed_string,
)
from ingest.simulation import keys
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class PayPalSimulator(Simulator[PayPalHandler]):
    vendor: ClassVar[str] = PayPalHandler.vendor

    @override
    def generate_keys(self, key_dir: Path) -> str:
        """A self-signed certificate standing in for PayPal's, pinned to `LOCAL_CERT_URL`."""
        directory = key_dir / self.vendor
        directory.mkdir(parents=True, exist_ok=True)
        key = keys.rsa_key()
        certificate = keys.self_signed(
            key,
            LOCAL_CERT_NAME,
            organization="ingest local test (not PayPal)",
            not_before=datetime.now(UTC) - timedelta(days=1),
        )
        cert_path = directory / "cert.pem"
        keys.write_private_key(directory / "key.pem", key)
        keys.write_certificate(cert_path, certificate)
        return (
            f"# key and self-signed certificate written to {key_dir / self.vendor}; a local\n"
            "# stand-in for PayPal's certificate, for `ingest send`. In sources.yaml:\n"
            "    vendor: paypal\n"
            f"    webhook_id: {LOCAL_WEBHOOK_ID}  # your webhook's id from PayPal in production\n"
            "    certificates:\n"
            f'      "{LOCAL_CERT_URL}": "{cert_path.resolve()}"\n'
        )

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        key_path = context.key_dir / self.vendor / "key.pem"
        key = keys.read_rsa_key(key_path, self.vendor)
        transmission_id = str(uuid.uuid4())
        transmission_time = datetime.fromtimestamp(int(now), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        webhook_id = self.handler.options(context.source, PayPalOptions).webhook_id
        message = signed_string(transmission_id, transmission_time, webhook_id, body)
        signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PayPal/AUHD-214.0-58236116",
            "PAYPAL-AUTH-ALGO": AUTH_ALGORITHM,
            "PAYPAL-AUTH-VERSION": "v2",
            "PAYPAL-CERT-URL": LOCAL_CERT_URL,
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
        }
        return SignedRequest(headers=headers, body=body, url=context.url)
