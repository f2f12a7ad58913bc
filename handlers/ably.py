"""Ably: batched webhooks signed with an API key. `X-Ably-Key` names the key (`appId.keyId`),
`X-Ably-Signature` is the base64 HMAC-SHA256 of the body with that key's secret.

`secrets` are whole API keys as the dashboard shows them (`appId.keyId:keySecret`): the part
before `:` is matched against X-Ably-Key, the part after it signs. Several keys = rotation. Ably
signs batched requests only, so integration rules must use "Batch request" mode with a signing key.

A batch has no delivery id, and a retried batch may carry more items than the failed one, so the
delivery id is the body's SHA-256 and every item is deduplicated on its own id (`webhookId` and
`serial`). Ably signs no timestamp: there is no replay window.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel
from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature
from ingest.schemas import realtime
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

SIGNATURE = HmacSignature(header="X-Ably-Signature", vendor="Ably", encoding="base64")
MAX_HEADER_LENGTH = 512
# Ably's PresenceMessage actions, as numbers on the wire (absent, present, enter, leave, update).
PRESENCE_ACTIONS = {0: "absent", 1: "present", 2: "enter", 3: "leave", 4: "update"}
SAMPLE_KEY_NAME = "xVLyHw.A-pwh7"  # a key name in the shape of Ably's documentation examples


def _split_key(api_key: str) -> tuple[str, str] | None:
    """`appId.keyId:keySecret` → (`appId.keyId`, `keySecret`); None if it is not such a key."""
    name, separator, secret = api_key.strip().partition(":")
    if not separator or not name or not secret or "." not in name:
        return None
    return name, secret


def _names_match(configured: str, provided: str) -> bool:
    """X-Ably-Key carries the key name `appId.keyId`; accept the bare `keyId` too, since that is
    what Ably's documentation calls it. The signature, not the name, is what authenticates."""
    given = provided.encode("utf-8")
    return hmac.compare_digest(configured.encode("utf-8"), given) or hmac.compare_digest(
        configured.partition(".")[2].encode("utf-8"), given
    )


def _items(body: bytes) -> list[dict[str, Any]]:
    items = base.json_object(body).get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise base.MalformedRequestError("Ably webhook has no items list (is the rule enveloped?)")
    return items


def _item_id(item: dict[str, Any]) -> str:
    """`webhookId` names the rule and `serial` the event; without a serial, the item's content
    (which includes its timestamp) stands in, so a re-batched item keeps its id."""
    webhook_id, serial = item.get("webhookId"), item.get("serial")
    if isinstance(webhook_id, str) and isinstance(serial, str) and serial:
        candidate = f"{webhook_id}:{serial}"
        if len(candidate) <= 200:
            return candidate
    return f"sha256:{base.content_digest(item)}"


def _channel_or_none(item: dict[str, Any]) -> str | None:
    data = item.get("data")
    channel = (data.get("channelId") or data.get("name")) if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and channel else None


def _channel(item: dict[str, Any]) -> str:
    channel = _channel_or_none(item)
    if channel is None:
        raise ValueError("Ably item has no data.channelId")
    return channel


