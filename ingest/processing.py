"""Normalization: a verified delivery in, the outbox records it owes (or the reason it failed) out.

Pure CPU work, run before the one database transaction, so the request path holds no lock while
a handler parses. A handler that raises never loses the event: it is stored, acked, and either
`retrying` (a transient failure: the retrier runs it again with backoff) or `failed` (a bug, or a
CloudEvent too large for the sink: `ingest replay` once it is fixed).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from ingest import cloudevents
from ingest.errors import IngestError
from ingest.handlers.base import (
    PASSING_CAUSES,
    UNSTORABLE,
    Delivery,
    Emitted,
    MalformedRequestError,
    Mapper,
    PartlyMappedError,
    parse_json,
)
from ingest.identity import UNKNOWN_TYPE
from ingest.outbound import OutboundError
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourcesConfig

MAX_ERROR_LENGTH = 1000
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (*PASSING_CAUSES, OutboundError)


class CloudEventTooLargeError(IngestError):
    """The CloudEvent would exceed the producer's maximum record size (KAFKA_MAX_REQUEST_SIZE)."""


@dataclass(frozen=True)
class OutboxRecord:
    seq: int
    cloudevent_id: str
    type: str
    topic: str
    key: str
    value: bytes
    item_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: Literal["processed", "retrying", "failed"]
    records: tuple[OutboxRecord, ...] = ()
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    """Short and free of payload values: pydantic errors are rendered without their inputs."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        text = f"ValidationError: {problems}"
    elif isinstance(exc, KeyError):
        text = f"KeyError: missing field {exc.args[0]!r}" if exc.args else "KeyError"
    else:
        text = f"{type(exc).__name__}: {exc}"
    # A message may quote a payload value: it is stored (`last_error`) whatever that holds.
    return UNSTORABLE.sub("\ufffd", text)[:MAX_ERROR_LENGTH]


def describe_unmapped(partly: PartlyMappedError) -> str:
    """What `ingest failed` shows for a batch published but for some items: how many, and each
    failed item's position and error (as `describe_error` writes it, free of payload values)."""
    published = partly.total - len(partly.failures)
    failures = "; ".join(
        f"item {position}: {describe_error(exc)}" for position, exc in partly.failures
    )
    text = f"{len(partly.failures)} of {partly.total} items not mapped ({published} published): "
    return (text + failures)[:MAX_ERROR_LENGTH]


def lenient_payload(body: bytes) -> Any:
    """The body as data for a passthrough: its JSON if it is JSON, else its text (or base64),
    so a consumer always gets what the vendor sent."""
    try:
        return parse_json(body)
    except MalformedRequestError:
        pass
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}


def unknown_passthrough(delivery: Delivery) -> Emitted:
    return Emitted(
        data=VendorPassthrough(
            vendor=delivery.vendor,
            vendor_event_type=UNKNOWN_TYPE,
            payload=lenient_payload(delivery.body),
        ),
        key=delivery.event_id,
    )


def normalize(
    handler: Mapper,
    delivery: Delivery,
    config: SourcesConfig,
    *,
    max_record_bytes: int | None = None,
    unexpected: bool = False,
) -> Outcome:
    """The records `delivery` owes the sink, or why there are none.

    `max_record_bytes` (the producer's maximum) is checked here, when the CloudEvent is built,
    so an event Kafka would refuse is `failed` with a clear error — and replayable once the limit
    is raised — instead of becoming a record the relay can only park. An `unexpected` delivery
    (one the handler could not identify, `ingest.identity`) is not given to the handler's
    mapping at all: it is published as the passthrough `<vendor>.unknown`."""
    partly: PartlyMappedError | None = None
    try:
        try:
            emitted = [unknown_passthrough(delivery)] if unexpected else handler.normalize(delivery)
        except PartlyMappedError as exc:
            emitted, partly = exc.emitted, exc
        records = []
        for seq, item in enumerate(emitted):
            event = cloudevents.build(
                item,
                seq=seq,
                source=delivery.source,
                vendor=delivery.vendor,
                vendor_event_id=delivery.event_id,
                received_at=delivery.received_at,
            )
            value = event.to_json()
            if max_record_bytes is not None:
                size = cloudevents.kafka_record_size(event.key, value)
                if size > max_record_bytes:
                    raise CloudEventTooLargeError(
                        f"the CloudEvent {event.type} is {size} bytes as a Kafka record, over the "
                        f"producer's maximum of {max_record_bytes} (KAFKA_MAX_REQUEST_SIZE); "
                        "raise it (and the broker's message.max.bytes), then replay"
                    )
            records.append(
                OutboxRecord(
                    seq=seq,
                    cloudevent_id=event.id,
                    type=event.type,
                    topic=config.topic_for(event.type, delivery.source),
                    key=event.key,
                    value=value,
                    item_id=item.item_id,
                )
            )
    except TRANSIENT_ERRORS as exc:
        return Outcome(status="retrying", error=describe_error(exc))
    except Exception as exc:  # noqa: BLE001 - any handler bug becomes a `failed` row, never a lost event
        return Outcome(status="failed", error=describe_error(exc))
    if partly is not None:
        return Outcome(status="failed", records=tuple(records), error=describe_unmapped(partly))
    return Outcome(status="processed", records=tuple(records))
