from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.handlers.openai import OpenAIHandler
from ingest.schemas.ai import AiBatchExpired, AiFineTuningJobFailed, AiJobEvent, AiResponseCompleted
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, request, sign_headers, verify

handler = OpenAIHandler()

# The test vector shared by OpenAI's SDKs (openai-python tests/api_resources/webhooks, and the
# Node, Go, Java, Ruby SDKs' tests).
SDK_SECRET = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="
SDK_PAYLOAD = (
    b'{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210,'
    b' "type": "response.completed", "data": {"id": "resp_123"}}'
)
SDK_TIMESTAMP = 1750861210
SDK_WEBHOOK_ID = "wh_685c059ae39c8190af8c71ed1022a24d"
SDK_SIGNATURE = "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY="
# A secret without the whsec_ prefix is used as raw UTF-8 bytes (the SDK's rule). The signature
# of the SDK payload under it, computed independently:
#   printf '%s' "$ID.$TS.$BODY" | openssl dgst -sha256 -hmac my-raw-openai-secret -binary | base64
RAW_SECRET = "my-raw-openai-secret"
RAW_SIGNATURE = "v1,mBCHOLVPzNn+zTsZNRD79zLAGB17WS9PxeDFIQtVEhA="

source = SourceConfig(name="openai", vendor="openai", secrets=(SDK_SECRET,))
raw_source = SourceConfig(name="openai", vendor="openai", secrets=(RAW_SECRET,))


def sdk_headers(**override: str) -> dict[str, str]:
    headers = {
        "webhook-id": SDK_WEBHOOK_ID,
        "webhook-timestamp": str(SDK_TIMESTAMP),
        "webhook-signature": SDK_SIGNATURE,
    }
    return {**headers, **override}


def client() -> openai.OpenAI:
    return openai.OpenAI(api_key="not-used", webhook_secret=SDK_SECRET)


def delivery(body: bytes) -> Delivery:
    event = json.loads(body)
    return Delivery("openai", "openai", "wh_1", event["type"], body, datetime.now(UTC))


def test_sdk_test_vector_verifies() -> None:
    verdict = verify(handler, SDK_PAYLOAD, sdk_headers(), source, SDK_TIMESTAMP)
    assert (verdict.secret_index, verdict.signed_at) == (0, SDK_TIMESTAMP)


def test_raw_secret_vector_verifies_here_and_in_the_sdk() -> None:
    headers = sdk_headers(**{"webhook-signature": RAW_SIGNATURE})
    assert verify(handler, SDK_PAYLOAD, headers, raw_source, SDK_TIMESTAMP).secret_index == 0
    # The SDK reads the wall clock; a wide tolerance lets it check the old vector.
    client().webhooks.verify_signature(SDK_PAYLOAD, headers, secret=RAW_SECRET, tolerance=10**10)


def test_a_raw_secret_is_not_base64_decoded_and_vice_versa() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, SDK_PAYLOAD, sdk_headers(), raw_source, SDK_TIMESTAMP)
    headers = sdk_headers(**{"webhook-signature": RAW_SIGNATURE})
    with pytest.raises(InvalidSignatureError):
        verify(handler, SDK_PAYLOAD, headers, source, SDK_TIMESTAMP)


@pytest.mark.parametrize("secret", [SDK_SECRET, RAW_SECRET])
@pytest.mark.parametrize("kind", ["response.completed", "batch.failed", "eval.run.succeeded"])
def test_what_we_sign_the_sdk_unwraps(secret: str, kind: str) -> None:
    body = simulator(handler).sample(kind)
    headers = sign_headers(handler, body, secret, time.time())
    event = client().webhooks.unwrap(body, headers, secret=secret)
    assert event.type == kind
    assert event.id == json.loads(body)["id"]


def test_rotation() -> None:
    rotating = SourceConfig(name="o", vendor="openai", secrets=(RAW_SECRET, SDK_SECRET))
    assert verify(handler, SDK_PAYLOAD, sdk_headers(), rotating, SDK_TIMESTAMP).secret_index == 1


