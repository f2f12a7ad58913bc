"""Samples as data: every vendor's templates render, with fresh values where they must differ
and the same value wherever one label stands."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from ingest.errors import ConfigError
from ingest.simulation import SIMULATORS, templates

NOW = 1_800_000_000.25  # 2027-01-15T08:00:00.250Z
TEMPLATES = [
    (name, event_type)
    for name in sorted({sim.samples_file or vendor for vendor, sim in SIMULATORS.items()})
    for event_type in templates.samples(name)
]


def test_every_simulator_has_its_samples_as_data() -> None:
    for vendor, sim in SIMULATORS.items():
        assert sim.sample_types, vendor
        assert set(sim.sample_types) <= set(templates.samples(sim.samples_file or vendor)), vendor


@pytest.mark.parametrize(("name", "event_type"), TEMPLATES)
def test_every_template_renders_fully_and_afresh(name: str, event_type: str) -> None:
    template = templates.samples(name)[event_type]
    first, second = templates.body(template, NOW), templates.body(template, NOW)
    assert b"{{" not in first
    assert b"$json" not in first
    assert b"$base64json" not in first
    if templates.PLACEHOLDER.search(json.dumps(template).replace("{{now", "")):
        assert first != second  # random values are drawn per body


def test_one_label_is_one_value_within_a_body_and_times_follow_the_clock() -> None:
    template = {
        "id": "evt_{{hex24:event}}",
        "url": "https://x.test/events/evt_{{hex24:event}}",
        "other": "{{hex24:other}}",
        "created": "{{now_unix}}",
        "expires": "{{now_unix+60}}",
        "at": "{{now_iso_ms}}",
        "day": "{{now_date}}",
        "mail_date": "{{now_email}}",
        "ms": "{{now_ms}}",
        "number": "{{int6:n}}",
    }
    rendered = json.loads(templates.body(template, NOW))
    assert rendered["url"].endswith(rendered["id"])
    assert rendered["other"] != rendered["id"].removeprefix("evt_")
    assert re.fullmatch(r"[0-9a-f]{24}", rendered["other"])
    assert (rendered["created"], rendered["expires"]) == (1_800_000_000, 1_800_000_060)
    assert rendered["at"] == "2027-01-15T08:00:00.250Z"
    assert rendered["day"] == "2027-01-15"
    assert rendered["mail_date"] == "Fri, 15 Jan 2027 08:00:00 +0000"
    assert rendered["ms"] == 1_800_000_000_250
    assert isinstance(rendered["number"], int)
    assert 100_000 <= rendered["number"] < 1_000_000
    assert datetime.fromisoformat(rendered["at"]) == datetime.fromtimestamp(NOW, tz=UTC)


def test_nested_documents_and_forms_are_encoded_as_the_vendor_sends_them() -> None:
    inner = {"id": "{{uuid:message}}", "at": "{{now_iso}}"}
    rendered = json.loads(
        templates.body({"Message": {"$json": inner}, "data": {"$base64json": inner}}, NOW)
    )
    message = json.loads(rendered["Message"])
    assert message == json.loads(base64.b64decode(rendered["data"]))
    assert message["at"] == "2027-01-15T08:00:00Z"
    form = templates.body({"$form": {"Sid": "SM{{hex32:sid}}", "Body": "a b&c"}}, NOW)
    fields = dict(parse_qsl(form.decode()))
    assert fields["Body"] == "a b&c"
    assert re.fullmatch(r"SM[0-9a-f]{32}", fields["Sid"])


def test_an_unknown_kind_is_an_error_not_a_literal() -> None:
    with pytest.raises(ValueError, match="unknown placeholder kind"):
        templates.body({"x": "{{nonsense8:x}}"}, NOW)


def test_asking_for_a_type_without_a_sample_names_the_ones_there_are() -> None:
    stripe = SIMULATORS["stripe"]
    with pytest.raises(ConfigError, match=r"no sample of type 'nope' \(samples: payment_intent"):
        stripe.sample("nope")
