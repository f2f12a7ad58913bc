"""Secrets never reach a log line, whatever key or message carries them."""

from __future__ import annotations

import json

import pytest

from ingest.logs import SecretRedactor, configure, get_logger, redactor
from ingest.settings import LogFormat


def test_sensitive_keys_and_known_values_are_redacted() -> None:
    scrub = SecretRedactor()
    scrub.register(["whsec_live_value_123", "short"])
    event = scrub(
        None,
        "info",
        {
            "event": "x",
            "authorization": "Bearer abc",
            "api_key": "k",
            "note": "failed with whsec_live_value_123 inside",
            "nested": {"secret": "s", "fine": ["whsec_live_value_123"]},
        },
    )
    assert event["authorization"] == "[redacted]"
    assert event["api_key"] == "[redacted]"
    assert event["note"] == "failed with [redacted] inside"
    assert event["nested"] == {"secret": "[redacted]", "fine": ["[redacted]"]}


def test_json_logs_in_production_carry_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    configure(LogFormat.JSON, "info")
    redactor.register(["whsec_logged_by_mistake"])
    get_logger("test").info("webhook.rejected", reason="tried whsec_logged_by_mistake", token="t0k")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    document = json.loads(line)
    assert document["event"] == "webhook.rejected"
    assert "whsec_logged_by_mistake" not in line
    assert document["token"] == "[redacted]"
