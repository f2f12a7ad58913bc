"""`ingest.simulation._extraction`: what a sender configured for the generic vendors (generic-hmac,
basic-auth, header-token) adds, so `ingest send` exercises the source's own extraction options."""

from __future__ import annotations

import uuid

from ingest.handlers._extraction import ExtractionOptions
from ingest.simulation import templates
from ingest.simulation._extraction import ExtractingSimulator, sample_headers


def test_the_id_and_type_headers_are_sent_only_where_the_source_reads_them() -> None:
    assert sample_headers(ExtractionOptions(), "order.paid") == {}
    headers = sample_headers(
        ExtractionOptions(id_header="X-Event-Id", type_header="X-Event-Type"), "order.paid"
    )
    assert headers["x-event-type"] == "order.paid"
    uuid.UUID(headers["x-event-id"])  # a fresh id: two sends are two events


def test_each_send_gets_a_new_id() -> None:
    options = ExtractionOptions(id_header="X-Event-Id")
    assert sample_headers(options, None) != sample_headers(options, None)


def test_without_a_type_the_first_generic_sample_type_is_named() -> None:
    headers = sample_headers(ExtractionOptions(type_header="X-Event-Type"), None)
    assert headers["x-event-type"] == next(iter(templates.samples("generic")))
    assert ExtractingSimulator.sample_types == tuple(templates.samples("generic"))
