"""`handlers/_extraction.py`: where the configurable vendors (generic-hmac, basic-auth,
header-token) find an event's id and type, as each source configures it.

The id is the dedup key, so what is refused matters as much as what is read: a value PostgreSQL
cannot store, or one that is absent where the source says it is, must not become a key. Each
vendor's own tests send real signed requests through these options; this is the shared code.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from pydantic import ValidationError

from ingest.handlers import base
from ingest.handlers._extraction import (
    DEFAULT_TYPE,
    ExtractionOptions,
    header_name,
    identify,
    json_path,
    lookup,
    wire_bytes,
)

MISSING = lookup({}, "absent")


def _request(body: bytes = b"{}", **headers: str) -> base.InboundRequest:
    return base.InboundRequest(
        method="POST", url="https://ingest.test/webhooks/any", headers=headers, body=body
    )


@pytest.mark.parametrize(
    ("document", "path", "found"),
    [
        ({"id": "a"}, "id", "a"),
        ({"data": {"id": 7}}, "data.id", 7),
        ({"events": [{"uuid": "u0"}, {"uuid": "u1"}]}, "events.1.uuid", "u1"),
    ],
)
def test_a_dotted_path_reads_into_objects_and_lists(document: Any, path: str, found: Any) -> None:
    assert lookup(document, path) == found


@pytest.mark.parametrize(
    ("document", "path"),
    [({"id": "a"}, "uuid"), ({"events": []}, "events.0"), ({"id": "a"}, "id.deeper"), ([], "x")],
)
def test_a_path_that_leads_nowhere_is_missing_not_an_error(document: Any, path: str) -> None:
    assert lookup(document, path) is MISSING


def test_paths_and_header_names_are_checked_when_the_sources_file_is_read() -> None:
    assert json_path("data.object.id") == "data.object.id"
    for bad in ("", "a..b", ".a", "a b", "id\n"):
        with pytest.raises(ValueError, match="dotted path"):
            json_path(bad)
    assert header_name(" X-Event-Id ") == "x-event-id"
    with pytest.raises(ValueError, match="HTTP header name"):
        header_name("x event id")


def test_an_id_or_type_comes_from_one_place_only() -> None:
    with pytest.raises(ValidationError, match="id_header or id_json_path"):
        ExtractionOptions(id_header="x-id", id_json_path="id")
    with pytest.raises(ValidationError, match="type_header or type_json_path"):
        ExtractionOptions(type_header="x-type", type_json_path="type")


def test_the_configured_header_and_path_name_the_event() -> None:
    options = ExtractionOptions(id_header="x-delivery", type_json_path="event.kind")
    request = _request(b'{"event": {"kind": "order.paid"}}', **{"x-delivery": " d-1 "})
    assert identify(request, options) == base.Identity(event_id="d-1", event_type="order.paid")


def test_with_nothing_configured_the_body_names_the_event() -> None:
    """Only a byte-identical redelivery is then recognised: the documented trade-off."""
    body = b'{"anything": true}'
    identity = identify(_request(body), ExtractionOptions())
    assert identity.event_id == hashlib.sha256(body).hexdigest()
    assert identity.event_type == DEFAULT_TYPE


@pytest.mark.parametrize(
    ("options", "body", "headers"),
    [
        (ExtractionOptions(id_header="x-delivery"), b"{}", {}),
        (ExtractionOptions(id_json_path="id"), b'{"other": 1}', {}),
        (ExtractionOptions(id_json_path="id"), b'{"id": "a\\u0000b"}', {}),
        (ExtractionOptions(id_json_path="id"), b'{"id": "\\ud800"}', {}),
        (ExtractionOptions(type_json_path="type"), b'{"type": ["not", "text"]}', {}),
    ],
)
def test_an_absent_or_unstorable_id_or_type_is_malformed(
    options: ExtractionOptions, body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(base.MalformedRequestError):
        identify(_request(body, **headers), options)


def test_a_header_value_becomes_the_bytes_that_were_sent() -> None:
    assert wire_bytes("caf\xe9") == b"caf\xe9"  # latin-1, as Starlette decoded it
    assert wire_bytes("\u20ac") == "\u20ac".encode()  # beyond latin-1: never raises
    assert wire_bytes("\ud800") == b"\xed\xa0\x80"
