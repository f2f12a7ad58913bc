"""What `aws-sns` sends, simulated for `ingest send`, the benchmarks and the tests: the bodies are
data (`samples/aws-sns.json`), signed here as the vendor signs them. The service never imports
this."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.aws_sns import (
    CERT_FILE,
    HASHES,
    KEY_FILE,
    LOCAL_CERT_URL,
    LOCAL_TOPIC_ARN,
    AwsSnsHandler,
    string_to_sign,
)
from ingest.simulation import keys
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


def make_certificate(
    not_before: datetime | None = None, days: int = 365
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A throwaway RSA key and a self-signed certificate named like SNS's, for local signing."""
    key = keys.rsa_key()
    return key, keys.self_signed(key, "sns.amazonaws.com", not_before=not_before, days=days)


class AwsSnsSimulator(Simulator[AwsSnsHandler]):
    vendor: ClassVar[str] = AwsSnsHandler.vendor

    @override
    def generate_keys(self, key_dir: Path) -> str:
        directory = key_dir / self.vendor
        directory.mkdir(parents=True, exist_ok=True)
        key, certificate = make_certificate()
        cert_path = directory / CERT_FILE
        keys.write_private_key(directory / KEY_FILE, key)
        keys.write_certificate(cert_path, certificate)
        return (
            f"# key and self-signed certificate written to {directory}; trust them in "
            "sources.yaml\n"
            "# (the pin maps the SigningCertURL `ingest send` uses to the local certificate):\n"
            "    vendor: aws-sns\n"
            "    topic_arns:\n"
            f"      - {LOCAL_TOPIC_ARN}\n"
            "    certificates:\n"
            f'      "{LOCAL_CERT_URL}": {cert_path.resolve()}\n'
            "    auto_confirm: false   # the sample SubscribeURL points at AWS\n"
        )

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        """Re-sign `body` (an SNS message) with the local key as SNS would: stamped `now`,
        SignatureVersion 2 unless the body asks for 1, certificate URL the pinned local one."""
        key_path = context.key_dir / self.vendor / KEY_FILE
        key = keys.read_rsa_key(key_path, self.vendor)
        try:
            message = json.loads(body)
        except ValueError:
            raise ConfigError("an SNS body to sign must be a JSON SNS message") from None
        if not isinstance(message, dict):
            raise ConfigError("an SNS body to sign must be a JSON SNS message")
        message["Timestamp"] = (
            datetime.fromtimestamp(now, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        if message.get("SignatureVersion") not in HASHES:
            message["SignatureVersion"] = "2"
        message["SigningCertURL"] = LOCAL_CERT_URL
        algorithm = HASHES[message["SignatureVersion"]]
        signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm())
        message["Signature"] = base64.b64encode(signature).decode("ascii")
        signed_body = json.dumps(message, indent=2).encode()
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "User-Agent": "Amazon Simple Notification Service Agent",
            "x-amz-sns-message-type": str(message.get("Type")),
            "x-amz-sns-message-id": str(message.get("MessageId")),
            "x-amz-sns-topic-arn": str(message.get("TopicArn")),
        }
        return SignedRequest(headers=headers, body=signed_body, url=context.url)
