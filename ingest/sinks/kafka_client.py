"""Everything aiokafka needs from our settings, and what its errors mean to an operator.

Managed clusters (MSK, Confluent Cloud, Aiven, Redpanda Cloud) need TLS and SASL; the settings
here map one-to-one to the README's `KAFKA_*` variables. Errors are sorted into a few causes an
operator can act on — a wrong password, an untrusted certificate, an unreachable broker — because
aiokafka often reports all of them as "unable to bootstrap".
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.helpers import create_ssl_context

from ingest.errors import ConfigError
from ingest.settings import Compression, SecurityProtocol, Settings
from ingest.sinks.base import Cause

REQUEST_TIMEOUT_MS = 10_000
CLOSE_TIMEOUT_SECONDS = 5.0

PERMANENT_RECORD_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTimestampError,
    kafka_errors.PolicyViolationError,
    kafka_errors.UnsupportedForMessageFormatError,
)
"""The broker will refuse this record however often it is sent: park it, do not retry it."""


def rejection_reason(exc: BaseException) -> str:
    if isinstance(exc, kafka_errors.MessageSizeTooLargeError | kafka_errors.RecordTooLargeError):
        return "record_too_large"
    if isinstance(exc, kafka_errors.RecordListTooLargeError):
        return "record_too_large"
    if isinstance(exc, kafka_errors.TopicAuthorizationFailedError):
        return "topic_unauthorized"
    if isinstance(exc, kafka_errors.InvalidTopicError):
        return "invalid_topic"
    return "rejected"


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str
    security_protocol: SecurityProtocol
    sasl_mechanism: str
    sasl_username: str | None
    sasl_password: str | None
    ssl_cafile: Path | None
    ssl_certfile: Path | None
    ssl_keyfile: Path | None
    ssl_key_password: str | None
    compression: Compression
    max_request_size: int
    client_id: str
    transactions: bool
    transactional_id_prefix: str
    progress_topic: str
    delivery_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConfig:
        if not settings.kafka_bootstrap_servers:
            raise ConfigError("KAFKA_BOOTSTRAP_SERVERS is not set")
        config = cls(
            bootstrap_servers=settings.kafka_bootstrap_servers.strip(),
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism.value,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password,
            ssl_cafile=settings.kafka_ssl_cafile,
            ssl_certfile=settings.kafka_ssl_certfile,
            ssl_keyfile=settings.kafka_ssl_keyfile,
            ssl_key_password=settings.kafka_ssl_key_password,
            compression=settings.kafka_compression_type,
            max_request_size=settings.kafka_max_request_size,
            client_id=settings.kafka_client_id,
            transactions=settings.kafka_transactions,
            transactional_id_prefix=settings.kafka_transactional_id_prefix,
            progress_topic=settings.kafka_progress_topic,
            delivery_timeout_seconds=settings.kafka_delivery_timeout_seconds,
        )
        config.validate()
        return config

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in {
            SecurityProtocol.SASL_PLAINTEXT,
            SecurityProtocol.SASL_SSL,
        }

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in {SecurityProtocol.SSL, SecurityProtocol.SASL_SSL}

    def validate(self) -> None:
        """Fail at start-up, naming the variable, rather than at the first publish."""
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ConfigError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol.value} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or their _FILE variants)"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ConfigError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        for name, path in (
            ("KAFKA_SSL_CAFILE", self.ssl_cafile),
            ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
            ("KAFKA_SSL_KEYFILE", self.ssl_keyfile),
        ):
            if path is not None and not path.is_file():
                raise ConfigError(f"{name}: {path} is not a readable file")
        if self.uses_tls:
            self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext:
        try:
            context: ssl.SSLContext = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
                password=self.ssl_key_password,
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"the Kafka TLS files cannot be used: {exc}") from None
        return context

    def client_options(self) -> dict[str, Any]:
        """What every aiokafka client we create (producers, consumers, admin) shares."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol.value,
            "request_timeout_ms": REQUEST_TIMEOUT_MS,
            "retry_backoff_ms": 200,
            "metadata_max_age_ms": 60_000,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options

    def producer_options(self) -> dict[str, Any]:
        return {
            **self.client_options(),
            "client_id": self.client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 2,
            "max_batch_size": 256 * 1024,
            "max_request_size": self.max_request_size,
            "compression_type": None
            if self.compression is Compression.NONE
            else self.compression.value,
        }


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