class AblyHandler(base.VendorHandler):
    vendor: ClassVar[str] = "ably"
    summary: ClassVar[str] = (
        "X-Ably-Key = key name; X-Ably-Signature: base64 HMAC-SHA256 of the body (key secret)"
    )
    signature_headers: ClassVar[tuple[str, ...]] = ("X-Ably-Key", "X-Ably-Signature")
    mapped_types: ClassVar[Mapping[str, str]] = {
        "channel.lifecycle: channel.opened": realtime.ChannelOccupied.event_type,
        "channel.lifecycle: channel.closed": realtime.ChannelVacated.event_type,
        "channel.presence: enter": realtime.PresenceJoined.event_type,
        "channel.presence: leave": realtime.PresenceLeft.event_type,
    }

    @override
    def secret_problem(self, secret: str) -> str | None:
        if _split_key(secret) is None:
            return (
                "must be a whole Ably API key, 'appId.keyId:keySecret', as the dashboard's "
                "API Keys tab shows it"
            )
        return None

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source = check.request, check.source
        key = request.required_header("X-Ably-Key", max_length=MAX_HEADER_LENGTH)
        if not request.header_bytes(SIGNATURE.header.lower()):
            raise base.MissingSignatureError(
                "X-Ably-Signature header is missing (Ably signs batched requests only)"
            )
        offered = SIGNATURE.offered(request)
        if not key.isascii():
            raise base.InvalidSignatureError("X-Ably-Key header is malformed")
        # An API key is `name:secret`; the header names the key, its secret signs.
        named: list[tuple[int, str]] = []
        for index, api_key in enumerate(source.secrets):
            parts = _split_key(api_key)
            if parts is not None and _names_match(parts[0], key.strip()):
                named.append((index, parts[1]))
        if not named:
            raise base.InvalidSignatureError("X-Ably-Key names no configured API key")
        matched = SIGNATURE.matching_secret([s for _, s in named], [request.body], offered)
        return base.Verdict(secret_index=named[matched][0])

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        sources = {item.get("source") for item in _items(request.body)}
        single = next(iter(sources)) if len(sources) == 1 else None
        event_type = single if isinstance(single, str) and 0 < len(single) <= 255 else "batch"
        return base.Identity(event_id=request.body_digest(), event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        return base.map_items(
            _items(delivery.body), lambda item: self._item(item, delivery.received_at)
        )

    def _item(
        self, item: dict[str, Any], received_at: datetime
    ) -> base.Emitted | list[base.Emitted]:
        item_id = _item_id(item)
        occurred_at = _millis(item.get("timestamp")) or received_at
        source, name = item.get("source"), item.get("name")
        if source == "channel.lifecycle" and name in ("channel.opened", "channel.closed"):
            channel = _channel(item)
            model = (
                realtime.ChannelOccupied if name == "channel.opened" else realtime.ChannelVacated
            )
            data = model(provider="ably", channel=channel, occurred_at=occurred_at)
            return _emit(data, channel, occurred_at, item_id)
        if source == "channel.presence":
            return self._presence(item, item_id, occurred_at)
        kind = source if isinstance(source, str) else str(name)
        passthrough = VendorPassthrough(vendor="ably", vendor_event_type=kind, payload=item)
        return _emit(passthrough, _channel_or_none(item) or item_id, occurred_at, item_id)

    @staticmethod
    def _presence(item: dict[str, Any], item_id: str, item_time: datetime) -> list[base.Emitted]:
        """One item carries several presence messages; each gets its own CloudEvent."""
        channel = _channel(item)
        messages = item["data"].get("presence")
        if not isinstance(messages, list):
            raise ValueError("Ably presence item has no data.presence list")
        emitted = []
        for index, message in enumerate(messages):
            action = message.get("action")
            action = (
                PRESENCE_ACTIONS.get(action, str(action)) if isinstance(action, int) else action
            )
            message_id = message.get("id")
            suffix = message_id if isinstance(message_id, str) and message_id else str(index)
            occurred_at = _millis(message.get("timestamp")) or item_time
            data: realtime.PresenceJoined | realtime.PresenceLeft | VendorPassthrough
            if action in ("enter", "leave"):
                model = realtime.PresenceJoined if action == "enter" else realtime.PresenceLeft
                data = model(
                    provider="ably",
                    channel=channel,
                    user_id=message["clientId"],
                    connection_id=message.get("connectionId"),
                    occurred_at=occurred_at,
                )
            else:
                kind = f"presence.{action}"
                data = VendorPassthrough(
                    vendor="ably", vendor_event_type=kind, payload={**message, "channel": channel}
                )
            emitted.append(_emit(data, channel, occurred_at, f"{item_id}:{suffix}"))
        return emitted


def _millis(raw: Any) -> datetime | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return base.from_unix(raw / 1000)
    return None


def _emit(data: BaseModel, channel: str, occurred_at: datetime, item_id: str) -> base.Emitted:
    return base.Emitted(data=data, key=channel, subject=channel, time=occurred_at, item_id=item_id)
