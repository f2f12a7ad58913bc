"""`ingest.edge.responses.send_error`: the answer every middleware refusal is sent as.

It must look like the endpoints' own errors (`{"error": code, "message": text}`, JSON), so a
vendor or an operator reads one format whichever layer refused: a short machine-readable code,
a human sentence, nothing else (no stack trace, no internals). It is a whole response in two
ASGI messages with a correct `Content-Length`, since it is sent before or instead of the app."""

from __future__ import annotations

import json

from ingest.app import error_response
from ingest.edge.responses import send_error
from tests.ingest.edge.kit import Exchange


async def test_an_error_is_one_start_and_one_final_body_message() -> None:
    exchange = Exchange()
    await send_error(exchange.send, 503, "overloaded", "too many requests in flight")
    assert [message["type"] for message in exchange.messages] == [
        "http.response.start",
        "http.response.body",
    ]
    assert exchange.status == 503
    assert not exchange.messages[1].get("more_body", False)


async def test_the_body_is_exactly_the_code_and_the_message_as_json() -> None:
    exchange = Exchange()
    await send_error(exchange.send, 413, "payload_too_large", "body exceeds 65536 bytes")
    assert exchange.headers["content-type"] == "application/json"
    assert exchange.json() == {"error": "payload_too_large", "message": "body exceeds 65536 bytes"}


async def test_the_body_has_the_shape_of_the_endpoints_own_errors() -> None:
    exchange = Exchange()
    await send_error(exchange.send, 400, "malformed_request", "Content-Length is not a number")
    endpoint = error_response("malformed_request", 400, "Content-Length is not a number")
    assert exchange.json() == json.loads(bytes(endpoint.body))
    assert exchange.headers["content-type"] == endpoint.headers["content-type"].split(";")[0]


async def test_the_content_length_counts_bytes_even_for_a_non_ascii_message() -> None:
    exchange = Exchange()
    await send_error(exchange.send, 400, "malformed_request", "caf\u00e9 \u2014 \U0001f600")
    assert int(exchange.headers["content-length"]) == len(exchange.body)
    assert exchange.json()["message"] == "caf\u00e9 \u2014 \U0001f600"


async def test_extra_headers_are_sent_with_lowercase_names_and_defaults_kept() -> None:
    exchange = Exchange()
    await send_error(
        exchange.send, 503, "overloaded", "retry later", {"Retry-After": "5", "Connection": "close"}
    )
    assert exchange.headers == {
        "content-type": "application/json",
        "content-length": str(len(exchange.body)),
        "retry-after": "5",
        "connection": "close",
    }


async def test_without_extra_headers_only_type_and_length_are_sent() -> None:
    exchange = Exchange()
    await send_error(exchange.send, 408, "request_timeout", "the body arrived too slowly")
    assert sorted(exchange.headers) == ["content-length", "content-type"]
    assert exchange.status == 408
