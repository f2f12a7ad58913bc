"""`KafkaConfig` and the error diagnosis of ingest/sinks/kafka_client.py: the settings become the
client options production clusters need (SASL_SSL with SCRAM, a client certificate, a password
from a file), checked against the local broker's TLS listener; the mistakes operators make — a
wrong password or mechanism, an untrusted certificate — are named within seconds (those need
the broker: marked `kafka`). Without a broker (the `--fast` tier): settings that cannot work are
refused at start-up naming the variable, never its value; the options every client gets; how
an exception and its chain are sorted into causes; and a closed port diagnosed as unreachable."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import errors as kafka_errors

from ingest.errors import ConfigError
from ingest.outbox import PendingRecord
from ingest.settings import Settings
from ingest.sinks.base import Cause, SinkUnavailableError
from ingest.sinks.kafka import KafkaSink
from ingest.sinks.kafka_client import KafkaConfig, classify, diagnose, rejection_reason
from tests import support


def settings(sasl: support.KafkaSasl, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "KAFKA_BOOTSTRAP_SERVERS": sasl.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": sasl.username,
        "KAFKA_SASL_PASSWORD": sasl.password,
        "KAFKA_SSL_CAFILE": sasl.cafile,
        "INGEST_KAFKA_PROGRESS_TOPIC": f"progress-{uuid.uuid4().hex[:8]}",
        "INGEST_KAFKA_DELIVERY_TIMEOUT_SECONDS": 10,
    }
    return Settings(**{**values, **overrides})


async def publish_one(config: KafkaConfig, topic: str) -> list[int]:
    sink = KafkaSink(config)
    await sink.prepare(shards=1, instance=uuid.uuid4().hex[:16], holder="test")
    publisher = sink.publisher(0)
    try:
        await publisher.open()
        record = PendingRecord(id=1, topic=topic, key="k", value=b'{"over":"tls"}')
        return (await publisher.publish([record], carried=[])).delivered
    finally:
        await publisher.close()


@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_publishes_over_sasl_ssl_with_scram(
    mechanism: str, kafka_sasl: support.KafkaSasl, kafka_bootstrap: str
) -> None:
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    config = KafkaConfig.from_settings(settings(kafka_sasl, KAFKA_SASL_MECHANISM=mechanism))
    assert await publish_one(config, topic) == [1]
    # Read back over the plaintext listener of the same broker.
    [record] = await support.consume(kafka_bootstrap, [topic], expect=1, settle_seconds=0.5)
    assert record.value == b'{"over":"tls"}'


@pytest.mark.kafka
async def test_a_client_certificate_can_be_presented(kafka_sasl: support.KafkaSasl) -> None:
    config = KafkaConfig.from_settings(
        settings(
            kafka_sasl,
            KAFKA_SSL_CERTFILE=kafka_sasl.client_certfile,
            KAFKA_SSL_KEYFILE=kafka_sasl.client_keyfile,
        )
    )
    assert await publish_one(config, f"tls-{uuid.uuid4().hex[:8]}") == [1]


@pytest.mark.kafka
async def test_the_password_can_come_from_a_file(
    kafka_sasl: support.KafkaSasl, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(kafka_sasl.password + "\n")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(secret))
    values = settings(kafka_sasl).model_dump(by_alias=True)
    del values["KAFKA_SASL_PASSWORD"]
    loaded = Settings(**{k: v for k, v in values.items() if v is not None})
    assert loaded.kafka_sasl_password == kafka_sasl.password
    assert await publish_one(KafkaConfig.from_settings(loaded), f"tls-{uuid.uuid4().hex[:8]}")


@pytest.mark.kafka
@pytest.mark.parametrize(
    ("override", "cause", "words"),
    [
        (
            {"KAFKA_SASL_PASSWORD": "not-the-password"},
            Cause.AUTHENTICATION_FAILED,
            "authentication failed",
        ),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, Cause.AUTHENTICATION_FAILED, "authentication"),
        ("untrusted", Cause.CERTIFICATE_NOT_TRUSTED, "not trusted"),
    ],
)
async def test_a_misconfiguration_is_named_within_seconds(
    override: Any, cause: Cause, words: str, kafka_sasl: support.KafkaSasl
) -> None:
    if override == "untrusted":
        override = {"KAFKA_SSL_CAFILE": kafka_sasl.untrusted_cafile}
    config = KafkaConfig.from_settings(settings(kafka_sasl, **override))
    started = time.monotonic()
    with pytest.raises(SinkUnavailableError) as refused:
        async with asyncio.timeout(15):
            await publish_one(config, "never")
    assert time.monotonic() - started < 10
    assert refused.value.cause is cause
    assert words in refused.value.message
    assert kafka_sasl.password not in refused.value.message


# -- without a broker --------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment too: `make test` exports broker variables of its own."""
    for name in ("USERNAME", "PASSWORD", "PASSWORD_FILE", "USERNAME_FILE", "MECHANISM"):
        monkeypatch.delenv(f"KAFKA_SASL_{name}", raising=False)
    for name in ("CAFILE", "CERTFILE", "KEYFILE", "KEY_PASSWORD", "KEY_PASSWORD_FILE"):
        monkeypatch.delenv(f"KAFKA_SSL_{name}", raising=False)
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)


def local(**values: Any) -> Settings:
    return Settings(**{"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", **values})


