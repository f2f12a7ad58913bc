"""Process-wide settings read from the environment.

These names are a contract with users and deploy files (see the README's table); rename nothing.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ingest.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    sink_file: Path = Field(default=Path("./events.jsonl"), alias="INGEST_SINK_FILE")
    sources_file: Path = Field(default=Path("./sources.yaml"), alias="INGEST_SOURCES_FILE")
    max_body_bytes: int = Field(default=1_048_576, gt=0, alias="INGEST_MAX_BODY_BYTES")
    log_format: LogFormat = Field(default=LogFormat.AUTO, alias="INGEST_LOG_FORMAT")
    log_level: str = Field(default="info", alias="INGEST_LOG_LEVEL")
    relay_batch_size: int = Field(default=500, gt=0, alias="INGEST_RELAY_BATCH_SIZE")
    relay_idle_poll_seconds: float = Field(default=0.2, gt=0, alias="INGEST_RELAY_POLL_SECONDS")
    db_pool_size: int = Field(default=10, gt=0, alias="INGEST_DB_POOL_SIZE")
    db_timeout_seconds: float = Field(default=5.0, gt=0, alias="INGEST_DB_TIMEOUT_SECONDS")
    run_relay: bool = Field(default=True, alias="INGEST_RUN_RELAY")
    retry_after_seconds: int = Field(default=5, gt=0, alias="INGEST_RETRY_AFTER_SECONDS")

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers and self.kafka_bootstrap_servers.strip())


def load_settings() -> Settings:
    return Settings()
