"""The checked-in JSON Schema files match the models, and what handlers emit validates against
them: consumers in any language can rely on the files."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from handlers import HANDLERS
from handlers.base import Delivery, Emitted, InboundRequest, SigningContext, lower_headers
from ingest import schema_export
from ingest.errors import ConfigError
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

# What a user would add to a source for vendors configured by more than a shared secret.
OPTIONS: dict[str, dict[str, object]] = {
    "square": {"notification_url": "https://i.test/webhooks/s"},
    "postmark": {"basic_auth": [{"username": "user", "password": "a-long-enough-password"}]},
    "basic-auth": {"basic_auth": [{"username": "user", "password": "a-long-enough-password"}]},
    "header-token": {"tokens": ["a-long-enough-token-value"]},
    "generic-hmac": {"header": "x-signature"},
    "auth0": {"tokens": ["a-long-enough-token-value"]},
    "okta": {"tokens": ["a-long-enough-token-value"]},
    "datadog": {"tokens": ["a-long-enough-token-value"]},
    "mixpanel": {"basic_auth": [{"username": "user", "password": "a-long-enough-password"}]},
    "pusher": {"app_key": "app-key-1"},
}


def _source(vendor: str, key_dir: Path) -> SourceConfig:
    """The source a user would configure: options above plus what `ingest keys generate` prints."""
    handler = HANDLERS[vendor]
    options: dict[str, object] = dict(OPTIONS.get(vendor, {}))
    try:
        snippet = handler.generate_keys(key_dir)
    except ConfigError:  # a shared-secret vendor: nothing to generate
        pass
    else:
        generated = yaml.safe_load(textwrap.dedent(snippet)) or {}
        options.update({k: v for k, v in generated.items() if k != "vendor"})
    uses_secrets = handler.requires_secrets or vendor in OPTIONS_WITH_SECRETS
    secret = ABLY_KEY if vendor == "ably" else SECRET
    source = SourceConfig(
        name="s", vendor=vendor, secrets=(secret,) if uses_secrets else (), options=options
    )
    return handler.check_config(source)


OPTIONS_WITH_SECRETS = frozenset({"generic-hmac"})
ABLY_KEY = "appId.keyId:a-long-key-secret"


def _sign_and_normalize(vendor: str, event_type: str, key_dir: Path) -> list[Emitted]:
    handler = HANDLERS[vendor]
    source = _source(vendor, key_dir)
    body = handler.sample(event_type)
    audience = getattr(source.options, "audience", None)
    url = audience if isinstance(audience, str) else "https://i.test/webhooks/s"
    secret = source.secrets[0] if source.secrets else None
    context = SigningContext(source=source, url=url, secret=secret, key_dir=key_dir)
    signed = handler.sign(body, context, time.time(), event_type)
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
    for event_type in HANDLERS[vendor].sample_types
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
