from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ingest import migrate
from ingest.app import create_app
from ingest.db import create_engine
from ingest.outbound import OutboundClient
from ingest.runtime import load_config
from ingest.settings import Settings
from ingest.store import Store
from tests import support


@dataclass
class App:
    app: Starlette
    client: httpx.AsyncClient
    settings: Settings
    topics: support.Topics

    @property
    def store(self) -> Store:
        store: Store = self.app.state.services.database.store
        return store


AppFactory = Callable[..., contextlib.AbstractAsyncContextManager[App]]


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The embedded store `make run` uses, migrated: the fast tier of the core's tests."""
    engine = create_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def make_app(
    postgres_url: str, kafka_bootstrap: str, sources: tuple[Path, support.Topics], tmp_path: Path
) -> AppFactory:
    """The real application in-process (lifespan, relay and all) on PostgreSQL and Kafka.

    `extra_sources` adds sources to the test defaults (stripe, github, clerk); `outbound`
    replaces the client for certificates and confirmations (a fake transport: no internet here);
    `environment` overrides settings by their variable names (`KAFKA_SECURITY_PROTOCOL`…).
    """
    path, topics = sources

    @contextlib.asynccontextmanager
    async def factory(
        extra_sources: Mapping[str, Any] | None = None,
        *,
        outbound: OutboundClient | None = None,
        client_ip: str = "127.0.0.1",
        environment: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[App]:
        sources_path = path
        if extra_sources:
            document = yaml.safe_load(path.read_text())
            document["sources"].update(extra_sources)
            sources_path = tmp_path / "sources-extra.yaml"
            sources_path.write_text(yaml.safe_dump(document))
        values: dict[str, Any] = {
            "DATABASE_URL": postgres_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "INGEST_SOURCES_FILE": sources_path,
            "INGEST_SINK_FILE": tmp_path / "unused.jsonl",
            "INGEST_MAX_BODY_BYTES": 64 * 1024,
        }
        settings = Settings(**{**values, **(environment or {})})
        application = create_app(settings, load_config(settings), outbound=outbound)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=(client_ip, 43210))
            async with httpx.AsyncClient(
                transport=transport, base_url="https://ingest.test"
            ) as client:
                yield App(application, client, settings, topics)

    return factory


@pytest.fixture
async def app(make_app: AppFactory) -> AsyncIterator[App]:
    async with make_app() as application:
        yield application
