"""What `aws_sns` sends, simulated for `ingest send`, the benchmarks and the tests: sample bodies
with fresh ids, signed as the vendor signs them. The service never imports this to receive."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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


def _ses_sample(kind: str, stamp: str) -> dict[str, Any]:
    """Amazon SES notification examples (SES Developer Guide, "Examples of notifications")."""
    mail = {
        "timestamp": stamp,
        "source": "sender@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": f"{secrets.token_hex(8)}-{uuid.uuid4()}-000000",
        "destination": ["recipient@example.com"],
        "tags": {"ses:configuration-set": ["ConfigSet"], "campaign": ["welcome"]},
    }
    feedback = f"{secrets.token_hex(8)}-{uuid.uuid4()}-000000"
    details: dict[str, dict[str, Any]] = {
        "Delivery": {
            "delivery": {
                "timestamp": stamp,
                "processingTimeMillis": 546,
                "recipients": ["recipient@example.com"],
                "smtpResponse": "250 ok:  Message 64111812 accepted",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
                "remoteMtaIp": "127.0.2.0",
            }
        },
        "Bounce": {
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": "recipient@example.com",
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": stamp,
                "feedbackId": feedback,
                "reportingMTA": "dsn; e226-55.smtp-out.amazonses.com",
            }
        },
        "Complaint": {
            "complaint": {
                "userAgent": "AnyCompany Feedback Loop (V0.01)",
                "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
                "complaintFeedbackType": "abuse",
                "arrivalDate": stamp,
                "timestamp": stamp,
                "feedbackId": feedback,
            }
        },
        "Open": {
            "open": {
                "ipAddress": "192.0.2.1",
                "timestamp": stamp,
                "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            }
        },
        "Click": {
            "click": {
                "ipAddress": "192.0.2.1",
                "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
                "linkTags": {"samplekey0": ["samplevalue0"]},
                "timestamp": stamp,
                "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            }
        },
    }
    # Feedback notifications say `notificationType`; configuration-set event publishing (the
    # only way to get opens and clicks) says `eventType`.
    type_key = "eventType" if kind in {"Open", "Click"} else "notificationType"
    return {type_key: kind, "mail": mail, **details.get(kind, {})}


def _s3_sample(event_name: str, stamp: str) -> dict[str, Any]:
    """Amazon S3's documented event message structure (version 2.1)."""
    obj: dict[str, Any] = {
        "key": "HappyFace.jpg",
        "sequencer": f"{secrets.randbits(64):016X}",
    }
    if event_name.startswith("ObjectCreated:"):
        obj.update(
            size=1024,
            eTag="d41d8cd98f00b204e9800998ecf8427e",
            versionId="096fKKXTRTtl3on89fVO.nfljtsv6qko",
        )
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-west-2",
                "eventTime": stamp,
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": (
                        "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
                    ),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "testConfigRule",
                    "bucket": {
                        "name": "amzn-s3-demo-bucket",
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": "arn:aws:s3:::amzn-s3-demo-bucket",
                    },
                    "object": obj,
                },
            }
        ]
    }


class AwsSnsSimulator(Simulator[AwsSnsHandler]):
    vendor: ClassVar[str] = AwsSnsHandler.vendor
    sample_types: ClassVar[tuple[str, ...]] = (
        "ses.Delivery",
        "ses.Bounce",
        "ses.Complaint",
        "ses.Open",
        "ses.Click",
        "s3.ObjectCreated:Put",
        "s3.ObjectRemoved:Delete",
        "SubscriptionConfirmation",
        "Notification",
    )

    def sample(self, event_type: str | None) -> bytes:
        """An SNS envelope (unsigned: `sign` signs it) around AWS's documented example SES or S3
        notification, with fresh ids."""
        event_type = event_type or self.sample_types[0]
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        envelope: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": LOCAL_TOPIC_ARN,
        }
        if event_type == "SubscriptionConfirmation":
            token = secrets.token_hex(64)
            envelope.update(
                Type="SubscriptionConfirmation",
                Token=token,
                Message=(
                    f"You have chosen to subscribe to the topic {LOCAL_TOPIC_ARN}.\n"
                    "To confirm the subscription, visit the SubscribeURL included in this "
                    "message."
                ),
                SubscribeURL=(
                    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
                    f"&TopicArn={LOCAL_TOPIC_ARN}&Token={token}"
                ),
            )
        elif event_type.startswith("ses."):
            envelope["Message"] = json.dumps(_ses_sample(event_type[4:], stamp))
        elif event_type.startswith("s3."):
            envelope["Message"] = json.dumps(_s3_sample(event_type[3:], stamp))
        else:
            envelope.update(Subject="My First Message", Message="Hello world!")
        envelope.update(
            Timestamp=stamp,
            SignatureVersion="2",
            Signature="",
            SigningCertURL=LOCAL_CERT_URL,
        )
        if envelope["Type"] == "Notification":
            envelope["UnsubscribeURL"] = (
                "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                f"{LOCAL_TOPIC_ARN}:{uuid.uuid4()}"
            )
        return json.dumps(envelope, indent=2).encode()

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
