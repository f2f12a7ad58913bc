"""Normalization on its own: a delivery in, the outbox records it owes (or why none) out. No
database: it runs before the request's one transaction."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.handlers import HANDLERS
from ingest.handlers.base import MAX_ITEM_ID_LENGTH, Delivery, InboundRequest, lower_headers
from ingest.identity import identify
from ingest.processing import OutboxRecord, describe_error, normalize
from ingest.simulation import SIMULATORS
from ingest.sources import Route, SourcesConfig
from tests import catalog
from tests.handlers.contract import POISONS, bodies_with_one_value_poisoned

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


def _sendgrid_batch(*items: dict[str, object]) -> Delivery:
    body = json.dumps(list(items)).encode()
    return Delivery("sendgrid", "sendgrid", "sha256:batch", "batch", body, datetime.now(UTC))


def test_one_unmappable_item_does_not_hold_back_the_rest_of_its_batch() -> None:
    """A batch of ten with one item the mapping cannot read: the nine are published now, the
    delivery is `failed` naming the item, so a replay after the fix publishes it too."""
    [good] = json.loads(SIMULATORS["sendgrid"].sample("delivered"))
    items = [{**good, "sg_event_id": f"evt-{n}"} for n in range(10)]
    del items[3]["email"]
    outcome = normalize(HANDLERS["sendgrid"], _sendgrid_batch(*items), CONFIG)
    assert outcome.status == "failed"
    assert [r.item_id for r in outcome.records] == [f"sg:evt-{n}" for n in range(10) if n != 3]
    assert outcome.error is not None
    assert outcome.error.startswith("1 of 10 items not mapped (9 published): item 3: ValueError")
    assert "email" in outcome.error


def test_a_replay_after_the_fix_publishes_the_same_cloudevents_and_the_missing_item() -> None:
    [good] = json.loads(SIMULATORS["sendgrid"].sample("delivered"))
    items = [{**good, "sg_event_id": f"evt-{n}"} for n in range(3)]
    partial_items = [dict(item) for item in items]
    del partial_items[1]["email"]
    partial = normalize(HANDLERS["sendgrid"], _sendgrid_batch(*partial_items), CONFIG)
    fixed = normalize(HANDLERS["sendgrid"], _sendgrid_batch(*items), CONFIG)
    assert fixed.status == "processed"
    # Consumers deduplicate by CloudEvent id: the two published before are the same events.
    assert {r.cloudevent_id for r in partial.records} < {r.cloudevent_id for r in fixed.records}


def test_batch_items_without_an_id_of_their_own_keep_their_cloudevent_ids_on_replay() -> None:
    """Segment's messageId is optional (a hand-written Actions mapping may leave it out): such a
    message's CloudEvent id comes from its place in the stored batch, not from how many events
    were mapped before it, so the events published around a bad message are the same events
    when the batch is replayed after the fix."""
    track = json.loads(SIMULATORS["segment"].sample("track"))
    del track["messageId"]
    messages = [{**track, "event": f"Event {n}"} for n in range(3)]
    partial_messages = [dict(message) for message in messages]
    partial_messages[1]["event"] = ""  # a track without an event name cannot be mapped

    def batch(items: list[dict[str, object]]) -> Delivery:
        body = json.dumps(items).encode()
        return Delivery("segment", "segment", "sha256:stored", "batch", body, datetime.now(UTC))

    partial = normalize(HANDLERS["segment"], batch(partial_messages), CONFIG)
    fixed = normalize(HANDLERS["segment"], batch(messages), CONFIG)
    assert (partial.status, len(partial.records)) == ("failed", 2)
    assert fixed.status == "processed"
    # The same message must be the same CloudEvent, not merely some id seen before.
    assert _ids_by_event_name(partial.records).items() < _ids_by_event_name(fixed.records).items()
    assert len({r.cloudevent_id for r in fixed.records}) == 3


def _ids_by_event_name(records: tuple[OutboxRecord, ...]) -> dict[str, str]:
    return {json.loads(r.value)["data"]["event"]: r.cloudevent_id for r in records}


def test_a_batch_whose_every_item_fails_publishes_nothing_and_says_so() -> None:
    outcome = normalize(HANDLERS["sendgrid"], _sendgrid_batch({"event": "delivered"}), CONFIG)
    assert (outcome.status, outcome.records) == ("failed", ())
    assert outcome.error is not None
    assert outcome.error.startswith("1 of 1 items not mapped (0 published): item 0:")


def _ably_batch_with_one_bad_item() -> bytes:
    body = json.loads(SIMULATORS["ably"].sample("channel.presence"))
    [good] = body["items"]
    bad = {**good, "data": {"channelId": "chat", "presence": "not a list"}}
    return json.dumps({"items": [bad, good]}).encode()


def _segment_batch_with_one_bad_item() -> bytes:
    good = json.loads(SIMULATORS["segment"].sample("track"))
    return json.dumps(
        [{**good, "messageId": "m-1", "event": ""}, {**good, "messageId": "m-2"}]
    ).encode()


def _s3_records_with_one_bad_record() -> bytes:
    envelope = json.loads(SIMULATORS["aws-sns"].sample("s3.ObjectCreated:Put"))
    [good] = json.loads(envelope["Message"])["Records"]
    envelope["Message"] = json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}, good]})
    return json.dumps(envelope).encode()


def _twilio_stream_with_one_bad_item() -> bytes:
    item = {"id": "EZ1", "type": "com.twilio.messaging.message.delivered", "data": {}}
    return json.dumps([{"id": "EZ0", "data": {}}, item]).encode()


def _auth0_logs_with_one_bad_log() -> bytes:
    [good] = json.loads(SIMULATORS["auth0"].sample("s"))
    return json.dumps([{"data": {**good["data"], "type": None}}, good]).encode()


@pytest.mark.parametrize(
    ("vendor", "event_type", "body"),
    [
        ("ably", "channel.presence", _ably_batch_with_one_bad_item),
        ("segment", "batch", _segment_batch_with_one_bad_item),
        ("aws-sns", "s3.ObjectCreated:Put", _s3_records_with_one_bad_record),
        ("twilio", "com.twilio.messaging.message.delivered", _twilio_stream_with_one_bad_item),
        ("auth0", "log_stream", _auth0_logs_with_one_bad_log),
    ],
)
def test_every_batch_vendor_publishes_the_items_around_a_bad_one(
    vendor: str, event_type: str, body: Callable[[], bytes]
) -> None:
    delivery = Delivery(vendor, vendor, "delivery-1", event_type, body(), datetime.now(UTC))
    outcome = normalize(HANDLERS[vendor], delivery, CONFIG)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("1 of 2 items not mapped (1 published): item 0:")
    assert len(outcome.records) >= 1
    assert all(record.item_id for record in outcome.records)


# -- whatever a verified payload holds, what processing writes is storable -------------------

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""What PostgreSQL refuses in a text column: NUL; and what UTF-8 cannot encode: lone surrogates."""