def test_tampering_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(
            handler,
            SDK_PAYLOAD.replace(b"resp_123", b"resp_124"),
            sdk_headers(),
            source,
            SDK_TIMESTAMP,
        )
    with pytest.raises(InvalidSignatureError):
        verify(
            handler, SDK_PAYLOAD, sdk_headers(**{"webhook-id": "wh_other"}), source, SDK_TIMESTAMP
        )
    headers = sdk_headers(**{"webhook-timestamp": str(SDK_TIMESTAMP + 1)})
    with pytest.raises(InvalidSignatureError):
        verify(handler, SDK_PAYLOAD, headers, source, SDK_TIMESTAMP)
    wrong = SourceConfig(name="o", vendor="openai", secrets=("whsec_Zm9v",))
    with pytest.raises(InvalidSignatureError):
        verify(handler, SDK_PAYLOAD, sdk_headers(), wrong, SDK_TIMESTAMP)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_tolerance_both_ways(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, SDK_PAYLOAD, sdk_headers(), source, SDK_TIMESTAMP + skew)
    edge = SDK_TIMESTAMP + (300 if skew > 0 else -300)
    assert verify(handler, SDK_PAYLOAD, sdk_headers(), source, edge).secret_index == 0


def test_it_names_the_headers_openai_signs_with() -> None:
    """Inherited from Standard Webhooks: `ingest vendors` and credential redaction read them."""
    assert handler.signature_headers == ("webhook-id", "webhook-timestamp", "webhook-signature")


def test_missing_headers() -> None:
    headers = sdk_headers()
    del headers["webhook-signature"]
    with pytest.raises(MissingSignatureError):
        verify(handler, SDK_PAYLOAD, headers, source, SDK_TIMESTAMP)
    headers = sdk_headers()
    del headers["webhook-id"]
    with pytest.raises(MalformedRequestError):
        verify(handler, SDK_PAYLOAD, headers, source, SDK_TIMESTAMP)


def test_whsec_secret_that_is_not_base64_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"secrets\[1\]"):
        handler.check_config(
            SourceConfig(name="o", vendor="openai", secrets=(RAW_SECRET, "whsec_@@@"))
        )
    assert handler.check_config(raw_source).secrets == (RAW_SECRET,)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["webhook-signature", "webhook-timestamp", "webhook-id"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    assert_only_rejections(
        handler, source, SDK_PAYLOAD, sdk_headers(**{header: value}), SDK_TIMESTAMP
    )


def test_identify_uses_webhook_id_and_body_type() -> None:
    identity = identify(handler, SDK_PAYLOAD, sdk_headers())
    assert (identity.event_id, identity.event_type) == (SDK_WEBHOOK_ID, "response.completed")
    with pytest.raises(MalformedRequestError):
        identify(handler, SDK_PAYLOAD, {})
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"data": {}}', sdk_headers())


def test_documented_response_completed_normalizes() -> None:
    [event] = handler.normalize(delivery(SDK_PAYLOAD))
    assert event.type == "ai.response.completed"
    assert isinstance(event.data, AiResponseCompleted)
    assert (event.data.resource_id, event.data.status) == ("resp_123", "completed")
    assert event.data.provider_event_id == "evt_685c059ae3a481909bdc86819b066fb6"
    assert event.data.occurred_at == datetime.fromtimestamp(SDK_TIMESTAMP, tz=UTC)
    assert event.key == "resp_123"


@pytest.mark.parametrize(
    ("kind", "model", "status"),
    [
        ("batch.expired", AiBatchExpired, "expired"),
        ("fine_tuning.job.failed", AiFineTuningJobFailed, "failed"),
    ],
)
def test_batches_and_fine_tuning_normalize(kind: str, model: type[AiJobEvent], status: str) -> None:
    body = simulator(handler).sample(kind)
    [event] = handler.normalize(delivery(body))
    assert isinstance(event.data, model)
    assert event.data.status == status
    assert event.data.resource_id == json.loads(body)["data"]["id"]


def test_every_mapped_type_normalizes() -> None:
    for kind in OpenAIHandler.mapped_types:
        [event] = handler.normalize(delivery(simulator(handler).sample(kind)))
        assert event.type == f"ai.{kind}"


def test_eval_runs_pass_through() -> None:
    body = simulator(handler).sample("eval.run.succeeded")
    [event] = handler.normalize(delivery(body))
    assert event.type == "openai.eval.run.succeeded"
    assert isinstance(event.data, VendorPassthrough)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
        st.one_of(st.text(max_size=60), st.just(str(SDK_TIMESTAMP)), st.just(SDK_SIGNATURE)),
    ),
    body=st.one_of(st.binary(max_size=300), st.just(SDK_PAYLOAD)),
)
def test_random_headers_and_bodies_only_ever_reject(headers: dict[str, str], body: bytes) -> None:
    inbound = request(body, headers)
    with contextlib.suppress(RejectedRequestError):
        handler.verify(Verification(inbound, source, SDK_TIMESTAMP, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(inbound, source)


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "1\u00b9"])
def test_non_ascii_digits_in_the_timestamp_are_rejected_not_crashed(value: str) -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, SDK_PAYLOAD, sdk_headers(**{"webhook-timestamp": value}), source, 0)
