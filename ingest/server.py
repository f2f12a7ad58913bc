"""uvicorn as `ingest serve` runs it: limits a hostile client cannot talk its way around.

uvicorn has no deadline for a request's headers: a connection that sends nothing, or one header
byte a second (slowloris), is held open forever. `GuardedHttpToolsProtocol` closes it when the
headers are not complete within `INGEST_HEADER_TIMEOUT_SECONDS` of its first byte (or of the
connection), and answers 431 to more than `INGEST_MAX_HEADERS` headers or `INGEST_MAX_HEADER_BYTES`
of them. The body's pace is the edge middleware's job (`ingest.edge.body`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typing_extensions import override
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ingest.settings import Settings


def _raw_response(status: bytes, code: str, message: str) -> bytes:
    body = json.dumps({"error": code, "message": message}).encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


TOO_SLOW = _raw_response(b"408 Request Timeout", "request_timeout", "headers arrived too slowly")
TOO_MANY = _raw_response(
    b"431 Request Header Fields Too Large", "headers_too_large", "too many or too long headers"
)


class _HeadersTooLargeError(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_seconds: float = 10.0
    max_headers: int = 100
    max_header_bytes: int = 65_536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_count = 0
        self._header_bytes = 0

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.header_timeout_seconds, self._headers_too_slow
            )

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(TOO_SLOW)
            self.transport.close()

    @override
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is held no longer than this

    @override
    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    @override
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        self._header_bytes = 0
        self._arm()

    @override
    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self.max_header_bytes:
            raise _HeadersTooLargeError
        super().on_url(url)

    @override
    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_count > self.max_headers or self._header_bytes > self.max_header_bytes:
            raise _HeadersTooLargeError
        super().on_header(name, value)

    @override
    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    @override
    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.cycle is not None and self.cycle.response_complete:
            self._arm()  # bytes of the next request on a kept-alive connection
        try:
            super().data_received(data)
        except _HeadersTooLargeError:
            self._refuse_headers()

    @override
    def send_400_response(self, msg: str) -> None:
        # httptools wraps an exception raised in a callback as a parser error.
        if self._header_count > self.max_headers or self._header_bytes > self.max_header_bytes:
            self._refuse_headers()
            return
        super().send_400_response(msg)

    def _refuse_headers(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(TOO_MANY)
            self.transport.close()


def configure_protocol(settings: Settings) -> None:
    """Set this process's limits on the protocol class. (uvicorn pickles its config for worker
    processes, so the class itself is passed by name; each worker configures it again from the
    environment when it builds its app.)"""
    GuardedHttpToolsProtocol.header_timeout_seconds = settings.header_timeout_seconds
    GuardedHttpToolsProtocol.max_headers = settings.max_headers
    GuardedHttpToolsProtocol.max_header_bytes = settings.max_header_bytes


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every `uvicorn.run` of ours passes: our protocol and no trust in proxy headers
    (uvicorn believes X-Forwarded-For from 127.0.0.1 by default; `ingest.edge.proxies` decides)."""
    configure_protocol(settings)
    return {
        "http": GuardedHttpToolsProtocol,
        "proxy_headers": False,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": 5,
        "log_config": None,
        "access_log": False,
        "server_header": False,
    }
