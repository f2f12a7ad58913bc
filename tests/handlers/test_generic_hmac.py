from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from slack_sdk.signature import SignatureVerifier
from square.utils.webhooks_helper import verify_signature as square_verify

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    TimestampOutOfToleranceError,
)
from ingest.handlers.generic_hmac import GenericHmacHandler
from ingest.handlers.github import GitHubHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import URL, identify, verify

handler = GenericHmacHandler()
NOW = 1_700_000_000

GITHUB_STYLE: dict[str, Any] = {
    "header": "X-Hub-Signature-256",
    "prefix": "sha256=",
    "id_header": "X-GitHub-Delivery",
    "type_header": "X-GitHub-Event",
}
STRIPE_STYLE: dict[str, Any] = {
    "header": "Stripe-Signature",
    "multiple_signatures_separator": ",",
    "timestamp_prefix": "t=",
    "prefix": "v1=",
    "signed_content": "{timestamp}.{body}",
    "id_json_path": "id",
    "type_json_path": "type",
}
SLACK_STYLE: dict[str, Any] = {
    "header": "X-Slack-Signature",
    "prefix": "v0=",
    "timestamp_header": "X-Slack-Request-Timestamp",
    "signed_content": "v0:{timestamp}:{body}",
}
SQUARE_STYLE: dict[str, Any] = {
    "header": "x-square-hmacsha256-signature",
    "encoding": "base64",
    "signed_content": "{url}{body}",
    "id_json_path": "event_id",
    "type_json_path": "type",
}


def configured(
    options: dict[str, Any], *secrets: str, tolerance: int | None = None
) -> SourceConfig:
    return handler.check_config(
        SourceConfig(
            name="hooks",
            vendor="generic-hmac",
            secrets=secrets or ("s3cret",),
            options=RawOptions.of(options),
            tolerance_seconds=tolerance,
        )
    )


def signed(
    options: dict[str, Any],
    body: bytes,
    secret: str = "s3cret",  # noqa: S107 - a test fixture
    now: float = NOW,
    event_type: str | None = None,
    url: str = URL,
) -> dict[str, str]:
    source = configured(options, secret)
    context = SigningContext(source=source, url=url, secret=secret)
    # Header names as configured are matched lower-case; sign() writes them that way.
    return simulator(handler).sign(body, context, now, event_type).headers


def test_githubs_documented_example_verifies() -> None:
    """docs.github.com, "Validating webhook deliveries": secret, payload and signature."""
    source = configured(GITHUB_STYLE, "It's a Secret to Everybody")
    headers = {
        "X-Hub-Signature-256": (
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        )
    }
    assert verify(handler, b"Hello, World!", headers, source, NOW).secret_index == 0


def test_what_the_github_handler_signs_the_github_style_config_accepts() -> None:
    github = GitHubHandler()
    body = simulator(github).sample("push")
    github_source = SourceConfig(name="gh", vendor="github", secrets=("gh-secret",))
    headers = (
        simulator(github)
        .sign(body, SigningContext(source=github_source, url=URL, secret="gh-secret"), NOW, "push")
        .headers
    )
    source = configured(GITHUB_STYLE, "gh-secret")
    assert verify(handler, body, headers, source, NOW).secret_index == 0
    identity = identify(handler, body, headers, source)
    assert (identity.event_id, identity.event_type) == (headers["X-GitHub-Delivery"], "push")


def test_what_the_stripe_sdk_signs_the_stripe_style_config_accepts() -> None:
    body = json.dumps({"id": "evt_1", "type": "charge.refunded"}).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), "whsec_x", timestamp=NOW
    )
    source = configured(STRIPE_STYLE, "whsec_x")
    verdict = verify(handler, body, {"Stripe-Signature": header}, source, NOW)
    assert (verdict.secret_index, verdict.signed_at) == (0, NOW)
    identity = identify(handler, body, {}, source)
    assert (identity.event_id, identity.event_type) == ("evt_1", "charge.refunded")


def test_what_we_sign_stripe_style_the_stripe_sdk_accepts() -> None:
    body = simulator(handler).sample(None)
    headers = signed(STRIPE_STYLE, body, "whsec_x", now=time.time())
    assert stripe.WebhookSignature.verify_header(
        body.decode(), headers["stripe-signature"], "whsec_x", tolerance=300
    )


def test_what_we_sign_slack_style_the_slack_sdk_accepts() -> None:
    body = b"token=x&team_id=T1&command=%2Fweather"
    now = time.time()
    headers = signed(SLACK_STYLE, body, "slack-secret", now=now)
    verifier = SignatureVerifier("slack-secret")
    assert verifier.is_valid(
        body, headers["x-slack-request-timestamp"], headers["x-slack-signature"]
    )
    source = configured(SLACK_STYLE, "slack-secret")
    assert verify(handler, body, headers, source, now).signed_at == int(now)


