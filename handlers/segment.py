"""Segment (Webhooks destination): `X-Signature: <hex HMAC-SHA1 of the body>`; dedup `messageId`.

Segment signs with the destination's shared secret and no timestamp, so there is no replay window;
a retry carries the same `messageId` and is recognised by the inbox. Each body is one message of
the Segment Spec (track, identify, page, screen, group, alias). With batching enabled (Webhooks
(Actions)) the body is a JSON array of messages: each becomes its own CloudEvent, deduplicated by
its `messageId` across deliveries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.hmac_signature import HmacSignature, HmacVerified
from ingest.schemas import analytics
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig

SIGNATURE = HmacSignature(header="X-Signature", vendor="Segment", algorithm="sha1")
BATCH = "batch"


def _message_type(message: Any) -> str:
    if not isinstance(message, dict):
        raise base.MalformedRequestError("each Segment message must be a JSON object")
    return base.vendor_type(message.get("type"), "Segment message type", max_length=64)


def _optional_text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) else None


class SegmentHandler(HmacVerified):
    vendor: ClassVar[str] = "segment"
    summary: ClassVar[str] = "X-Signature: hex HMAC-SHA1 of the body (destination shared secret)"
    signature: ClassVar[HmacSignature] = SIGNATURE
    mapped_types: ClassVar[Mapping[str, str]] = {
        "track": analytics.AnalyticsTrack.event_type,
        "identify": analytics.AnalyticsIdentify.event_type,
        "page": analytics.AnalyticsPage.event_type,
        "screen": analytics.AnalyticsScreen.event_type,
        "group": analytics.AnalyticsGroup.event_type,
        BATCH: "(a JSON array: one CloudEvent per message, as above)",
    }

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        document = request.json()
        if isinstance(document, list):
            if not document:
                raise base.MalformedRequestError("Segment batch is empty")
            for message in document:
                _message_type(message)
            # A batch has no id of its own; its messages are deduplicated one by one.
            return base.Identity(event_id=request.body_digest(), event_type=BATCH)
        kind = _message_type(document)
        message_id = document.get("messageId")
        if message_id is None:
            # Segment's libraries always set messageId; a hand-written Actions mapping may not.
            event_id = request.body_digest()
        else:
            event_id = base.bounded_id(message_id, "messageId")
        return base.Identity(event_id=event_id, event_type=kind)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        document = delivery.json()
        if isinstance(document, list):
            return base.map_items(
                enumerate(document),
                lambda indexed: self._message(delivery, indexed[1], position=indexed[0]),
            )
        return [self._message(delivery, document)]

    @staticmethod
    def _message(
        delivery: base.Delivery, message: Any, *, position: int | None = None
    ) -> base.Emitted:
        """One call; `position` is its place in a batch (None: the delivery is this call)."""
        if not isinstance(message, dict):
            raise ValueError("Segment message is not a JSON object")
        kind = message.get("type")
        message_id = base.id_or_none(message.get("messageId"))
        user_id = base.id_or_none(message.get("userId"))
        anonymous_id = base.id_or_none(message.get("anonymousId"))
        common: dict[str, Any] = {
            "provider": "segment",
            "message_id": message_id,
            "user_id": user_id,
            "anonymous_id": anonymous_id,
            "occurred_at": base.iso_time(message.get("timestamp")),
            "context": base.object_or_empty(message.get("context")),
        }
        data: analytics.AnalyticsCall | VendorPassthrough
        match kind:
            case "track":
                event = base.required_text(message.get("event"), "track call's event name")
                data = analytics.AnalyticsTrack(
                    **common,
                    event=event,
                    properties=base.object_or_empty(message.get("properties")),
                )
            case "identify":
                data = analytics.AnalyticsIdentify(
                    **common, traits=base.object_or_empty(message.get("traits"))
                )
            case "page" | "screen":
                model = analytics.AnalyticsPage if kind == "page" else analytics.AnalyticsScreen
                data = model(
                    **common,
                    name=_optional_text(message.get("name")),
                    category=_optional_text(message.get("category")),
                    properties=base.object_or_empty(message.get("properties")),
                )
            case "group":
                group_id = base.id_or_none(message.get("groupId"))
                if group_id is None:
                    raise ValueError("group call has no 'groupId'")
                data = analytics.AnalyticsGroup(
                    **common, group_id=group_id, traits=base.object_or_empty(message.get("traits"))
                )
            case _:
                data = VendorPassthrough(
                    vendor="segment", vendor_event_type=str(kind), payload=message
                )
        # Per user, in order: the entity a consumer folds these calls into.
        key = user_id or anonymous_id or message_id or delivery.event_id
        return base.Emitted(
            data=data,
            key=key,
            subject=user_id or anonymous_id,
            item_id=None if position is None else _item_id(delivery, message_id, position),
        )


def _item_id(delivery: base.Delivery, message_id: str | None, position: int) -> str:
    """A batch message's own id, or, for one without a messageId, its place in the stored batch
    (whose id is the body's digest): never the count of events mapped before it, which changes
    when a bad message before it is fixed and the batch replayed."""
    return message_id if message_id is not None else f"{delivery.event_id}#{position}"
