"""The environment, as `ingest serve` and `ingest relay` read it: one table in the README names
every variable, defaults are the embedded ones, secrets may come from files and never show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.settings import Settings
from tests import support


def _documented() -> set[str]:
    readme = support.ROOT.joinpath("README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    table = re.search(r"\n(\| variable .*?)\n\n", section, re.S)
    assert table is not None, "the README has no table of environment variables"
    return {
        name
        for row in table.group(1).splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }


def test_every_variable_is_in_the_readmes_one_table_and_the_table_invents_none() -> None:
    variables = {field.alias for field in Settings.model_fields.values() if field.alias}
    documented = _documented()
    assert variables - documented == set(), "read but undocumented"
    # Beyond the settings: prometheus_client reads it for `serve --workers N`.
    elsewhere = {"PROMETHEUS_MULTIPROC_DIR"}
    assert documented - variables - elsewhere == set(), "documented but never read"


def test_the_defaults_are_the_embedded_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "INGEST_SINK_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url.startswith("sqlite")
    assert not settings.kafka_enabled
    assert settings.sink_file == Path("events.jsonl")


def test_a_blank_bootstrap_list_is_no_kafka() -> None:
    assert not Settings(KAFKA_BOOTSTRAP_SERVERS="  ").kafka_enabled
    assert Settings(KAFKA_BOOTSTRAP_SERVERS="k1:9092").kafka_enabled


def test_a_secret_may_come_from_the_file_its_FILE_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cr3t-from-a-file\n")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(secret))
    monkeypatch.delenv("KAFKA_SASL_PASSWORD", raising=False)
    settings = Settings()
    assert settings.kafka_sasl_password == "s3cr3t-from-a-file"
    assert "s3cr3t" not in repr(settings)
    assert settings.secret_values() == ["s3cr3t-from-a-file"]


def test_an_unreadable_secret_file_stops_start_up_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValidationError, match="cannot read KAFKA_SASL_PASSWORD_FILE"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INGEST_TRUSTED_PROXIES", "10.0.0.0/8, not-an-address"),
        ("INGEST_MAX_IN_FLIGHT", "0"),
        ("INGEST_RELAY_SHARDS", "257"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("INGEST_LOG_FORMAT", "xml"),
    ],
)
def test_a_bad_value_stops_start_up(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
