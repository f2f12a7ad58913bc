"""The edge middleware in the real app: request ids, the body limit while reading, and client
addresses behind trusted proxies (and only those)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

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


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    make_app: AppFactory,
) -> None:
    body, headers = signed()
    spoofed = {**headers, "X-Forwarded-For": "203.0.113.9"}
    async with make_app(LOCKED, client_ip="127.0.0.1") as app:  # no proxy trusted (default)
        response = await app.client.post("/webhooks/locked", content=body, headers=spoofed)
        assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")
    trusted = {"INGEST_TRUSTED_PROXIES": "10.0.0.0/8"}
    async with make_app(LOCKED, client_ip="10.1.2.3", environment=trusted) as app:
        # The client wrote the leftmost hop; the balancer appended the real one at the right.
        chain = {**headers, "X-Forwarded-For": "198.51.100.66, 203.0.113.9, 10.9.9.9"}
        response = await app.client.post("/webhooks/locked", content=body, headers=chain)
        assert response.status_code == 200, response.text
        body, headers = signed()
        lying = {**headers, "X-Forwarded-For": "203.0.113.9, 198.51.100.66"}
        response = await app.client.post("/webhooks/locked", content=body, headers=lying)
        assert response.status_code == 403
    async with make_app(LOCKED, client_ip="198.51.100.1", environment=trusted) as app:
        # Not from the proxy: its header means nothing.
        response = await app.client.post("/webhooks/locked", content=body, headers=spoofed)
        assert response.status_code == 403


def test_uvicorn_does_not_trust_forwarded_for_from_localhost(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's default trusts X-Forwarded-For from 127.0.0.1; a local sender could then claim
    any address an allowlist admits. `ingest serve` turns that off."""
    for name, value in support.SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    document = {"sources": {**LOCKED}}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(document))
    env = {
        "DATABASE_URL": postgres_url,
        "INGEST_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
        **support.SECRET_ENV,
    }
    body, headers = signed()
    with support.running_server(env, tmp_path) as server:
        response = httpx.post(
            f"{server.url}/webhooks/locked",
            content=body,
            headers={**headers, "X-Forwarded-For": "203.0.113.9"},
        )
    assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")


async def test_admission_without_a_wait_still_admits_while_slots_are_free(
    make_app: AppFactory,
) -> None:
    """INGEST_ADMISSION_WAIT_SECONDS=0 means "refuse at once when full", not "refuse always"."""
    async with make_app(environment={"INGEST_ADMISSION_WAIT_SECONDS": 0}) as app:
        body, headers = signed()
        response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 200, response.text