def _assert_storable(text: str | None, max_length: int | None = None) -> None:
    assert text is None or UNSTORABLE.search(text) is None, repr(text)[:120]
    assert text is None or max_length is None or len(text) <= max_length, len(text)


def test_an_error_quoting_a_payload_value_is_stored_whatever_the_value_holds() -> None:
    described = describe_error(ValueError("no such account: acct_\x00\ud800"))
    assert described == "ValueError: no such account: acct_\ufffd\ufffd"


@pytest.mark.parametrize("vendor", sorted(HANDLERS))
def test_no_payload_value_makes_a_record_or_error_the_database_would_refuse(
    vendor: str, tmp_path: Path
) -> None:
    """A verified delivery is stored whatever its values: an id, key, type or error message
    the database refuses would fail the delivery's one transaction for good (every replay the
    same), so each JSON string (or form value) of every sample is in turn given a NUL, a lone
    surrogate or 300 more characters, and every record and error processing makes must be
    storable as is."""
    handler, sim = HANDLERS[vendor], SIMULATORS[vendor]
    source = catalog.source_config(vendor, tmp_path)
    context = catalog.signing_context(source, tmp_path)
    for sample_type in sim.sample_types:
        signed = sim.sign(sim.sample(sample_type), context, time.time(), sample_type)
        inbound = InboundRequest(
            signed.method, signed.url, lower_headers(signed.headers), signed.body
        )
        for poison in POISONS:
            for body in bodies_with_one_value_poisoned(signed.body, poison):
                # Identified as the service does: a body the handler cannot identify any more
                # is the `<vendor>.unknown` passthrough, not given to its mapping.
                poisoned = InboundRequest(signed.method, signed.url, inbound.headers, body)
                identified = identify(handler, poisoned, source)
                delivery = Delivery(
                    source.name,
                    vendor,
                    identified.identity.event_id,
                    identified.identity.event_type,
                    body,
                    datetime.now(UTC),
                    headers=inbound.headers,
                )
                unexpected = identified.unexpected is not None
                outcome = normalize(handler, delivery, CONFIG, unexpected=unexpected)
                _assert_storable(outcome.error)
                # A value UTF-8 cannot encode is the vendor's text, not a reason to fail it.
                assert "UnicodeEncodeError" not in (outcome.error or ""), outcome.error
                for record in outcome.records:
                    _assert_storable(record.key)
                    _assert_storable(record.item_id, MAX_ITEM_ID_LENGTH)
                    _assert_storable(record.type, 255)
