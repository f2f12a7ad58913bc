from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import anthropic
import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.anthropic import AnthropicHandler
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.schemas.ai import (
    AgentSessionIdled,
    AgentSessionOutcomeEvaluated,
    AgentSessionTerminated,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, sign_headers, verify

handler = AnthropicHandler()
# Anthropic's SDK hands its `whsec_` key to the standardwebhooks library, so the Standard
# Webhooks specification's example is a valid Anthropic vector too.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + "QUJD" * 8
source = SourceConfig(name="claude", vendor="anthropic", secrets=(SPEC_SECRET,))

# The documented envelope (platform.claude.com Managed Agents webhooks; SDK `BetaWebhookEvent`).
DOCUMENTED: dict[str, Any] = {
    "type": "event",
    "id": "whe_01ABCDEF",
    "created_at": "2026-03-18T14:05:22Z",
    "data": {
        "type": "session.status_idled",
        "id": "sesn_01XYZ",
        "organization_id": "8a3d2f1e-0000-4000-8000-000000000001",
        "workspace_id": "c7b0e4d9-0000-4000-8000-000000000002",
    },
}
BODY = json.dumps(DOCUMENTED).encode()


def spec_headers(**override: str) -> dict[str, str]:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    return {**headers, **override}


def envelope(kind: str, **data: str) -> bytes:
    return json.dumps({**DOCUMENTED, "data": {**DOCUMENTED["data"], "type": kind, **data}}).encode()


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {"webhook-id": "msg_1"})
    return Delivery(
        "claude", "anthropic", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def test_standard_webhooks_vector_verifies() -> None:
    verdict = verify(handler, SPEC_BODY, spec_headers(), source, SPEC_TIMESTAMP)
    assert (verdict.secret_index, verdict.signed_at) == (0, SPEC_TIMESTAMP)


def test_what_we_sign_the_anthropic_sdk_unwraps() -> None:
    headers = sign_headers(handler, BODY, SPEC_SECRET, time.time())
    client = anthropic.Anthropic(api_key="not-used", webhook_key=SPEC_SECRET)
    event = client.beta.webhooks.unwrap(BODY.decode(), headers=headers)
    assert event.id == "whe_01ABCDEF"
    assert event.data.type == "session.status_idled"


def test_what_the_sdks_library_signs_we_accept() -> None:
    now = datetime.now(UTC)
    signature = standardwebhooks.Webhook(SPEC_SECRET).sign("msg_2", now, BODY.decode())
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert verify(handler, BODY, headers, source, time.time()).secret_index == 0


def test_rotation() -> None:
    rotating = SourceConfig(name="c", vendor="anthropic", secrets=(OTHER_SECRET, SPEC_SECRET))
    assert verify(handler, SPEC_BODY, spec_headers(), rotating, SPEC_TIMESTAMP).secret_index == 1


def test_tampering_and_wrong_secret_are_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, b'{"test": 2432232315}', spec_headers(), source, SPEC_TIMESTAMP)
    headers = spec_headers(**{"webhook-id": "msg_other"})
    with pytest.raises(InvalidSignatureError):
        verify(handler, SPEC_BODY, headers, source, SPEC_TIMESTAMP)
    wrong = SourceConfig(name="c", vendor="anthropic", secrets=(OTHER_SECRET,))
    with pytest.raises(InvalidSignatureError):
        verify(handler, SPEC_BODY, spec_headers(), wrong, SPEC_TIMESTAMP)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_tolerance_both_ways(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, SPEC_BODY, spec_headers(), source, SPEC_TIMESTAMP + skew)


def test_missing_signature() -> None:
    headers = spec_headers()
    del headers["webhook-signature"]
    with pytest.raises(MissingSignatureError):
        verify(handler, SPEC_BODY, headers, source, SPEC_TIMESTAMP)


def test_a_key_that_is_not_base64_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"secrets\[0\]"):
        handler.check_config(SourceConfig(name="c", vendor="anthropic", secrets=("whsec_@@@",)))


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["webhook-signature", "webhook-timestamp", "webhook-id"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    assert_only_rejections(
        handler, source, SPEC_BODY, spec_headers(**{header: value}), SPEC_TIMESTAMP
    )


def test_identify_uses_the_body_id_and_data_type() -> None:
    identity = identify(handler, BODY, {"webhook-id": "msg_9"})
    assert (identity.event_id, identity.event_type) == ("whe_01ABCDEF", "session.status_idled")
    without_id = json.dumps({k: v for k, v in DOCUMENTED.items() if k != "id"}).encode()
    assert identify(handler, without_id, {"webhook-id": "msg_9"}).event_id == "msg_9"
    for bad in (b'{"type": "event", "id": "x"}', b'{"data": {"id": "s"}}', b"[]"):
        with pytest.raises(MalformedRequestError):
            identify(handler, bad, {"webhook-id": "msg_9"})
    with pytest.raises(MalformedRequestError):
        identify(handler, without_id, {})


def test_idled_session_normalizes() -> None:
    [event] = handler.normalize(delivery(BODY))
    assert event.type == "ai.agent_session.idled"
    assert isinstance(event.data, AgentSessionIdled)
    assert (event.data.session_id, event.data.status) == ("sesn_01XYZ", "idled")
    assert event.data.provider_event_id == "whe_01ABCDEF"
    assert event.data.workspace_id == DOCUMENTED["data"]["workspace_id"]
    assert event.data.occurred_at == datetime(2026, 3, 18, 14, 5, 22, tzinfo=UTC)
    assert event.key == "sesn_01XYZ"


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("session.status_terminated", AgentSessionTerminated),
        ("session.outcome_evaluation_ended", AgentSessionOutcomeEvaluated),
    ],
)
def test_other_outcomes_map(kind: str, model: type) -> None:
    [event] = handler.normalize(delivery(envelope(kind)))
    assert isinstance(event.data, model)


def test_other_events_pass_through_under_data_type() -> None:
    body = envelope("vault_credential.refresh_failed", id="vcrd_1")
    [event] = handler.normalize(delivery(body))
    assert event.type == "anthropic.vault_credential.refresh_failed"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)
    assert event.key == "vcrd_1"


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
        st.one_of(st.text(max_size=60), st.just(str(SPEC_TIMESTAMP)), st.just(SPEC_SIGNATURE)),
    ),
    body=st.one_of(st.binary(max_size=300), st.just(BODY)),
)
def test_random_headers_and_bodies_only_ever_reject(headers: dict[str, str], body: bytes) -> None:
    inbound = request(body, headers)
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(inbound, source, SPEC_TIMESTAMP, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(inbound, source)


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "1\u00b9"])
def test_non_ascii_digits_in_the_timestamp_are_rejected_not_crashed(value: str) -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, SPEC_BODY, spec_headers(**{"webhook-timestamp": value}), source, 0)
