"""Production Kafka: SASL_SSL with SCRAM against the local broker's TLS listener, and the two
mistakes operators make — a wrong password, an untrusted certificate — named within seconds."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from ingest.outbox import PendingRecord
from ingest.settings import Settings
from ingest.sinks.base import Cause, SinkUnavailableError
from ingest.sinks.kafka import KafkaSink
from ingest.sinks.kafka_client import KafkaConfig
from tests import support

pytestmark = pytest.mark.kafka


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


async def test_a_client_certificate_can_be_presented(kafka_sasl: support.KafkaSasl) -> None:
    config = KafkaConfig.from_settings(
        settings(
            kafka_sasl,
            KAFKA_SSL_CERTFILE=kafka_sasl.client_certfile,
            KAFKA_SSL_KEYFILE=kafka_sasl.client_keyfile,
        )
    )
    assert await publish_one(config, f"tls-{uuid.uuid4().hex[:8]}") == [1]


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
