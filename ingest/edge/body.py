"""The body: no bigger than `INGEST_MAX_BODY_BYTES`, and arriving at a decent pace.

A `Content-Length` over the limit is refused before a byte is read; a chunked body is counted as
it arrives and refused the moment it passes the limit, so nothing oversized is ever buffered.
Either way the answer closes the connection (the unread rest of the body would have to be
drained to reuse it). A body that stops making progress for `idle` seconds, or takes longer
than `total` in all (a slowloris dripping one byte a second), is answered 408 and closed.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.edge.responses import send_error

CLOSE = {"Connection": "close"}


class _BodyRefusedError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        idle_seconds: float = 10.0,
        total_seconds: float = 30.0,
        paths: tuple[str, ...] = ("/webhooks/",),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds
        self.total_seconds = total_seconds
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isascii() or not declared.isdigit():
                await send_error(
                    send, 400, "malformed_request", "Content-Length is not a number", CLOSE
                )
                return
            if int(declared) > self.max_bytes:
                await send_error(
                    send, 413, "payload_too_large", f"body exceeds {self.max_bytes} bytes", CLOSE
                )
                return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_seconds
        received = 0
        started = False

        async def guarded_receive() -> Message:
            nonlocal received
            remaining = deadline - loop.time()
            try:
                message = await asyncio.wait_for(
                    receive(), min(self.idle_seconds, max(remaining, 0))
                )
            except TimeoutError:
                raise _BodyRefusedError(
                    408, "request_timeout", "the body arrived too slowly"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyRefusedError(
                        413, "payload_too_large", f"body exceeds {self.max_bytes} bytes"
                    )
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except _BodyRefusedError as refused:
            if not started:
                await send_error(send, refused.status, refused.code, refused.message, CLOSE)
