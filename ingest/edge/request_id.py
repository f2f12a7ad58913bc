"""`X-Request-ID`: the caller's if it is a sane token, else a fresh one; bound to every log line
of the request and echoed in the response, so a vendor's delivery log and ours can be matched."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""Anything else (long, binary, with spaces) could forge log lines; it is replaced. Matched with
`fullmatch`: `$` would also match before a trailing newline, letting `"id\n"` through."""


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if ACCEPTABLE.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
