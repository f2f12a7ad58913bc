"""Process-wide settings read from the environment.

These names are a contract with users and deploy files (see the README's table); rename nothing.
Secrets (`KAFKA_SASL_PASSWORD`…) may instead be read from the file `<NAME>_FILE` names, the way
Docker and Kubernetes mount secrets.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.networks import IpNetwork, parse_networks


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    SNAPPY = "snappy"
    LZ4 = "lz4"
    ZSTD = "zstd"


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ingest.db"

SECRET_FILE_VARIABLES = ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_KEY_PASSWORD")
"""Variables that may be given as `<NAME>_FILE` instead."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    sink_file: Path = Field(default=Path("./events.jsonl"), alias="INGEST_SINK_FILE")
    sources_file: Path = Field(default=Path("./sources.yaml"), alias="INGEST_SOURCES_FILE")
    max_body_bytes: int = Field(default=1_048_576, gt=0, alias="INGEST_MAX_BODY_BYTES")
    log_format: LogFormat = Field(default=LogFormat.AUTO, alias="INGEST_LOG_FORMAT")
    log_level: str = Field(default="info", alias="INGEST_LOG_LEVEL")
    db_pool_size: int = Field(default=10, gt=0, alias="INGEST_DB_POOL_SIZE")
    db_timeout_seconds: float = Field(default=5.0, gt=0, alias="INGEST_DB_TIMEOUT_SECONDS")
    retry_after_seconds: int = Field(default=5, gt=0, alias="INGEST_RETRY_AFTER_SECONDS")
    group_commit: bool = Field(default=True, alias="INGEST_GROUP_COMMIT")
    db_writers: int = Field(default=2, gt=0, le=64, alias="INGEST_DB_WRITERS")

    # -- the edge: hostile clients and overload ------------------------------------------------
    trusted_proxies: str = Field(default="", alias="INGEST_TRUSTED_PROXIES")
    max_in_flight: int = Field(default=64, gt=0, le=10_000, alias="INGEST_MAX_IN_FLIGHT")
    admission_wait_seconds: float = Field(
        default=1.0, ge=0, le=30, alias="INGEST_ADMISSION_WAIT_SECONDS"
    )
    max_connections: int = Field(default=2000, gt=0, alias="INGEST_MAX_CONNECTIONS")
    header_timeout_seconds: float = Field(default=10.0, gt=0, alias="INGEST_HEADER_TIMEOUT_SECONDS")
    body_idle_timeout_seconds: float = Field(
        default=10.0, gt=0, alias="INGEST_BODY_IDLE_TIMEOUT_SECONDS"
    )
    body_timeout_seconds: float = Field(default=30.0, gt=0, alias="INGEST_BODY_TIMEOUT_SECONDS")
    max_headers: int = Field(default=100, gt=0, alias="INGEST_MAX_HEADERS")
    max_header_bytes: int = Field(default=65_536, gt=0, alias="INGEST_MAX_HEADER_BYTES")

    # -- the relay --------------------------------------------------------------------------
    run_relay: bool = Field(default=True, alias="INGEST_RUN_RELAY")
    relay_batch_size: int = Field(default=500, gt=0, le=10_000, alias="INGEST_RELAY_BATCH_SIZE")
    relay_idle_poll_seconds: float = Field(default=1.0, gt=0, alias="INGEST_RELAY_POLL_SECONDS")
    relay_shards: int = Field(default=1, gt=0, le=256, alias="INGEST_RELAY_SHARDS")
    relay_lease_seconds: float = Field(
        default=15.0, ge=1, le=300, alias="INGEST_RELAY_LEASE_SECONDS"
    )
    relay_backoff_max_seconds: float = Field(
        default=30.0, gt=0, le=300, alias="INGEST_RELAY_BACKOFF_MAX_SECONDS"
    )
    relay_stall_seconds: float = Field(default=10.0, gt=0, alias="INGEST_RELAY_STALL_SECONDS")
    relay_missing_topic_seconds: float = Field(
        default=60.0, ge=0, alias="INGEST_RELAY_MISSING_TOPIC_SECONDS"
    )
    retry_max_attempts: int = Field(default=8, ge=1, le=100, alias="INGEST_RETRY_MAX_ATTEMPTS")

    # -- Kafka ------------------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_security_protocol: SecurityProtocol = Field(
        default=SecurityProtocol.PLAINTEXT, alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default=SaslMechanism.PLAIN, alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(default=None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: str | None = Field(default=None, alias="KAFKA_SASL_PASSWORD", repr=False)
    kafka_ssl_cafile: Path | None = Field(default=None, alias="KAFKA_SSL_CAFILE")
    kafka_ssl_certfile: Path | None = Field(default=None, alias="KAFKA_SSL_CERTFILE")
    kafka_ssl_keyfile: Path | None = Field(default=None, alias="KAFKA_SSL_KEYFILE")
    kafka_ssl_key_password: str | None = Field(
        default=None, alias="KAFKA_SSL_KEY_PASSWORD", repr=False
    )
    kafka_compression_type: Compression = Field(
        default=Compression.NONE, alias="KAFKA_COMPRESSION_TYPE"
    )
    kafka_max_request_size: int = Field(default=1_048_576, ge=1024, alias="KAFKA_MAX_REQUEST_SIZE")
    kafka_client_id: str = Field(default="ingest", min_length=1, alias="KAFKA_CLIENT_ID")
    kafka_transactions: bool = Field(default=True, alias="INGEST_KAFKA_TRANSACTIONS")
    kafka_transactional_id_prefix: str = Field(
        default="ingest-relay", min_length=1, alias="INGEST_KAFKA_TRANSACTIONAL_ID_PREFIX"
    )
    kafka_progress_topic: str = Field(
        default="ingest.relay.progress",
        pattern=r"^[A-Za-z0-9._-]{1,249}$",
        alias="INGEST_KAFKA_PROGRESS_TOPIC",
    )
    kafka_delivery_timeout_seconds: float = Field(
        default=30.0, ge=1, le=600, alias="INGEST_KAFKA_DELIVERY_TIMEOUT_SECONDS"
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, values: Any) -> Any:
        """`KAFKA_SASL_PASSWORD_FILE=/run/secrets/kafka` instead of the value itself."""
        if not isinstance(values, dict):
            return values
        for name in SECRET_FILE_VARIABLES:
            if values.get(name) is not None or os.environ.get(name) is not None:
                continue
            path = values.get(f"{name}_FILE") or os.environ.get(f"{name}_FILE")
            if path:
                try:
                    values[name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(f"cannot read {name}_FILE ({exc.strerror})") from None
        return values

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a bad entry stops start-up, naming it
        return value

    @property
    def trusted_networks(self) -> tuple[IpNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers and self.kafka_bootstrap_servers.strip())

    def secret_values(self) -> list[str]:
        """Values to scrub from every log line."""
        return [v for v in (self.kafka_sasl_password, self.kafka_ssl_key_password) if v]


def load_settings() -> Settings:
    return Settings()
