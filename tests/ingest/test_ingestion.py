"""The ingestor on the fast tier (the embedded SQLite store, no network): verify, store with its
CloudEvents in one transaction, recognise redeliveries, and never refuse a verified body for its
shape. The same paths over HTTP on PostgreSQL are in test_app.py and test_end_to_end.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.documents import DocumentResolver
from ingest.errors import ConfigError
from ingest.handlers import HANDLERS, check_sources
from ingest.handlers.base import (
    InboundRequest,
    InvalidSignatureError,
    RejectedRequestError,
    Verification,
    lower_headers,
)
from ingest.ingestion import Ingestor
from ingest.outbound import OutboundClient
from ingest.outbox import OutboxStore
from ingest.simulation import SIMULATORS
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig, SourcesConfig
from ingest.store import Store
from tests import catalog

SECRET = "whsec_ingestion_test"
URL = "https://i.test/webhooks/stripe"


@pytest.fixture
def ingestor(sqlite_engine: AsyncEngine) -> Ingestor:
    config = check_sources(
        SourcesConfig(
            sources={
                "stripe": SourceConfig(
                    name="stripe", vendor="stripe", secrets=(SECRET,), options=RawOptions()
                )
            },
            routes=(),
        )
    )
    return Ingestor(config, Store(sqlite_engine), HANDLERS, DocumentResolver(OutboundClient()))


def signed(body: bytes, ingestor: Ingestor) -> InboundRequest:
    source = ingestor.config.sources["stripe"]
    context = SigningContext(source=source, url=URL, secret=SECRET)
    request = SIMULATORS["stripe"].sign(body, context, time.time())
    return InboundRequest("POST", request.url, lower_headers(request.headers), request.body)


async def test_a_verified_delivery_is_stored_with_its_cloudevent_and_a_redelivery_is_a_twin(
    ingestor: Ingestor, sqlite_engine: AsyncEngine
) -> None:
    body = SIMULATORS["stripe"].sample("payment_intent.succeeded")
    first = await ingestor.ingest("stripe", signed(body, ingestor))
    again = await ingestor.ingest("stripe", signed(body, ingestor))  # re-signed, as Stripe does
    assert first.recorded is not None
    assert again.recorded is not None
    assert (first.recorded.duplicate, again.recorded.duplicate) == (False, True)
    assert again.recorded.id == first.recorded.id
    stored = await ingestor.store.get_event(first.recorded.id)
    assert stored is not None
    assert (stored.status, stored.vendor_event_id) == ("processed", json.loads(body)["id"])
    [cloudevent] = await ingestor.store.cloudevents_of(first.recorded.id)
    assert cloudevent.type == "payment.succeeded"
    assert await OutboxStore(sqlite_engine).count_pending() == 1


async def test_a_bad_signature_stores_nothing(
    ingestor: Ingestor, sqlite_engine: AsyncEngine
) -> None:
    body = SIMULATORS["stripe"].sample("payment_intent.succeeded")
    request = signed(body, ingestor)
    tampered = InboundRequest(request.method, request.url, request.headers, body + b" ")
    with pytest.raises(InvalidSignatureError):
        await ingestor.ingest("stripe", tampered)
    assert await OutboxStore(sqlite_engine).count_pending() == 0


async def test_a_verified_body_of_unexpected_shape_is_stored_and_published_as_unknown(
    ingestor: Ingestor,
) -> None:
    body = b'{"test": 2432232314}'
    first = await ingestor.ingest("stripe", signed(body, ingestor))
    again = await ingestor.ingest("stripe", signed(body, ingestor))
    assert first.recorded is not None
    assert again.recorded is not None
    assert again.recorded.duplicate, "the fallback id (a digest of the body) deduplicates"
    stored = await ingestor.store.get_event(first.recorded.id)
    assert stored is not None
    assert stored.vendor_event_id.startswith("sha256:")
    [cloudevent] = await ingestor.store.cloudevents_of(first.recorded.id)
    assert cloudevent.type == "stripe.unknown"


async def test_stored_headers_never_hold_a_configured_secret(ingestor: Ingestor) -> None:
    body = SIMULATORS["stripe"].sample("payment_intent.succeeded")
    request = signed(body, ingestor)
    leaky = InboundRequest(
        request.method, request.url, {**request.headers, "x-debug": f"key={SECRET.upper()}"}, body
    )
    recorded = (await ingestor.ingest("stripe", leaky)).recorded
    assert recorded is not None
    stored = await ingestor.store.get_event(recorded.id)
    assert stored is not None
    assert stored.headers["x-debug"] == "[redacted]"
    assert stored.headers["stripe-signature"] == request.headers["stripe-signature"]


async def test_an_sns_body_is_parsed_once_for_every_stage(
    sqlite_engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Certificate lookup, verification, identity and mapping all read the one parse (SNS read
    its body four times per request before)."""
    raw = catalog.source_document("aws-sns", tmp_path)
    source = SourceConfig(
        name="sns",
        vendor="aws-sns",
        options=RawOptions.of({k: v for k, v in raw.items() if k != "vendor"}),
    )
    config = check_sources(SourcesConfig(sources={"sns": source}, routes=()))
    sns = Ingestor(config, Store(sqlite_engine), HANDLERS, DocumentResolver(OutboundClient()))
    simulator = SIMULATORS["aws-sns"]
    context = SigningContext(
        source=config.sources["sns"], url="https://i.test/webhooks/sns", key_dir=tmp_path
    )
    signed = simulator.sign(simulator.sample("Notification"), context, time.time())
    request = InboundRequest("POST", signed.url, lower_headers(signed.headers), signed.body)

    parses: list[object] = []
    real_loads = json.loads

    def counting_loads(text: object, **kwargs: Any) -> Any:
        if text == signed.body:
            parses.append(text)
        return real_loads(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", counting_loads)  # parse_json calls json.loads
    ingested = await sns.ingest("sns", request)
    assert ingested.recorded is not None
    assert not ingested.recorded.duplicate
    assert len(parses) == 1


# Vendors for which a body of arbitrary shape cannot be a verified delivery, and why; each is
# tested with its own unexpected shapes in its module.
CANNOT_CARRY_ANY_BODY = {
    "aws-sns": "SNS signs an envelope; what can be unexpected is its Message (not SES/S3 JSON)",
    "pusher": "the replay-window timestamp (time_ms) is in the signed body: without it, no "
    "verification",
}


@pytest.mark.parametrize("vendor", sorted(set(HANDLERS) - set(CANNOT_CARRY_ANY_BODY)))
async def test_every_vendors_verified_body_of_unexpected_shape_is_stored_and_published(
    vendor: str, sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    """The contract for the whole registry: once a delivery verifies, its shape never turns it
    into a refusal. It is stored and acked, then published (mapped, passed through, or
    `<vendor>.unknown` when the handler cannot identify it) — or, when the handler identifies it
    but its mapping cannot read it, kept `failed` with the error, for `ingest replay`."""
    source = catalog.source_config(vendor, tmp_path)
    config = SourcesConfig(sources={"s": source}, routes=())
    ingestor = Ingestor(config, Store(sqlite_engine), HANDLERS, DocumentResolver(OutboundClient()))
    context = catalog.signing_context(source, tmp_path)
    signed = SIMULATORS[vendor].sign(b'{"test": 2432232314}', context, time.time())
    request = InboundRequest("POST", signed.url, lower_headers(signed.headers), signed.body)

    ingested = await ingestor.ingest("s", request)

    assert ingested.recorded is not None
    stored = await ingestor.store.get_event(ingested.recorded.id)
    assert stored is not None
    cloudevents = await ingestor.store.cloudevents_of(ingested.recorded.id)
    if stored.status == "failed":
        assert stored.last_error, "kept with the reason, for replay"
        assert not cloudevents
    else:
        assert stored.status == "processed"
        assert cloudevents, "a verified delivery is published, whatever its shape"


def test_the_vendors_left_out_really_cannot_carry_an_arbitrary_body(tmp_path: Path) -> None:
    assert set(CANNOT_CARRY_ANY_BODY) <= set(HANDLERS)
    body = b'{"test": 2432232314}'
    source = catalog.source_config("pusher", tmp_path)
    context = SigningContext(source=source, url=URL, secret=source.secrets[0])
    signed = SIMULATORS["pusher"].sign(body, context, time.time())
    request = InboundRequest("POST", signed.url, lower_headers(signed.headers), signed.body)
    with pytest.raises(RejectedRequestError, match="time_ms"):
        HANDLERS["pusher"].verify(Verification(request, source, time.time()))
    source = catalog.source_config("aws-sns", tmp_path)
    context = SigningContext(source=source, url=URL, key_dir=tmp_path)
    with pytest.raises((ConfigError, RejectedRequestError)):
        SIMULATORS["aws-sns"].sign(body, context, time.time())
