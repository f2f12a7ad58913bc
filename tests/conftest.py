"""Session fixtures: the real PostgreSQL and Kafka that `make test` started (or starts them)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest import migrate
from ingest.db import create_engine
from tests import support

SERVICE_FIXTURES = frozenset({"postgres_server_url", "kafka_bootstrap", "kafka_sasl"})
"""What the real-services tier needs; `--fast` leaves out every test that asks for one of them."""
OWN_SERVERS = ("faults", "scripts")
"""Test packages that start (and kill) servers of their own: also left out by `--fast`."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="the in-process tier only: SQLite, the file sink, every vendor; no PostgreSQL, "
        "Kafka or service scripts (the rest is reported as deselected, never as passed)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("fast"):
        return
    root = Path(__file__).parent
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        parts = item.path.relative_to(root).parts
        needs_services = SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (left_out if needs_services or parts[0] in OWN_SERVERS else kept).append(item)
    config.hook.pytest_deselected(items=left_out)
    items[:] = kept


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("INGEST_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url and url.startswith("postgres"):
        return url
    return support.script_output(
        ["bash", str(support.SCRIPTS / "postgres.sh"), "start"], "DATABASE_URL"
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = os.environ.get("INGEST_TEST_KAFKA") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        return servers
    return support.script_output(
        ["bash", str(support.SCRIPTS / "kafka.sh"), "start"], "KAFKA_BOOTSTRAP_SERVERS"
    )


@pytest.fixture(scope="session")
async def migrated_template(postgres_server_url: str) -> str:
    """One database migrated once; each test copies it (CREATE DATABASE … TEMPLATE)."""
    url = await support.create_database(postgres_server_url)
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return url.rsplit("/", 1)[1]


@pytest.fixture
async def postgres_url(postgres_server_url: str, migrated_template: str) -> str:
    return await support.create_database(postgres_server_url, template=migrated_template)


@pytest.fixture
async def postgres_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, support.Topics]:
    for name, value in support.SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    return support.write_sources(tmp_path)


@pytest.fixture(scope="session")
def kafka_sasl() -> support.KafkaSasl:
    """The local broker's SASL_SSL listener: SCRAM credentials and a throwaway CA."""
    return support.kafka_sasl()
