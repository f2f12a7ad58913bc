"""`ingest.edge.request_id`: which `X-Request-ID` a request keeps and which it is given instead.

The id is bound to every log line of the request and echoed to the caller, so a vendor's
delivery log and ours can be matched. A caller's sane token is kept as it is; anything that
could forge or bloat a log line (too long, spaces, control characters, non-ASCII) is replaced
by a fresh id. Tested through the real app (the echo on real routes) and by calling the
middleware directly (the exact rules, the scope state and the logging context)."""

from __future__ import annotations

import re

import pytest
import structlog
from starlette.types import Receive, Scope, Send

from ingest.edge.request_id import RequestIdMiddleware
from tests.ingest.conftest import App
from tests.ingest.edge.kit import Recorder, call, http_scope, reply, signed

FRESH = re.compile(r"^[0-9a-f]{32}$")


async def test_the_request_id_is_echoed_or_made(app: App) -> None:
    body, headers = signed()
    given = await app.client.post(
        "/webhooks/stripe", content=body, headers={**headers, "X-Request-ID": "vendor-abc.123"}
    )
    assert given.headers["x-request-id"] == "vendor-abc.123"
    made = await app.client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    forged = await app.client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert forged.headers["x-request-id"] != "a b\tc" + "x" * 200


@pytest.mark.parametrize(
    "given",
    ["vendor-abc.123", "A", "evt:2026-12-02T07:14:13", "x" * 128, "0123456789abcdef"],
    ids=["vendor-style", "one-character", "colons-and-dots", "128-characters", "hex"],
)
async def test_a_well_formed_id_is_kept_echoed_and_put_in_the_scope(given: str) -> None:
    endpoint = Recorder()
    exchange = await call(
        RequestIdMiddleware(endpoint), http_scope(headers=[("X-Request-ID", given)])
    )
    assert exchange.header_values("x-request-id") == [given]
    assert endpoint.scopes[0]["state"]["request_id"] == given


@pytest.mark.parametrize(
    "given",
    [
        "",
        "x" * 129,
        "a b",
        "tab\there",
        "line\r\nX-Forged: yes",
        "trailing-newline\n",
        "\nleading-newline",
        "nul\x00byte",
        "caf\xe9",
        "semi;colon",
        'quote"d',
        "slash/ed",
    ],
    ids=[
        "empty",
        "129-characters",
        "space",
        "tab",
        "crlf",
        "trailing-newline",
        "leading-newline",
        "nul",
        "non-ascii",
        "semicolon",
        "quote",
        "slash",
    ],
)
async def test_a_hostile_or_malformed_id_is_replaced_by_a_fresh_one(given: str) -> None:
    endpoint = Recorder()
    exchange = await call(
        RequestIdMiddleware(endpoint), http_scope(headers=[("X-Request-ID", given)])
    )
    [echoed] = exchange.header_values("x-request-id")
    assert echoed != given
    assert FRESH.match(echoed), echoed
    assert endpoint.scopes[0]["state"]["request_id"] == echoed


async def test_a_request_without_an_id_gets_a_fresh_one_each_time() -> None:
    endpoint = Recorder()
    middleware = RequestIdMiddleware(endpoint)
    first = await call(middleware, http_scope())
    second = await call(middleware, http_scope())
    [one], [other] = first.header_values("x-request-id"), second.header_values("x-request-id")
    assert FRESH.match(one)
    assert FRESH.match(other)
    assert one != other


async def test_the_id_is_bound_to_log_lines_only_while_the_request_runs() -> None:
    seen: list[object] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(structlog.contextvars.get_contextvars().get("request_id"))
        await reply(send)

    await call(RequestIdMiddleware(endpoint), http_scope(headers=[("X-Request-ID", "req-7")]))
    assert seen == ["req-7"]
    assert "request_id" not in structlog.contextvars.get_contextvars()


async def test_an_id_the_endpoint_set_itself_is_overwritten_by_the_one_logged() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-request-id", b"something-else")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    exchange = await call(
        RequestIdMiddleware(endpoint), http_scope(headers=[("X-Request-ID", "req-8")])
    )
    assert exchange.header_values("x-request-id") == ["req-8"]


async def test_a_lifespan_scope_passes_through_untouched() -> None:
    endpoint = Recorder()
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    exchange = await call(RequestIdMiddleware(endpoint), scope)
    assert exchange.messages == []
    assert endpoint.scopes == [{"type": "lifespan", "asgi": {"version": "3.0"}}]
