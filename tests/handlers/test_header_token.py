from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ingest.errors import ConfigError
from ingest.handlers.base import (
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.header_token import HeaderTokenHandler, HeaderTokenOptions
from ingest.redaction import REDACTED, redact_headers
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = HeaderTokenHandler()
NOW = 1_700_000_000
TOKEN = "tok_9f8e7d6c5b4a39281706"


def configured(*tokens: str, **options: Any) -> SourceConfig:
    return handler.check_config(
        SourceConfig(
            name="okta",
            vendor="header-token",
            options=RawOptions.of({"tokens": list(tokens or (TOKEN,)), **options}),
        )
    )


@pytest.mark.parametrize(
    "value", [TOKEN, f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer   {TOKEN}", f" {TOKEN} "]
)
def test_authorization_accepts_the_token_bare_or_as_bearer(value: str) -> None:
    assert verify(handler, b"{}", {"Authorization": value}, configured(), NOW).secret_index == 0


def test_a_token_configured_with_its_scheme_matches_exactly() -> None:
    source = configured("Basic dXNlcjpwYXNz")
    assert verify(handler, b"{}", {"Authorization": "Basic dXNlcjpwYXNz"}, source, NOW)


def test_a_custom_header_takes_the_exact_value_only() -> None:
    source = configured(header="X-Gitlab-Token")
    assert verify(handler, b"{}", {"X-Gitlab-Token": TOKEN}, source, NOW)
    with pytest.raises(InvalidCredentialsError):
        verify(handler, b"{}", {"X-Gitlab-Token": f"Bearer {TOKEN}"}, source, NOW)
    # The token in Authorization is not the configured header.
    with pytest.raises(MissingCredentialsError):
        verify(handler, b"{}", {"Authorization": TOKEN}, source, NOW)


def test_rotation() -> None:
    source = configured("old-token-value", TOKEN)
    assert (
        verify(handler, b"{}", {"Authorization": f"Bearer {TOKEN}"}, source, NOW).secret_index == 1
    )


@pytest.mark.parametrize(
    "value",
    [TOKEN[:-1], TOKEN + "0", TOKEN.upper(), f"Token {TOKEN}", f"Bearer{TOKEN}", "Bearer", "é"],
)
def test_wrong_tokens(value: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, b"{}", {"Authorization": value}, configured(), NOW)


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "  "}])
def test_missing_token(headers: dict[str, str]) -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, b"{}", headers, configured(), NOW)


def test_non_ascii_tokens_compare_as_utf8_wire_bytes() -> None:
    source = configured("jeton-sécret")
    # What Starlette hands us for the UTF-8 bytes on the wire: their latin-1 decoding.
    on_the_wire = "jeton-sécret".encode().decode("latin-1")
    assert verify(handler, b"{}", {"Authorization": on_the_wire}, source, NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["authorization", "x-webhook-token"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    source = configured(header=header)
    with pytest.raises(RejectedRequestError) as caught:
        handler.verify(Verification(request(b"{}", {header: value}), source, NOW, {}))
    assert caught.value.code in {"missing_credentials", "invalid_credentials"}
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"tokens": []}, "tokens"),
        ({}, "tokens"),
        ({"tokens": [""]}, "tokens"),
        ({"tokens": [" padded"]}, "surrounding spaces"),
        ({"tokens": ["line\nbreak"]}, "control characters"),
        ({"tokens": ["t"], "header": "not a header"}, "header name"),
        ({"tokens": ["t"], "header": "x-hook-key"}, "unredacted"),
        ({"tokens": ["t"], "token": "t"}, "Extra inputs"),
    ],
)
def test_unusable_options_are_config_errors(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match="source 'okta'") as caught:
        handler.check_config(
            SourceConfig(name="okta", vendor="header-token", options=RawOptions.of(options))
        )
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "header", ["authorization", "x-api-key", "x-gitlab-token", "x-webhook-secret", "X-Auth-Token"]
)
def test_accepted_headers_are_ones_the_inbox_redacts(header: str) -> None:
    source = configured(header=header)
    name = handler.options(source, HeaderTokenOptions).header
    assert redact_headers({name: TOKEN})[name] == REDACTED


def test_secrets_are_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigError, match="'tokens'"):
        handler.check_config(
            SourceConfig(
                name="okta",
                vendor="header-token",
                secrets=("x",),
                options=RawOptions.of({"tokens": [TOKEN]}),
            )
        )


@pytest.mark.parametrize("header", ["authorization", "x-gitlab-token"])
def test_sign_makes_what_verify_accepts(header: str) -> None:
    source = configured(header=header, id_header="x-request-id", type_json_path="type")
    body = simulator(handler).sample(None)
    signed = simulator(handler).sign(body, SigningContext(source=source, url=URL), NOW)
    assert verify(handler, body, signed.headers, source, NOW).secret_index == 0
    identity = identify(handler, body, signed.headers, source)
    assert identity.event_id == signed.headers["x-request-id"]
    assert identity.event_type == json.loads(body)["type"]


def test_identify_defaults_and_json_paths() -> None:
    body = json.dumps({"data": {"events": [{"uuid": "u-1", "eventType": "user.login"}]}}).encode()
    source = configured(id_json_path="data.events.0.uuid", type_json_path="data.events.0.eventType")
    identity = identify(handler, body, {}, source)
    assert (identity.event_id, identity.event_type) == ("u-1", "user.login")
    plain = identify(handler, body, {}, configured())
    assert plain.event_id == hashlib.sha256(body).hexdigest()
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"data": {"events": []}}', {}, source)


def test_tolerance_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigError, match="tolerance_seconds"):
        handler.check_config(
            SourceConfig(
                name="okta",
                vendor="header-token",
                tolerance_seconds=60,
                options=RawOptions.of({"tokens": [TOKEN]}),
            )
        )
