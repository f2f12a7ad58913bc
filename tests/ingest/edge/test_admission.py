"""`ingest.edge.admission.AdmissionMiddleware`: at most `limit` webhooks in flight.

Beyond the limit a webhook waits up to `wait_seconds` for a slot, then is refused fast with
503 `overloaded` and `Retry-After` (what a vendor's retry policy expects), and counted; health,
readiness and metrics are never queued behind webhooks; a slot is given back however the
request ends. Tested through the real app (a zero wait still admits) and by calling the
middleware directly with endpoints that hold their slot until released."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from ingest.edge.admission import AdmissionMiddleware
from tests.ingest.conftest import AppFactory
from tests.ingest.edge.kit import Exchange, Recorder, call, http_scope, reply, signed


class Holding:
    """An endpoint that answers webhooks only once `release` is set (anything else at once);
    counts the webhooks inside."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inside = 0
        self.peak = 0
        self.entered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not scope["path"].startswith("/webhooks/"):
            await reply(send, 200, {"path": scope["path"]})
            return
        self.inside += 1
        self.entered += 1
        self.peak = max(self.peak, self.inside)
        try:
            await self.release.wait()
            await reply(send, 200, {"path": scope["path"]})
        finally:
            self.inside -= 1


async def settle() -> None:
    """Let every task that can run do so (they block on the endpoint or the semaphore)."""
    for _ in range(5):
        await asyncio.sleep(0)


def refusals() -> float:
    return REGISTRY.get_sample_value("ingest_admission_refusals_total") or 0.0


async def test_admission_without_a_wait_still_admits_while_slots_are_free(
    make_app: AppFactory,
) -> None:
    """INGEST_ADMISSION_WAIT_SECONDS=0 means "refuse at once when full", not "refuse always"."""
    async with make_app(environment={"INGEST_ADMISSION_WAIT_SECONDS": 0}) as app:
        body, headers = signed()
        response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 200, response.text


async def test_up_to_the_limit_webhooks_run_at_the_same_time() -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=3, wait_seconds=5)
    calls = [asyncio.create_task(call(middleware, http_scope())) for _ in range(3)]
    await settle()
    assert endpoint.inside == 3
    endpoint.release.set()
    assert [exchange.status for exchange in await asyncio.gather(*calls)] == [200, 200, 200]


async def test_when_full_a_webhook_is_refused_fast_with_503_and_retry_after() -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=0.1, retry_after_seconds=7)
    holder = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    before = refusals()
    started = time.monotonic()
    refused = await call(middleware, http_scope())
    waited = time.monotonic() - started
    assert refused.status == 503
    assert refused.json() == {
        "error": "overloaded",
        "message": "too many requests in flight; retry later",
    }
    assert refused.headers["retry-after"] == "7"
    assert 0.05 <= waited < 1.0  # it waited for a slot, briefly, then gave up
    assert endpoint.entered == 1  # the refused one never reached the endpoint
    assert refusals() == before + 1
    endpoint.release.set()
    assert (await holder).status == 200


async def test_when_full_with_no_wait_a_webhook_is_refused_at_once() -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=0)
    holder = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    started = time.monotonic()
    refused = await call(middleware, http_scope())
    assert time.monotonic() - started < 0.05
    assert (refused.status, refused.json()["error"]) == (503, "overloaded")
    endpoint.release.set()
    await holder


async def test_a_webhook_waiting_for_a_slot_is_admitted_when_one_frees_in_time() -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=5)
    holder = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    waiter = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    assert (endpoint.inside, endpoint.entered, waiter.done()) == (1, 1, False)  # it is waiting
    endpoint.release.set()
    assert [(await holder).status, (await waiter).status] == [200, 200]
    assert endpoint.peak == 1  # never more than the limit inside at once


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_probes_and_metrics_are_served_while_webhooks_fill_every_slot(path: str) -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=5)
    holder = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    assert middleware.slots.locked()
    probe = await asyncio.wait_for(call(middleware, http_scope(path, method="GET")), 1)
    assert (probe.status, probe.json()) == (200, {"path": path})
    endpoint.release.set()
    await holder


async def test_a_slot_is_given_back_when_the_endpoint_fails() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("the endpoint's own bug")

    middleware = AdmissionMiddleware(broken, limit=1, wait_seconds=0)
    for _ in range(3):  # were the slot kept, the second would be a 503, not the same error
        with pytest.raises(RuntimeError, match="own bug"):
            await call(middleware, http_scope())
    assert not middleware.slots.locked()


async def test_a_slot_is_given_back_when_the_request_is_cancelled() -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=0)
    holder = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    endpoint.release.set()
    assert (await call(middleware, http_scope())).status == 200


async def test_a_webhook_that_gave_up_waiting_does_not_take_a_slot_later() -> None:
    endpoint = Holding()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=0.05)
    holder = asyncio.create_task(call(middleware, http_scope()))
    await settle()
    assert (await call(middleware, http_scope())).status == 503
    endpoint.release.set()
    await holder
    assert not middleware.slots.locked()  # the refused waiter left no slot taken
    assert (await call(middleware, http_scope())).status == 200


async def test_a_lifespan_scope_is_never_queued() -> None:
    endpoint = Recorder()
    middleware = AdmissionMiddleware(endpoint, limit=1, wait_seconds=0)
    await middleware.slots.acquire()  # full
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    exchange: Exchange = await asyncio.wait_for(call(middleware, scope), 1)
    assert exchange.messages == []
    assert endpoint.scopes == [scope]
