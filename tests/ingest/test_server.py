"""`ingest.server`: the uvicorn protocol's own limits, over real sockets to an in-process uvicorn.

uvicorn sets no deadline for a request's headers and no cap on their number, so a client could
hold a connection open forever or make the parser buffer megabytes before the app sees anything.
These tests run uvicorn with exactly the options `ingest serve` passes (`uvicorn_options`) on a
free port, with short limits so that they are quick, and talk to it as a hostile client would.
The same behaviour through a real `ingest serve` process is in `test_overload.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ingest.server import GuardedHttpToolsProtocol, uvicorn_options
from ingest.settings import Settings

HEADER_TIMEOUT = 0.5
MAX_HEADERS = 20


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[int]:
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: {}\n")
    settings = Settings(
        INGEST_SOURCES_FILE=sources,
        INGEST_HEADER_TIMEOUT_SECONDS=HEADER_TIMEOUT,
        INGEST_MAX_HEADERS=MAX_HEADERS,
        INGEST_MAX_HEADER_BYTES=4096,
    )
    port = _free_port()
    app = Starlette(routes=[Route("/", _hello)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", **uvicorn_options(settings)
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        uv.should_exit = True
        await task
        # Later tests in this process get the defaults back (the limits are class attributes).
        configure = Settings(INGEST_SOURCES_FILE=sources)
        uvicorn_options(configure)


async def _exchange(port: int, request: bytes, *, wait: float = 5.0) -> tuple[bytes, float]:
    """Send `request`, read until the server closes; the answer and how long it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        if request:
            writer.write(request)
            await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=wait)
        return answer, time.monotonic() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _json_body(answer: bytes) -> dict[str, str]:
    body: dict[str, str] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return body


async def test_a_connection_that_sends_nothing_is_answered_408_and_closed(server: int) -> None:
    answer, took = await _exchange(server, b"")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert _json_body(answer) == {
        "error": "request_timeout", "message": "headers arrived too slowly"
    }  # fmt: skip
    assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT + 2


async def test_headers_that_never_finish_are_cut_off_at_the_deadline(server: int) -> None:
    answer, _ = await _exchange(server, b"POST / HTTP/1.1\r\nhost: x\r\nx-slow: 1")
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_more_headers_than_allowed_are_refused_431_with_a_code(server: int) -> None:
    headers = b"".join(b"x-h%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    answer, _ = await _exchange(server, b"GET / HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert _json_body(answer)["error"] == "headers_too_large"


async def test_headers_longer_than_allowed_are_refused_431(server: int) -> None:
    answer, _ = await _exchange(
        server, b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 5000 + b"\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_a_request_within_the_limits_is_served_without_a_server_header(server: int) -> None:
    answer, _ = await _exchange(server, b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == b"hello"
    assert b"\r\nserver:" not in head.lower()


async def test_a_kept_alive_connection_is_timed_again_for_its_next_request(server: int) -> None:
    """After one complete exchange, an idle connection that starts a second request and stalls
    must not be held open for ever."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    try:
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"hello"), timeout=5)
        assert first.startswith(b"HTTP/1.1 200 ")
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n")  # and never the blank line
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), timeout=HEADER_TIMEOUT + 5)
        assert rest.startswith(b"HTTP/1.1 408 ")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def test_the_options_never_trust_proxy_headers_and_use_the_guarded_protocol(
    tmp_path: Path,
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; `ingest.edge.proxies` decides."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: {}\n")
    options = uvicorn_options(Settings(INGEST_SOURCES_FILE=sources, INGEST_MAX_CONNECTIONS=77))
    assert options["http"] is GuardedHttpToolsProtocol
    assert options["proxy_headers"] is False
    assert options["limit_concurrency"] == 77
    assert options["server_header"] is False
