"""Amazon SNS over HTTPS (and through it Amazon SES and Amazon S3 notifications).

Every message is signed by SNS with RSA: `SignatureVersion` 1 is SHA1withRSA, 2 is SHA256withRSA,
over "Key\\nValue\\n" for each signed field in a fixed order (Notification: Message, MessageId,
Subject if present, Timestamp, TopicArn, Type; Subscription/UnsubscribeConfirmation: Message,
MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type). The certificate comes from
`SigningCertURL`, which must be https on an SNS host — the same host pattern AWS's own message
validators use — so a forged message cannot point us at a certificate its author controls.

A valid signature only proves that *some* SNS topic sent the message: anyone can create a topic
and subscribe our URL to it. `topic_arns` is therefore required; messages from other topics are
refused.

Replay window: SNS signs its own `Timestamp` (when the message was published) and keeps retrying
an HTTP endpoint for as long as the subscription's delivery policy says — an hour at most. We
accept `Timestamp` within 3900 s either way (that hour plus five minutes of clock skew) and
refuse a certificate outside its validity period at `now`; redeliveries inside the window are
duplicates by `MessageId`.

Subscription and unsubscribe confirmations are handshakes: stored, never published. A
SubscriptionConfirmation carries the `SubscribeURL` the service GETs to confirm (unless
`auto_confirm: false`; then `ingest sns confirm`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote_plus

from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import override

from ingest.handlers import _storage, base
from ingest.handlers.schemes import certificate
from ingest.schemas import email
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

# AWS's SNS message validators (aws-php-sns-message-validator, sns-validator for Node) accept
# regional SNS endpoints only: sns.<region>.amazonaws.com, and .com.cn in China. Not just any
# *.amazonaws.com host, which would include S3 buckets anyone can create.
SNS_HOST = re.compile(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$")

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS = {
    "Notification": NOTIFICATION_FIELDS,
    "SubscriptionConfirmation": CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": CONFIRMATION_FIELDS,
}
HANDSHAKES = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})
HASHES: dict[str, type[hashes.SHA1] | type[hashes.SHA256]] = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_SIGNATURE_LENGTH = 2048  # base64 of a 4096-bit RSA signature is 684 characters

KEY_FILE = "private.pem"
CERT_FILE = "certificate.pem"
LOCAL_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ingest-local.pem"
LOCAL_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ingest-local"

S3_CREATED = "ObjectCreated:"
S3_DELETED = ("ObjectRemoved:", "LifecycleExpiration:Delete")
SES_BOUNCE_TYPES: dict[str, email.BounceType] = {
    "Permanent": "hard",
    "Transient": "soft",
    "Undetermined": "undetermined",
}


class SnsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic_arns: Annotated[list[str], Field(min_length=1)]
    """The topics allowed to post here. Required: SNS signs every topic's messages alike."""
    certificates: dict[str, str] = Field(default_factory=dict)
    """Pinned signing certificates (air-gapped installs): SigningCertURL → local PEM file."""
    auto_confirm: bool = True
    """GET the SubscribeURL of a SubscriptionConfirmation at once; false: `ingest sns confirm`."""

    @field_validator("certificates")
    @classmethod
    def _pinned_sns_files(cls, value: dict[str, str]) -> dict[str, str]:
        for url, path in value.items():
            if not allowed_sns_url(url, pem=True):
                raise ValueError(
                    f"{url!r} is not an https SNS SigningCertURL (sns.<region>.amazonaws.com/….pem)"
                )
            if not Path(path).is_file():
                raise ValueError(f"no file at {path} for {url}")
        return value


