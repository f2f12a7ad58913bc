"""`ingest.runtime`: the wiring `serve`, the relay and the CLI share, and what it promises.

- Every secret the sources file names is registered for log redaction the moment the file is
  read, before anything can log it.
- The sources are checked by their vendors' handlers then, not on the first delivery.
- A database whose schema is behind is refused and its engine closed (no pooled connection is
  left behind on a server the operator is about to migrate); the embedded SQLite migrates itself.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
import yaml
from sqlalchemy.engine import make_url

from ingest.errors import ConfigError, DatabaseNotMigratedError
from ingest.logs import REDACTED, redactor
from ingest.runtime import Database, load_config
from ingest.settings import Settings
from tests import support


def test_the_sources_secrets_are_redacted_from_logs_once_the_file_is_read(
    sources: tuple[Path, support.Topics],
) -> None:
    path, _ = sources
    load_config(Settings(INGEST_SOURCES_FILE=path))
    line = f"verifying with {support.STRIPE_SECRET} and {support.GITHUB_SECRET}"
    assert redactor.scrub(line) == f"verifying with {REDACTED} and {REDACTED}"


def test_a_source_its_vendor_refuses_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": {"shop": {"vendor": "stripe"}}}))
    with pytest.raises(ConfigError, match=r"source 'shop': vendor stripe needs 'secrets'"):
        load_config(Settings(INGEST_SOURCES_FILE=path))


def test_the_options_are_the_vendors_model_from_the_start(
    sources: tuple[Path, support.Topics],
) -> None:
    path, _ = sources
    config = load_config(Settings(INGEST_SOURCES_FILE=path))
    for source in config.sources.values():
        assert type(source.options).__name__ != "RawOptions", source.name


async def _connections_to(server_url: str, database: str) -> int:
    url = make_url(server_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        count: int = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
        )
        return count
    finally:
        await admin.close()


async def test_an_unmigrated_postgres_is_refused_and_left_without_our_connections(
    postgres_server_url: str, tmp_path: Path
) -> None:
    url = await support.create_database(postgres_server_url)
    settings = Settings(DATABASE_URL=url, INGEST_SOURCES_FILE=tmp_path / "unused.yaml")
    with pytest.raises(DatabaseNotMigratedError, match="ingest migrate"):
        await Database.open(settings)
    assert await _connections_to(postgres_server_url, make_url(url).database or "") == 0


async def test_the_embedded_sqlite_database_opens_migrated(tmp_path: Path) -> None:
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'ingest.db'}",
        INGEST_SOURCES_FILE=tmp_path / "unused.yaml",
    )
    database = await Database.open(settings)
    try:
        assert database.is_sqlite
        assert await database.outbox.count_pending() == 0
    finally:
        await database.close()
