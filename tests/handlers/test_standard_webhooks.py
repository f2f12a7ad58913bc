from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import svix

from handlers.base import (
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    TimestampOutOfToleranceError,
)
from handlers.standard_webhooks import StandardWebhooksHandler
from ingest.errors import ConfigError
from ingest.sources import SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, sign_headers, verify

handler = StandardWebhooksHandler()
# The example from the Standard Webhooks specification and its reference libraries' tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
source = SourceConfig(name="clerk", vendor="standard-webhooks", secrets=(SPEC_SECRET,))


def spec_headers(**override: str) -> dict[str, str]:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    return {**headers, **override}


def test_specification_vector() -> None:
    verdict = verify(handler, SPEC_BODY, spec_headers(), source, SPEC_TIMESTAMP)
    assert (verdict.secret_index, verdict.signed_at) == (0, SPEC_TIMESTAMP)


def test_svix_header_names_are_accepted() -> None:
    headers = {k.replace("webhook-", "svix-"): v for k, v in spec_headers().items()}
    assert verify(handler, SPEC_BODY, headers, source, SPEC_TIMESTAMP).secret_index == 0


def test_several_signatures_in_one_header() -> None:
    header = f"v1,Ym9ndXM= v1a,ZWQyNTUxOQ== {SPEC_SIGNATURE}"
    assert verify(
        handler, SPEC_BODY, spec_headers(**{"webhook-signature": header}), source, SPEC_TIMESTAMP
    )


def test_what_the_svix_library_signs_we_accept() -> None:
    body = handler.sample("user.created")
    now = datetime.now(UTC)
    signature = svix.Webhook(SPEC_SECRET).sign("msg_1", now, body.decode())
    headers = {
        "svix-id": "msg_1",
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
    }
    assert verify(handler, body, headers, source, time.time()).secret_index == 0


def test_what_we_sign_the_reference_library_accepts() -> None:
    body = handler.sample("user.created")
    headers = sign_headers(handler, body, SPEC_SECRET, time.time())
    assert standardwebhooks.Webhook(SPEC_SECRET).verify(body, headers)["type"] == "user.created"


def test_rotation() -> None:
    rotating = SourceConfig(
        name="c", vendor="standard-webhooks", secrets=("whsec_" + "QUJD" * 8, SPEC_SECRET)
    )
    assert verify(handler, SPEC_BODY, spec_headers(), rotating, SPEC_TIMESTAMP).secret_index == 1


def test_tampering_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, b'{"test": 2432232315}', spec_headers(), source, SPEC_TIMESTAMP)
    with pytest.raises(InvalidSignatureError):
        verify(
            handler, SPEC_BODY, spec_headers(**{"webhook-id": "msg_other"}), source, SPEC_TIMESTAMP
        )
    # Same signature presented with another timestamp: the timestamp is signed too.
    with pytest.raises(InvalidSignatureError):
        verify(
            handler,
            SPEC_BODY,
            spec_headers(**{"webhook-timestamp": str(SPEC_TIMESTAMP + 1)}),
            source,
            SPEC_TIMESTAMP,
        )


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_tolerance_both_ways(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, SPEC_BODY, spec_headers(), source, SPEC_TIMESTAMP + skew)


def test_missing_signature() -> None:
    headers = spec_headers()
    del headers["webhook-signature"]
    with pytest.raises(MissingSignatureError):
        verify(handler, SPEC_BODY, headers, source, SPEC_TIMESTAMP)


@pytest.mark.parametrize("value", ["v1abc", "v1,@@@", "v1,", "v1,====", "v2,abc"])
def test_the_reference_librarys_trap_headers_are_401s(value: str) -> None:
    """standardwebhooks' own verify raises ValueError/binascii.Error on these (a 500 elsewhere)."""
    with pytest.raises(InvalidSignatureError):
        verify(
            handler, SPEC_BODY, spec_headers(**{"webhook-signature": value}), source, SPEC_TIMESTAMP
        )


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["webhook-signature", "webhook-timestamp", "webhook-id"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    assert_only_rejections(
        handler, source, SPEC_BODY, spec_headers(**{header: value}), SPEC_TIMESTAMP
    )


def test_identify_reads_the_type_from_the_body() -> None:
    body = handler.sample("user.deleted")
    identity = identify(handler, body, {"webhook-id": "msg_9"})
    assert (identity.event_id, identity.event_type) == ("msg_9", "user.deleted")
    with pytest.raises(MalformedRequestError):
        identify(handler, json.dumps({"data": {}}).encode(), {"webhook-id": "msg_9"})


def test_a_secret_that_is_not_base64_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="secrets\\[0\\]"):
        handler.check_config(
            SourceConfig(name="c", vendor="standard-webhooks", secrets=("whsec_@@@",))
        )
