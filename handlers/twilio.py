"""Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 (auth token) of the URL Twilio called + the POST
parameters sorted by name, each name followed by its value.

Form posts (messaging and voice callbacks) sign the parameters. JSON posts (Event Streams and other
newer products) sign the URL only, which then carries `bodySHA256=<hex SHA-256 of the body>`; we
check that hash too, or the body would be unauthenticated. Requests matched by a Webhooks Rule are
signed with that rule's SharedKey and name the algorithm in `X-Twilio-Webhooks-Signature-Settings`
(`algorithm=HMAC_SHA256`); a SharedKey secret may be configured next to the auth tokens.

Because the URL is signed, it must be the URL Twilio called: behind a proxy that changes scheme,
host, port or path, set `public_url` to the URL configured in Twilio (the request's query string,
which Twilio may extend with `bodySHA256`, is kept as received). Twilio's own validators also
accept the URL with the default port added or removed (its back end is inconsistent about it); so
do we, but never another port.

Twilio signs no timestamp: there is no replay window. Dedup is on the message or call id plus its
status, because Twilio reports each status of a message as a separate callback with the same sid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, field_validator
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature
from ingest.schemas import messaging
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
BODY_HASH_PARAM = "bodySHA256"
DEFAULT_PORTS = {"https": 443, "http": 80}
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SIGNATURES: Mapping[str, HmacSignature] = {
    "HMAC_SHA1": HmacSignature(
        header="X-Twilio-Signature", vendor="Twilio", algorithm="sha1", encoding="base64"
    ),
    "HMAC_SHA256": HmacSignature(
        header="X-Twilio-Signature", vendor="Twilio", algorithm="sha256", encoding="base64"
    ),
}
"""By the algorithm X-Twilio-Webhooks-Signature-Settings names; the auth token's is HMAC_SHA1."""

MESSAGE_MODELS: Mapping[str, type[messaging.MessageEvent]] = {
    "queued": messaging.MessageQueued,
    "sent": messaging.MessageSent,
    "delivered": messaging.MessageDelivered,
    "undelivered": messaging.MessageUndelivered,
    "failed": messaging.MessageFailed,
    "received": messaging.MessageReceived,
    "read": messaging.MessageRead,
}


class TwilioOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    public_url: str | None = None
    """The webhook URL exactly as configured in Twilio, without a query string. Unset: the URL
    the request arrived at (correct only when no proxy changes scheme, host, port or path)."""

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value.strip())
            _ = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError("public_url is not a valid URL") from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("public_url must be an absolute http(s) URL")
        if parts.query:
            raise ValueError(
                "public_url must not have a query string: the query Twilio sends is used as "
                "received"
            )
        # A fragment (Twilio's #rc=…&rp=… connection overrides) is never sent nor signed.
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _with_default_port_variants(url: str) -> list[str]:
    """`url` as is, plus the same URL with its default port added (if it has none) or removed
    (if it names the default one): what Twilio signed may differ from what we saw in just that."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise base.MalformedRequestError("request URL is not valid") from None
    default = DEFAULT_PORTS.get(parts.scheme)
    if default is None or not parts.netloc:
        return [url]
    if port is None:
        netloc = f"{parts.netloc}:{default}"
    elif port == default:
        netloc = parts.netloc[: parts.netloc.rfind(":")]
    else:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=netloc))]


def _form_params(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise base.MalformedRequestError("form body is not UTF-8") from None
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=1000)
    except ValueError:
        raise base.MalformedRequestError("form body has too many fields") from None


def _signed_string(url: str, params: list[tuple[str, str]]) -> bytes:
    """URL, then each parameter name followed by its value, names sorted; a repeated name's
    distinct values sorted too (as Twilio's SDKs do)."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    pieces = [url]
    for name in sorted(values):
        pieces.extend(name + value for value in sorted(values[name]))
    return "".join(pieces).encode("utf-8")


def _signature(settings: str | None) -> HmacSignature:
    """The scheme for the hash X-Twilio-Webhooks-Signature-Settings names; none named → the
    auth token's HMAC-SHA1. An algorithm we do not know is a rejection, never a fallback."""
    for part in (settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            signature = SIGNATURES.get(value.strip().upper())
            if signature is None:
                raise base.InvalidSignatureError("unsupported Twilio signature algorithm")
            return signature
    return SIGNATURES["HMAC_SHA1"]


def _query_values(url: str, name: str) -> list[str]:
    try:
        return parse_qs(urlsplit(url).query, keep_blank_values=True).get(name, [])
    except ValueError:
        raise base.MalformedRequestError("request URL is not valid") from None


def _canonical_hash(params: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(sorted(params)).encode()).hexdigest()


def _is_json_body(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def _parties(params: dict[str, str]) -> dict[str, str | None]:
    """Who a message or a call is between, and on which account: what both callbacks carry."""
    return {
        "provider": "twilio",
        "account_id": params.get("AccountSid") or None,
        "sender": params.get("From") or None,
        "recipient": params.get("To") or None,
    }


class TwilioHandler(base.VendorHandler):
    vendor: ClassVar[str] = "twilio"
    summary: ClassVar[str] = (
        "X-Twilio-Signature: base64 HMAC-SHA1 of URL + sorted POST params (JSON: URL with "
        "bodySHA256)"
    )
    signature_headers: ClassVar[tuple[str, ...]] = (
        "X-Twilio-Signature",
        "X-Twilio-Webhooks-Signature-Settings",
    )
    options_model: ClassVar[type[BaseModel]] = TwilioOptions
    mapped_types: ClassVar[Mapping[str, str]] = {
        **{f"message.{status}": model.event_type for status, model in MESSAGE_MODELS.items()},
        "call.<status>": messaging.CallStatus.event_type,
    }

    # -- verification ------------------------------------------------------------------

    def signed_url(self, request: base.InboundRequest, source: SourceConfig) -> str:
        """The URL Twilio signed: `public_url` with the request's query, or the request URL."""
        public_url = self.options(source, TwilioOptions).public_url
        if public_url is None:
            return request.url
        try:
            query = urlsplit(request.url).query
        except ValueError:
            raise base.MalformedRequestError("request URL is not valid") from None
        parts = urlsplit(public_url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source = check.request, check.source
        signature = _signature(request.headers.get(SETTINGS_HEADER))
        offered = signature.offered(request)
        url = self.signed_url(request, source)

        body_hashes = _query_values(url, BODY_HASH_PARAM)
        if body_hashes:
            # JSON body: the URL is signed, and the URL carries the body's hash.
            if len(body_hashes) != 1:
                raise base.InvalidSignatureError("the URL carries more than one bodySHA256")
            expected_hash = hashlib.sha256(request.body).hexdigest().encode()
            if not hmac.compare_digest(expected_hash, body_hashes[0].lower().encode("utf-8")):
                raise base.InvalidSignatureError("bodySHA256 does not match the body")
            params: list[tuple[str, str]] = []
        elif request.body and _is_json_body(request.body):
            raise base.InvalidSignatureError(
                "JSON body without bodySHA256 in the URL: the body would not be signed"
            )
        else:
            params = _form_params(request.body)

        # Twilio signs the URL as it addressed it, with or without the default port.
        candidates = [_signed_string(u, params) for u in _with_default_port_variants(url)]
        return base.Verdict(
            secret_index=signature.matching_secret(source.secrets, candidates, offered)
        )

    # -- identification ----------------------------------------------------------------

    @override
    def delivery_id(self, request: base.InboundRequest) -> str | None:
        """Twilio keeps `I-Twilio-Idempotency-Token` on its retries of one webhook."""
        return request.headers.get("i-twilio-idempotency-token", "").strip() or None

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        if _is_json_body(request.body):
            return self._identify_json(request.body)
        params = dict(_form_params(request.body))
        message_sid = params.get("MessageSid") or params.get("SmsSid")
        message_status = params.get("MessageStatus") or params.get("SmsStatus")
        if "EventType" in params:
            # Conversations, TaskRouter, Sync…: a named event without one id per status; identical
            # retries hash alike.
            event_type = base.bounded_id(params["EventType"], "EventType")
            return base.Identity(
                event_id=f"{event_type}:{_canonical_hash(sorted(params.items()))}",
                event_type=event_type,
            )
        if message_sid and message_status:
            sid = base.bounded_id(message_sid, "MessageSid")
            status = base.bounded_id(message_status.lower(), "MessageStatus")
            return base.Identity(
                event_id=base.bounded_id(f"{sid}:{status}", "MessageSid and status"),
                event_type=f"message.{status}",
            )
        call_sid, call_status = params.get("CallSid"), params.get("CallStatus")
        if call_sid and call_status:
            status = base.bounded_id(call_status.lower(), "CallStatus")
            event_id = f"{base.bounded_id(call_sid, 'CallSid')}:{status}"
            if params.get("SequenceNumber", "").isdigit():
                # Status callbacks number their reports; two reports of one status stay distinct.
                event_id += f":{params['SequenceNumber']}"
            return base.Identity(
                event_id=base.bounded_id(event_id, "CallSid and status"),
                event_type=f"call.{status}",
            )
        if not params:
            raise base.MalformedRequestError("Twilio request has no parameters")
        return base.Identity(
            event_id=f"webhook:{_canonical_hash(sorted(params.items()))}", event_type="webhook"
        )

    @staticmethod
    def _identify_json(body: bytes) -> base.Identity:
        document = base.parse_json(body)
        if isinstance(document, list):
            # Event Streams delivers CloudEvents in batches; each item has its own id.
            return base.Identity(event_id=hashlib.sha256(body).hexdigest(), event_type="events")
        if isinstance(document, dict) and isinstance(document.get("type"), str):
            event_id = document.get("id")
            return base.Identity(
                event_id=base.bounded_id(event_id, "event id")
                if event_id is not None
                else hashlib.sha256(body).hexdigest(),
                event_type=base.bounded_id(document["type"], "event type"),
            )
        raise base.MalformedRequestError(
            "Twilio JSON body is neither an event nor a list of events"
        )

    @override
    def reply(self, request: base.InboundRequest, identity: base.Identity) -> base.Reply | None:
        """An incoming message's webhook expects TwiML back; an empty `<Response/>` means "no
        reply" (anything else shows as error 12300 in Twilio's debugger). Status callbacks ignore
        the response, so they get our usual JSON."""
        if identity.event_type == "message.received":
            return base.Reply(status=200, body=EMPTY_TWIML, content_type="text/xml")
        return None

    # -- normalization -----------------------------------------------------------------

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        if _is_json_body(delivery.body):
            return self._normalize_json(delivery)
        params = dict(_form_params(delivery.body))
        kind, _, status = delivery.event_type.partition(".")
        if kind == "message" and status in MESSAGE_MODELS:
            return [self._message(params, status, delivery.received_at)]
        if kind == "call" and status:
            return [self._call(params, status, delivery.received_at)]
        return [base.passthrough(delivery, params)]

    @staticmethod
    def _message(params: dict[str, str], status: str, received_at: datetime) -> base.Emitted:
        model = MESSAGE_MODELS[status]
        message_id = params.get("MessageSid") or params["SmsSid"]
        data = model(
            **_parties(params),
            message_id=message_id,
            status=status,
            body=params.get("Body"),
            media_count=_optional_int(params.get("NumMedia")),
            segments=_optional_int(params.get("NumSegments")),
            error_code=params.get("ErrorCode") or None,
            error_message=params.get("ErrorMessage") or None,
            occurred_at=received_at,
        )
        return base.Emitted(data=data, key=message_id, subject=message_id)

    @staticmethod
    def _call(params: dict[str, str], status: str, received_at: datetime) -> base.Emitted:
        call_id = params["CallSid"]
        # Call status callbacks carry an RFC 2822 `Timestamp`; the first voice request does not.
        occurred_at = _rfc2822(params["Timestamp"]) if params.get("Timestamp") else received_at
        data = messaging.CallStatus(
            **_parties(params),
            call_id=call_id,
            status=status,
            direction=params.get("Direction") or None,
            duration_seconds=_optional_int(params.get("CallDuration")),
            sequence_number=_optional_int(params.get("SequenceNumber")),
            error_code=params.get("ErrorCode") or None,
            occurred_at=occurred_at,
        )
        return base.Emitted(data=data, key=call_id, subject=call_id)

    @staticmethod
    def _normalize_json(delivery: base.Delivery) -> list[base.Emitted]:
        document = delivery.json()
        if not isinstance(document, list):
            return [base.passthrough(delivery, document)]
        return base.map_items(document, _stream_item)


def _stream_item(item: Any) -> base.Emitted:
    """An Event Streams item, published as itself: its schema is the subscription's, not ours."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError("Event Streams item has no type")
    item_id = base.bounded_id(item.get("id"), "Event Streams item id")
    data = VendorPassthrough(vendor="twilio", vendor_event_type=item["type"], payload=item)
    return base.Emitted(data=data, key=item_id, item_id=item_id)


def _rfc2822(raw: str) -> datetime:
    moment = parsedate_to_datetime(raw)
    # "-0000" means "UTC, origin unknown" and parses naive.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _optional_int(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None
