"""SendGrid Event Webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA
(P-256, SHA-256) signature over `{X-Twilio-Email-Event-Webhook-Timestamp}{raw body}`, checked
against the account's verification key (Settings → Mail Settings → Event Webhook).

The body is a JSON array of events with no delivery id, so a delivery is identified by the hash of
its bytes and every event is one batch item keyed by its `sg_event_id`: SendGrid re-batches on
retry, and an event already published from an earlier batch is not published again.

SendGrid documents no replay window for the signed timestamp; we apply 300 s in both directions
(`tolerance_seconds` overrides it).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from typing_extensions import override

from ingest.handlers import base
from ingest.schemas import email
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
MAX_SIGNATURE_LENGTH = 512  # a DER P-256 signature is at most 72 bytes: ~96 base64 characters
KEY_FILE = "private.pem"

# Every field SendGrid itself puts on an event; anything else on an event is a custom argument
# ("unique_args") the sender attached, which becomes `metadata`.
SENDGRID_FIELDS = frozenset(
    {
        "email",
        "timestamp",
        "event",
        "smtp-id",
        "sg_event_id",
        "sg_message_id",
        "sg_template_id",
        "sg_template_name",
        "sg_content_type",
        "sg_machine_open",
        "category",
        "reason",
        "status",
        "type",
        "response",
        "attempt",
        "url",
        "url_offset",
        "useragent",
        "ip",
        "tls",
        "cert_err",
        "asm_group_id",
        "marketing_campaign_id",
        "marketing_campaign_name",
        "marketing_campaign_version",
        "marketing_campaign_split_id",
        "post_type",
        "send_at",
        "pool",
        "bounce_classification",
    }
)


def _loadable_key(text: str) -> str:
    load_public_key(text)  # cached: verification loads it again for free
    return text


class SendGridOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    public_keys: Annotated[list[Annotated[str, AfterValidator(_loadable_key)]], Field(min_length=1)]
    """Verification keys: base64 DER (as the SendGrid console shows them) or PEM. Several during a
    rotation; the index of the one that matched is recorded as `secret_index`."""


@lru_cache(maxsize=64)
def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from SendGrid's base64 DER SubjectPublicKeyInfo, or from PEM.

    Raises ValueError for anything else: the options model calls it, so a source with a key
    that is not one stops start-up."""
    stripped = text.strip()
    try:
        if "-----BEGIN" in stripped:
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        else:
            der = base64.b64decode("".join(stripped.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not a base64 DER or PEM public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


def _time(raw: Any, fallback: datetime) -> datetime:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw, tz=UTC)
    return fallback


def _text(raw: Any) -> str | None:
    if raw is None or isinstance(raw, dict | list):
        return None
    return str(raw)


def _tags(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [str(item) for item in raw if isinstance(item, str | int)]
    return []


def _metadata(event: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: str(value)
        for key, value in event.items()
        if key not in SENDGRID_FIELDS and isinstance(value, str | int | float | bool)
    }


def item_id(event: Mapping[str, Any]) -> str:
    """`sg_event_id`; SendGrid sets it on every event. Failing that, a hash of the event itself,
    so an identical event re-batched in a retry is still recognised."""
    event_id = event.get("sg_event_id")
    if isinstance(event_id, str) and event_id.strip() and len(event_id) <= 200:
        return f"sg:{event_id}"
    return f"sg-sha256:{base.content_digest(event)}"


class SendGridHandler(base.VendorHandler):
    vendor: ClassVar[str] = "sendgrid"
    summary: ClassVar[str] = (
        "X-Twilio-Email-Event-Webhook-Signature: base64 ECDSA P-256/SHA-256 of timestamp+body"
    )
    signature_headers: ClassVar[tuple[str, ...]] = (
        "X-Twilio-Email-Event-Webhook-Signature",
        "X-Twilio-Email-Event-Webhook-Timestamp",
    )
    options_model: ClassVar[type[BaseModel]] = SendGridOptions
    requires_secrets: ClassVar[bool] = False
    default_tolerance_seconds: ClassVar[int | None] = 300
    mapped_types: ClassVar[Mapping[str, str]] = {
        "delivered": "email.delivered",
        "bounce": "email.bounced (type bounce → hard, blocked → soft)",
        "dropped": "email.dropped",
        "deferred": "email.deferred",
        "spamreport": "email.complained",
        "open": "email.opened",
        "click": "email.clicked",
        "unsubscribe": "email.unsubscribed",
        "group_unsubscribe": "email.unsubscribed (group = asm_group_id)",
        "processed": "sendgrid.processed (passthrough: accepted for sending, nothing happened yet)",
    }

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now = check.request, check.source, check.now
        signature_header = request.required_header(
            "X-Twilio-Email-Event-Webhook-Signature", max_length=MAX_SIGNATURE_LENGTH
        )
        timestamp_header = request.required_header("X-Twilio-Email-Event-Webhook-Timestamp")
        signed_at = base.parse_unix_timestamp(request.header_bytes(TIMESTAMP_HEADER))
        base.check_tolerance(signed_at, now, self.tolerance(source))
        try:
            signature = base64.b64decode(signature_header, validate=True)
        except (binascii.Error, ValueError):
            raise base.InvalidSignatureError("signature is not base64") from None
        # SendGrid signs the timestamp exactly as sent, then the raw body bytes.
        signed = timestamp_header.encode("ascii") + request.body
        options = self.options(source, SendGridOptions)
        for index, text in enumerate(options.public_keys):
            try:
                load_public_key(text).verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            except (InvalidSignature, ValueError):
                continue
            return base.Verdict(secret_index=index, signed_at=signed_at)
        raise base.InvalidSignatureError("no SendGrid signature matches a configured public key")

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        events = request.json()
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise base.MalformedRequestError("SendGrid body must be a JSON array of event objects")
        names = {e.get("event") if isinstance(e.get("event"), str) else None for e in events}
        only = next(iter(names)) if len(names) == 1 else None
        event_type = only if isinstance(only, str) and 0 < len(only) <= 255 else "batch"
        # No delivery id in a SendGrid request: the body's hash is one (a byte-identical retry
        # is a duplicate); items are deduplicated across re-batched retries by `sg_event_id`.
        return base.Identity(event_id=request.body_digest(), event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        events = delivery.json()
        if not isinstance(events, list):
            raise ValueError("SendGrid body is not a JSON array")
        return base.map_items(events, lambda event: self._item(event, delivery.received_at))

    @staticmethod
    def _item(event: Any, received_at: datetime) -> base.Emitted:
        if not isinstance(event, dict):
            raise ValueError("SendGrid batch item is not an object")
        name = base.required_text(event.get("event"), "SendGrid event's event name")
        recipient = base.required_text(event.get("email"), "SendGrid event's email")
        identifier = item_id(event)
        occurred_at = _time(event.get("timestamp"), received_at)
        sg_event_id = event.get("sg_event_id")
        common: dict[str, Any] = {
            "provider": "sendgrid",
            "message_id": _text(event.get("sg_message_id")),
            "recipient": recipient,
            "occurred_at": occurred_at,
            "event_id": sg_event_id if isinstance(sg_event_id, str) else None,
            "tags": _tags(event.get("category")),
            "metadata": _metadata(event),
        }
        data = _domain_event(name, event, common)
        if data is None:
            return base.Emitted(
                data=VendorPassthrough(vendor="sendgrid", vendor_event_type=name, payload=event),
                key=recipient.lower(),
                subject=common["message_id"],
                time=occurred_at,
                item_id=identifier,
            )
        # Keyed by recipient: a suppression list needs one address's bounce, complaint and
        # unsubscribe in order, whichever messages they came from.
        return base.Emitted(
            data=data, key=recipient.lower(), subject=data.message_id, item_id=identifier
        )


def _domain_event(  # noqa: PLR0911 - one return per SendGrid event name reads best
    name: str, event: Mapping[str, Any], common: dict[str, Any]
) -> email.EmailEvent | None:
    """The email.* event for a SendGrid event name; None for names we pass through."""
    match name:
        case "delivered":
            return email.EmailDelivered(**common, smtp_response=_text(event.get("response")))
        case "bounce":
            # SendGrid's `type`: `bounce` is a permanent rejection by the receiving server,
            # `blocked` a temporary one (SendGrid itself calls it a soft bounce).
            vendor_type = _text(event.get("type")) or "bounce"
            return email.EmailBounced(
                **common,
                bounce_type="soft" if vendor_type == "blocked" else "hard",
                vendor_bounce_type=vendor_type,
                reason=_text(event.get("reason")),
                diagnostic=_text(event.get("status")),
            )
        case "dropped":
            return email.EmailDropped(**common, reason=_text(event.get("reason")))
        case "deferred":
            attempt = event.get("attempt")
            return email.EmailDeferred(
                **common,
                reason=_text(event.get("response")),
                attempt=int(attempt) if isinstance(attempt, int | str) else None,
            )
        case "spamreport":
            return email.EmailComplained(**common)
        case "open":
            return email.EmailOpened(
                **common, user_agent=_text(event.get("useragent")), ip=_text(event.get("ip"))
            )
        case "click":
            return email.EmailClicked(
                **common,
                url=base.required_text(event.get("url"), "SendGrid click's url"),
                user_agent=_text(event.get("useragent")),
                ip=_text(event.get("ip")),
            )
        case "unsubscribe":
            return email.EmailUnsubscribed(**common)
        case "group_unsubscribe":
            return email.EmailUnsubscribed(**common, group=_text(event.get("asm_group_id")))
    return None
