"""Validly signed hostile or unexpected bodies: once verified, a delivery is stored and acked —
never a 400 for its shape, never a 500, never an endless 503 for content the database refuses.

Each case here was a 400, 500 or 503 on main (found by fuzzing with valid signatures)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.documents import DocumentResolver
from ingest.handlers import HANDLERS, base
from ingest.handlers.base import InboundRequest
from ingest.handlers.github import GitHubHandler
from ingest.handlers.stripe import StripeHandler
from ingest.ingestion import Ingestor
from ingest.outbound import OutboundClient
from ingest.simulation import SIMULATORS, simulator
from ingest.sources import RawOptions, SourceConfig, SourcesConfig
from ingest.store import Store
from tests import catalog, support
from tests.handlers.contract import POISONS, bodies_with_one_value_poisoned
from tests.handlers.kit import sign_headers
from tests.ingest.conftest import App, AppFactory

stripe, github = StripeHandler(), GitHubHandler()


def stripe_event(**fields: Any) -> bytes:
    event = json.loads(simulator(stripe).sample("payment_intent.succeeded"))
    event.update(fields)
    return json.dumps(event).encode()


async def post_stripe(app: App, body: bytes) -> dict[str, Any]:
    headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_an_integer_of_5000_digits_is_stored_not_a_500(app: App) -> None:
    event = json.loads(simulator(stripe).sample("payment_intent.succeeded"))
    event["data"]["object"]["amount"] = "__BIG__"
    body = json.dumps(event).encode().replace(b'"__BIG__"', b"9" * 5000)
    answer = await post_stripe(app, body)
    assert answer["status"] == "accepted"
    stored = await app.store.get_event(answer["id"])
    assert stored is not None
    assert stored.body == body
    assert stored.vendor_event_id == event["id"]


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "evt_\u0000nul"},
        {"id": "evt_\ud800lone"},
        {"id": "e" * 300},
        {"id": None},
        {"type": "payment_intent.\u0000"},
        {"type": "\udfff"},
        {"type": "t" * 400},
        {"type": 17},
    ],
    ids=[
        "nul-id",
        "surrogate-id",
        "long-id",
        "no-id",
        "nul-type",
        "surrogate-type",
        "long-type",
        "number-type",
    ],
)
async def test_unstorable_ids_and_types_are_acked_and_deduplicated(
    app: App, fields: dict[str, Any]
) -> None:
    body = stripe_event(**fields)
    first = await post_stripe(app, body)
    assert first["status"] == "accepted"
    again = await post_stripe(app, body)  # the vendor's retry of the very same content
    assert again == {"status": "duplicate", "id": first["id"]}
    stored = await app.store.get_event(first["id"])
    assert stored is not None
    assert "\u0000" not in stored.vendor_event_id + stored.vendor_event_type
    assert len(stored.vendor_event_id) <= 255
    assert len(stored.vendor_event_type) <= 255
    for record in await app.store.cloudevents_of(first["id"]):
        assert len(record.type) <= 255
        json.loads(record.value)  # valid JSON, valid UTF-8


async def test_a_key_with_a_nul_in_the_payload_passes_through(app: App) -> None:
    body = stripe_event(type="customer.created", data={"object": {"\u0000": "x", "id": "cus_1"}})
    answer = await post_stripe(app, body)
    [record] = await app.store.cloudevents_of(answer["id"])
    assert json.loads(record.value)["data"]["payload"]["data"]["object"]["\u0000"] == "x"


async def test_a_github_action_of_70000_characters_is_published_with_a_bounded_type(
    make_app: AppFactory,
) -> None:
    async with make_app(environment={"INGEST_MAX_BODY_BYTES": 1_048_576}) as app:
        payload = json.loads(simulator(github).sample("pull_request"))
        payload["action"] = "a" * 70_000
        body = json.dumps(payload).encode()
        headers = sign_headers(github, body, support.GITHUB_SECRET, time.time(), "pull_request")
        response = await app.client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 200, response.text
        [record] = await app.store.cloudevents_of(response.json()["id"])
        assert record.type.startswith("vcs.pull_request.aaaa")
        assert len(record.type) <= 255


@pytest.mark.parametrize(
    "payload",
    [b'{"test": 2432232314}', b'{"type": 5}', b"[1, 2, 3]", b"not json", b'{"type": "\\u0000"}'],
    ids=["spec-vector", "number-type", "array", "text", "nul-type"],
)
async def test_standard_webhooks_payloads_of_any_shape_are_published(
    app: App, payload: bytes
) -> None:
    """The spec does not constrain the payload; its own test vector is `{"test": 2432232314}`."""
    message_id = f"msg_{uuid.uuid4().hex}"
    headers = sign_headers_with_id(payload, message_id)
    response = await app.client.post("/webhooks/clerk", content=payload, headers=headers)
    assert response.status_code == 200, response.text
    stored = await app.store.get_event(response.json()["id"])
    assert stored is not None
    assert stored.vendor_event_id == message_id  # the vendor's own id, from the signed header
    [record] = await app.store.cloudevents_of(stored.id)
    document = json.loads(record.value)
    assert document["type"].startswith("standard-webhooks.")
    again = await app.client.post(
        "/webhooks/clerk", content=payload, headers=sign_headers_with_id(payload, message_id)
    )
    assert again.json() == {"status": "duplicate", "id": stored.id}


def sign_headers_with_id(payload: bytes, message_id: str) -> dict[str, str]:
    """Standard Webhooks signs `{id}.{timestamp}.{body}`: sign with the id we choose."""
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    timestamp = str(int(time.time()))
    key = base64.b64decode(support.STANDARD_SECRET.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + payload
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
        "content-type": "application/json",
    }


async def test_a_verified_body_of_unexpected_shape_is_published_as_unknown(app: App) -> None:
    body = b'{"hello": "no id, no type"}'
    answer = await post_stripe(app, body)
    stored = await app.store.get_event(answer["id"])
    assert stored is not None
    assert stored.vendor_event_type == "unknown"
    assert stored.vendor_event_id.startswith("sha256:")
    [record] = await app.store.cloudevents_of(stored.id)
    document = json.loads(record.value)
    assert document["type"] == "stripe.unknown"
    assert document["data"]["payload"] == {"hello": "no id, no type"}


async def test_a_foreign_secret_in_any_header_is_not_stored(app: App) -> None:
    body = simulator(stripe).sample("payment_intent.succeeded")
    headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
    headers["X-Debug"] = f"leaked {support.GITHUB_SECRET} here"  # another source's secret
    headers["X-Upper"] = support.STANDARD_SECRET.upper()  # a case variant
    headers["X-Bare"] = support.STANDARD_SECRET.removeprefix("whsec_")  # without its prefix
    response = await app.client.post("/webhooks/stripe", content=body, headers=headers)
    stored = await app.store.get_event(response.json()["id"])
    assert stored is not None
    for name in ("x-debug", "x-upper", "x-bare"):
        assert stored.headers[name] == "[redacted]", name
    assert stored.headers["stripe-signature"] == headers["Stripe-Signature"]


async def test_a_client_that_hangs_up_mid_body_is_not_an_internal_error(
    postgres_url: str, sources: tuple[Path, support.Topics], tmp_path: Path
) -> None:
    path, _ = sources
    env = {
        "DATABASE_URL": postgres_url,
        "INGEST_SOURCES_FILE": str(path),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
        **support.SECRET_ENV,
    }
    with support.running_server(env, tmp_path) as server:
        port = int(server.url.rsplit(":", 1)[1])
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(
                    b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                    b"Content-Type: application/json\r\n\r\n" + b'{"id": "evt_' + b"x" * 100
                )
        time.sleep(1)
        log = server.log()
    assert "internal_error" not in log
    assert "Traceback" not in log
    assert log.count("webhook.client_disconnected") == 20


@pytest.mark.parametrize("vendor", ["standard-webhooks", "clerk", "openai", "anthropic", "r2"])
async def test_every_standard_webhooks_vendor_acks_a_payload_of_any_shape(
    vendor: str, make_app: AppFactory, tmp_path: Path
) -> None:
    """Clerk, OpenAI, Anthropic and R2 verify with Standard Webhooks too: the spec's own test
    payload (no `type`) is stored, acked and published, never a 400."""
    from ingest.handlers import HANDLERS  # noqa: PLC0415
    from ingest.simulation.base import SigningContext  # noqa: PLC0415
    from ingest.sources import SourceConfig  # noqa: PLC0415
    from tests import catalog  # noqa: PLC0415

    document = catalog.source_document(vendor, tmp_path / "keys")
    handler = HANDLERS[vendor]
    options = {k: v for k, v in document.items() if k not in {"vendor", "secrets"}}
    source = handler.check_config(
        SourceConfig(
            vendor, vendor, tuple(document.get("secrets", [])), options=RawOptions.of(options)
        )
    )
    body = b'{"test": 2432232314}'
    url = f"https://ingest.test/webhooks/{vendor}"
    context = SigningContext(
        source=source, url=url, secret=(source.secrets or (None,))[0], key_dir=tmp_path / "keys"
    )
    signed = simulator(handler).sign(body, context, time.time())
    async with make_app({vendor: document}) as app:
        response = await app.client.post(
            f"/webhooks/{vendor}", content=body, headers=signed.headers
        )
        assert response.status_code == 200, response.text
        # The vendor's retry: the same message id (Standard Webhooks signs it).
        again = await app.client.post(f"/webhooks/{vendor}", content=body, headers=signed.headers)
        assert again.json()["status"] == "duplicate"
        [record] = await app.store.cloudevents_of(response.json()["id"])
    assert json.loads(record.value)["data"]["payload"] == {"test": 2432232314}


VARIANTS_PER_POISON = 12
"""Bodies per vendor and poison, spread over all its samples' values: the exhaustive run is the
in-process one (tests/ingest/test_processing.py); this one proves its rules are PostgreSQL's."""