@pytest.mark.usefixtures("clean_environment")
def test_kafka_without_bootstrap_servers_is_refused() -> None:
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS"):
        KafkaConfig.from_settings(Settings(KAFKA_BOOTSTRAP_SERVERS=""))


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_without_a_password_is_refused_naming_the_variables(protocol: str) -> None:
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        KafkaConfig.from_settings(
            local(KAFKA_SECURITY_PROTOCOL=protocol, KAFKA_SASL_USERNAME="ingest")
        )


@pytest.mark.usefixtures("clean_environment")
def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    certificate = tmp_path / "client.pem"
    certificate.write_text("not used")
    with pytest.raises(ConfigError, match="KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together"):
        KafkaConfig.from_settings(local(KAFKA_SSL_CERTFILE=certificate))


@pytest.mark.usefixtures("clean_environment")
def test_a_ca_file_that_is_not_there_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"KAFKA_SSL_CAFILE: .* is not a readable file"):
        KafkaConfig.from_settings(
            local(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=tmp_path / "missing.pem")
        )


@pytest.mark.usefixtures("clean_environment")
def test_a_ca_file_that_is_no_certificate_is_refused_at_start_up(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(ConfigError, match="the Kafka TLS files cannot be used"):
        KafkaConfig.from_settings(local(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=garbage))


@pytest.mark.usefixtures("clean_environment")
def test_a_refused_password_never_appears_in_the_error() -> None:
    with pytest.raises(ConfigError) as refused:
        KafkaConfig.from_settings(
            local(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_PASSWORD="hunter2-secret")
        )
    assert "hunter2-secret" not in str(refused.value)


@pytest.mark.usefixtures("clean_environment")
def test_plaintext_clients_get_no_tls_and_no_credentials() -> None:
    options = KafkaConfig.from_settings(local()).client_options()
    assert options["security_protocol"] == "PLAINTEXT"
    assert options["bootstrap_servers"] == "127.0.0.1:9"
    assert not {"ssl_context", "sasl_mechanism", "sasl_plain_password"} & set(options)


@pytest.mark.usefixtures("clean_environment")
def test_sasl_clients_get_the_mechanism_and_credentials() -> None:
    config = KafkaConfig.from_settings(
        local(
            KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
            KAFKA_SASL_MECHANISM="SCRAM-SHA-256",
            KAFKA_SASL_USERNAME="ingest",
            KAFKA_SASL_PASSWORD="pw",
        )
    )
    options = config.client_options()
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-256",
        "ingest",
    )
    assert options["sasl_plain_password"] == "pw"
    assert "ssl_context" not in options  # SASL without TLS


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(("codec", "expected"), [("none", None), ("zstd", "zstd")])
def test_producers_wait_for_every_replica_and_never_duplicate(
    codec: str, expected: str | None
) -> None:
    options = KafkaConfig.from_settings(local(KAFKA_COMPRESSION_TYPE=codec)).producer_options()
    assert (options["acks"], options["enable_idempotence"]) == ("all", True)
    assert options["compression_type"] == expected


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    """`outer` as `raise outer from inner` leaves it: aiokafka wraps the real reason this way."""
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (
            _raised_from(
                kafka_errors.KafkaConnectionError("Unable to bootstrap from [('b', 9093)]"),
                ssl.SSLCertVerificationError("certificate verify failed"),
            ),
            Cause.CERTIFICATE_NOT_TRUSTED,
        ),
        (
            _raised_from(
                kafka_errors.KafkaConnectionError("connection lost"),
                kafka_errors.SaslAuthenticationFailed(
                    "Authentication failed during authentication"
                ),
            ),
            Cause.AUTHENTICATION_FAILED,
        ),
        (
            kafka_errors.KafkaConnectionError("Unable to bootstrap from [('b', 9092)]"),
            Cause.UNREACHABLE,
        ),
        (ConnectionRefusedError(111, "Connect call failed"), Cause.UNREACHABLE),
        (kafka_errors.ProducerFenced(), Cause.FENCED),
        (kafka_errors.TransactionalIdAuthorizationFailed(), Cause.AUTHORIZATION_FAILED),
        (TimeoutError(), Cause.TIMEOUT),
        (ValueError("something else"), Cause.OTHER),
    ],
)
def test_a_failure_is_named_by_the_first_cause_in_its_chain(
    exc: BaseException, cause: Cause
) -> None:
    assert classify(exc) is cause


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (kafka_errors.MessageSizeTooLargeError(), "record_too_large"),
        (kafka_errors.RecordTooLargeError(), "record_too_large"),
        (kafka_errors.RecordListTooLargeError(), "record_too_large"),
        (kafka_errors.TopicAuthorizationFailedError(), "topic_unauthorized"),
        (kafka_errors.InvalidTopicError(), "invalid_topic"),
        (kafka_errors.CorruptRecordException(), "rejected"),
    ],
)
def test_a_refused_record_gets_a_short_metric_reason(exc: BaseException, reason: str) -> None:
    assert rejection_reason(exc) == reason


@pytest.mark.usefixtures("clean_environment")
async def test_a_closed_port_is_diagnosed_as_unreachable_naming_the_address() -> None:
    port = support.free_port()  # nothing listens there
    config = KafkaConfig.from_settings(local(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}"))
    started = time.monotonic()
    diagnosis = await diagnose(config)
    assert time.monotonic() - started < 6
    assert diagnosis is not None
    cause, text = diagnosis
    assert cause is Cause.UNREACHABLE
    assert text.startswith(f"127.0.0.1:{port}: unreachable")