def allowed_sns_url(url: Any, *, pem: bool = False) -> bool:
    """A plain https URL on an SNS host (and a .pem path for certificates)."""
    parts = certificate.plain_https(url)
    return (
        parts is not None
        and SNS_HOST.fullmatch(parts.hostname or "") is not None
        and (not pem or parts.path.endswith(".pem"))
    )


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical "Key\\nValue\\n" string SNS signs; MalformedRequestError if it cannot be built.

    Subject is the only optional field (absent or null when the publisher gave none)."""
    message_type = message.get("Type")
    fields = SIGNED_FIELDS.get(message_type) if isinstance(message_type, str) else None
    if fields is None:
        raise base.MalformedRequestError("SNS message Type is not one SNS sends")
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if name == "Subject" and value is None:
            continue
        if not isinstance(value, str):
            raise base.MalformedRequestError(f"SNS message field {name} is missing or not a string")
        parts.append(f"{name}\n{value}\n")
    # `surrogatepass`: a JSON-escaped lone surrogate is no text SNS signs, so the signature
    # then fails to match (401) rather than the encoding raising (500).
    return "".join(parts).encode("utf-8", "surrogatepass")


def _diagnostic(recipient: dict[str, Any]) -> str | None:
    """What the receiving server said about a bounced or delayed recipient (its status code
    when SES has no diagnostic text)."""
    return base.text_or_none(recipient.get("diagnosticCode")) or base.text_or_none(
        recipient.get("status")
    )


class AwsSnsHandler(base.VendorHandler):
    vendor: ClassVar[str] = "aws-sns"
    summary: ClassVar[str] = (
        "SNS Signature (v1 SHA1withRSA / v2 SHA256withRSA) with the SigningCertURL certificate"
    )
    signature_headers: ClassVar[tuple[str, ...]] = ()
    options_model: ClassVar[type[BaseModel]] = SnsOptions
    requires_secrets: ClassVar[bool] = False
    default_tolerance_seconds: ClassVar[int | None] = 3900
    document_hosts: ClassVar[tuple[re.Pattern[str], ...]] = (SNS_HOST,)
    document_cache_seconds: ClassVar[float] = 86_400.0
    mapped_types: ClassVar[Mapping[str, str]] = {
        "ses.Delivery": "email.delivered (one per recipient)",
        "ses.Bounce": "email.bounced (Permanent → hard, Transient → soft)",
        "ses.Complaint": "email.complained",
        "ses.Reject": "email.dropped",
        "ses.DeliveryDelay": "email.deferred",
        "ses.Open": "email.opened",
        "ses.Click": "email.clicked",
        "s3.ObjectCreated:*": "storage.object.created (one per record)",
        "s3.ObjectRemoved:*": "storage.object.deleted (one per record)",
        "SubscriptionConfirmation": "(handshake: SubscribeURL confirmed, not published)",
        "UnsubscribeConfirmation": "(handshake, not published)",
        "Notification": "aws-sns.Notification (any other message, passthrough)",
    }

    @override
    def pinned_documents(self, source: SourceConfig) -> Mapping[str, str]:
        return self.options(source, SnsOptions).certificates

    @override
    def confirms_automatically(self, source: SourceConfig) -> bool:
        return self.options(source, SnsOptions).auto_confirm

    @override
    def documents(self, request: base.InboundRequest) -> list[str]:
        # Only a URL we would trust is ever fetched (or looked up among the pinned files);
        # anything else is left to `verify`, which refuses it without any I/O.
        try:
            message = request.json()
        except base.MalformedRequestError:
            return []
        url = message.get("SigningCertURL") if isinstance(message, dict) else None
        return [url] if isinstance(url, str) and allowed_sns_url(url, pem=True) else []

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now, documents = check.request, check.source, check.now, check.documents
        message = request.json_object()
        signed = string_to_sign(message)
        version = message.get("SignatureVersion")
        algorithm = HASHES.get(version) if isinstance(version, str) else None
        if algorithm is None:
            raise base.InvalidSignatureError("SignatureVersion must be 1 or 2")
        signature = certificate.decode_signature(
            message.get("Signature"), MAX_SIGNATURE_LENGTH, "Signature"
        )
        url = message.get("SigningCertURL")
        if not isinstance(url, str) or not allowed_sns_url(url, pem=True):
            raise base.InvalidSignatureError("SigningCertURL is not an https SNS certificate URL")
        published = base.iso_time(message.get("Timestamp"))
        if published is None:
            raise base.MalformedRequestError("SNS Timestamp is not ISO 8601")
        signed_at = int(published.timestamp())
        base.check_tolerance(signed_at, now, self.tolerance(source))
        signing = certificate.signing_certificate(documents.get(url), now, "SNS")
        certificate.verify_rsa(signing, signature, signed, algorithm, "SNS")
        topic = message.get("TopicArn")
        # Checked after the signature: only a genuine SNS message earns this distinction.
        if topic not in self.options(source, SnsOptions).topic_arns:
            raise base.InvalidCredentialsError("the message's TopicArn is not in topic_arns")
        return base.Verdict(secret_index=0, signed_at=signed_at)

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        message = request.json_object()
        message_id = base.bounded_id(message.get("MessageId"), "SNS MessageId")
        message_type = message.get("Type")
        if message_type not in SIGNED_FIELDS:
            raise base.MalformedRequestError("SNS message Type is not one SNS sends")
        if message_type in HANDSHAKES:
            confirm_url = None
            if message_type == "SubscriptionConfirmation":
                subscribe_url = message.get("SubscribeURL")
                if not allowed_sns_url(subscribe_url):
                    raise base.MalformedRequestError("SubscribeURL is not an https SNS URL")
                confirm_url = subscribe_url
            return base.Identity(
                event_id=message_id,
                event_type=str(message_type),
                handshake=True,
                confirm_url=confirm_url,
            )
        return base.Identity(event_id=message_id, event_type=_notification_type(message))

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        message = delivery.json_object()
        if message.get("Type") in HANDSHAKES:
            return []
        inner = _inner(message)
        if inner is not None and _is_ses(inner):
            emitted = _ses_events(delivery, inner)
            if emitted is not None:
                return emitted
        if inner is not None and _is_s3(inner):
            return _s3_events(delivery, inner)
        return [base.passthrough(delivery, message)]


# -- what the message carries ---------------------------------------------------------------


def _inner(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The notification's Message as a JSON object, if it is one (SES and S3 send JSON)."""
    raw = message.get("Message")
    if not isinstance(raw, str):
        return None
    try:
        inner = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return inner if isinstance(inner, dict) else None


