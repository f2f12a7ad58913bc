"""Normalization on its own: a delivery in, the outbox records it owes (or why none) out. No
database: it runs before the request's one transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ingest.handlers import HANDLERS
from ingest.handlers.base import Delivery
from ingest.processing import normalize
from ingest.simulation import SIMULATORS
from ingest.sources import Route, SourcesConfig

CONFIG = SourcesConfig(sources={}, routes=(Route(match="payment.*", topic="payments"),))
STRIPE = HANDLERS["stripe"]


def stripe_delivery(body: bytes, event_type: str = "payment_intent.succeeded") -> Delivery:
    event_id = json.loads(body)["id"]
    return Delivery("stripe", "stripe", event_id, event_type, body, datetime.now(UTC))


def test_a_mapped_event_becomes_one_routed_cloudevent_record() -> None:
    body = SIMULATORS["stripe"].sample("payment_intent.succeeded")
    outcome = normalize(STRIPE, stripe_delivery(body), CONFIG)
    assert outcome.status == "processed"
    [record] = outcome.records
    assert (record.type, record.topic, record.seq) == ("payment.succeeded", "payments", 0)
    event = json.loads(record.value)
    assert event["specversion"] == "1.0"
    assert event["type"] == "payment.succeeded"
    assert event["id"] == record.cloudevent_id
    assert record.key == event["data"]["payment_id"]


def test_an_unmapped_type_is_published_as_the_vendor_passthrough_on_the_default_topic() -> None:
    body = json.dumps({"id": "evt_1", "object": "event", "type": "customer.created"}).encode()
    outcome = normalize(STRIPE, stripe_delivery(body, "customer.created"), CONFIG)
    [record] = outcome.records
    assert (record.type, record.topic) == ("stripe.customer.created", CONFIG.default_topic)


def test_an_unexpected_shape_is_the_documented_unknown_passthrough() -> None:
    body = b'{"test": 2432232314}'
    delivery = Delivery("stripe", "stripe", "sha256:x", "unknown", body, datetime.now(UTC))
    outcome = normalize(STRIPE, delivery, CONFIG, unexpected=True)
    [record] = outcome.records
    assert record.type == "stripe.unknown"
    assert json.loads(record.value)["data"]["payload"] == {"test": 2432232314}


def test_a_mapping_that_cannot_read_the_payload_fails_the_event_with_a_short_error() -> None:
    body = json.dumps(
        {"id": "evt_2", "type": "payment_intent.succeeded", "data": {"object": {"secret": "x"}}}
    ).encode()
    outcome = normalize(STRIPE, stripe_delivery(body), CONFIG)
    assert outcome.status == "failed"
    assert outcome.records == ()
    assert outcome.error
    assert len(outcome.error) <= 1000
    assert '"x"' not in outcome.error  # payload values stay out of errors


def test_a_cloudevent_over_the_producers_maximum_fails_before_it_reaches_the_outbox() -> None:
    body = SIMULATORS["stripe"].sample("payment_intent.succeeded")
    outcome = normalize(STRIPE, stripe_delivery(body), CONFIG, max_record_bytes=200)
    assert outcome.status == "failed"
    assert "KAFKA_MAX_REQUEST_SIZE" in (outcome.error or "")
    assert normalize(STRIPE, stripe_delivery(body), CONFIG, max_record_bytes=10**6).records
