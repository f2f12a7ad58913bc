"""Shared by the edge tests: a signed Stripe delivery for the app-level tests, and a tiny ASGI
driver that calls one middleware directly, the way uvicorn would, and records what it sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers

stripe = StripeHandler()
LOCKED = {
    "locked": {
        "vendor": "stripe",
        "secrets": ["${TEST_STRIPE_SECRET}"],
        "ip_allowlist": ["203.0.113.0/24"],
    }
}


def signed() -> tuple[bytes, dict[str, str]]:
    body = simulator(stripe).sample("payment_intent.succeeded")
    return body, sign_headers(stripe, body, support.STRIPE_SECRET, time.time())


def http_scope(
    path: str = "/webhooks/stripe",
    headers: Iterable[tuple[str, str]] = (),
    *,
    client: tuple[str, int] | None = ("127.0.0.1", 43210),
    method: str = "POST",
) -> Scope:
    """An HTTP scope as a server builds it: header names lowercased, values raw latin-1 bytes."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in headers],
        "client": client,
        "server": ("ingest.test", 80),
    }


class Body:
    """The request body as a server delivers it: one `http.request` message per chunk, then
    (if asked again) a wait for the disconnect that never comes. Counts what was pulled."""

    def __init__(self, chunks: Sequence[bytes] = (b"",), *, pause: float = 0.0) -> None:
        self.chunks = list(chunks)
        self.pause = pause
        self.pulled = 0

    async def __call__(self) -> Message:
        if self.pulled >= len(self.chunks):
            await asyncio.Event().wait()  # the client neither sends more nor hangs up
        if self.pause:
            await asyncio.sleep(self.pause)
        chunk = self.chunks[self.pulled]
        self.pulled += 1
        return {
            "type": "http.request",
            "body": chunk,
            "more_body": self.pulled < len(self.chunks),
        }


@dataclass
class Exchange:
    """Everything the middleware sent back, in order."""

    messages: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def starts(self) -> list[Message]:
        return [message for message in self.messages if message["type"] == "http.response.start"]

    @property
    def status(self) -> int:
        [start] = self.starts
        status: int = start["status"]
        return status

    @property
    def headers(self) -> dict[str, str]:
        [start] = self.starts
        return {name.decode(): value.decode() for name, value in start["headers"]}

    def header_values(self, name: str) -> list[str]:
        [start] = self.starts
        return [value.decode() for key, value in start["headers"] if key == name.encode()]

    @property
    def body(self) -> bytes:
        return b"".join(
            message.get("body", b"")
            for message in self.messages
            if message["type"] == "http.response.body"
        )

    def json(self) -> Any:
        return json.loads(self.body)


async def call(app: ASGIApp, scope: Scope, receive: Receive | None = None) -> Exchange:
    exchange = Exchange()
    await app(scope, receive or Body(), exchange.send)
    return exchange


async def reply(send: Send, status: int = 200, document: Any = None) -> None:
    body = json.dumps(document if document is not None else {}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_all(receive: Receive) -> bytes:
    """What `Request.body()` does: receive until `more_body` is false."""
    received = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client hung up")
        chunk: bytes = message.get("body", b"")
        received += chunk
        if not message.get("more_body", False):
            return received


class Recorder:
    """An endpoint that reads the whole body and answers 200 with what it saw; remembers each
    scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] != "http":
            return
        body = await read_all(receive)
        self.bodies.append(body)
        await reply(send, 200, {"received": len(body)})
