from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.store import Store


@pytest.fixture
def engine(sqlite_engine: AsyncEngine) -> AsyncEngine:
    return sqlite_engine


@pytest.fixture
def store(sqlite_engine: AsyncEngine) -> Store:
    return Store(sqlite_engine)
