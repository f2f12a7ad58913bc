"""The service's background work on the embedded defaults (SQLite, the file sink): every loop
runs supervised, a crash is restarted and visible, and stopping ends them all."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ingest.background import Background
from ingest.handlers import HANDLERS
from ingest.runtime import Database
from ingest.settings import Settings
from ingest.sources import SourcesConfig


@pytest.fixture
async def background(tmp_path: Path) -> Background:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ingest.db'}",
        sink_file=tmp_path / "events.jsonl",
        relay_backoff_max_seconds=0.01,
    )
    database = await Database.open(settings)
    return Background(settings, database, SourcesConfig(sources={}, routes=()), HANDLERS)


async def _until(condition: object, seconds: float = 5.0) -> None:
    assert callable(condition)
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the background never got there")


async def test_a_crashing_retrier_is_restarted_and_shows_in_the_task_list(
    background: Background, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashes = 0
    run = background.retrier.run

    async def flaky(stop: asyncio.Event) -> None:
        nonlocal crashes
        if crashes < 2:
            crashes += 1
            raise RuntimeError("a retrier bug")
        await run(stop)

    monkeypatch.setattr(background.retrier, "run", flaky)
    background.start()
    try:
        await _until(lambda: background.retries.restarts == 2 and background.retries.running)
        await _until(lambda: background.relay.health.running)
        by_name = {task.name: task for task in background.tasks}
        assert set(by_name) == {background.relay.health.name, "outbox-listener", "retrier"}
        assert by_name["retrier"].last_error == "RuntimeError: a retrier bug"
        # SQLite has no LISTEN: the relay polls, and the listener is never started.
        assert not by_name["outbox-listener"].running
    finally:
        await asyncio.wait_for(background.stop(), 10)
    assert not any(task.running for task in background.tasks)
    await background.database.close()


async def test_stop_without_start_is_harmless(background: Background) -> None:
    await background.stop()
    await background.database.close()