CAUSES: tuple[tuple[Cause, tuple[type[BaseException], ...], tuple[str, ...]], ...] = (
    # First match wins: a TLS failure is also an OSError, an auth failure also a connection error.
    (
        Cause.CERTIFICATE_NOT_TRUSTED,
        (ssl.SSLCertVerificationError,),
        ("certificate_verify_failed", "certificate verify failed"),
    ),
    (
        Cause.AUTHENTICATION_FAILED,
        (
            kafka_errors.SaslAuthenticationFailed,
            kafka_errors.AuthenticationFailedError,
            kafka_errors.AuthenticationMethodNotSupported,
            kafka_errors.UnsupportedSaslMechanismError,
            kafka_errors.IllegalSaslStateError,
        ),
        ("authentication failed", "invalid credentials"),
    ),
    (
        Cause.AUTHORIZATION_FAILED,
        (
            kafka_errors.TransactionalIdAuthorizationFailed,
            kafka_errors.ClusterAuthorizationFailedError,
            kafka_errors.TopicAuthorizationFailedError,
            kafka_errors.GroupAuthorizationFailedError,
        ),
        (),
    ),
    (Cause.FENCED, (kafka_errors.ProducerFenced, kafka_errors.InvalidProducerEpoch), ()),
    (
        Cause.TIMEOUT,
        (TimeoutError, kafka_errors.KafkaTimeoutError, kafka_errors.RequestTimedOutError),
        (),
    ),
    (
        Cause.UNREACHABLE,
        (
            kafka_errors.KafkaConnectionError,
            kafka_errors.NoBrokersAvailable,
            kafka_errors.NodeNotReadyError,
            OSError,
        ),
        ("unable to bootstrap",),
    ),
)


def classify(exc: BaseException) -> Cause:
    """The operator-facing cause of a Kafka failure, from the exception and its chain."""
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    for cause, types, phrases in CAUSES:
        if any(isinstance(e, types) for e in chain) or any(p in text for p in phrases):
            return cause
    return Cause.OTHER


DIAGNOSIS_TIMEOUT_SECONDS = 5.0


async def diagnose(config: KafkaConfig) -> tuple[Cause, str] | None:
    """Why the bootstrap servers cannot be used, from one direct connection to each.

    aiokafka reports every bootstrap failure as "Unable to bootstrap from [...]" and puts the real
    reason (SaslAuthenticationFailed, CERTIFICATE_VERIFY_FAILED…) only in its own log, so we
    connect once more ourselves, the same way, to name the cause. None when a broker answers."""
    options = config.client_options()
    last: tuple[Cause, str] | None = None
    for host, port, _family in collect_hosts(config.bootstrap_servers):
        try:
            conn = await asyncio.wait_for(
                create_conn(
                    host,
                    port,
                    client_id=config.client_id,
                    request_timeout_ms=int(DIAGNOSIS_TIMEOUT_SECONDS * 1000),
                    ssl_context=options.get("ssl_context"),
                    security_protocol=options["security_protocol"],
                    sasl_mechanism=options.get("sasl_mechanism"),
                    sasl_plain_username=options.get("sasl_plain_username"),
                    sasl_plain_password=options.get("sasl_plain_password"),
                ),
                DIAGNOSIS_TIMEOUT_SECONDS,
            )
        except (kafka_errors.KafkaError, OSError, TimeoutError) as exc:
            last = (classify(exc), f"{host}:{port}: {describe_cause(exc)}")
            continue
        conn.close()
        return None
    return last


def describe_cause(exc: BaseException) -> str:
    cause = classify(exc)
    reason = {
        Cause.AUTHENTICATION_FAILED: "authentication failed (check KAFKA_SASL_USERNAME, "
        "KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM)",
        Cause.CERTIFICATE_NOT_TRUSTED: "the broker's certificate is not trusted (check "
        "KAFKA_SSL_CAFILE)",
        Cause.UNREACHABLE: "unreachable",
        Cause.TIMEOUT: "timed out",
    }.get(cause)
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return f"{reason}: {detail}" if reason else f"{type(exc).__name__}: {detail}"


async def close_producer(producer: AIOKafkaProducer) -> None:
    """Stop a producer without hanging on an unreachable broker.

    `stop()` flushes first, and with an idempotent producer its batches never expire, so during
    an outage it waits forever. After a short grace the sender is cancelled and the connections
    closed; what it still held stays unmarked in the outbox and is published again."""
    try:
        await asyncio.wait_for(asyncio.shield(producer.stop()), CLOSE_TIMEOUT_SECONDS)
        return
    except (TimeoutError, kafka_errors.KafkaError, OSError):
        pass
    with contextlib.suppress(Exception):
        sender = producer._sender  # aiokafka has no public forced close
        if sender.sender_task is not None and not sender.sender_task.done():
            sender.sender_task.cancel()
            with contextlib.suppress(BaseException):
                await sender.sender_task
    with contextlib.suppress(Exception):
        await producer.client.close()
