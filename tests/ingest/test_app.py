"""The HTTP contract on the real app and PostgreSQL: codes, bodies; rejects store nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from ingest.handlers.github import GitHubHandler
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from ingest.sources import RawOptions
from ingest.tables import InboxEvent, OutboxEvent
from tests import support
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

stripe_handler = StripeHandler()


async def counts(app: App) -> tuple[int, int]:
    async with app.store.engine.connect() as conn:
        inbox = (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
    return inbox, outbox


def stripe_request(
    body: bytes | None = None, secret: str = support.STRIPE_SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = (
        body if body is not None else simulator(stripe_handler).sample("payment_intent.succeeded")
    )
    return body, sign_headers(stripe_handler, body, secret, at if at is not None else time.time())


async def test_accepted_after_commit_with_raw_bytes_kept(app: App) -> None:
    body, headers = stripe_request()
    body = b"  " + body + b"\n"  # whitespace is part of what Stripe signed; keep it byte for byte
    headers = sign_headers(stripe_handler, body, support.STRIPE_SECRET, time.time())
    headers["Authorization"] = "Bearer do-not-store-me"
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    stored = await app.store.get_event(response.json()["id"])
    assert stored is not None
    assert stored.body == body
    assert stored.status == "processed"
    assert stored.vendor_event_id == json.loads(body)["id"]
    assert stored.headers["authorization"] == "[redacted]"
    assert stored.headers["stripe-signature"] == headers["Stripe-Signature"]
    assert await counts(app) == (1, 1)


async def test_redelivery_is_a_duplicate_and_adds_nothing(app: App) -> None:
    body, headers = stripe_request()
    first = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    # Stripe re-signs each retry with a new timestamp; the event id stays.
    _, later = stripe_request(body, at=time.time() + 5)
    second = await app.client.post("/webhooks/stripe", content=body, headers=later)
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "id": first.json()["id"]}
    assert await counts(app) == (1, 1)


async def test_rotation_second_secret_is_accepted_and_recorded(app: App) -> None:
    body, headers = stripe_request(secret=support.STRIPE_SECRET_2)
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200
    stored = await app.store.get_event(response.json()["id"])
    assert stored is not None
    assert stored.secret_index == 1


def _std_headers(**override: str) -> dict[str, str]:
    body = simulator(StandardWebhooksHandler()).sample("user.created")
    headers = sign_headers(StandardWebhooksHandler(), body, support.STANDARD_SECRET, time.time())
    return {**headers, **override}


@pytest.mark.parametrize(
    ("source", "mutate", "status", "code"),
    [
        ("stripe", lambda b, h: (b + b" ", h), 401, "invalid_signature"),
        (
            "stripe",
            lambda b, h: (b, {**h, "Stripe-Signature": "t=1,v1=abc"}),
            401,
            "invalid_signature",
        ),
        (
            "stripe",
            lambda b, h: (b, {k: v for k, v in h.items() if k != "Stripe-Signature"}),
            401,
            "missing_signature",
        ),
        (
            "stripe",
            lambda b, h: stripe_request(b, at=time.time() - 3600),
            401,
            "timestamp_out_of_tolerance",
        ),
        ("stripe", lambda b, h: stripe_request(b, secret="whsec_wrong"), 401, "invalid_signature"),
        (
            "stripe",
            lambda b, h: (b, {**h, "Stripe-Signature": "t=é,v1=\xff".encode()}),
            401,
            "invalid_signature",
        ),
        (
            "clerk",
            lambda b, h: (b, _std_headers(**{"webhook-signature": "v1abc"})),
            401,
            "invalid_signature",
        ),
        (
            "clerk",
            lambda b, h: (b, _std_headers(**{"webhook-signature": "v1,@@@"})),
            401,
            "invalid_signature",
        ),
        (
            "clerk",
            lambda b, h: (b, _std_headers(**{"webhook-timestamp": "soon"})),
            401,
            "invalid_signature",
        ),
        (
            "clerk",
            lambda b, h: (b, _std_headers(**{"webhook-timestamp": "1"})),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "github",
            lambda b, h: (b, {"X-Hub-Signature-256": "sha256=@@", "X-GitHub-Event": "push"}),
            401,
            "invalid_signature",
        ),
        ("github", lambda b, h: (b, {"X-GitHub-Event": "push"}), 401, "missing_signature"),
    ],
)
async def test_rejections_store_and_publish_nothing(
    app: App, source: str, mutate: object, status: int, code: str
) -> None:
    body, headers = stripe_request()
    body, headers = mutate(body, headers)  # type: ignore[operator]
    response = await app.client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert "Traceback" not in response.text
    assert await counts(app) == (0, 0)


async def test_github_without_delivery_id_is_malformed(app: App) -> None:
    body = simulator(GitHubHandler()).sample("push")
    headers = sign_headers(GitHubHandler(), body, support.GITHUB_SECRET, 0, "push")
    del headers["X-GitHub-Delivery"]
    response = await app.client.post("/webhooks/github", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "malformed_request")


async def test_unknown_source_is_404(app: App) -> None:
    response = await app.client.post("/webhooks/nobody", content=b"{}")
    assert (response.status_code, response.json()["error"]) == (404, "unknown_source")


async def test_oversize_body_by_content_length_is_413(app: App) -> None:
    body, headers = stripe_request(b"{" + b" " * (64 * 1024) + b"}")
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert await counts(app) == (0, 0)


async def test_oversize_chunked_body_is_413_while_reading(app: App) -> None:
    received: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            received.append(1)
            yield b" " * 4096

    _, headers = stripe_request()
    response = await app.client.post("/webhooks/stripe", content=chunks(), headers=headers)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert len(received) < 100, "the whole body was read before refusing it"


async def test_bad_content_length_is_400(app: App) -> None:
    body, headers = stripe_request()
    response = await app.client.post(
        "/webhooks/stripe", content=body, headers={**headers, "Content-Length": "x"}
    )
    assert response.status_code == 400


async def test_wrong_method_and_path_are_json(app: App) -> None:
    response = await app.client.get("/webhooks/stripe")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")
    response = await app.client.get("/nowhere")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


async def test_health_and_readiness(app: App) -> None:
    assert (await app.client.get("/healthz")).json() == {"status": "ok"}
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        ready = await app.client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        if body["kafka"]["state"] == "connected" or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert body["status"] == "ready"
    assert body["kafka"] == {"state": "connected"}
    assert body["relay"]["state"] == "running"
    assert body["outbox"] == {"pending": 0, "oldest_pending_age_seconds": 0.0, "parked": 0}
    assert body["this_process"]["relay"]["state"] in {"healthy", "idle"}


async def test_ip_allowlist_refuses_other_addresses_before_parsing(make_app: AppFactory) -> None:
    extra = {
        "locked": {
            "vendor": "stripe",
            "secrets": ["${TEST_STRIPE_SECRET}"],
            "ip_allowlist": ["203.0.113.0/24"],
        }
    }
    body, headers = stripe_request()
    async with make_app(extra, client_ip="198.51.100.7") as outsider:
        response = await outsider.client.post("/webhooks/locked", content=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")
        assert await counts(outsider) == (0, 0)
    async with make_app(extra, client_ip="203.0.113.9") as insider:
        response = await insider.client.post("/webhooks/locked", content=body, headers=headers)
        assert response.status_code == 200, response.text


async def test_get_on_a_post_only_vendor_is_405(app: App) -> None:
    response = await app.client.get("/webhooks/stripe")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")


def test_stored_headers_hide_credentials_of_any_name() -> None:
    from ingest.handlers import HANDLERS  # noqa: PLC0415
    from ingest.ingestion import credential_headers  # noqa: PLC0415
    from ingest.redaction import redact_headers, secret_variants  # noqa: PLC0415
    from ingest.sources import SourceConfig, SourcesConfig  # noqa: PLC0415

    # Okta lets a source name any header for its token (header-token insists on one redacted
    # by its name): the declared credential header is blanked whatever its name.
    source = SourceConfig(
        name="s",
        vendor="okta",
        options=RawOptions.of({"header": "X-Okta-Key", "tokens": ["tok_secret_1_long_enough"]}),
        sensitive_values=("tok_secret_1_long_enough",),
    )
    config = SourcesConfig(sources={"s": source}, routes=())
    stored = redact_headers(
        {
            "x-okta-key": "anything",
            "x-custom": "Bearer tok_secret_1_long_enough",
            "x-hub-signature-256": "sha256=ab",
        },
        secrets=secret_variants(config.secret_values()),
        names=credential_headers(config, HANDLERS),
    )
    assert stored == {
        "x-okta-key": "[redacted]",
        "x-custom": "[redacted]",
        "x-hub-signature-256": "sha256=ab",
    }


def test_handlers_get_the_header_bytes_received() -> None:
    """Text for reading (latin-1, as Starlette decodes), bytes for comparing: the same value
    both ways, the last of a repeated header in both."""
    from starlette.requests import Request  # noqa: PLC0415

    from ingest.app import _headers  # noqa: PLC0415

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [
            (b"X-Sig", b"first"),
            (b"x-sig", b"sha256=\xe9\x00ab"),
            (b"Content-Type", b"application/json"),
        ],
    }
    text, raw = _headers(Request(scope))
    assert raw == {"x-sig": b"sha256=\xe9\x00ab", "content-type": b"application/json"}
    assert text["x-sig"] == "sha256=\u00e9\u0000ab"
    assert all(value.encode("latin-1") == raw[name] for name, value in text.items())
