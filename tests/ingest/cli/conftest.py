"""Fixtures shared by the CLI's test modules: a working directory set up like `make run`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import support

DEMO = support.ROOT / "examples" / "sources.demo.yaml"


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory set up like `make run`: demo sources, SQLite inbox and file sink by default."""
    shutil.copy(DEMO, tmp_path / "sources.yaml")
    for name in (
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "INGEST_SOURCES_FILE",
        "INGEST_SINK_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def demo_env(demo_dir: Path) -> dict[str, str]:
    """The demo directory's defaults spelled out, for commands run in-process (click's runner
    does not change the working directory): SQLite inbox, demo sources, file sink, no Kafka."""
    return {
        "DATABASE_URL": f"sqlite:///{demo_dir / 'ingest.db'}",
        "INGEST_SOURCES_FILE": str(demo_dir / "sources.yaml"),
        "INGEST_SINK_FILE": str(demo_dir / "events.jsonl"),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_LOG_FORMAT": "json",
    }