def test_what_we_sign_square_style_the_square_sdk_accepts() -> None:
    body = json.dumps({"event_id": "e1", "type": "payment.updated"}).encode()
    url = "https://ingest.example.com/webhooks/square"
    headers = signed(SQUARE_STYLE, body, "sq-key", url=url)
    assert square_verify(
        request_body=body.decode(),
        signature_header=headers["x-square-hmacsha256-signature"],
        signature_key="sq-key",
        notification_url=url,
    )
    source = configured(SQUARE_STYLE, "sq-key")
    assert verify(handler, body, headers, source, NOW, url=url).secret_index == 0
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, headers, source, NOW, url=url + "-other")


@pytest.mark.parametrize(
    ("algorithm", "encoding"),
    [("sha1", "hex"), ("sha256", "base64"), ("sha512", "hex"), ("sha512", "base64")],
)
def test_algorithms_and_encodings(algorithm: str, encoding: str) -> None:
    options = {"header": "x-signature", "algorithm": algorithm, "encoding": encoding}
    body = b'{"a": 1}'
    mac = hmac.new(b"s3cret", body, getattr(hashlib, algorithm)).digest()
    value = mac.hex() if encoding == "hex" else base64.b64encode(mac).decode()
    assert verify(handler, body, {"x-signature": value}, configured(options), NOW)
    other = "sha512" if algorithm != "sha512" else "sha1"
    wrong = hmac.new(b"s3cret", body, getattr(hashlib, other)).digest()
    wrong_value = wrong.hex() if encoding == "hex" else base64.b64encode(wrong).decode()
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, {"x-signature": wrong_value}, configured(options), NOW)


def test_hex_is_case_insensitive() -> None:
    body = b"x"
    value = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest().upper()
    assert verify(handler, body, {"X-Hub-Signature-256": value}, configured(GITHUB_STYLE), NOW)


def test_tampering_is_rejected() -> None:
    body = simulator(handler).sample(None)
    headers = signed(STRIPE_STYLE, body)
    source = configured(STRIPE_STYLE)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body + b" ", headers, source, NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, headers, configured(STRIPE_STYLE, "other"), NOW)
    # The timestamp is signed: presenting the signature with another one fails.
    moved = headers["stripe-signature"].replace(f"t={NOW}", f"t={NOW + 1}")
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, {"stripe-signature": moved}, source, NOW)
    flipped = headers["stripe-signature"][:-1] + (
        "0" if headers["stripe-signature"][-1] != "0" else "1"
    )
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, {"stripe-signature": flipped}, source, NOW)


def test_a_signed_id_is_checked() -> None:
    options = {
        "header": "x-signature",
        "id_header": "x-delivery",
        "signed_content": "{id}:{body}",
    }
    headers = signed(options, b"{}")
    assert verify(handler, b"{}", headers, configured(options), NOW)
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"{}", {**headers, "x-delivery": "another"}, configured(options), NOW)
    without = {k: v for k, v in headers.items() if k != "x-delivery"}
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"{}", without, configured(options), NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_tolerance_both_ways(skew: int) -> None:
    body = b"{}"
    for options in (STRIPE_STYLE, SLACK_STYLE):
        headers = signed(options, body, now=NOW + skew)
        with pytest.raises(TimestampOutOfToleranceError):
            verify(handler, body, headers, configured(options), NOW)


def test_configured_tolerance() -> None:
    headers = signed(SLACK_STYLE, b"{}", now=NOW - 50)
    assert verify(handler, b"{}", headers, configured(SLACK_STYLE, tolerance=60), NOW)
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, b"{}", headers, configured(SLACK_STYLE, tolerance=30), NOW)


def test_a_missing_timestamp_is_rejected() -> None:
    headers = signed(SLACK_STYLE, b"{}")
    del headers["x-slack-request-timestamp"]
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"{}", headers, configured(SLACK_STYLE), NOW)


def test_rotation() -> None:
    headers = signed(GITHUB_STYLE, b"{}", "new")
    rotating = configured(GITHUB_STYLE, "old", "new")
    assert verify(handler, b"{}", headers, rotating, NOW).secret_index == 1


def test_several_signatures_in_one_header() -> None:
    options = {"header": "x-signature", "prefix": "v1=", "multiple_signatures_separator": " "}
    good = signed(options, b"{}")["x-signature"]
    header = f"v1=00 v0=abc {good}"
    assert verify(handler, b"{}", {"x-signature": header}, configured(options), NOW)
    # Without a separator configured, the whole header is one signature.
    plain = {"header": "x-signature", "prefix": "v1="}
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"{}", {"x-signature": header}, configured(plain), NOW)


