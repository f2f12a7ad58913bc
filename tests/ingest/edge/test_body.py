"""`ingest.edge.body.BodyLimitMiddleware`: how big a webhook body may be and how slowly it may
arrive, on `/webhooks/` only.

A `Content-Length` over the limit (or not a number) is refused before a byte is read; a body
without one (chunked), or longer than it declared, is counted as it arrives and refused the
moment it passes the limit, so nothing oversized is buffered. A body that stalls for `idle`
seconds or takes longer than `total` is answered 408. Every refusal is the JSON error format
with `Connection: close` (the unread rest cannot be drained). Tested through the real app
(the limit while the endpoint reads) and by calling the middleware directly with a counted
body (exact boundaries, what was read, timeouts with short clocks)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from starlette.types import Receive, Scope, Send

from ingest.edge.body import BodyLimitMiddleware
from tests.ingest.conftest import App
from tests.ingest.edge.kit import Body, Recorder, call, http_scope, read_all, reply

LIMIT = 1000


def limited(
    endpoint: Recorder, *, idle_seconds: float = 10.0, total_seconds: float = 30.0
) -> BodyLimitMiddleware:
    return BodyLimitMiddleware(
        endpoint, max_bytes=LIMIT, idle_seconds=idle_seconds, total_seconds=total_seconds
    )


async def test_a_chunked_body_is_refused_the_moment_it_passes_the_limit(app: App) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):  # 64 MiB if nobody stopped us
            sent += 65_536
            yield b" " * 65_536

    response = await app.client.post("/webhooks/stripe", content=chunks())
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert response.headers["connection"] == "close"
    assert sent < 4 * 65_536  # stopped at the limit (64 KiB here), not after reading it all


async def test_a_declared_oversize_is_refused_before_reading(app: App) -> None:
    response = await app.client.post(
        "/webhooks/stripe", content=b"{}", headers={"Content-Length": "99999999"}
    )
    assert (response.status_code, response.headers["connection"]) == (413, "close")


async def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read() -> None:
    endpoint, body = Recorder(), Body([b"x" * (LIMIT + 1)])
    scope = http_scope(headers=[("Content-Length", str(LIMIT + 1))])
    exchange = await call(limited(endpoint), scope, body)
    assert exchange.status == 413
    assert exchange.json() == {
        "error": "payload_too_large",
        "message": f"body exceeds {LIMIT} bytes",
    }
    assert exchange.headers["connection"] == "close"
    assert (body.pulled, endpoint.scopes) == (0, [])


async def test_a_body_of_exactly_the_limit_is_passed_through_whole() -> None:
    endpoint = Recorder()
    scope = http_scope(headers=[("Content-Length", str(LIMIT))])
    exchange = await call(limited(endpoint), scope, Body([b"a" * 600, b"b" * 400]))
    assert exchange.status == 200
    assert endpoint.bodies == [b"a" * 600 + b"b" * 400]


@pytest.mark.parametrize(
    "declared",
    ["ten", "12abc", "-1", "+5", "1e3", "0x10", "5, 5", "", "\u00b2", "1\u00b3"],
    ids=[
        "word",
        "digits-then-letters",
        "negative",
        "plus-sign",
        "exponent",
        "hex",
        "list",
        "empty",
        "superscript-two",
        "digit-then-superscript-three",
    ],
)
async def test_a_content_length_that_is_not_a_plain_number_is_a_400(declared: str) -> None:
    """Header bytes are read as latin-1, where `²` and `³` count as digits to `str.isdigit`
    but not to `int`: they must be a 400, not a crash."""
    endpoint, body = Recorder(), Body([b"{}"])
    scope = http_scope(headers=[("Content-Length", declared)])
    exchange = await call(limited(endpoint), scope, body)
    assert exchange.status == 400
    assert exchange.json() == {
        "error": "malformed_request",
        "message": "Content-Length is not a number",
    }
    assert exchange.headers["connection"] == "close"
    assert (body.pulled, endpoint.scopes) == (0, [])


async def test_a_chunked_body_of_exactly_the_limit_is_accepted() -> None:
    endpoint = Recorder()
    exchange = await call(limited(endpoint), http_scope(), Body([b"x" * 250] * 4))
    assert (exchange.status, exchange.json()) == (200, {"received": LIMIT})


async def test_a_chunked_body_one_byte_over_is_refused_at_the_chunk_that_passes_the_limit() -> None:
    endpoint = Recorder()
    body = Body([b"x" * 250] * 4 + [b"y"] + [b"z" * 250] * 100)
    exchange = await call(limited(endpoint), http_scope(), body)
    assert exchange.status == 413
    assert exchange.json()["error"] == "payload_too_large"
    assert exchange.headers["connection"] == "close"
    assert body.pulled == 5  # the five chunks up to the one that passed, none after
    assert endpoint.bodies == []  # the endpoint never got a body to act on


async def test_a_body_longer_than_its_declared_length_is_still_cut_at_the_limit() -> None:
    endpoint = Recorder()
    scope = http_scope(headers=[("Content-Length", "10")])
    exchange = await call(limited(endpoint), scope, Body([b"x" * 600, b"x" * 600]))
    assert exchange.status == 413
    assert exchange.json()["error"] == "payload_too_large"


async def test_the_refusal_carries_no_traceback_or_internal_names() -> None:
    exchange = await call(limited(Recorder()), http_scope(), Body([b"x" * (LIMIT + 1)]))
    assert exchange.status == 413
    assert set(exchange.json()) == {"error", "message"}
    assert b"Traceback" not in exchange.body
    assert b"_BodyRefusedError" not in exchange.body


async def test_a_stalled_body_is_a_408_after_the_idle_timeout() -> None:
    endpoint = Recorder()
    body = Body([b"x" * 10, b"x" * 10], pause=5.0)  # each chunk 5 s apart
    started = time.monotonic()
    exchange = await call(limited(endpoint, idle_seconds=0.1), http_scope(), body)
    assert time.monotonic() - started < 2.0
    assert exchange.status == 408
    assert exchange.json() == {
        "error": "request_timeout",
        "message": "the body arrived too slowly",
    }
    assert exchange.headers["connection"] == "close"


async def test_a_body_dripping_in_under_the_idle_timeout_is_cut_off_at_the_total() -> None:
    endpoint = Recorder()
    body = Body([b"x"] * 1000, pause=0.02)  # never idle for long, but 20 s in all
    started = time.monotonic()
    middleware = limited(endpoint, idle_seconds=0.5, total_seconds=0.3)
    exchange = await call(middleware, http_scope(), body)
    assert time.monotonic() - started < 2.0
    assert exchange.status == 408
    assert exchange.json()["error"] == "request_timeout"
    assert 3 <= body.pulled < 100


async def test_a_body_arriving_at_a_decent_pace_is_not_timed_out() -> None:
    endpoint = Recorder()
    body = Body([b"x" * 100] * 5, pause=0.02)
    exchange = await call(limited(endpoint, idle_seconds=0.5, total_seconds=5), http_scope(), body)
    assert (exchange.status, exchange.json()) == (200, {"received": 500})


async def test_a_refusal_after_the_app_has_started_answering_sends_no_second_response() -> None:
    async def answers_then_reads(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await read_all(receive)
        await send({"type": "http.response.body", "body": b"never"})

    middleware = BodyLimitMiddleware(answers_then_reads, max_bytes=LIMIT)
    exchange = await call(middleware, http_scope(), Body([b"x" * (LIMIT + 1)]))
    assert [message["type"] for message in exchange.messages] == ["http.response.start"]
    assert exchange.status == 202


async def test_an_error_of_the_app_itself_is_not_turned_into_a_refusal() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("the app's own bug")

    middleware = BodyLimitMiddleware(broken, max_bytes=LIMIT)
    with pytest.raises(RuntimeError, match="the app's own bug"):
        await call(middleware, http_scope(), Body([b"{}"]))


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/readyz"])
async def test_paths_outside_webhooks_are_not_limited(path: str) -> None:
    endpoint = Recorder()
    scope = http_scope(path, headers=[("Content-Length", "not-checked")])
    exchange = await call(limited(endpoint), scope, Body([b"x" * (LIMIT * 3)]))
    assert exchange.status == 200
    assert endpoint.bodies == [b"x" * (LIMIT * 3)]


async def test_a_disconnect_reaches_the_app_as_it_was_sent() -> None:
    seen: list[str] = []

    async def listens(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((await receive())["type"])
        await reply(send)

    async def hang_up() -> dict[str, str]:
        return {"type": "http.disconnect"}

    await call(BodyLimitMiddleware(listens, max_bytes=LIMIT), http_scope(), hang_up)
    assert seen == ["http.disconnect"]
