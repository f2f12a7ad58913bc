"""`supervise`: a background loop that dies is restarted, visible (state, metric), and logged
once per change of failure, never once per retry; only the stop event or cancellation ends it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from ingest import metrics
from ingest.relay.backoff import Backoff
from ingest.relay.supervisor import TaskHealth, describe, sleep_or_stop, supervise

FAST = Backoff(initial=0.001, maximum=0.005)


def _restarts(task: str) -> float:
    value = metrics.TASK_RESTARTS.labels(task=task)._value.get()
    return float(value)


def _failing(
    times: int, errors: list[Exception], stop: asyncio.Event
) -> Callable[[], Awaitable[None]]:
    """A body that raises `errors` in turn `times` times, then runs until stopped."""
    calls = 0

    async def body() -> None:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise errors[(calls - 1) % len(errors)]
        await stop.wait()

    return body


async def _run_until(
    health: TaskHealth, condition: Callable[[], bool], task: asyncio.Task[None]
) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.001)
    task.cancel()
    raise AssertionError(f"never reached: {health}")


async def test_a_crashing_body_is_restarted_and_counted() -> None:
    stop, health = asyncio.Event(), TaskHealth("test-crashing")
    before = _restarts("test-crashing")
    body = _failing(3, [RuntimeError("boom")], stop)
    task = asyncio.create_task(supervise("test-crashing", body, stop, backoff=FAST, health=health))
    await _run_until(health, lambda: health.restarts == 3 and health.running, task)
    assert health.failing
    assert health.last_error == "RuntimeError: boom"
    assert _restarts("test-crashing") - before == 3
    health.ok()  # the body made progress: the episode is over
    assert (health.failing, health.consecutive_failures) == (False, 0)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert not health.running


async def test_the_same_failure_is_logged_once_and_a_new_one_again() -> None:
    stop, health = asyncio.Event(), TaskHealth("test-logging")
    errors: list[Exception] = [RuntimeError("same")] * 5 + [ValueError("other")]
    body = _failing(6, errors, stop)
    with capture_logs() as logs:
        task = asyncio.create_task(
            supervise("test-logging", body, stop, backoff=FAST, health=health)
        )
        await _run_until(health, lambda: health.restarts == 6 and health.running, task)
        stop.set()
        await asyncio.wait_for(task, 1)
    crashes = [entry for entry in logs if entry["event"] == "task.crashed"]
    assert [entry["error"] for entry in crashes] == ["RuntimeError: same", "ValueError: other"]
    assert all(entry["log_level"] == "error" for entry in crashes)


async def test_an_outage_is_a_warning_that_it_waits_not_a_crash() -> None:
    stop, health = asyncio.Event(), TaskHealth("test-outage")
    body = _failing(2, [ConnectionRefusedError("database away")], stop)
    with capture_logs() as logs:
        task = asyncio.create_task(
            supervise(
                "test-outage",
                body,
                stop,
                backoff=FAST,
                health=health,
                outage=lambda exc: isinstance(exc, OSError),
            )
        )
        await _run_until(health, lambda: health.restarts == 2 and health.running, task)
        stop.set()
        await asyncio.wait_for(task, 1)
    events = [(entry["event"], entry["log_level"]) for entry in logs]
    assert events == [("task.waiting", "warning")]


async def test_a_body_that_returns_early_is_run_again() -> None:
    stop, health, calls = asyncio.Event(), TaskHealth("test-returning"), []

    async def body() -> None:
        calls.append(1)
        if len(calls) >= 3:
            stop.set()

    await asyncio.wait_for(supervise("test-returning", body, stop, backoff=FAST, health=health), 1)
    assert len(calls) == 3
    assert health.restarts == 0  # returning is not a crash


async def test_stopping_during_a_long_backoff_ends_at_once() -> None:
    stop, health = asyncio.Event(), TaskHealth("test-stopping")
    body = _failing(1_000, [RuntimeError("down")], stop)
    slow = Backoff(initial=60, maximum=60)
    task = asyncio.create_task(supervise("test-stopping", body, stop, backoff=slow, health=health))
    await _run_until(health, lambda: health.restarts == 1, task)
    stop.set()
    await asyncio.wait_for(task, 1)  # not 60 s
    assert not health.running


async def test_cancellation_is_not_swallowed() -> None:
    stop, health = asyncio.Event(), TaskHealth("test-cancel")
    task = asyncio.create_task(
        supervise("test-cancel", _failing(0, [], stop), stop, backoff=FAST, health=health)
    )
    await _run_until(health, lambda: health.running, task)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not health.running


async def test_sleep_or_stop_says_whether_it_was_stopped() -> None:
    stop = asyncio.Event()
    assert await sleep_or_stop(0.001, stop) is False
    stop.set()
    assert await sleep_or_stop(60, stop) is True


def test_describe_keeps_one_short_line() -> None:
    assert describe(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert describe(RuntimeError()) == "RuntimeError"
    assert len(describe(RuntimeError("x" * 1000))) == len("RuntimeError: ") + 300
