"""Postmark: no signature. The webhook URL carries HTTP Basic credentials
(`https://user:password@host/webhooks/<source>`), which Postmark sends as `Authorization: Basic`;
add `ip_allowlist` with Postmark's published webhook addresses for defence in depth.

Postmark sends one record per request with no delivery id, so the dedup key is built from the
record: `RecordType` + `MessageID` + recipient, plus the time for records that legitimately repeat
(every open and click of one message is a new record) and Postmark's own `ID` for bounces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.credentials import BasicAuthVerified
from ingest.schemas import email
from ingest.sources import SourceConfig

# Postmark bounce `Type`s (https://postmarkapp.com/developer/api/bounce-api#bounce-types) that mean
# the address will never accept mail; the transient ones are soft, the rest undetermined.
HARD_BOUNCES = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Unsubscribe"})
SOFT_BOUNCES = frozenset(
    {
        "Transient",
        "SoftBounce",
        "DnsError",
        "AutoResponder",
        "Blocked",
        "ChallengeVerification",
        "SMTPApiError",
        "InboxFull",
    }
)
TIME_FIELDS = {
    "Delivery": "DeliveredAt",
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
}


def _metadata(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _bounce_type(postmark_type: str | None) -> email.BounceType:
    if postmark_type in HARD_BOUNCES:
        return "hard"
    if postmark_type in SOFT_BOUNCES:
        return "soft"
    return "undetermined"


class PostmarkHandler(BasicAuthVerified):
    vendor: ClassVar[str] = "postmark"
    summary: ClassVar[str] = "HTTP Basic credentials in the webhook URL (no signature)"
    mapped_types: ClassVar[Mapping[str, str]] = {
        "Delivery": "email.delivered",
        "Bounce": "email.bounced (HardBounce… → hard, SoftBounce/Transient… → soft)",
        "SpamComplaint": "email.complained",
        "Open": "email.opened",
        "Click": "email.clicked",
        "SubscriptionChange": "email.unsubscribed (ManualSuppression only)",
    }

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        record = request.json_object()
        record_type = base.vendor_type(
            record.get("RecordType"), "Postmark RecordType", max_length=64
        )
        return base.Identity(event_id=dedup_key(record_type, record), event_type=record_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        record = delivery.json_object()
        recipient = record.get("Recipient") or record.get("Email")
        data = _domain_event(delivery.event_type, record, delivery.received_at)
        if data is None:
            return [base.passthrough(delivery, record, key=base.text_or_none(recipient))]
        return [base.Emitted(data=data, key=data.recipient.lower(), subject=data.message_id)]


def dedup_key(record_type: str, record: Mapping[str, Any]) -> str:
    """Postmark's bounce `ID` where there is one; otherwise type, message, recipient and (for
    records that repeat: opens, clicks, subscription changes) the record's time."""
    bounce_id = record.get("ID")
    if record_type in {"Bounce", "SpamComplaint"} and isinstance(bounce_id, int | str):
        key = f"{record_type}:{bounce_id}"
    else:
        recipient = record.get("Recipient") or record.get("Email") or "-"
        parts = [record_type, str(record.get("MessageID") or "-"), str(recipient)]
        if record_type in {"Open", "Click", "SubscriptionChange"}:
            parts.append(str(record.get(TIME_FIELDS[record_type]) or "-"))
        key = ":".join(parts)
    if len(key) > 255:
        return f"{record_type[:32]}:sha256:{base.text_digest(key)}"
    return key


def _domain_event(  # noqa: PLR0911 - one return per Postmark record type reads best
    record_type: str, record: Mapping[str, Any], received_at: datetime
) -> email.EmailEvent | None:
    recipient = record.get("Recipient") or record.get("Email")
    if record_type in TIME_FIELDS and not isinstance(recipient, str):
        raise ValueError(f"Postmark {record_type} record has no recipient")
    tag = base.text_or_none(record.get("Tag"))
    common: dict[str, Any] = {
        "provider": "postmark",
        "message_id": base.text_or_none(record.get("MessageID")),
        "recipient": recipient,
        "occurred_at": base.iso_time(record.get(TIME_FIELDS.get(record_type, ""))) or received_at,
        "tags": [tag] if tag else [],
        "metadata": _metadata(record.get("Metadata")),
    }
    geo = base.object_or_empty(record.get("Geo"))
    match record_type:
        case "Delivery":
            return email.EmailDelivered(
                **common, smtp_response=base.text_or_none(record.get("Details"))
            )
        case "Bounce":
            postmark_type = base.text_or_none(record.get("Type"))
            return email.EmailBounced(
                **common,
                event_id=str(record.get("ID")) if record.get("ID") is not None else None,
                bounce_type=_bounce_type(postmark_type),
                vendor_bounce_type=postmark_type,
                reason=base.text_or_none(record.get("Description")),
                diagnostic=base.text_or_none(record.get("Details")),
            )
        case "SpamComplaint":
            return email.EmailComplained(
                **common,
                event_id=str(record.get("ID")) if record.get("ID") is not None else None,
                feedback_type=base.text_or_none(record.get("Type")),
            )
        case "Open":
            return email.EmailOpened(
                **common,
                user_agent=base.text_or_none(record.get("UserAgent")),
                ip=base.text_or_none(geo.get("IP")),
            )
        case "Click":
            return email.EmailClicked(
                **common,
                url=base.required_text(record.get("OriginalLink"), "Postmark click's OriginalLink"),
                user_agent=base.text_or_none(record.get("UserAgent")),
                ip=base.text_or_none(geo.get("IP")),
            )
        case "SubscriptionChange":
            # A suppression after a hard bounce or complaint was already published as that
            # event; only a manual suppression (the recipient unsubscribed, or the sender
            # suppressed them) is an unsubscribe. Reactivations pass through.
            if (
                record.get("SuppressSending") is True
                and record.get("SuppressionReason") == "ManualSuppression"
            ):
                return email.EmailUnsubscribed(**common)
            return None
    return None