def _is_ses(inner: Mapping[str, Any]) -> bool:
    kind = inner.get("notificationType") or inner.get("eventType")
    return isinstance(kind, str) and isinstance(inner.get("mail"), dict)


def _is_s3(inner: Mapping[str, Any]) -> bool:
    records = inner.get("Records")
    return isinstance(records, list) and any(
        isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records
    )


def _notification_type(message: Mapping[str, Any]) -> str:
    """`ses.<type>`, `s3.<first eventName>`, or `Notification`: what `ingest events list` shows
    and what an unmapped message passes through as."""
    inner = _inner(message)
    if inner is not None and _is_ses(inner):
        kind = inner.get("notificationType") or inner.get("eventType")
        return f"ses.{kind}"[:255]
    if inner is not None and _is_s3(inner):
        first = next(r for r in inner["Records"] if isinstance(r, dict))
        name = first.get("eventName")
        return f"s3.{name}"[:255] if isinstance(name, str) else "s3"
    return "Notification"


def _ses_tags(mail: Mapping[str, Any]) -> list[str]:
    """The sender's message tags as `name:value`; SES's own `ses:*` tags are left out."""
    raw = mail.get("tags")
    if not isinstance(raw, dict):
        return []
    return [
        f"{name}:{value}"
        for name, values in raw.items()
        if not str(name).startswith("ses:") and isinstance(values, list)
        for value in values
    ]


