"""Event ids and types for the configurable vendors (generic-hmac, basic-auth, header-token),
whose senders we know nothing about: read from a header or a dotted JSON path, as the source says.

A module starting with `_` is not a vendor: handler discovery skips it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from typing_extensions import override

from ingest.handlers import base
from ingest.sources import SourceConfig

# Dotted segments, none empty: `id`, `data.id`, `events.0.uuid`.
JSON_PATH = re.compile(r"[^.\s]{1,100}(\.[^.\s]{1,100}){0,15}")
DEFAULT_TYPE = "webhook"
_MISSING = object()


def wire_bytes(value: str) -> bytes:
    """A header value as the sender's bytes: Starlette decodes headers as latin-1, so encoding
    back gives what was sent. A value beyond latin-1 did not come off the wire (a test, another
    front end): it is taken as UTF-8, lone surrogates included, so this never raises."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def header_name(value: str | None) -> str | None:
    """Header names are matched lower-case (the service lower-cases request headers)."""
    if value is None:
        return None
    value = value.strip()
    if not base.HEADER_NAME.fullmatch(value):
        raise ValueError("must be an HTTP header name, e.g. x-event-id")
    return value.lower()


def json_path(value: str | None) -> str | None:
    if value is not None and not JSON_PATH.fullmatch(value):
        raise ValueError("must be a dotted path into the JSON body, e.g. data.id")
    return value


class ExtractionOptions(BaseModel):
    """Where a source's event id (the dedup key) and event type come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_header: str | None = None
    """Header carrying the sender's delivery id, e.g. `x-request-id`."""
    id_json_path: str | None = None
    """Dotted path to the id in the JSON body, e.g. `data.id` (list items by index: `items.0.id`).
    With neither: the SHA-256 of the body, so only byte-identical redeliveries are deduplicated."""
    type_header: str | None = None
    """Header carrying the event type, e.g. `x-event-type`."""
    type_json_path: str | None = None
    """Dotted path to the type in the JSON body, e.g. `type`. With neither: `webhook`."""

    @field_validator("id_header", "type_header")
    @classmethod
    def _header_names(cls, value: str | None) -> str | None:
        return header_name(value)

    @field_validator("id_json_path", "type_json_path")
    @classmethod
    def _json_paths(cls, value: str | None) -> str | None:
        return json_path(value)

    @model_validator(mode="after")
    def _one_source_each(self) -> Self:
        if self.id_header and self.id_json_path:
            raise ValueError("set id_header or id_json_path, not both")
        if self.type_header and self.type_json_path:
            raise ValueError("set type_header or type_json_path, not both")
        return self


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path, or `_MISSING`; integer segments index into lists."""
    for segment in path.split("."):
        if isinstance(document, dict):
            document = document.get(segment, _MISSING)
        elif isinstance(document, list) and segment.isdigit() and int(segment) < len(document):
            document = document[int(segment)]
        else:
            return _MISSING
        if document is _MISSING:
            return _MISSING
    return document


def _extract(
    request: base.InboundRequest, header: str | None, path: str | None, what: str, body: list[Any]
) -> str | None:
    """The configured header's or JSON path's value; None when neither is configured. `body`
    memoizes the parsed JSON between the id and the type."""
    if header is not None:
        where = f"{what} header {header}"
        value: Any = request.headers.get(header, "").strip()
    elif path is not None:
        where = f"{what} at JSON path {path}"
        if not body:
            body.append(request.json())
        value = lookup(body[0], path)
        value = None if value is _MISSING else value
    else:
        return None
    text = base.bounded_id(value, where)
    # A JSON string may hold "\u0000" or a lone surrogate: PostgreSQL text stores neither, and
    # the dedup key of a delivery must be storable.
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise base.MalformedRequestError(f"{where} contains control characters")
    return text


def identify(request: base.InboundRequest, options: ExtractionOptions) -> base.Identity:
    """Raises MalformedRequestError when a configured id or type is absent or unusable."""
    parsed: list[Any] = []
    event_id = _extract(request, options.id_header, options.id_json_path, "event id", parsed)
    event_type = _extract(
        request, options.type_header, options.type_json_path, "event type", parsed
    )
    return base.Identity(
        event_id=event_id or request.body_digest(),
        event_type=event_type or DEFAULT_TYPE,
    )


def normalize(delivery: base.Delivery) -> list[base.Emitted]:
    """Passed through as `<vendor>.<type>`: the JSON payload, or the body's text for senders that
    post form fields or plain text. A body that is not even UTF-8 fails (stored, replayable)."""
    try:
        payload: Any = delivery.json()
    except base.MalformedRequestError:
        try:
            payload = delivery.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("body is neither JSON nor UTF-8 text") from None
    return [base.passthrough(delivery, payload)]


__all__ = [
    "DEFAULT_TYPE",
    "ExtractionOptions",
    "header_name",
    "identify",
    "json_path",
    "lookup",
    "normalize",
    "wire_bytes",
]


class ExtractingHandler(base.VendorHandler):
    """Base of the configurable vendors (generic-hmac, basic-auth, header-token): ids and types
    come from the source's extraction options, events pass through unchanged."""

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        return identify(request, self.options(source, ExtractionOptions))

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        return normalize(delivery)
