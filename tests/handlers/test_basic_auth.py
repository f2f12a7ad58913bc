from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.basic_auth import BasicAuthHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = BasicAuthHandler()
NOW = 1_700_000_000
PAIRS = [{"username": "postmark", "password": "correct horse"}]


def configured(pairs: list[dict[str, str]] | None = None, **options: Any) -> SourceConfig:
    return handler.check_config(
        SourceConfig(
            name="inbound",
            vendor="basic-auth",
            options=RawOptions.of({"basic_auth": pairs or PAIRS, **options}),
        )
    )


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_the_rfc_7617_example_verifies() -> None:
    """RFC 7617 section 2: Aladdin / open sesame is `QWxhZGRpbjpvcGVuIHNlc2FtZQ==`."""
    source = configured([{"username": "Aladdin", "password": "open sesame"}])
    headers = {"Authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}
    assert verify(handler, b"{}", headers, source, NOW).secret_index == 0


def test_the_scheme_is_case_insensitive_and_passwords_may_hold_colons() -> None:
    source = configured([{"username": "u", "password": "a:b:c"}])
    token = base64.b64encode(b"u:a:b:c").decode()
    assert verify(handler, b"{}", {"Authorization": f"bAsIc {token}"}, source, NOW)


def test_non_ascii_credentials_as_utf8() -> None:
    source = configured([{"username": "jürgen", "password": "pässwörd"}])
    token = base64.b64encode("jürgen:pässwörd".encode()).decode()
    assert verify(handler, b"{}", {"Authorization": f"Basic {token}"}, source, NOW)


def test_rotation() -> None:
    source = configured(
        [{"username": "old", "password": "p1"}, {"username": "new", "password": "p2"}]
    )
    assert verify(handler, b"{}", basic("new", "p2"), source, NOW).secret_index == 1
    # Username of one pair with the password of another is no pair.
    with pytest.raises(InvalidCredentialsError):
        verify(handler, b"{}", basic("old", "p2"), source, NOW)


@pytest.mark.parametrize(
    "headers",
    [
        basic("postmark", "wrong"),
        basic("other", "correct horse"),
        basic("postmark", "correct horse "),
        basic("postmark", ""),
        {"Authorization": "Bearer correct horse"},
        {"Authorization": "Basic"},
        {"Authorization": "Basic @@@"},
        {"Authorization": "Basic " + base64.b64encode(b"no colon").decode()},
        {"Authorization": "Digest username=postmark"},
    ],
)
def test_wrong_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, b"{}", headers, configured(), NOW)


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "   "}])
def test_missing_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, b"{}", headers, configured(), NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    with pytest.raises(RejectedRequestError) as caught:
        handler.verify(
            Verification(request(b"{}", {"Authorization": value}), configured(), NOW, {})
        )
    assert caught.value.code in {"missing_credentials", "invalid_credentials"}
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"basic_auth": []}, "basic_auth"),
        ({"basic_auth": [{"username": "u"}]}, "password"),
        ({"basic_auth": [{"username": "u", "password": ""}]}, "password"),
        ({"basic_auth": [{"username": "a:b", "password": "p"}]}, "RFC 7617"),
        ({"basic_auth": [{"username": "u", "password": "p", "realm": "x"}]}, "Extra inputs"),
        ({}, "basic_auth"),
    ],
)
def test_unusable_options_are_config_errors(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match="source 'inbound'") as caught:
        handler.check_config(
            SourceConfig(name="inbound", vendor="basic-auth", options=RawOptions.of(options))
        )
    assert problem in str(caught.value)


def test_passwords_are_not_echoed_in_config_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        configured([{"username": "a:b", "password": "hunter2-secret"}])
    assert "hunter2-secret" not in str(caught.value)


def test_secrets_are_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigError, match="basic_auth"):
        handler.check_config(
            SourceConfig(
                name="inbound",
                vendor="basic-auth",
                secrets=("x",),
                options=RawOptions.of({"basic_auth": PAIRS}),
            )
        )


def test_sign_makes_what_verify_accepts() -> None:
    source = configured(id_json_path="id", type_json_path="type")
    body = simulator(handler).sample("example.updated")
    signed = simulator(handler).sign(
        body, SigningContext(source=source, url=URL), NOW, "example.updated"
    )
    assert verify(handler, body, signed.headers, source, NOW).secret_index == 0
    identity = identify(handler, body, signed.headers, source)
    assert identity.event_id == json.loads(body)["id"]
    assert identity.event_type == "example.updated"


def test_identify_defaults_to_a_body_hash_and_webhook() -> None:
    identity = identify(handler, b'{"a": 1}', {}, configured())
    assert identity.event_id == hashlib.sha256(b'{"a": 1}').hexdigest()
    assert identity.event_type == "webhook"
    with pytest.raises(MalformedRequestError):
        identify(handler, b"{}", {}, configured(id_header="x-request-id"))


def test_normalize_passes_through() -> None:
    delivery = Delivery(
        source="inbound",
        vendor="basic-auth",
        event_id="e",
        event_type="Bounce",
        body=b'{"RecordType": "Bounce"}',
        received_at=datetime.fromtimestamp(NOW, tz=UTC),
    )
    (emitted,) = handler.normalize(delivery)
    assert emitted.type == "basic-auth.Bounce"
    assert emitted.key == "e"


def test_tolerance_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigError, match="tolerance_seconds"):
        handler.check_config(
            SourceConfig(
                name="inbound",
                vendor="basic-auth",
                tolerance_seconds=60,
                options=RawOptions.of({"basic_auth": PAIRS}),
            )
        )
