from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from ingest.app import create_app
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


@pytest.fixture
async def app(
    postgres_url: str, kafka_bootstrap: str, sources: tuple[Path, support.Topics], tmp_path: Path
) -> AsyncIterator[App]:
    """The real application in-process (lifespan, relay and all) on PostgreSQL and Kafka."""
    path, topics = sources
    settings = Settings(
        DATABASE_URL=postgres_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        INGEST_SOURCES_FILE=path,
        INGEST_SINK_FILE=tmp_path / "unused.jsonl",
        INGEST_MAX_BODY_BYTES=64 * 1024,
    )
    application = create_app(settings, load_config(settings))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
            yield App(application, client, settings, topics)
