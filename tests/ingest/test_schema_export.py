"""The checked-in JSON Schema files match the models, and what handlers emit validates against
them: consumers in any language can rely on the files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingest import schema_export
from ingest.handlers import HANDLERS
from ingest.handlers.base import Delivery, Emitted, InboundRequest, lower_headers
from ingest.simulation import SIMULATORS, simulator
from tests import catalog


def test_checked_in_files_are_up_to_date() -> None:
    assert schema_export.drift() == [], "run `ingest schemas export` and commit schemas/json"


def test_drift_is_detected(tmp_path: Path) -> None:
    schema_export.write(tmp_path)
    assert schema_export.drift(tmp_path) == []
    first = next(iter(sorted(tmp_path.rglob("*.json"))))
    first.write_text("{}")
    (tmp_path / "stale.json").write_text("{}")
    assert set(schema_export.drift(tmp_path)) == {
        first.relative_to(tmp_path).as_posix(),
        "stale.json",
    }


def test_every_schema_is_valid_json_schema() -> None:
    for path in sorted(schema_export.OUTPUT.rglob("*.json")):
        if path.name != "index.json":
            Draft202012Validator.check_schema(json.loads(path.read_text()))


def _sign_and_normalize(vendor: str, event_type: str, key_dir: Path) -> list[Emitted]:
    handler = HANDLERS[vendor]
    source = catalog.source_config(vendor, key_dir)
    body = simulator(handler).sample(event_type)
    context = catalog.signing_context(source, key_dir)
    signed = simulator(handler).sign(body, context, time.time(), event_type)
    headers = lower_headers(signed.headers)
    inbound = InboundRequest(signed.method, signed.url, headers, signed.body)
    identity = handler.identify(inbound, source)
    delivery = Delivery(
        "s", vendor, identity.event_id, identity.event_type, signed.body, datetime.now(UTC), headers
    )
    return [] if identity.handshake else handler.normalize(delivery)


CASES = [
    (vendor, event_type)
    for vendor in sorted(HANDLERS)
    for event_type in SIMULATORS[vendor].sample_types
]


def test_every_vendor_has_samples() -> None:
    assert {vendor for vendor, _ in CASES} == set(HANDLERS)


@pytest.mark.parametrize(("vendor", "event_type"), CASES)
def test_samples_validate_against_their_exported_schema(
    vendor: str, event_type: str, tmp_path: Path
) -> None:
    for emitted in _sign_and_normalize(vendor, event_type, tmp_path):
        module = type(emitted.data).__module__.rsplit(".", 1)[1]
        path = schema_export.OUTPUT / module / f"{type(emitted.data).__name__}.json"
        schema = json.loads(path.read_text())
        Draft202012Validator(schema).validate(emitted.data.model_dump(mode="json"))
