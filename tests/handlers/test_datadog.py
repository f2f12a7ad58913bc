from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.datadog import DEFAULT_TOKEN_HEADER, DatadogHandler
from ingest.redaction import REDACTED, redact_headers
from ingest.schemas.monitoring import AlertResolved, AlertTriggered, AlertWarning, MonitoringAlert
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = DatadogHandler()
NOW = 1_700_000_000
TOKEN = "dd-token-0123456789abcdef"
OLD_TOKEN = "dd-token-old-0123456789ab"


def configured(**options: Any) -> SourceConfig:
    raw = SourceConfig(name="datadog", vendor="datadog", options=RawOptions.of(options))
    return handler.check_config(raw)


source = configured(tokens=[TOKEN])
basic_source = configured(basic_auth=[{"username": "datadog", "password": "dd-pass"}])

# The recommended payload template (docs/vendors/datadog.md) as Datadog fills it in: values from
# the examples of Datadog's Webhooks integration docs ($ID 1234567, $DATE in epoch milliseconds
# 1406662672000, $ALERT_ID 1234, $TAGS a comma-separated list, $LINK an event link).
DOCUMENTED: dict[str, Any] = {
    "id": "1234567",
    "title": "[Triggered] [Memory Alert]",
    "alert_transition": "Triggered",
    "alert_id": "1234",
    "alert_cycle_key": "9bd4ac313a4d1e8fae2482df7b77628",
    "alert_priority": "P1",
    "priority": "normal",
    "tags": "monitor, name:myService, role:computing-node",
    "link": "https://app.datadoghq.com/event/jump_to?event_id=1234567",
    "date": "1406662672000",
    "body": "system.load.1 over host:my-host was > 0 at least once during the last 1m",
    "event_type": "metric_alert_monitor",
    "org": {"id": "123456", "name": "Datadog"},
}
BODY = json.dumps(DOCUMENTED).encode()


def body(**fields: Any) -> bytes:
    return json.dumps({**DOCUMENTED, **fields}).encode()


def token(value: str = TOKEN) -> dict[str, str]:
    return {"X-Datadog-Webhook-Token": value}


def basic(username: str, password: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    }


def delivery(raw: bytes) -> Delivery:
    identity = identify(handler, raw, {}, source)
    return Delivery(
        "datadog", "datadog", identity.event_id, identity.event_type, raw, datetime.now(UTC)
    )


def test_token_header_is_accepted() -> None:
    assert verify(handler, BODY, token(), source, NOW).secret_index == 0


def test_basic_auth_is_accepted() -> None:
    assert verify(handler, BODY, basic("datadog", "dd-pass"), basic_source, NOW).secret_index == 0


def test_what_sign_sends_is_accepted() -> None:
    for configured_source in (source, basic_source):
        signed = simulator(handler).sign(
            BODY, SigningContext(source=configured_source, url=URL), NOW
        )
        assert verify(handler, BODY, signed.headers, configured_source, NOW).secret_index == 0


def test_rotation() -> None:
    rotating = configured(tokens=[OLD_TOKEN, TOKEN])
    assert verify(handler, BODY, token(), rotating, NOW).secret_index == 1


def test_custom_header_name_is_case_insensitive() -> None:
    custom = configured(tokens=[TOKEN], header="X-Alerts-Secret")
    assert verify(handler, BODY, {"x-alerts-secret": TOKEN}, custom, NOW).secret_index == 0
    with pytest.raises(MissingCredentialsError):
        verify(handler, BODY, token(), custom, NOW)


def test_wrong_credentials_are_rejected() -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BODY, token(OLD_TOKEN), source, NOW)
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BODY, basic("datadog", "nope"), basic_source, NOW)
    # Credentials of a kind the source does not accept are wrong, not missing.
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BODY, basic("datadog", "dd-pass"), source, NOW)


