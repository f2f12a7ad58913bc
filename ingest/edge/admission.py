"""Admission control: at most `limit` webhooks in flight; beyond that, wait a moment for a slot,
then refuse fast with 503 and Retry-After.

Without it, an overload queues requests without bound: latency grows past every vendor's
timeout (they give up and retry, making it worse) and memory with it. A quick 503 is what a
vendor's retry policy is built for. The wait is short (`wait_seconds`, 1 s by default), so a
refusal comes within about a second and an admitted request is never behind more than `limit`
others. Health, readiness and metrics are never queued behind webhooks.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from ingest import metrics
from ingest.edge.responses import send_error


class AdmissionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        wait_seconds: float = 1.0,
        retry_after_seconds: int = 5,
        paths: tuple[str, ...] = ("/webhooks/",),
    ) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(limit)
        self.wait_seconds = wait_seconds
        self.retry_after_seconds = retry_after_seconds
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        try:
            if self.slots.locked():  # full: wait a moment (wait_for with 0 would never try)
                await asyncio.wait_for(self.slots.acquire(), self.wait_seconds)
            else:
                await self.slots.acquire()  # a slot is free: taken without yielding
        except TimeoutError:
            metrics.ADMISSION_REFUSALS.inc()
            await send_error(
                send,
                503,
                "overloaded",
                "too many requests in flight; retry later",
                {"Retry-After": str(self.retry_after_seconds)},
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()