def test_missing_signature() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, b"{}", {}, configured(GITHUB_STYLE), NOW)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize(
    ("options", "header"),
    [
        (GITHUB_STYLE, "X-Hub-Signature-256"),
        (STRIPE_STYLE, "Stripe-Signature"),
        (SLACK_STYLE, "X-Slack-Signature"),
        (SLACK_STYLE, "X-Slack-Request-Timestamp"),
        (SQUARE_STYLE, "x-square-hmacsha256-signature"),
    ],
)
def test_malformed_headers_are_rejected_not_crashed(
    options: dict[str, Any], header: str, value: str
) -> None:
    headers = {**signed(options, b"{}"), header: value}
    assert_only_rejections(handler, configured(options), b"{}", headers, NOW)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "header"),
        ({"header": "bad header"}, "header name"),
        ({"header": "x-sig", "algorithm": "md5"}, "algorithm"),
        ({"header": "x-sig", "encoding": "base32"}, "encoding"),
        ({"header": "x-sig", "signed_content": "{timestamp}"}, "include {body}"),
        ({"header": "x-sig", "signed_content": "{body}{foo}"}, "placeholders"),
        ({"header": "x-sig", "signed_content": "{body}{body.__class__}"}, "placeholders"),
        ({"header": "x-sig", "signed_content": "{timestamp}.{body}"}, "timestamp_header"),
        ({"header": "x-sig", "timestamp_header": "x-ts"}, "unsigned timestamp"),
        ({"header": "x-sig", "signed_content": "{id}{body}"}, "id_header"),
        ({"header": "x-sig", "id_header": "x-id", "id_json_path": "id"}, "not both"),
        ({"header": "x-sig", "type_header": "x-t", "type_json_path": "type"}, "not both"),
        ({"header": "x-sig", "id_json_path": "data..id"}, "dotted path"),
        (
            {"header": "x-sig", "timestamp_prefix": "t=", "signed_content": "{timestamp}{body}"},
            "multiple_signatures_separator",
        ),
        ({"header": "x-sig", "multiple_signatures_separator": ""}, "empty"),
        ({"header": "x-sig", "secret": "oops"}, "Extra inputs"),
    ],
)
def test_unusable_options_are_config_errors(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match="source 'hooks'") as caught:
        configured(options)
    assert problem in str(caught.value)


def test_secrets_are_required() -> None:
    with pytest.raises(ConfigError, match="secrets"):
        handler.check_config(
            SourceConfig(
                name="hooks", vendor="generic-hmac", options=RawOptions.of({"header": "x-sig"})
            )
        )


def test_tolerance_without_a_timestamp_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigError, match="tolerance_seconds"):
        configured(GITHUB_STYLE, tolerance=60)


def test_identify_from_json_paths_and_defaults() -> None:
    options = {"header": "x-sig", "id_json_path": "data.items.1.id", "type_json_path": "kind"}
    body = json.dumps({"kind": "order.paid", "data": {"items": [{"id": 1}, {"id": 42}]}}).encode()
    identity = identify(handler, body, {}, configured(options))
    assert (identity.event_id, identity.event_type) == ("42", "order.paid")
    for missing in (b'{"kind": "x"}', b'{"data": {"items": [{"id": 1}]}, "kind": "x"}', b"[]"):
        with pytest.raises(MalformedRequestError):
            identify(handler, missing, {}, configured(options))
    with pytest.raises(MalformedRequestError):
        identify(handler, b"not json", {}, configured(options))
    plain = identify(handler, b"anything", {}, configured({"header": "x-sig"}))
    assert plain.event_id == hashlib.sha256(b"anything").hexdigest()
    assert plain.event_type == "webhook"


def test_identify_from_headers() -> None:
    source = configured(GITHUB_STYLE)
    with pytest.raises(MalformedRequestError):
        identify(handler, b"{}", {"X-GitHub-Event": "push"}, source)
    with pytest.raises(MalformedRequestError):
        identify(handler, b"{}", {"X-GitHub-Delivery": "d", "X-GitHub-Event": "x" * 300}, source)


def test_normalize_passes_json_and_text_through() -> None:
    def delivery(body: bytes) -> Delivery:
        return Delivery(
            source="hooks",
            vendor="generic-hmac",
            event_id="e1",
            event_type="order.paid",
            body=body,
            received_at=datetime.fromtimestamp(NOW, tz=UTC),
        )

    (emitted,) = handler.normalize(delivery(b'{"a": 1}'))
    assert emitted.type == "generic-hmac.order.paid"
    assert emitted.data.model_dump()["payload"] == {"a": 1}
    (text,) = handler.normalize(delivery(b"a=1&b=2"))
    assert text.data.model_dump()["payload"] == "a=1&b=2"
    with pytest.raises(ValueError, match="neither JSON nor UTF-8"):
        handler.normalize(delivery(b"\xff\xfe"))


def test_sign_adds_the_configured_id_and_type_headers() -> None:
    headers = signed(GITHUB_STYLE, b"{}", event_type="pull_request")
    assert headers["x-github-event"] == "pull_request"
    assert headers["x-github-delivery"]
    assert headers["x-hub-signature-256"].startswith("sha256=")


@pytest.mark.parametrize("value", ["evt\u0000", "evt\ud800", "line\nbreak"])
def test_ids_and_types_that_cannot_be_stored_are_malformed(value: str) -> None:
    options = {"header": "x-sig", "id_json_path": "id", "type_json_path": "type"}
    with_bad_id = json.dumps({"id": value, "type": "t"}).encode()
    with pytest.raises(MalformedRequestError, match="control characters"):
        identify(handler, with_bad_id, {}, configured(options))
    with_bad_type = json.dumps({"id": "e", "type": value}).encode()
    with pytest.raises(MalformedRequestError, match="control characters"):
        identify(handler, with_bad_type, {}, configured(options))