def test_missing_credentials() -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, BODY, {}, source, NOW)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "tokens"),
        ({"tokens": []}, "tokens"),
        ({"tokens": ["short"]}, "tokens"),
        ({"tokens": [TOKEN], "header": "x-custom"}, "header"),
        ({"tokens": [TOKEN], "header": "bad header"}, "header"),
        (
            {
                "tokens": [TOKEN],
                "header": "authorization",
                "basic_auth": [{"username": "u", "password": "p"}],
            },
            "collide",
        ),
        ({"tokens": [TOKEN], "typo": 1}, "typo"),
    ],
)
def test_unusable_configuration_fails_closed_at_start_up(
    options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        handler.check_config(
            SourceConfig(name="datadog", vendor="datadog", options=RawOptions.of(options))
        )


@pytest.mark.parametrize("header", [DEFAULT_TOKEN_HEADER, "x-alerts-secret", "authorization"])
def test_every_accepted_token_header_is_redacted_in_the_inbox(header: str) -> None:
    configured(tokens=[TOKEN], header=header)
    assert redact_headers({header: TOKEN}) == {header: REDACTED}


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["X-Datadog-Webhook-Token", "Authorization"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    for configured_source in (source, basic_source):
        with pytest.raises(RejectedRequestError) as caught:
            verify(handler, BODY, {header: value}, configured_source, NOW)
        assert caught.value.code in {"invalid_credentials", "missing_credentials"}


def test_identify_uses_id_and_the_transition() -> None:
    identity = identify(handler, BODY, {}, source)
    assert (identity.event_id, identity.event_type) == ("1234567", "triggered")
    assert identify(handler, body(alert_transition="No Data"), {}).event_type == "no_data"
    assert identify(handler, body(alert_transition="Re-Triggered"), {}).event_type == "re-triggered"
    # A payload without $ALERT_TRANSITION (the default template) falls back to $EVENT_TYPE.
    assert identify(handler, body(alert_transition=""), {}).event_type == "metric_alert_monitor"
    for bad in (body(id=""), body(id=None), b"[]", b"not json", body(alert_transition="x" * 80)):
        with pytest.raises(MalformedRequestError):
            identify(handler, bad, {})


def test_triggered_normalizes() -> None:
    [event] = handler.normalize(delivery(BODY))
    assert event.type == "monitoring.alert.triggered"
    assert isinstance(event.data, AlertTriggered)
    assert event.data.notification_id == "1234567"
    assert event.data.alert_id == "1234" == event.key
    assert event.data.title == "[Triggered] [Memory Alert]"
    assert event.data.priority == "P1"
    assert event.data.tags == ["monitor", "name:myService", "role:computing-node"]
    assert event.data.url == DOCUMENTED["link"]
    assert event.data.cycle_key == DOCUMENTED["alert_cycle_key"]
    assert event.data.occurred_at == datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)


@pytest.mark.parametrize(
    ("transition", "model"),
    [
        ("Re-Triggered", AlertTriggered),
        ("Warn", AlertWarning),
        ("Re-Warn", AlertWarning),
        ("Recovered", AlertResolved),
    ],
)
def test_transitions_map(transition: str, model: type[MonitoringAlert]) -> None:
    [event] = handler.normalize(delivery(body(alert_transition=transition)))
    assert isinstance(event.data, model)
    assert event.data.transition == transition


def test_unmapped_transitions_pass_through() -> None:
    raw = body(alert_transition="Renotify")
    [event] = handler.normalize(delivery(raw))
    assert event.type == "datadog.renotify"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(raw)


def test_samples_normalize() -> None:
    for kind in simulator(DatadogHandler).sample_types:
        events = handler.normalize(delivery(simulator(handler).sample(kind)))
        assert len(events) == 1


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["x-datadog-webhook-token", "authorization"]), st.text(max_size=60)
    ),
    raw=st.one_of(st.binary(max_size=300), st.just(BODY)),
)
def test_random_headers_and_bodies_only_ever_reject(headers: dict[str, str], raw: bytes) -> None:
    inbound = request(raw, headers)
    for configured_source in (source, basic_source):
        with contextlib.suppress(RejectedRequestError):
            handler.verify(Verification(inbound, configured_source, NOW, {}))
    with contextlib.suppress(MalformedRequestError):
        handler.identify(inbound, source)
