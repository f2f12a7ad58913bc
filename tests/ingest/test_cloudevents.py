from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from ingest.cloudevents import CLOUDEVENT_ID_NAMESPACE, build, cloudevent_id, safe_type
from ingest.handlers.base import Emitted
from ingest.schemas.passthrough import VendorPassthrough

RECEIVED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DATA = VendorPassthrough(vendor="github", vendor_event_type="issues", payload={"a": 1})


def test_ids_are_deterministic_per_event_position_and_type() -> None:
    assert cloudevent_id("s", "evt_1", 0, "t") == cloudevent_id("s", "evt_1", 0, "t")
    others = {
        cloudevent_id("s", "evt_1", 1, "t"),
        cloudevent_id("s", "evt_2", 0, "t"),
        cloudevent_id("other", "evt_1", 0, "t"),
        cloudevent_id("s", "evt_1", 0, "u"),
    }
    assert cloudevent_id("s", "evt_1", 0, "t") not in others
    assert len(others) == 4


def test_pinned_id_never_changes_across_releases() -> None:
    """Consumers deduplicate on these ids: changing the scheme would republish everything as new."""
    assert (
        cloudevent_id("stripe", "evt_1", 0, "payment.succeeded")
        == "41112a82-5e87-5cf3-89be-c5bf550b5798"
    )


def test_structured_mode_document() -> None:
    event = build(
        Emitted(type="github.issues", data=DATA, key="k"),
        seq=0,
        source="github",
        vendor="github",
        vendor_event_id="d-1",
        received_at=RECEIVED,
    )
    document = json.loads(event.to_json())
    assert document == {
        "specversion": "1.0",
        "id": cloudevent_id("github", "d-1", 0, "github.issues"),
        "source": "/sources/github",
        "type": "github.issues",
        "time": "2026-11-29T12:00:00Z",
        "datacontenttype": "application/json",
        "vendor": "github",
        "vendoreventid": "d-1",
        "data": {"vendor": "github", "vendor_event_type": "issues", "payload": {"a": 1}},
    }
    assert event.key == "k"


def test_a_long_vendor_type_with_a_lone_surrogate_is_bounded_not_a_crash() -> None:
    """JSON can escape a lone surrogate, which UTF-8 cannot encode; the type is still bounded
    to its column with a stable digest, and a type without one keeps the digest it had."""
    tidy = "x" * 300
    assert safe_type(tidy) == f"{'x' * 238}~{uuid.uuid5(CLOUDEVENT_ID_NAMESPACE, tidy).hex[:16]}"
    odd = safe_type("x" * 300 + "\ud800")
    assert len(odd) == 255
    assert odd == safe_type("x" * 300 + "\ud800")
    assert odd != safe_type("x" * 300 + "\udfff")


def test_a_payload_key_with_a_lone_surrogate_is_written_escaped_not_a_failure() -> None:
    """pydantic-core cannot write such a key as JSON; the passthrough is still published, the
    key spelled with its surrogate escaped as text, values as they were."""
    payload = {"id\ud800": {"nested\udfff": ["v\ud800"]}, "plain": 1}
    data = VendorPassthrough(vendor="stripe", vendor_event_type="unknown", payload=payload)
    event = build(
        Emitted(data=data, key="k"),
        seq=0,
        source="s",
        vendor="stripe",
        vendor_event_id="sha256:x",
        received_at=datetime(2026, 12, 2, tzinfo=UTC),
    )
    written = json.loads(event.to_json())["data"]["payload"]
    assert written == {"id\\ud800": {"nested\\udfff": ["v\ud800"]}, "plain": 1}
