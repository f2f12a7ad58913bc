"""Who a verified delivery is, even when its body is not what the handler expects.

The rule: once a delivery is verified it is stored and acknowledged, whatever its shape — a
refusal now would make the vendor give up after its retries, and the event would be lost. Only
what the vendor sends wrong on the wire (`WireError`: a header its scheme always carries) is
still refused. So:

- a body the handler cannot identify (no id, no type, not JSON, an unexpected structure) gets a
  fallback identity: the vendor's delivery id if it travels in a header (`delivery_id`), else
  `sha256:<digest of the body>` — a redelivery of the same signed content deduplicates — and the
  type `unknown`; it is published as the passthrough `<vendor>.unknown`;
- an id or type the database could not store (a NUL, a lone surrogate, more characters than the
  column takes) is bounded and cleaned, or replaced by the fallback id, deterministically, so a
  redelivery maps to the same row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ingest.handlers.base import (
    Identifier,
    Identity,
    InboundRequest,
    RejectedRequestError,
    WireError,
)
from ingest.sources import SourceConfig

UNKNOWN_TYPE = "unknown"
FALLBACK_ID_PREFIX = "sha256:"
MAX_ID_LENGTH = 255
MAX_TYPE_LENGTH = 200
"""Room left in the 255-character CloudEvent type column for `<vendor>.` and a domain prefix."""
UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
"""PostgreSQL text cannot hold NUL; a lone surrogate cannot be encoded; control characters in a
key or type only ever come from hostile input."""


@dataclass(frozen=True)
class Identified:
    identity: Identity
    unexpected: str | None = None
    """Why the handler could not identify the body; None when it could."""


def content_id(body: bytes) -> str:
    return FALLBACK_ID_PREFIX + hashlib.sha256(body).hexdigest()


def storable_id(value: str | None) -> str | None:
    if value is None or not value.strip() or len(value) > MAX_ID_LENGTH:
        return None
    return None if UNSTORABLE.search(value) else value


def clean_type(value: str) -> str:
    """A vendor type fit for a column and a CloudEvent type: unstorable characters replaced,
    length bounded (with a digest suffix, so two long types never collide)."""
    cleaned = UNSTORABLE.sub("\ufffd", value).strip()
    if not cleaned:
        return UNKNOWN_TYPE
    if len(cleaned) > MAX_TYPE_LENGTH:
        digest = hashlib.sha256(cleaned.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        cleaned = f"{cleaned[: MAX_TYPE_LENGTH - 17]}~{digest}"
    return cleaned


def fallback_id(handler: Identifier, request: InboundRequest) -> str:
    return storable_id(handler.delivery_id(request)) or content_id(request.body)


def identify(handler: Identifier, request: InboundRequest, source: SourceConfig) -> Identified:
    """The handler's identity of a verified request, made storable; a fallback if it has none."""
    try:
        identity = handler.identify(request, source)
    except WireError:
        raise
    except RejectedRequestError as exc:
        return Identified(
            Identity(event_id=fallback_id(handler, request), event_type=UNKNOWN_TYPE),
            unexpected=exc.message,
        )
    event_id = storable_id(identity.event_id) or fallback_id(handler, request)
    event_type = clean_type(identity.event_type)
    if (event_id, event_type) != (identity.event_id, identity.event_type):
        identity = replace(identity, event_id=event_id, event_type=event_type)
    return Identified(identity)


def unexpected_when_stored(
    handler: Identifier, source: SourceConfig, headers: Mapping[str, str], body: bytes
) -> bool:
    """For replays and retries: was this stored delivery one the handler could not identify?
    Asked again of the handler, so a fixed handler maps what it once could not."""
    request = InboundRequest(method="POST", url="", headers=headers, body=body)
    try:
        return identify(handler, request, source).unexpected is not None
    except RejectedRequestError:
        return True
