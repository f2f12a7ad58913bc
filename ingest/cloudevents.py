"""CloudEvents 1.0 envelopes (structured mode) with ids that replays reproduce exactly."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pydantic_core import to_jsonable_python

from ingest.handlers.base import UNSTORABLE, Emitted, text_digest

# Fixed forever: changing it would change every event id and defeat consumers' deduplication.
CLOUDEVENT_ID_NAMESPACE = uuid.UUID("6f1c5a3e-8d5b-4f3e-9a57-0f1c2b7e4d21")
CONTENT_TYPE = "application/cloudevents+json"
KAFKA_HEADERS = [("content-type", CONTENT_TYPE.encode())]
"""Kafka binding, structured mode: the one header every record carries."""


def cloudevent_id(
    source: str, vendor_event_id: str, seq: int, event_type: str, item_id: str | None = None
) -> str:
    """Same inbox event and same mapping → same id, on every replay and on every machine.

    A batch item's id comes from the item itself, so the same item redelivered in another batch
    (vendors re-batch on retry) still gets the same id."""
    name = (
        f"{source}\nitem\n{item_id}\n{event_type}"
        if item_id is not None
        else f"{source}\n{vendor_event_id}\n{seq}\n{event_type}"
    )
    return str(uuid.uuid5(CLOUDEVENT_ID_NAMESPACE, name))


def kafka_record_size(key: str, value: bytes) -> int:
    """What the Kafka producer counts against `max_request_size` for this record (its own
    estimate, so a check made when the CloudEvent is built agrees with the producer's)."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key.encode(), value, KAFKA_HEADERS)
    return size


def source_uri(source: str) -> str:
    return f"/sources/{source}"


@dataclass(frozen=True)
class CloudEvent:
    id: str
    type: str
    key: str
    document: dict[str, Any]

    def to_json(self) -> bytes:
        """UTF-8 JSON. NaN and Infinity are refused (no consumer could parse them); a lone
        surrogate from hostile input is written as a `\\udXXX` escape instead of breaking the
        encoding."""
        text = json.dumps(self.document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        try:
            return text.encode()
        except UnicodeEncodeError:
            return json.dumps(self.document, separators=(",", ":"), allow_nan=False).encode()


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


SURROGATE = re.compile("[\ud800-\udfff]")
TYPE_CHARACTERS = re.compile(r"[^A-Za-z0-9._:/-]")
MAX_TYPE_LENGTH = 255


def _encodable(name: str) -> str:
    """`name` for `uuid5`, which encodes it as strict UTF-8: a vendor's type can hold a lone
    surrogate (JSON escapes one), which is then hashed first. Every other name is itself, so
    the types derived before stay the same."""
    return text_digest(name) if SURROGATE.search(name) else name


def safe_type(event_type: str) -> str:
    """Mapped types are tidy already; a vendor's own type (passed through, or a GitHub action
    inside `vcs.pull_request.<action>`) can hold anything: keep it to a column's worth of
    identifier characters, the same way on every replay."""
    cleaned = TYPE_CHARACTERS.sub("_", event_type)
    if len(cleaned) > MAX_TYPE_LENGTH:
        digest = uuid.uuid5(CLOUDEVENT_ID_NAMESPACE, _encodable(event_type)).hex[:16]
        cleaned = f"{cleaned[: MAX_TYPE_LENGTH - 17]}~{digest}"
    return cleaned or "unknown"


def safe_key(key: str) -> str:
    """A partition key PostgreSQL can store and Kafka can carry (no NUL, no lone surrogate)."""
    return UNSTORABLE.sub("\ufffd", key)[:4096]


def _json_data(emitted: Emitted) -> Any:
    """The data as JSON values. pydantic-core cannot write a lone surrogate in an object's key
    (in a value it can, and `to_json` escapes it): a payload with such a key is written with
    the surrogate spelled `\\udXXX` in the key, rather than failing the delivery for good."""
    try:
        return emitted.data.model_dump(mode="json")
    except UnicodeEncodeError:
        return to_jsonable_python(_encodable_keys(emitted.data.model_dump()))


def _encodable_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape_surrogates(key): _encodable_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable_keys(item) for item in value]
    return value


def _escape_surrogates(key: Any) -> Any:
    if not isinstance(key, str):
        return key
    return SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", key)


def build(
    emitted: Emitted,
    *,
    seq: int,
    source: str,
    vendor: str,
    vendor_event_id: str,
    received_at: datetime,
) -> CloudEvent:
    event_type = safe_type(emitted.type)
    event_id = cloudevent_id(source, vendor_event_id, seq, event_type, emitted.item_id)
    document: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source_uri(source),
        "type": event_type,
        "time": _rfc3339(emitted.time or received_at),
        "datacontenttype": "application/json",
        "vendor": vendor,
        "vendoreventid": vendor_event_id,
        "data": _json_data(emitted),
    }
    if emitted.subject is not None:
        document["subject"] = emitted.subject
    return CloudEvent(id=event_id, type=event_type, key=safe_key(emitted.key), document=document)