@pytest.mark.parametrize("vendor", sorted(HANDLERS))
async def test_every_vendors_signed_sample_with_a_value_no_vendor_sends_is_stored_on_postgres(
    vendor: str, postgres_engine: AsyncEngine, tmp_path: Path
) -> None:
    """Each vendor's samples, one value at a time given a NUL, a lone surrogate, 300 more
    characters or both, signed as the vendor signs: what verifies is stored and acked on the
    real PostgreSQL, with its CloudEvents or its error, never refused for what it holds."""
    sim = SIMULATORS[vendor]
    source = catalog.source_config(vendor, tmp_path)
    config = SourcesConfig(sources={source.name: source}, routes=())
    store = Store(postgres_engine)
    ingestor = Ingestor(config, store, HANDLERS, DocumentResolver(OutboundClient()))
    context = catalog.signing_context(source, tmp_path)
    stored = 0
    for poison in POISONS:
        bodies = [
            body
            for sample_type in sim.sample_types
            for body in bodies_with_one_value_poisoned(sim.sample(sample_type), poison)
        ]
        step = max(1, len(bodies) // VARIANTS_PER_POISON)
        for body in bodies[::step][:VARIANTS_PER_POISON]:
            now = time.time()
            try:
                signed = sim.sign(body, context, now)
            except (ValueError, UnicodeError, base.RejectedRequestError):
                continue  # the simulator cannot sign it as the vendor would (SNS's fields)
            request = InboundRequest(
                "POST", signed.url, base.lower_headers(signed.headers), signed.body
            )
            try:
                ingested = await ingestor.ingest(source.name, request)
            except base.RejectedRequestError:
                # Refused before anything was stored, which only verification may do (Pusher's
                # time_ms is what it verifies the replay window with).
                assert not _verifies(HANDLERS[vendor], request, source, now), body[:200]
                continue
            assert ingested.recorded is not None, body[:200]
            event = await store.get_event(ingested.recorded.id)
            assert event is not None
            assert event.status in ("processed", "failed"), (event.status, event.last_error)
            # `failed` is the mapping's verdict, never the database refusing what was written.
            assert "SQLSTATE" not in (event.last_error or ""), event.last_error
            stored += 1
    assert stored, f"no {vendor} sample could be signed poisoned"


def _verifies(
    handler: base.VendorHandler, request: InboundRequest, source: SourceConfig, now: float
) -> bool:
    pinned = handler.pinned_documents(source)
    try:
        urls = handler.documents(request)
        documents = {url: Path(pinned[url]).read_bytes() for url in urls if url in pinned}
        handler.verify(base.Verification(request, source, now, documents))
    except base.RejectedRequestError:
        return False
    return True