def _ses_events(delivery: base.Delivery, inner: Mapping[str, Any]) -> list[base.Emitted] | None:
    """One email event per recipient; None for SES types that pass through."""
    kind = inner.get("notificationType") or inner.get("eventType")
    mail = inner["mail"]
    detail_key = {"DeliveryDelay": "deliveryDelay"}.get(str(kind), str(kind).lower())
    detail = base.object_or_empty(inner.get(detail_key))
    occurred_at = (
        base.iso_time(detail.get("timestamp")) or base.iso_time(mail.get("timestamp"))
    ) or delivery.received_at
    common: dict[str, Any] = {
        "provider": "ses",
        "message_id": base.text_or_none(mail.get("messageId")),
        "occurred_at": occurred_at,
        "tags": _ses_tags(mail),
    }
    destination = [a for a in mail.get("destination") or [] if isinstance(a, str)]
    events: list[email.EmailEvent]
    match kind:
        case "Delivery":
            events = [
                email.EmailDelivered(
                    **common,
                    recipient=r,
                    smtp_response=base.text_or_none(detail.get("smtpResponse")),
                )
                for r in detail.get("recipients") or destination
            ]
        case "Bounce":
            bounce_type = str(detail.get("bounceType"))
            events = [
                email.EmailBounced(
                    **common,
                    recipient=r["emailAddress"],
                    event_id=base.text_or_none(detail.get("feedbackId")),
                    bounce_type=SES_BOUNCE_TYPES.get(bounce_type, "undetermined"),
                    vendor_bounce_type=f"{bounce_type}/{detail.get('bounceSubType')}",
                    reason=base.text_or_none(detail.get("bounceSubType")),
                    diagnostic=_diagnostic(r),
                )
                for r in detail.get("bouncedRecipients") or []
            ]
        case "Complaint":
            events = [
                email.EmailComplained(
                    **common,
                    recipient=r["emailAddress"],
                    event_id=base.text_or_none(detail.get("feedbackId")),
                    feedback_type=base.text_or_none(detail.get("complaintFeedbackType")),
                )
                for r in detail.get("complainedRecipients") or []
            ]
        case "Reject":
            events = [
                email.EmailDropped(
                    **common, recipient=r, reason=base.text_or_none(detail.get("reason"))
                )
                for r in destination
            ]
        case "DeliveryDelay":
            events = [
                email.EmailDeferred(
                    **common,
                    recipient=r["emailAddress"],
                    reason=base.text_or_none(detail.get("delayType")),
                    diagnostic=_diagnostic(r),
                )
                for r in detail.get("delayedRecipients") or []
            ]
        case "Open":
            events = [
                email.EmailOpened(
                    **common,
                    recipient=r,
                    user_agent=base.text_or_none(detail.get("userAgent")),
                    ip=base.text_or_none(detail.get("ipAddress")),
                )
                for r in destination
            ]
        case "Click":
            events = [
                email.EmailClicked(
                    **common,
                    recipient=r,
                    url=detail["link"],
                    user_agent=base.text_or_none(detail.get("userAgent")),
                    ip=base.text_or_none(detail.get("ipAddress")),
                )
                for r in destination
            ]
        case _:
            return None
    return [
        base.Emitted(data=event, key=event.recipient.lower(), subject=event.message_id)
        for event in events
    ]


def _s3_item_id(bucket: str, raw_key: str, sequencer: str) -> str:
    item = f"s3:{bucket}/{raw_key}@{sequencer}"
    if len(item) <= 255:
        return item
    return f"s3:sha256:{base.text_digest(item)}"


def _s3_events(delivery: base.Delivery, inner: Mapping[str, Any]) -> list[base.Emitted]:
    """One event per S3 record; each a batch item, since S3 may notify one change twice."""
    return base.map_items(inner["Records"], lambda record: _s3_record(delivery, record))


def _s3_record(delivery: base.Delivery, record: dict[str, Any]) -> base.Emitted:
    s3 = record["s3"]
    bucket, obj = s3["bucket"]["name"], s3["object"]
    raw_key = obj["key"]
    # S3 sends keys URL-encoded with '+' for spaces (form encoding).
    key = unquote_plus(raw_key)
    name = str(record.get("eventName"))
    occurred_at = base.iso_time(record.get("eventTime")) or delivery.received_at
    identifier = _s3_item_id(bucket, raw_key, str(obj.get("sequencer") or "-"))
    if not name.startswith((S3_CREATED, *S3_DELETED)):
        return base.Emitted(
            data=VendorPassthrough(
                vendor=delivery.vendor, vendor_event_type=f"s3.{name}", payload=record
            ),
            key=f"s3:{bucket}/{key}",
            time=occurred_at,
            item_id=identifier,
        )
    return _storage.object_event(
        "s3",
        created=name.startswith(S3_CREATED),
        bucket=bucket,
        key=key,
        action=name,
        occurred_at=occurred_at,
        size=obj.get("size"),
        etag=obj.get("eTag"),
        version=base.text_or_none(obj.get("versionId")),
        item_id=identifier,
    )
