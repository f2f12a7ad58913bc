"""The checked-in JSON Schema files match the models, and what handlers emit validates against
them: consumers in any language can rely on the files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from handlers import HANDLERS
from handlers.base import Delivery, Emitted, InboundRequest, SigningContext, lower_headers
from ingest import schema_export
from ingest.sources import SourceConfig


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


# Valid for every shared-secret scheme, including Standard Webhooks' base64 keys.
SECRET = "whsec_dGVzdC1zZWNyZXQtdmFsdWUtMDEyMzQ1Njc4OQ=="

# Vendors whose samples cannot be signed from a shared secret alone (keys, certificates or
# options): their own tests cover the schema of what they emit.
SIGNED_WITH_KEYS_OR_OPTIONS: frozenset[str] = frozenset()


def _sign_and_normalize(vendor: str, event_type: str) -> list[Emitted]:
    handler = HANDLERS[vendor]
    body = handler.sample(event_type)
    source = SourceConfig(name="s", vendor=vendor, secrets=(SECRET,))
    context = SigningContext(source=source, url="https://i.test/webhooks/s", secret=SECRET)
    signed = handler.sign(body, context, 0, event_type)
    headers = lower_headers(signed.headers)
    identity = handler.identify(InboundRequest("POST", signed.url, headers, signed.body), source)
    delivery = Delivery(
        "s", vendor, identity.event_id, identity.event_type, signed.body, datetime.now(UTC), headers
    )
    return handler.normalize(delivery)


CASES = [
    (vendor, event_type)
    for vendor in sorted(set(HANDLERS) - SIGNED_WITH_KEYS_OR_OPTIONS)
    for event_type in HANDLERS[vendor].sample_types
]


@pytest.mark.parametrize(("vendor", "event_type"), CASES)
def test_samples_validate_against_their_exported_schema(vendor: str, event_type: str) -> None:
    for emitted in _sign_and_normalize(vendor, event_type):
        module = type(emitted.data).__module__.rsplit(".", 1)[1]
        path = schema_export.OUTPUT / module / f"{type(emitted.data).__name__}.json"
        schema = json.loads(path.read_text())
        Draft202012Validator(schema).validate(emitted.data.model_dump(mode="json"))
