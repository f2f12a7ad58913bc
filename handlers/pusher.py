"""Pusher Channels: `X-Pusher-Key` names the app key, `X-Pusher-Signature` is the hex HMAC-SHA256
of the body with that key's secret.

The body's `time_ms` (when Pusher created the webhook) is signed with it; like Pusher's SDKs we
refuse webhooks more than 300 s away from now, in both directions. Pusher retries failed webhooks
for 5 minutes with the same body, so the delivery id is the body's SHA-256. A body is a batch of
events (`channel_occupied`, `channel_vacated`, `member_added`, `member_removed`, `client_event`,
`cache_miss`, `subscription_count`); each becomes its own CloudEvent.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature
from ingest.schemas import realtime
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

SIGNATURE = HmacSignature(header="X-Pusher-Signature", vendor="Pusher")
MAX_HEADER_LENGTH = 512
SAMPLE_KEY = "278d425bdf160c739803"  # the app key in Pusher's documentation examples


class PusherOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    app_key: str | list[str]
    """The app key(s) X-Pusher-Key may name. One key: every secret is tried. A list, one per
    secret in the same order: each key's own secret is used (rotating to a new key/secret pair)."""

    @field_validator("app_key")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        keys = [value] if isinstance(value, str) else value
        if not keys or any(not key.strip() for key in keys):
            raise ValueError("app_key must be a key, or a non-empty list of keys")
        return value


def _secret_indexes(options: PusherOptions, key: str, secret_count: int) -> list[int]:
    """Which configured secrets may have signed for `key` (none: the key is not ours)."""
    provided = key.encode("utf-8")
    if isinstance(options.app_key, str):
        known = hmac.compare_digest(options.app_key.encode("utf-8"), provided)
        return list(range(secret_count)) if known else []
    return [
        index
        for index, configured in enumerate(options.app_key)
        if index < secret_count and hmac.compare_digest(configured.encode("utf-8"), provided)
    ]


def _events(body: bytes) -> tuple[int, list[dict[str, Any]]]:
    document = base.json_object(body)
    time_ms, events = document.get("time_ms"), document.get("events")
    if not isinstance(time_ms, int) or isinstance(time_ms, bool) or time_ms <= 0:
        raise base.MalformedRequestError("Pusher webhook has no time_ms")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise base.MalformedRequestError("Pusher webhook has no events list")
    return time_ms, events


def _item_id(time_ms: int, index: int, event: dict[str, Any]) -> str:
    """Pusher gives events no id. Time, position and content identify one within its webhook
    (the position keeps two identical events in one batch apart, e.g. a channel occupied twice);
    a redelivered webhook is byte-identical, so its items get the same ids."""
    return f"{time_ms}:{index}:{base.content_digest(event)[:32]}"


class PusherHandler(base.VendorHandler):
    vendor: ClassVar[str] = "pusher"
    summary: ClassVar[str] = (
        "X-Pusher-Key = app key; X-Pusher-Signature: hex HMAC-SHA256 of the body; time_ms ±300 s"
    )
    signature_headers: ClassVar[tuple[str, ...]] = ("X-Pusher-Key", "X-Pusher-Signature")
    options_model: ClassVar[type[BaseModel]] = PusherOptions
    default_tolerance_seconds: ClassVar[int | None] = 300
    mapped_types: ClassVar[Mapping[str, str]] = {
        "channel_occupied": realtime.ChannelOccupied.event_type,
        "channel_vacated": realtime.ChannelVacated.event_type,
        "member_added": realtime.PresenceJoined.event_type,
        "member_removed": realtime.PresenceLeft.event_type,
    }

    @override
    def check_config(self, source: SourceConfig) -> SourceConfig:
        checked = super().check_config(source)
        keys = self.options(checked, PusherOptions).app_key
        if isinstance(keys, list) and len(keys) != len(checked.secrets):
            raise ConfigError(
                f"source {source.name!r}: app_key lists {len(keys)} keys for "
                f"{len(checked.secrets)} secrets; give one key, or one per secret in order"
            )
        return checked

    @override
    def verify(self, check: base.Verification) -> base.Verdict:
        request, source, now = check.request, check.source, check.now
        key = request.required_header("X-Pusher-Key", max_length=MAX_HEADER_LENGTH)
        offered = SIGNATURE.offered(request)
        if not key.isascii():
            raise base.InvalidSignatureError("X-Pusher-Key header is malformed")
        options = self.options(source, PusherOptions)
        # The key names the app, so only that app's secrets are tried.
        candidates = _secret_indexes(options, key.strip(), len(source.secrets))
        if not candidates:
            raise base.InvalidSignatureError("X-Pusher-Key is not a configured app key")
        secrets = [source.secrets[index] for index in candidates]
        index = candidates[SIGNATURE.matching_secret(secrets, [request.body], offered)]
        time_ms, _ = _events(request.body)
        base.check_tolerance(time_ms // 1000, now, self.tolerance(source))
        return base.Verdict(secret_index=index, signed_at=time_ms // 1000)

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        _, events = _events(request.body)
        names = {event.get("name") for event in events}
        single = next(iter(names)) if len(names) == 1 else None
        event_type = single if isinstance(single, str) and 0 < len(single) <= 255 else "batch"
        return base.Identity(event_id=request.body_digest(), event_type=event_type)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        time_ms, events = _events(delivery.body)
        occurred_at = base.from_unix(time_ms / 1000) or delivery.received_at
        return base.map_items(
            enumerate(events), lambda indexed: _event(time_ms, *indexed, occurred_at)
        )


def _event(time_ms: int, index: int, event: dict[str, Any], occurred_at: datetime) -> base.Emitted:
    name, channel = event.get("name"), event.get("channel")
    if not isinstance(name, str) or not isinstance(channel, str):
        raise ValueError("Pusher event has no name or channel")
    data: BaseModel
    match name:
        case "channel_occupied":
            data = realtime.ChannelOccupied(
                provider="pusher", channel=channel, occurred_at=occurred_at
            )
        case "channel_vacated":
            data = realtime.ChannelVacated(
                provider="pusher", channel=channel, occurred_at=occurred_at
            )
        case "member_added" | "member_removed":
            model = realtime.PresenceJoined if name == "member_added" else realtime.PresenceLeft
            data = model(
                provider="pusher",
                channel=channel,
                user_id=event["user_id"],
                occurred_at=occurred_at,
            )
        case _:
            data = VendorPassthrough(vendor="pusher", vendor_event_type=name, payload=event)
    item_id = _item_id(time_ms, index, event)
    return base.Emitted(data=data, key=channel, subject=channel, time=occurred_at, item_id=item_id)
